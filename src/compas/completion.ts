import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Dataset, Group } from "h5wasm";
import { CompasEnsembleError } from "../errors.js";
import { openH5Read } from "../hdf5/h5wasm.js";

/** Inputs of {@link checkCompletion}. */
export interface CompletionInput {
  /** The container folder COMPAS wrote (`<output-path>/<container>`). */
  containerDir: string;
  /** Number of binaries the task asked for. */
  nSystems: number;
  /** The end of COMPAS's stdout (a few KB are enough: the summary lines come last). */
  stdoutTail: string;
}

/** Outcome of {@link checkCompletion}. */
export interface CompletionResult {
  complete: boolean;
  /** One sentence per failed condition; empty when complete. */
  problems: string[];
  /** Rows per BSE group, when the HDF5 file was readable. */
  rows: Record<string, number>;
  /** Path of COMPAS_Output.h5. */
  h5Path: string;
}

/**
 * Decides whether a COMPAS run finished, by docs/compas.md's rule: exit code 0 is not enough,
 * because main() returns 0 after an aborted evolution loop. Complete means stdout reports
 * `Generated N of N` and `Simulation completed`, the Run_Details file and group say
 * Objects-Created == Objects-Requested == N, and BSE_System_Parameters has N rows.
 * @param input - container folder, N and the tail of stdout
 */
export async function checkCompletion(input: CompletionInput): Promise<CompletionResult> {
  const { containerDir, nSystems: n, stdoutTail } = input;
  const problems: string[] = [];
  const generated = new RegExp(`Generated ${n} of ${n} binaries requested`);
  if (/Evolution stopped because an error occurred/.test(stdoutTail)) {
    problems.push("COMPAS reported 'Evolution stopped because an error occurred'");
  }
  if (!generated.test(stdoutTail)) problems.push(`stdout lacks 'Generated ${n} of ${n} binaries requested'`);
  if (!/Simulation completed/.test(stdoutTail)) problems.push("stdout lacks 'Simulation completed'");

  const detailsPath = join(containerDir, "Run_Details");
  if (!existsSync(detailsPath)) {
    problems.push(`${detailsPath} is missing`);
  } else if (!generated.test(readFileSync(detailsPath, "utf8"))) {
    problems.push(`${detailsPath} does not say 'Generated ${n} of ${n} binaries requested'`);
  }

  const h5Path = join(containerDir, "COMPAS_Output.h5");
  const rows: Record<string, number> = {};
  try {
    const file = await openH5Read(h5Path);
    try {
      const details = file.get("Run_Details") as Group | null;
      const created = scalar(details, "Objects-Created");
      const requested = scalar(details, "Objects-Requested");
      if (created !== n || requested !== n) {
        problems.push(
          `Run_Details group has Objects-Created ${created ?? "missing"} and Objects-Requested ${requested ?? "missing"}, expected ${n}`,
        );
      }
      for (const name of file.keys()) {
        if (!name.startsWith("BSE_")) continue;
        const seed = (file.get(name) as Group).get("SEED") as Dataset | null;
        rows[name] = seed?.shape?.[0] ?? 0;
      }
      if ((rows.BSE_System_Parameters ?? 0) !== n) {
        problems.push(`BSE_System_Parameters has ${rows.BSE_System_Parameters ?? 0} rows, expected ${n}`);
      }
    } finally {
      file.close();
    }
  } catch (err) {
    if (!(err instanceof CompasEnsembleError)) throw err;
    problems.push(err.message.replace(/\.$/, ""));
  }
  return { complete: problems.length === 0, problems, rows, h5Path };
}

function scalar(group: Group | null, name: string): number | undefined {
  const ds = group?.get(name) as Dataset | null | undefined;
  const value = ds?.value as ArrayLike<number | bigint> | undefined;
  return value && value.length > 0 ? Number(value[0]) : undefined;
}
