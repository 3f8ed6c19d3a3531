import type { Channel, DcoTable, DcoType } from "../../src/hdf5/dco-table.js";

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
  const t: DcoTable = {
    length: n,
    seed: new BigUint64Array(n),
    m1: new Float64Array(n),
    m2: new Float64Array(n),
    q: new Float64Array(n),
    chirp_mass: new Float64Array(n),
    type: [],
    t_form: new Float64Array(n),
    t_coal: new Float64Array(n),
    t_delay: new Float64Array(n),
    merges_hubble_time: new Uint8Array(n),
    chi1: new Float64Array(n),
    chi2: new Float64Array(n),
    tilt1: new Float64Array(n),
    tilt2: new Float64Array(n),
    chi_eff: new Float64Array(n),
    chi_p: new Float64Array(n),
    channel: [],
    pessimistic_ce: new Uint8Array(n),
  };
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
