import { Command } from "commander";
import { wholeNumber } from "./_grid-options.js";
import { DEFAULT_SYNC_CONCURRENCY } from "../store/sync.js";

/** `compas-ensemble sync`: S3 prefix <-> local directory, only what differs. */
export function syncCliCommand(): Command {
  return new Command("sync")
    .description("download an S3 prefix into a directory (or upload with --up), transferring only what differs")
    .argument("<s3-uri>", "s3://bucket/prefix")
    .argument("<dir>", "local directory")
    .option("--up", "upload the directory to the S3 prefix instead")
    .option("--prefix <p>", "only keys under this sub-prefix")
    .option("--dry-run", "list what would be transferred")
    .option("--concurrency <n>", `transfers at once (default ${DEFAULT_SYNC_CONCURRENCY})`)
    .option("--endpoint <url>", "S3-compatible endpoint (MinIO, Ceph)")
    .option("--region <region>", "AWS region (default: the standard chain)")
    .action(async (s3Uri: string, dir: string, flags: { up?: boolean; prefix?: string; dryRun?: boolean; concurrency?: string; endpoint?: string; region?: string }) => {
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      const { formatSyncSummary, syncCommand } = await import("./sync-command.js");
      const summary = await syncCommand({
        s3Uri,
        dir,
        up: flags.up,
        prefix: flags.prefix,
        dryRun: flags.dryRun,
        ...(flags.concurrency === undefined ? {} : { concurrency: wholeNumber(flags.concurrency, "--concurrency", 1) }),
        ...(flags.endpoint ? { endpoint: flags.endpoint } : {}),
        ...(flags.region ? { region: flags.region } : {}),
        signal: controller.signal,
      });
      process.stdout.write(formatSyncSummary(summary) + "\n");
      for (const key of summary.refused) process.stderr.write(`refused unsafe key: ${JSON.stringify(key)}\n`);
    });
}
