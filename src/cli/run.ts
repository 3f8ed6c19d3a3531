import { availableParallelism } from "node:os";
import { Command, Option } from "commander";
import { buildCompasArgs, displayCommand, withOutput } from "../compas/argv.js";
import { MEASURED_SECONDS_PER_BINARY } from "../compas/profiles.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { RUNS_PREFIX, runOutputKey } from "../store/keys.js";
import { formatDuration } from "../util/format.js";
import { addAdaptiveOptions, type AdaptiveFlags, sizesFromFlags } from "./_adaptive-options.js";
import { addCompasOptions, type RunFlags } from "./_compas-options.js";
import { addNoCacheOption } from "./_cache-option.js";
import { addExecutorOptions, EXECUTOR_KINDS, executorFromFlags, type ExecutorFlags } from "./_executors.js";
import { addGridOptions, pointsFromFlags, wholeNumber } from "./_grid-options.js";
import { liveReporter, nextSteps } from "./_live.js";
import { DEFAULT_CHECKPOINT_EVERY, DEFAULT_CHECKPOINT_MIN_INTERVAL_MS } from "../manifest/checkpoint.js";

/** `compas-ensemble run`: runs a grid (the predecessor's flags plus executor options). */
export function runCommand(): Command {
  return addNoCacheOption(addAdaptiveOptions(addExecutorOptions(addCompasOptions(addGridOptions(new Command("run").description("run an ensemble (resumes what is already done)"), true)))))
    .option("--output-dir <dir>", "ensemble output directory or s3://bucket/prefix", "./compas-ensemble-output")
    .addOption(new Option("--executor <kind>", "where tasks run").choices([...EXECUTOR_KINDS]).default("local"))
    .option("--systems-per-task <n>", "split runs into chunks of this many binaries")
    .option("--checkpoint-every <n>", `rewrite the manifest every n finished tasks (default ${DEFAULT_CHECKPOINT_EVERY}), at most once per ${DEFAULT_CHECKPOINT_MIN_INTERVAL_MS / 1000} s`)
    .option("--restart", "start over when the output directory holds a different ensemble")
    .option("--detach", "ssh/batch/slurm: return after submission; follow later with `compas-ensemble wait`")
    .action(async (extra: string[], flags: RunFlags & ExecutorFlags & AdaptiveFlags & { cache: boolean }, cmd: Command) => {
      const sizes = await sizesFromFlags(flags, flags.nSystems, cmd.getOptionValueSource("nSystems") === "cli");
      const controller = new AbortController();
      const stop = (signal: string): void => {
        process.stderr.write(`\n${signal}: stopping every COMPAS process and writing the manifest...\n`);
        controller.abort();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      const executor = await executorFromFlags(flags);
      const { runEnsemble } = await import("../ensemble/run.js");
      const live = liveReporter(process.stderr);
      const summary = await runEnsemble({
        points: pointsFromFlags(flags, true),
        ...sizes,
        systemsPerTask: flags.systemsPerTask ? wholeNumber(flags.systemsPerTask, "--systems-per-task", 1) : undefined,
        seedBase: wholeNumber(flags.seedBase, "--seed-base", 0),
        compasBinary: flags.compasBinary,
        probeCache: flags.cache,
        compas: { profile: flags.profile, extraFlags: extra, allowInertAxes: flags.allowInertAxes },
        output: flags.outputDir,
        executor,
        restart: flags.restart,
        detach: flags.detach,
        ...(flags.checkpointEvery === undefined ? {} : { checkpointEvery: wholeNumber(flags.checkpointEvery, "--checkpoint-every", 1) }),
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


/** `npm run demo`: the sparse grid's first 3 points with 200 binaries each. */
export function demoCommand(): Command {
  return addNoCacheOption(new Command("demo"))
    .description("run the sparse grid's first 3 points with 200 binaries each, on the COMPAS it finds")
    .option("--output-dir <dir>", "output directory", "./demo-output")
    .option("--compas-binary <path>", "COMPAS executable")
    .action(async (flags: { outputDir: string; compasBinary?: string; cache: boolean }) => {
      const points = pointsFromFlags({ sparse: true, testRun: true });
      const n = 200;
      const { probeCompas, resolveCompasBinary } = await import("../compas/probe.js");
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
          out.write(`  ${displayCommand(["COMPAS", ...withOutput(args, `${flags.outputDir}/${RUNS_PREFIX}${p.run_id}`)])}\n`);
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
      const { runEnsemble } = await import("../ensemble/run.js");
      const live = liveReporter(process.stderr);
      const summary = await runEnsemble({
        points,
        nSystems: n,
        compasBinary: binary,
        probeCache: flags.cache,
        output: flags.outputDir,
        onEvent: live,
      }).finally(() => live.end());
      process.stderr.write(
        `${summary.runs.succeeded}/${summary.runs.total} runs succeeded; manifest ${summary.output}/${summary.manifestKey}\n` +
          `Run it again: finished runs are skipped. Inspect one: npx compas-ensemble inspect ${summary.output}/${runOutputKey(points[0]!.run_id)}\n`,
      );
      process.exitCode = summary.runs.failed > 0 ? 1 : 0;
    });
}

