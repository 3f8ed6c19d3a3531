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


def uneven():
    """A grid with five different axis lengths (3 x 2 x 4 x 1 x 5), every point in order."""
    axes = {
        "alpha_ce": [0.5, 1.0, 2.0],
        "lambda_ce": [0.1, 0.5],
        "kick_sigma": [150, 217, 265, 300],
        "metallicity": [0.0142],
        "mass_transfer_fa": [0.0, 0.25, 0.5, 0.75, 1.0],
    }
    points = []
    for k, (a, lam, kick, z, fa) in enumerate(itertools.product(*axes.values())):
        points.append({
            "index": k,
            "run_id": f"alpha{a:.3f}_lambda{lam:.2f}_kick{kick}_Z{z:.5f}_fa{fa:.2f}",
            "params": {"alpha_ce": a, "lambda_ce": lam, "kick_sigma": kick, "metallicity": z, "mass_transfer_fa": fa},
        })
    return {"spec": axes, "points": points}


def huge():
    """A grid file of 10^13 points and a few of its points, found by unravelling the index
    in C order (the last axis fastest, as itertools.product), never by expanding the grid."""
    spec = {
        "alpha_ce": {"linspace": {"start": 0, "stop": 999, "num": 1000}},
        "lambda_ce": {"linspace": {"start": 1, "stop": 10000, "num": 10000}},
        "kick_sigma": {"linspace": {"start": 0, "stop": 999, "num": 1000}},
        "metallicity": {"linspace": {"start": 0.0001, "stop": 0.01009, "num": 1000}},
        "mass_transfer_fa": 0.5,
    }
    axes = [np.linspace(v["linspace"]["start"], v["linspace"]["stop"], v["linspace"]["num"])
            for v in list(spec.values())[:4]] + [np.array([0.5])]
    shape = tuple(len(a) for a in axes)
    total = int(np.prod(shape, dtype=np.int64))
    indices = [0, 1, 999, 1000, 9_999_999, 1_234_567_890_123, 5_000_000_000_000, total - 2, total - 1]
    points = []
    for k in indices:
        a, lam, kick, z, fa = (float(axes[d][i]) for d, i in enumerate(np.unravel_index(k, shape)))
        # The tool writes an integer-valued kick without decimals, as the presets' ints print.
        kick_text = str(int(kick)) if kick.is_integer() else repr(kick)
        points.append({
            "index": k,
            "run_id": f"alpha{a:.3f}_lambda{lam:.2f}_kick{kick_text}_Z{z:.5f}_fa{fa:.2f}",
            "params": {"alpha_ce": a, "lambda_ce": lam, "kick_sigma": kick, "metallicity": z, "mass_transfer_fa": fa},
        })
    return {"spec": spec, "total": total, "points": points}


out = {
    "sparse": grid(10, [0.1, 0.5], [217], [0.0001, 0.0142], [0.5]),
    "full": grid(10, [0.05, 0.1, 0.5, 1.0], [150, 217, 300], [0.0001, 0.001, 0.0142, 0.02], [0.25, 0.5, 0.75]),
    "sparse_alpha6": grid(6, [0.1, 0.5], [217], [0.0001, 0.0142], [0.5]),
    "uneven": uneven(),
    "huge": huge(),
}
# repr() keeps every bit of the doubles; json would too, but be explicit about it.
(HERE / "grid_expected.json").write_text(json.dumps(out, indent=None, separators=(",", ":")) + "\n")
print(f"wrote {sum(len(v) for v in out.values() if isinstance(v, list))} preset points", file=sys.stderr)
