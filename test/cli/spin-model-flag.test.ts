import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { parseSpinModelFlag } from "../../src/cli/spin-model-flag.js";

describe("parseSpinModelFlag", () => {
  it.each([
    ["bavera2021", { name: "bavera2021", chiNatal: 0 }],
    ["bavera2021:chi_natal=0.1", { name: "bavera2021", chiNatal: 0.1 }],
    ["Bavera2021:0.2", { name: "bavera2021", chiNatal: 0.2 }],
    ["qin2018", { name: "qin2018", chiNatal: 0 }],
    ["qin2018:chi_natal=0.05", { name: "qin2018", chiNatal: 0.05 }],
    ["fixed:0.5", { name: "fixed", chi: 0.5 }],
    ["fixed:chi=1", { name: "fixed", chi: 1 }],
    ["uniform:0.8", { name: "uniform", max: 0.8 }],
    [" uniform:max=0.3 ", { name: "uniform", max: 0.3 }],
  ])("reads %j", (flag, expected) => {
    expect(parseSpinModelFlag(flag)).toEqual(expected);
  });

  it.each(["", "kerr", "fixed", "fixed:abc", "uniform:1.5", "bavera2021:chi=0.1", "fixed:-0.1", "qin2018:chi_natal="])(
    "rejects %j with OPTIONS_INVALID naming the flag",
    (flag) => {
      let err: unknown;
      try {
        parseSpinModelFlag(flag);
      } catch (e) {
        err = e;
      }
      expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
      expect((err as Error).message).toContain("--spin-model");
    },
  );
});
