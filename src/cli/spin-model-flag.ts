import { CompasEnsembleError } from "../errors.js";
import { parseSpinModel, type SpinModel } from "../physics/spins.js";

const FLAG_HELP =
  "Use bavera2021, bavera2021:chi_natal=0.1, qin2018, qin2018:chi_natal=0.1, fixed:0.5 or uniform:0.8 (spins in [0, 1]).";

/** Parameter names accepted in the flag, mapped to the spin model's field names. */
const PARAM_ALIASES: Record<string, Record<string, string>> = {
  bavera2021: { chi_natal: "chiNatal", chinatal: "chiNatal" },
  qin2018: { chi_natal: "chiNatal", chinatal: "chiNatal" },
  fixed: { chi: "chi" },
  uniform: { max: "max", chi_max: "max" },
};

/** The parameter a bare value (`fixed:0.5`, `uniform:0.8`) stands for. */
const BARE_VALUE: Record<string, string> = { fixed: "chi", uniform: "max", bavera2021: "chiNatal", qin2018: "chiNatal" };

/**
 * Parses the CLI's `--spin-model` value into a validated spin model:
 * `<name>[:<value>|:<param>=<value>[,<param>=<value>...]]`, e.g. `bavera2021`,
 * `bavera2021:chi_natal=0.1`, `qin2018`, `fixed:0.5` (every BH chi = 0.5), `uniform:0.8`
 * (every BH chi uniform in [0, 0.8]).
 * @param flag - the flag's value
 */
export function parseSpinModelFlag(flag: string): SpinModel {
  const text = flag.trim();
  const colon = text.indexOf(":");
  const name = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
  const aliases = PARAM_ALIASES[name];
  if (aliases === undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--spin-model ${JSON.stringify(flag)} names no known spin model.`, {
      hint: FLAG_HELP,
    });
  }
  const model: Record<string, unknown> = { name };
  const rest = colon < 0 ? "" : text.slice(colon + 1).trim();
  for (const part of rest === "" ? [] : rest.split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? BARE_VALUE[name] : aliases[part.slice(0, eq).trim().toLowerCase()];
    const raw = (eq < 0 ? part : part.slice(eq + 1)).trim();
    const value = Number(raw);
    if (key === undefined || raw === "" || !Number.isFinite(value)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `--spin-model ${JSON.stringify(flag)}: cannot read ${JSON.stringify(part)}.`, {
        hint: FLAG_HELP,
      });
    }
    model[key] = value;
  }
  try {
    return parseSpinModel(model as Parameters<typeof parseSpinModel>[0]);
  } catch (cause) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `--spin-model ${JSON.stringify(flag)}: ${cause instanceof Error ? cause.message : "invalid spin model."}`,
      { cause, hint: FLAG_HELP },
    );
  }
}
