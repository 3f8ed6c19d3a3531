import { availableParallelism } from "node:os";
import { Command } from "commander";
import { wholeNumber } from "./_grid-options.js";

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
      const [{ openStore }, { requirePlan }, { readFragments }, { verifiedSuccesses }, { estimateRemainingSeconds, summarizeStatus }, { formatDuration }] =
        await Promise.all([
          import("../store/open.js"),
          import("../store/ensemble-files.js"),
          import("../store/fragments.js"),
          import("../ensemble/verify.js"),
          import("../manifest/status.js"),
          import("../util/format.js"),
        ]);
      const store = openStore(dir);
      if (flags.watch !== undefined) {
        const { watchSeconds, watchStatus } = await import("./_watch.js");
        const controller = new AbortController();
        process.once("SIGINT", () => controller.abort());
        const concurrency = flags.concurrency ? wholeNumber(flags.concurrency, "--concurrency", 1) : availableParallelism();
        await watchStatus(store, { intervalS: watchSeconds(flags.watch), concurrency, stream: process.stdout, signal: controller.signal, display: dir });
        return;
      }
      const plan = await requirePlan(store, { display: dir });
      const { fragments, invalid } = await readFragments(store);
      const check = flags.verify ? "rehash" : "size";
      const { reasons } = await verifiedSuccesses(store, plan, fragments, undefined, { check });
      const s = summarizeStatus(plan, fragments, reasons);
      // An output that contradicts its record is damage the user must hear about, also in scripts.
      if (s.invalidOutputs.length > 0) process.exitCode = 1;
      const concurrency = flags.concurrency ? wholeNumber(flags.concurrency, "--concurrency", 1) : availableParallelism();
      const eta = estimateRemainingSeconds(s, concurrency);
      if (flags.json) {
        const outputsChecked = check === "size" ? "size" : "sha256";
        process.stdout.write(JSON.stringify({ ensemble_id: plan.ensemble_id, ...s, eta_seconds: eta, outputs_checked: outputsChecked, invalid: invalid.map(({ key, reason }) => ({ key, reason })) }, null, 2) + "\n");
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
