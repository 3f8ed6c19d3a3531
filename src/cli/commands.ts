import { availableParallelism } from "node:os";
import { Command, Option } from "commander";
import { buildCompasArgs, displayCommand, withOutput } from "../compas/argv.js";
import { probeCompas, resolveCompasBinary } from "../compas/probe.js";
import { MEASURED_SECONDS_PER_BINARY, PROFILE_NAMES, type ProfileName } from "../compas/profiles.js";
import { readFragmentsFromStore, readPlanFromStore } from "../ensemble/_store-io.js";
import { firstSeedOfRun } from "../ensemble/plan.js";
import { runEnsemble } from "../ensemble/run.js";
import { verifiedSuccesses } from "../ensemble/verify.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { expandSelection, selectGrid } from "../grid/expand.js";
import { attachEnsemble } from "../ensemble/attach.js";
import { mergePredecessorManifests, PREDECESSOR_PATTERN } from "../metadata/predecessor.js";
import { estimateRemainingSeconds, summarizeStatus } from "../metadata/status.js";
import { openStore } from "../store/open.js";
import { addExecutorOptions, addReattachOptions, EXECUTOR_KINDS, executorFromFlags, reattachFromFlags, type ExecutorFlags, type ReattachFlags } from "./_executors.js";
import { addNoCacheOption } from "./_cache-option.js";
import { addGridOptions, type GridFlags, gridFromFlags, pointsFromFlags, wholeNumber } from "./_grid-options.js";
import { formatDuration, progressReporter } from "./_progress.js";
import { liveReporter, nextSteps } from "./_live.js";
import { watchSeconds, watchStatus } from "./_watch.js";

interface RunFlags extends GridFlags {
  nSystems: string;
  outputDir: string;
  compasBinary?: string;
  systemsPerTask?: string;
  profile: ProfileName;
  seedBase: string;
  detach?: boolean;
  restart?: boolean;
  allowInertAxes?: boolean;
  checkpointEvery: string;
  cache: boolean;
}

/** `compas-ensemble grid`: prints the points of a grid. */
export function gridCommand(): Command {
  return addGridOptions(new Command("grid").description("print the points of a grid"))
    .option("--json", "print JSON (index, run_id, params)")
    .action((flags: GridFlags & { json?: boolean }) => {
      const points = pointsFromFlags(flags);
      if (flags.json) {
        process.stdout.write(JSON.stringify(points, null, 2) + "\n");
        return;
      }
      for (const p of points) {
        const v = p.params;
        process.stdout.write(
          `${String(p.index).padStart(5)}  ${p.run_id}  alpha_ce=${v.alpha_ce} lambda_ce=${v.lambda_ce} ` +
            `kick_sigma=${v.kick_sigma} metallicity=${v.metallicity} mass_transfer_fa=${v.mass_transfer_fa}\n`,
        );
      }
    });
}

function addCompasOptions(cmd: Command): Command {
  return cmd
    .option("--n-systems <n>", "binaries per grid point", "10000")
    .option("--compas-binary <path>", "COMPAS executable (else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH)")
    .addOption(new Option("--profile <name>", "COMPAS flag profile").choices([...PROFILE_NAMES]).default("default"))
    .option("--seed-base <n>", "first seed; run k starts at seed-base + k * n-systems", "0")
    .option("--allow-inert-axes", "allow extra COMPAS flags that make a grid axis have no effect")
    .argument("[compasFlags...]", "extra COMPAS flags after --, e.g. -- --quiet TRUE");
}

/** `compas-ensemble command`: prints the exact COMPAS command for one grid point. */
export function commandCommand(): Command {
  return addCompasOptions(addGridOptions(new Command("command").description("print the exact COMPAS command for one grid point"), true))
    .requiredOption("--index <k>", "grid index")
    .option("--output-dir <dir>", "ensemble output directory", "./compas-ensemble-output")
    .action((extra: string[], flags: RunFlags & { index: string }) => {
      const { spec, source } = gridFromFlags(flags, true);
      const k = wholeNumber(flags.index, "--index", 0);
      // Only the one point is built, so this works on a grid of any size.
      const total = selectGrid(spec, 0, 1, source).gridPoints;
      if (BigInt(k) >= total) {
        throw new CompasEnsembleError("OPTIONS_INVALID", `--index ${k} is outside the grid of ${total} points; use 0 to ${total - 1n}.`);
      }
      const point = expandSelection(selectGrid(spec, k, k + 1, source))[0]!;
      const n = wholeNumber(flags.nSystems, "--n-systems", 1);
      const seed = firstSeedOfRun(wholeNumber(flags.seedBase, "--seed-base", 0), k, n);
      let binary = "COMPAS";
      try {
        binary = resolveCompasBinary({ compasBinary: flags.compasBinary });
      } catch (err) {
        if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND") || flags.compasBinary) throw err;
      }
      const args = buildCompasArgs(point, { nSystems: n, seed }, {
        profile: flags.profile,
        extraFlags: extra,
        allowInertAxes: flags.allowInertAxes,
      });
      process.stdout.write(displayCommand([binary, ...withOutput(args, `${flags.outputDir}/runs/${point.run_id}`)]) + "\n");
    });
}

/** `compas-ensemble run`: runs a grid (the predecessor's flags plus executor options). */
export function runCommand(): Command {
  return addNoCacheOption(addExecutorOptions(addCompasOptions(addGridOptions(new Command("run").description("run an ensemble (resumes what is already done)"), true)))
    .option("--output-dir <dir>", "ensemble output directory or s3://bucket/prefix", "./compas-ensemble-output")
    .addOption(new Option("--executor <kind>", "where tasks run").choices([...EXECUTOR_KINDS]).default("local"))
    .option("--systems-per-task <n>", "split runs into chunks of this many binaries")
    .option("--checkpoint-every <n>", "rewrite the manifest every n finished tasks", "10")
    .option("--restart", "start over when the output directory holds a different ensemble")
    .option("--detach", "ssh/batch/slurm: return after submission; follow later with `compas-ensemble wait`"))
    .action(async (extra: string[], flags: RunFlags & ExecutorFlags) => {
      const controller = new AbortController();
      const stop = (signal: string): void => {
        process.stderr.write(`\n${signal}: stopping every COMPAS process and writing the manifest...\n`);
        controller.abort();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      const executor = executorFromFlags(flags);
      const live = liveReporter(process.stderr);
      const summary = await runEnsemble({
        points: pointsFromFlags(flags, true),
        nSystems: wholeNumber(flags.nSystems, "--n-systems", 1),
        systemsPerTask: flags.systemsPerTask ? wholeNumber(flags.systemsPerTask, "--systems-per-task", 1) : undefined,
        seedBase: wholeNumber(flags.seedBase, "--seed-base", 0),
        compasBinary: flags.compasBinary,
        probeCache: flags.cache,
        compas: { profile: flags.profile, extraFlags: extra, allowInertAxes: flags.allowInertAxes },
        output: flags.outputDir,
        executor,
        restart: flags.restart,
        detach: flags.detach,
        checkpointEvery: wholeNumber(flags.checkpointEvery, "--checkpoint-every", 1),
        signal: controller.signal,
        onEvent: live,
      }).finally(() => live.end());
      const r = summary.runs;
      if (flags.detach && executor.detached) {
        process.stderr.write(
          `\nsubmitted ${summary.tasks.submitted} task(s) to ${executor.kind}; follow with: compas-ensemble wait ${summary.output}\n`,
        );
        return;
      }
      process.stderr.write(
        `\n${summary.cancelled ? "cancelled" : "finished"} in ${formatDuration(summary.durationS)}: ${r.succeeded}/${r.total} runs succeeded, ` +
          `${r.failed} failed, ${r.pending} pending; manifest ${summary.output}/${summary.manifestKey}\n`,
      );
      for (const f of summary.failures) process.stderr.write(`  ${f.run_id}: ${f.reason}\n`);
      if (r.succeeded > 0) process.stderr.write(nextSteps(flags.outputDir).join("\n") + "\n");
      process.exitCode = summary.cancelled ? 130 : r.failed > 0 ? 1 : 0;
    });
}

/** `compas-ensemble status <dir>`: counts by state, failures with reasons, ETA. */
export function statusCommand(): Command {
  return new Command("status")
    .description("show an ensemble's progress from its output directory or S3 prefix")
    .argument("<dir>", "ensemble output directory or s3://bucket/prefix")
    .option("--concurrency <n>", "tasks that run at once, for the ETA (default: cores)")
    .option("--verify", "also check each finished output's sha256 against its record (reads every output; default: size only)")
    .option("--json", "print JSON")
    .option("--watch [seconds]", "refresh a one-line view every few seconds (default 2) until the ensemble ends or Ctrl-C")
    .action(async (dir: string, flags: { concurrency?: string; verify?: boolean; json?: boolean; watch?: string | true }) => {
      const store = openStore(dir);
      if (flags.watch !== undefined) {
        const controller = new AbortController();
        process.once("SIGINT", () => controller.abort());
        const concurrency = flags.concurrency ? wholeNumber(flags.concurrency, "--concurrency", 1) : availableParallelism();
        await watchStatus(store, { intervalS: watchSeconds(flags.watch), concurrency, stream: process.stdout, signal: controller.signal, display: dir });
        return;
      }
      const plan = await readPlanFromStore(store);
      if (!plan) {
        throw new CompasEnsembleError("METADATA_INVALID", `${dir} holds no plan.json, so it is not an ensemble output.`, {
          hint: "Give the --output-dir of `compas-ensemble run`.",
        });
      }
      const { fragments, invalid } = await readFragmentsFromStore(store);
      const check = flags.verify ? "rehash" : "size";
      const { reasons } = await verifiedSuccesses(store, plan, fragments, undefined, { check });
      const s = summarizeStatus(plan, fragments, reasons);
      // An output that contradicts its record is damage the user must hear about, also in scripts.
      if (s.invalidOutputs.length > 0) process.exitCode = 1;
      const concurrency = flags.concurrency ? wholeNumber(flags.concurrency, "--concurrency", 1) : availableParallelism();
      const eta = estimateRemainingSeconds(s, concurrency);
      if (flags.json) {
        const outputsChecked = check === "size" ? "size" : "sha256";
        process.stdout.write(JSON.stringify({ ensemble_id: plan.ensemble_id, ...s, eta_seconds: eta, outputs_checked: outputsChecked, invalid }, null, 2) + "\n");
        return;
      }
      const out = process.stdout;
      out.write(`ensemble ${plan.ensemble_id.slice(0, 12)} (${plan.runs.length} runs, ${s.total} tasks, N=${plan.n_systems_per_run})\n`);
      out.write(
        `  succeeded ${s.succeeded}  failed ${s.failed}  invalid ${s.invalidOutputs.length}  pending ${s.pending}` +
          `  (outputs checked by ${check === "size" ? "size; --verify also checks sha256" : "size and sha256"})\n`,
      );
      out.write(`  binaries  ${s.systemsDone} of ${s.systemsTotal}\n`);
      out.write(`  ETA       ${eta === null ? "unknown until a task finishes" : formatDuration(eta)} at ${concurrency} at once\n`);
      for (const f of s.failures) out.write(`  failed ${f.task_id} after ${f.attempts} attempt(s): ${f.reason}\n`);
      for (const v of s.invalidOutputs) {
        const task = v.task_id === v.run_id ? v.task_id : `${v.task_id} (run ${v.run_id})`;
        out.write(`  invalid ${task}: ${v.reason}; \`compas-ensemble run\` with the same flags reruns it\n`);
      }
      for (const i of invalid) out.write(`  unreadable fragment ${i.key}: ${i.reason}\n`);
    });
}

/** `compas-ensemble merge-metadata`: the predecessor's merge script, same flags. */
export function mergeMetadataCommand(): Command {
  return new Command("merge-metadata")
    .description("merge per-slice ensemble_metadata.json files (the predecessor's or ours)")
    .requiredOption("--input-dir <dir>", "directory the pattern is relative to")
    .option("--pattern <glob>", "manifests to merge", PREDECESSOR_PATTERN)
    .option("--output <file>", "merged manifest (default <input-dir>/ensemble_metadata.json)")
    .option("--dry-run", "print what would be merged, write nothing")
    .action(async (flags: { inputDir: string; pattern: string; output?: string; dryRun?: boolean }) => {
      const s = await mergePredecessorManifests({
        inputDir: flags.inputDir,
        pattern: flags.pattern,
        output: flags.output,
        dryRun: flags.dryRun,
        print: (line) => process.stdout.write(line + "\n"),
      });
      process.stdout.write(
        `merged ${s.files} file(s): ${s.runs} runs (${s.success} success, ${s.failed} failed, ${s.duplicates} duplicate entries)` +
          `${s.output ? ` -> ${s.output}` : " (dry run, nothing written)"}\n`,
      );
    });
}

/** `npm run demo`: the sparse grid's first 3 points with 200 binaries each. */
export function demoCommand(): Command {
  return addNoCacheOption(new Command("demo"))
    .description("run the sparse grid's first 3 points with 200 binaries each, on the COMPAS it finds")
    .option("--output-dir <dir>", "output directory", "./demo-output")
    .option("--compas-binary <path>", "COMPAS executable")
    .action(async (flags: { outputDir: string; compasBinary?: string; cache: boolean }) => {
      const points = pointsFromFlags({ sparse: true, testRun: true });
      const n = 200;
      let binary: string;
      try {
        binary = resolveCompasBinary({ compasBinary: flags.compasBinary });
      } catch (err) {
        if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND")) throw err;
        const out = process.stdout;
        out.write(
          "No COMPAS binary was found, so this demo prints its plan instead of running it. " +
            "COMPAS is a C++ program you build yourself (https://compas.readthedocs.io); point to it with " +
            "`npm run demo -- --compas-binary /path/to/COMPAS`, or set COMPAS_BINARY, or set COMPAS_ROOT_DIR " +
            "so that $COMPAS_ROOT_DIR/src/bin/COMPAS exists, or put COMPAS on your PATH. " +
            "To try the tool without COMPAS, use the test stand-in: " +
            "`COMPAS_BINARY=test/support/fake-compas/COMPAS npm run demo`.\n\n",
        );
        out.write(`Plan: ${points.length} runs x ${n} binaries, one task per run, ${availableParallelism()} at once.\n`);
        for (const p of points) {
          const args = buildCompasArgs(p, { nSystems: n, seed: p.index * n });
          out.write(`  ${displayCommand(["COMPAS", ...withOutput(args, `${flags.outputDir}/runs/${p.run_id}`)])}\n`);
        }
        const cpu = points.length * n * MEASURED_SECONDS_PER_BINARY.default;
        out.write(
          `Estimated time: about ${formatDuration(cpu)} of CPU (${MEASURED_SECONDS_PER_BINARY.default} s per binary measured ` +
            `with COMPAS v03.07.00), ${formatDuration(cpu / Math.min(points.length, availableParallelism()))} wall time.\n`,
        );
        return;
      }
      const probe = await probeCompas(binary, { cache: flags.cache });
      process.stderr.write(`COMPAS ${probe.version} at ${binary}\n`);
      const summary = await runEnsemble({
        points,
        nSystems: n,
        compasBinary: binary,
        output: flags.outputDir,
        onEvent: progressReporter(process.stderr),
      });
      process.stderr.write(
        `${summary.runs.succeeded}/${summary.runs.total} runs succeeded; manifest ${summary.output}/${summary.manifestKey}\n` +
          `Run it again: finished runs are skipped. Inspect one: npx compas-ensemble inspect ${summary.output}/runs/${points[0]!.run_id}/COMPAS_Output/COMPAS_Output.h5\n`,
      );
      process.exitCode = summary.runs.failed > 0 ? 1 : 0;
    });
}

/** `compas-ensemble wait` and `cancel`: re-attach to a detached submission through the store. */
export function attachCommand(action: "wait" | "cancel"): Command {
  const description =
    action === "wait"
      ? "follow a detached submission (ssh, batch, slurm) to its end from any machine, then write the manifest"
      : "stop a detached submission (ssh, batch, slurm) and write the manifest";
  return addReattachOptions(new Command(action).description(description))
    .argument("<dir>", "ensemble output directory or s3://bucket/prefix")
    .action(async (dir: string, flags: ReattachFlags) => {
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      const summary = await attachEnsemble({
        output: dir,
        reattach: reattachFromFlags(flags),
        action,
        signal: controller.signal,
        onEvent: progressReporter(process.stderr),
      });
      const r = summary.runs;
      process.stderr.write(
        `${action === "cancel" ? "cancelled" : controller.signal.aborted ? "detached" : "finished"}: ${r.succeeded}/${r.total} runs succeeded, ` +
          `${r.failed} failed, ${r.pending} pending; manifest ${summary.output}/${summary.manifestKey}\n`,
      );
      for (const f of summary.failures) process.stderr.write(`  ${f.run_id}: ${f.reason}\n`);
      process.exitCode = r.failed > 0 ? 1 : 0;
    });
}
