import { spawnSync } from "node:child_process";
import { assembleSbiDataset } from "../../src/dataset/assemble.js";
import type { SbiDataset } from "../../src/dataset/types.js";
import { allocateDcoTable, type Channel, type DcoTable, type DcoType } from "../../src/physics/dco-table.js";
import type { RatesOptions } from "../../src/physics/rates/options.js";

/** One hand-made DCO; fields left out get plausible values derived from the masses. */
export interface DcoRow {
  seed?: bigint;
  m1?: number;
  m2?: number;
  type?: DcoType;
  t_form?: number;
  t_coal?: number;
  merges?: 0 | 1;
  chi1?: number;
  chi2?: number;
  tilt1?: number;
  tilt2?: number;
  chi_eff?: number;
  chi_p?: number;
  channel?: Channel;
  pessimistic_ce?: 0 | 1;
}

/** Builds a {@link DcoTable} from rows, computing q, chirp mass and t_delay by their definitions. */
export function makeDcoTable(rows: DcoRow[]): DcoTable {
  const n = rows.length;
  const t: DcoTable = { ...allocateDcoTable(n), type: [], channel: [] };
  rows.forEach((r, i) => {
    const m1 = r.m1 ?? 30;
    const m2 = r.m2 ?? 20;
    t.seed[i] = r.seed ?? BigInt(1000 + i);
    t.m1[i] = m1;
    t.m2[i] = m2;
    t.q[i] = m2 / m1;
    t.chirp_mass[i] = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2;
    t.type.push(r.type ?? "BBH");
    t.t_form[i] = r.t_form ?? 5;
    t.t_coal[i] = r.t_coal ?? 100;
    t.t_delay[i] = (r.t_form ?? 5) + (r.t_coal ?? 100);
    t.merges_hubble_time[i] = r.merges ?? 1;
    t.chi1[i] = r.chi1 ?? 0;
    t.chi2[i] = r.chi2 ?? 0;
    t.tilt1[i] = r.tilt1 ?? 0;
    t.tilt2[i] = r.tilt2 ?? 0;
    t.chi_eff[i] = r.chi_eff ?? 0;
    t.chi_p[i] = r.chi_p ?? 0;
    t.channel.push(r.channel ?? "I");
    t.pessimistic_ce[i] = r.pessimistic_ce ?? 0;
  });
  return t;
}

/**
 * Three runs (one with DCOs of every type and channel, one without DCOs, one with a BBH)
 * assembled into a dataset. By default every run has its own alpha_ce, so no two runs form a
 * metallicity group; `alphas` sets them (equal alphas and lambda 0.1 put runs in one group).
 */
export function makeDataset(options: { mergingOnly?: boolean; alphas?: [number, number, number]; rates?: RatesOptions } = {}): SbiDataset {
  const [alphaA, alphaB, alphaC] = options.alphas ?? [0.1, 5, 1];
  const runA = makeDcoTable([
    { seed: 100n, type: "BBH", m1: 35.5, m2: 20.25, chi_eff: 0.125, chi2: 0.4, tilt2: 0.3, channel: "I" },
    { seed: 101n, type: "BHNS", m1: 9, m2: 1.35, merges: 0, channel: "IV", pessimistic_ce: 1 },
    { seed: 18446744073709551615n, type: "BNS", m1: 1.4, m2: 1.25, channel: "unknown", t_coal: 2e4, merges: 0 },
  ]);
  const runB = makeDcoTable([]);
  const runC = makeDcoTable([{ seed: 7n, type: "BBH", channel: "V", chi_eff: -0.5, tilt1: 2.5 }]);
  // COMPAS's default sampling (Run_Details of the real fixtures): m_rep = 101.713 Msol at f_bin 0.7.
  const sampling = { imf: "KROUPA", massRatioDistribution: "FLAT", m1Min: 5, m1Max: 150, m2Min: 0.1 };
  const params = (alpha: number, z: number) => ({
    alpha_ce: alpha,
    lambda_ce: 0.1,
    kick_sigma: 217,
    metallicity: z,
    mass_transfer_fa: 0.5,
  });
  return assembleSbiDataset(
    [
      { run_id: "alpha0.100_lambda0.10_kick217_Z0.00010_fa0.50", params: params(alphaA, 1e-4), n_systems: 5000, table: runA, sampling },
      { run_id: "alpha5.000_lambda0.10_kick217_Z0.01420_fa0.50", params: params(alphaB, 0.0142), n_systems: 10000, table: runB, sampling },
      { run_id: "alpha1.000_lambda0.10_kick217_Z0.00010_fa0.50", params: params(alphaC, 1e-4), n_systems: 2000, table: runC, sampling },
    ],
    {
      spinModel: { name: "bavera2021", params: { chi_natal: 0 }, constants: { Msol_kg: 1.98892e30 } },
      provenance: {
        library_version: "9.9.9-test",
        source: "/nowhere/ensemble_metadata.json",
        created_at: "2026-01-02T03:04:05.000Z",
      },
      mergingOnly: options.mergingOnly ?? false,
      ...(options.rates === undefined ? {} : { rates: options.rates }),
    },
  );
}

/** Runs Debian's python3 (the one with h5py and numpy) on a script and parses the JSON it prints. */
export function runPython(script: string, args: string[]): unknown {
  const r = spawnSync("/usr/bin/python3", ["-c", script, ...args], { encoding: "utf8" });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`/usr/bin/python3 exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
