import { CompasEnsembleError } from "../errors.js";
import type { GridSpec } from "./presets.js";
import { AXES, type AxisName } from "./schema.js";

interface AxisRule {
  ok: (v: number) => boolean;
  expect: string;
  why?: string;
}

// Bounds that COMPAS enforces (Z exits with code 3) or that it silently lacks (fa > 1 runs).
const RULES: Record<AxisName, AxisRule> = {
  alpha_ce: { ok: (v) => v >= 0, expect: "a value >= 0" },
  lambda_ce: { ok: (v) => v > 0, expect: "a value > 0" },
  kick_sigma: { ok: (v) => v >= 0, expect: "a value >= 0 km/s" },
  metallicity: {
    ok: (v) => v >= 0.0001 && v <= 0.03,
    expect: "a value in [0.0001, 0.03]",
    why: " (COMPAS exits on it)",
  },
  mass_transfer_fa: {
    ok: (v) => v >= 0 && v <= 1,
    expect: "a value in [0, 1]",
    why: " (COMPAS does not check it but it is a fraction)",
  },
};

/**
 * Checks every axis of a grid: present, non-empty, finite, no duplicates, within the
 * physical and COMPAS bounds. Throws GRID_INVALID naming the axis, index and value.
 * @param spec - the grid to check
 * @param source - what to call the grid in messages (e.g. "grid file my.yaml")
 */
export function validateGridSpec(spec: GridSpec, source = "grid"): void {
  for (const axis of AXES) {
    const vals = spec[axis];
    if (!Array.isArray(vals)) {
      throw invalid(`${source}: axis ${axis} is missing; give its values, e.g. ${axis}: [${exampleValue(axis)}].`);
    }
    if (vals.length === 0) {
      throw invalid(`${source}: axis ${axis} is empty; give at least one value, e.g. ${axis}: [${exampleValue(axis)}].`);
    }
    const seen = new Map<number, number>();
    vals.forEach((v, i) => {
      if (typeof v !== "number") {
        throw invalid(`${source}: ${axis}[${i}] = ${String(v)} is not a number; use ${RULES[axis].expect}.`);
      }
      if (!Number.isFinite(v)) throw invalid(nonFiniteMessage(source, `${axis}[${i}]`, v));
      const rule = RULES[axis];
      if (!rule.ok(v)) {
        throw invalid(`${source}: ${axis}[${i}] = ${v} is out of range${rule.why ?? ""}; use ${rule.expect}.`);
      }
      const prev = seen.get(v);
      if (prev !== undefined) {
        throw invalid(
          `${source}: ${axis}[${i}] = ${v} duplicates ${axis}[${prev}]; each value may appear once, remove one.`,
        );
      }
      seen.set(v, i);
    });
  }
  const extra = Object.keys(spec).filter((k) => !(AXES as readonly string[]).includes(k));
  if (extra.length > 0) {
    throw invalid(`${source}: unknown axis ${extra[0]}; the axes are ${AXES.join(", ")}.`);
  }
}

/**
 * The sentence for a NaN or infinite axis value, which names it as such.
 * @param source - what to call the grid (e.g. "grid file my.yaml")
 * @param path - where the value is (e.g. "metallicity[3]" or "alpha_ce.linspace.stop")
 * @param value - the value
 */
export function nonFiniteMessage(source: string, path: string, value: number): string {
  return `${source}: ${path} is ${String(value)}; axis values must be finite numbers, so write the value you mean.`;
}

function exampleValue(axis: AxisName): string {
  return { alpha_ce: "1.0", lambda_ce: "0.1", kick_sigma: "217", metallicity: "0.0142", mass_transfer_fa: "0.5" }[axis];
}

function invalid(message: string): CompasEnsembleError {
  return new CompasEnsembleError("GRID_INVALID", message);
}
