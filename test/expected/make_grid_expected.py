"""Writes the predecessor tool's grids as JSON, computed the way it computed them
(numpy logspace, itertools.product, Python format strings), so the TypeScript presets are
checked against an independent implementation.  Run with Debian's /usr/bin/python3."""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def grid(n_alpha, lambdas, kicks, zs, fas):
    alphas = np.logspace(np.log10(0.1), np.log10(5.0), n_alpha)
    points = []
    for k, (a, lam, kick, z, fa) in enumerate(itertools.product(alphas, lambdas, kicks, zs, fas)):
        run_id = f"alpha{a:.3f}_lambda{lam:.2f}_kick{kick}_Z{z:.5f}_fa{fa:.2f}"
        points.append({
            "index": k,
            "run_id": run_id,
            "params": {
                "alpha_ce": float(a), "lambda_ce": float(lam), "kick_sigma": float(kick),
                "metallicity": float(z), "mass_transfer_fa": float(fa),
            },
        })
    return points


out = {
    "sparse": grid(10, [0.1, 0.5], [217], [0.0001, 0.0142], [0.5]),
    "full": grid(10, [0.05, 0.1, 0.5, 1.0], [150, 217, 300], [0.0001, 0.001, 0.0142, 0.02], [0.25, 0.5, 0.75]),
    "sparse_alpha6": grid(6, [0.1, 0.5], [217], [0.0001, 0.0142], [0.5]),
}
# repr() keeps every bit of the doubles; json would too, but be explicit about it.
(HERE / "grid_expected.json").write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
print(f"wrote {sum(len(v) for v in out.values())} points", file=sys.stderr)
