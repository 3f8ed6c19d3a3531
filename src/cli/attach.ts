import { Command } from "commander";
import { addReattachOptions, reattachFromFlags, type ReattachFlags } from "./_executors.js";
import { liveReporter } from "./_live.js";

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
      const { attachEnsemble } = await import("../ensemble/attach.js");
      const live = liveReporter(process.stderr);
      const summary = await attachEnsemble({
        output: dir,
        reattach: reattachFromFlags(flags),
        action,
        signal: controller.signal,
        onEvent: live,
      }).finally(() => live.end());
      const r = summary.runs;
      process.stderr.write(
        `${action === "cancel" ? "cancelled" : controller.signal.aborted ? "detached" : "finished"}: ${r.succeeded}/${r.total} runs succeeded, ` +
          `${r.failed} failed, ${r.pending} pending; manifest ${summary.output}/${summary.manifestKey}\n`,
      );
      for (const f of summary.failures) process.stderr.write(`  ${f.run_id}: ${f.reason}\n`);
      process.exitCode = r.failed > 0 ? 1 : 0;
    });
}
