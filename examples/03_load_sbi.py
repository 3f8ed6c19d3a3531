"""Load the SBI dataset written by examples/03-sbi-dataset.ts and hand it to the `sbi` package.

    python3 examples/03_load_sbi.py example-output/03-sbi-dataset/sbi.h5

Needs h5py and numpy (Debian/Ubuntu: apt install python3-h5py). The training step needs
`pip install sbi` (which brings torch); without it the script loads and checks the data, says
that it skipped training, and exits 0. The file layout is described in docs/sbi-dataset.md.
"""

import json
import sys

import h5py
import numpy as np


def load(path):
    with h5py.File(path, "r") as f:
        theta = f["theta"][()]
        x = f["x"][()]
        data = {
            "theta": theta,
            "theta_columns": [str(c) for c in f["theta"].attrs["columns"]],
            "x": x,
            "x_columns": [str(c) for c in f["x"].attrs["columns"]],
            "run_id": f["runs/run_id"].asstr()[()],
            "n_systems": f["runs/n_systems"][()],
            "dco": {
                name: (col.asstr()[()] if h5py.check_string_dtype(col.dtype) else col[()])
                for name, col in f["dco"].items()
            },
            "bins": json.loads(f.attrs["bins"]),
            "spin_model": json.loads(f.attrs["spin_model"]),
        }
    return data


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python3 examples/03_load_sbi.py <sbi.h5>")
    d = load(sys.argv[1])
    theta, x, dco = d["theta"], d["x"], d["dco"]
    n_runs = theta.shape[0]
    if x.shape[0] != n_runs or len(d["run_id"]) != n_runs or len(d["x_columns"]) != x.shape[1]:
        sys.exit("inconsistent file: theta, x and run ids must have one row per run")
    n_dco = len(dco["run_index"])
    if n_dco and not (0 <= dco["run_index"].min() and dco["run_index"].max() < n_runs):
        sys.exit("inconsistent file: a DCO points at a run that does not exist")

    print(f"theta shape {theta.shape} columns {','.join(d['theta_columns'])}")
    print(f"x shape {x.shape}")
    print(f"dco rows {n_dco}")
    print(f"runs {','.join(d['run_id'])}")
    merging = dco["merges_hubble_time"].astype(bool) if n_dco else np.zeros(0, bool)
    print(f"merging DCOs {int(merging.sum())}; spin model {d['spin_model']['name']}")

    # Per-event table with each DCO's run parameters, e.g. for a conditional density estimator.
    theta_per_dco = theta[dco["run_index"]] if n_dco else np.zeros((0, theta.shape[1]))
    print(f"theta per DCO shape {theta_per_dco.shape}")

    try:
        import torch
        from sbi.inference import NPE
    except ImportError as err:
        print(f"sbi is not installed ({err}); skipping the training step. Install it with: pip install sbi")
        return

    # Neural posterior estimation of theta from the per-run summary vector x. Real use needs
    # many more runs than this example makes; the call pattern is what matters here.
    npe = NPE()
    npe.append_simulations(torch.tensor(theta, dtype=torch.float32), torch.tensor(x, dtype=torch.float32))
    estimator = npe.train(max_num_epochs=5)
    posterior = npe.build_posterior(estimator)
    sample = posterior.sample((100,), x=torch.tensor(x[0], dtype=torch.float32))
    print(f"posterior samples for run {d['run_id'][0]}: shape {tuple(sample.shape)}")


if __name__ == "__main__":
    main()
