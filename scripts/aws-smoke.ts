/**
 * The parts of scripts/aws-smoke.sh that need the AWS SDK: what the run cost, which job
 * definition revisions exist, and the clean-up. Run with the checkout's tsx:
 *
 *   tsx scripts/aws-smoke.ts report <s3-uri> [--instance-type c7i.large] [--region R] [--batch-endpoint URL]
 *   tsx scripts/aws-smoke.ts definitions <name> [--region R] [--batch-endpoint URL]
 *   tsx scripts/aws-smoke.ts cleanup <s3-uri> [--deregister-new <name> --before <file>] [--region R] [--batch-endpoint URL]
 */
import { DeregisterJobDefinitionCommand, type JobDefinition } from "@aws-sdk/client-batch";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { HANDLE_KEY } from "../src/store/keys.js";
import { BatchApi } from "../src/executors/batch/_api.js";
import { BatchHandleDataSchema, reattachBatchExecutor } from "../src/executors/batch/executor.js";
import { ExecutorHandleSchema, type ExecutorHandle } from "../src/executors/types.js";
import { instancePrice, PRICE_TABLE, pricePerVcpuHour, type PriceTable } from "../src/estimate/prices.js";
import { openStore } from "../src/store/open.js";
import type { Store } from "../src/store/types.js";

/**
 * Memory per vCPU of the instance families in the price table (c7i, c6a, c7a: 2 GiB). A child
 * that asks for more memory per vCPU than this keeps more of the instance's vCPUs idle, and
 * pays for them.
 */
export const MIB_PER_VCPU = 2048;

/** One attempt as Batch reports it (AttemptDetail); attempts that never ran have no startedAt. */
export interface AttemptTimes {
  startedAt?: number;
  stoppedAt?: number;
}

/** What the attempts of a run cost. */
export interface SmokeCost {
  attempts: number;
  /** Seconds between each attempt's startedAt and stoppedAt, summed. */
  containerSeconds: number;
  /** vCPUs each child occupies: its own, or more when its memory needs them. */
  vcpusPerChild: number;
  vcpuHours: number;
  onDemandUsd: number;
  spotUsd: number;
  instanceType: string;
}

/**
 * The cost of Batch attempts on one instance type: container time times the vCPUs a child
 * occupies, priced per vCPU-hour from the estimate's price table (src/estimate/prices.ts).
 * Batch itself costs nothing extra; instance start-up and idle time are not counted.
 * @param attempts - every attempt of every child
 * @param resources - the job definition's vCPUs and memory per child
 * @param instanceType - a type in the price table
 * @param table - prices (default: the estimate's)
 */
export function costOfAttempts(
  attempts: readonly AttemptTimes[],
  resources: { vcpus: number; memoryMiB: number },
  instanceType = "c7i.large",
  table: PriceTable = PRICE_TABLE,
): SmokeCost {
  instancePrice(instanceType, table);
  const containerSeconds = attempts.reduce(
    (sum, a) => sum + (a.startedAt !== undefined && a.stoppedAt !== undefined ? Math.max(0, a.stoppedAt - a.startedAt) / 1000 : 0),
    0,
  );
  const vcpusPerChild = Math.max(resources.vcpus, resources.memoryMiB / MIB_PER_VCPU);
  const vcpuHours = (containerSeconds / 3600) * vcpusPerChild;
  const price = pricePerVcpuHour(instanceType, table);
  return { attempts: attempts.length, containerSeconds, vcpusPerChild, vcpuHours, onDemandUsd: vcpuHours * price.onDemand, spotUsd: vcpuHours * price.spot, instanceType };
}

/**
 * vCPUs and memory of a job definition (resourceRequirements, or the older vcpus/memory fields).
 * @param def - as DescribeJobDefinitions returns it
 */
export function definitionResources(def: JobDefinition): { vcpus: number; memoryMiB: number } {
  const cp = def.containerProperties ?? {};
  const req = (type: string): number | undefined => {
    const value = cp.resourceRequirements?.find((r) => r.type === type)?.value;
    return value === undefined ? undefined : Number(value);
  };
  const vcpus = req("VCPU") ?? cp.vcpus;
  const memoryMiB = req("MEMORY") ?? cp.memory;
  if (vcpus === undefined || memoryMiB === undefined) throw new Error(`Job definition ${def.jobDefinitionArn} states no vCPUs or memory.`);
  return { vcpus, memoryMiB };
}

/** One line for the user. */
export function formatCost(c: SmokeCost, tasks: number, table: PriceTable = PRICE_TABLE): string {
  const usd = (x: number): string => `$${x < 0.01 ? x.toFixed(5) : x.toFixed(2)}`;
  return (
    `cost: ${c.attempts} attempt(s) of ${tasks} task(s), ${c.containerSeconds.toFixed(0)} container-seconds x ${c.vcpusPerChild} vCPU = ` +
    `${c.vcpuHours.toFixed(4)} vCPU-hours: ${usd(c.onDemandUsd)} on demand, about ${usd(c.spotUsd)} on Spot ` +
    `(${c.instanceType}, price table of ${table.date}, ${table.region})`
  );
}

async function readHandle(store: Store): Promise<ExecutorHandle | undefined> {
  if (!(await store.exists(HANDLE_KEY))) return undefined;
  return ExecutorHandleSchema.parse(JSON.parse((await store.get(HANDLE_KEY)).toString("utf8")));
}

/** Every attempt of every job of a handle, read from Batch. */
async function attemptsOf(api: BatchApi, handle: ExecutorHandle): Promise<AttemptTimes[]> {
  const data = BatchHandleDataSchema.parse(handle.data);
  const ids = data.jobs.flatMap((j) => (j.index_list === null ? [j.job_id] : Array.from({ length: j.size }, (_, i) => `${j.job_id}:${i}`)));
  const details = await api.describeJobs(ids);
  return details.flatMap((d) => d.attempts ?? []).map((a) => ({ startedAt: a.startedAt, stoppedAt: a.stoppedAt }));
}

async function activeRevisions(api: BatchApi, name: string): Promise<string[]> {
  const defs = await api.describeJobDefinitions({ jobDefinitionName: name, status: "ACTIVE" });
  return defs.map((d) => d.jobDefinitionArn!).filter(Boolean).sort();
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "instance-type": { type: "string", default: "c7i.large" },
      region: { type: "string" },
      "batch-endpoint": { type: "string" },
      "deregister-new": { type: "string" },
      before: { type: "string" },
    },
  });
  const [command, target] = positionals;
  const api = new BatchApi({ region: values.region, endpoint: values["batch-endpoint"] });
  try {
    if (command === "definitions" && target) {
      process.stdout.write((await activeRevisions(api, target)).map((a) => `${a}\n`).join(""));
      return;
    }
    if (command === "report" && target) {
      const store = openStore(target);
      const handle = await readHandle(store);
      if (!handle) {
        process.stdout.write("cost: nothing was submitted\n");
        return;
      }
      const data = BatchHandleDataSchema.parse(handle.data);
      const [def] = await api.describeJobDefinitions({ jobDefinitions: [data.job_definition] });
      if (!def) throw new Error(`Job definition ${data.job_definition} is not known to Batch.`);
      const cost = costOfAttempts(await attemptsOf(api, handle), definitionResources(def), values["instance-type"]);
      process.stdout.write(`${formatCost(cost, handle.task_ids.length)}\n`);
      return;
    }
    if (command === "cleanup" && target) {
      const store = openStore(target);
      const handle = await readHandle(store);
      if (handle) {
        // Jobs still running (an interrupted smoke test) are stopped before their files go.
        const ex = reattachBatchExecutor(handle, { region: values.region, endpoint: values["batch-endpoint"] });
        try {
          if ((await ex.summary(handle)).some((j) => j.status !== undefined && j.status !== "SUCCEEDED" && j.status !== "FAILED")) await ex.cancel(handle);
        } finally {
          ex.close();
        }
      }
      const keys = (await store.list("")).map((e) => e.key);
      for (const key of keys) await store.delete(key);
      process.stdout.write(`removed ${keys.length} object(s) under ${target}\n`);
      const name = values["deregister-new"];
      if (name) {
        const before = new Set(values.before ? readFileSync(values.before, "utf8").split("\n").filter(Boolean) : []);
        for (const arn of await activeRevisions(api, name)) {
          if (before.has(arn)) continue;
          await api.client.send(new DeregisterJobDefinitionCommand({ jobDefinition: arn }));
          process.stdout.write(`deregistered ${arn}\n`);
        }
      }
      return;
    }
    throw new Error("usage: aws-smoke.ts report <s3-uri> | definitions <name> | cleanup <s3-uri> [--deregister-new <name> --before <file>]");
  } finally {
    api.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`aws-smoke: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
