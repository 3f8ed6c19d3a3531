"""Independent reference for the star-forming mass and merger rates of docs/rates.md.

Run with Debian's Python (h5py, numpy, scipy):

    /usr/bin/python3 test/expected/rates_ref.py             writes test/expected/rates_expected.json
    /usr/bin/python3 test/expected/rates_ref.py bench DIR   rates of the DCOs in DIR/*.npy (bench/rates.ts)
    /usr/bin/python3 test/expected/rates_ref.py radiation   how much radiation in H(z) moves R(z)

Written from the definitions, not from the library's TypeScript, and where docs/rates.md says
so it follows COMPAS's own post-processing (FastCosmicIntegration.py) instead:
- star-forming mass per binary by numerical integration (scipy.integrate.quad) of the Kroupa
  IMF with its breaks, not Mandel's closed form: the two must agree to ~1e-12;
- ages by numerical integration of 1/((1+z) H(z)) on COMPAS's fine grid (redshift step
  0.001 up to the first star formation), formation redshifts by linear interpolation of that
  table, rounded UP to the fine grid (numpy.ceil, as COMPAS does), and the formation rate read
  at that grid point: this is why the library and this script differ by up to ~1 %;
- metallicity bin fractions by quad of the normal density in ln Z.

Expected values come from the real COMPAS fixtures in test/fixtures/compas (gunzipped to a
temporary folder) and a synthetic ensemble: the fixtures differ in alpha/lambda/kick, so the
test manifest gives several fixtures of different Z the same four other parameters to form a
metallicity group (two of them share Z = 1e-4 and pool their star-forming mass).
"""
import gzip
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time

import h5py
import numpy as np
from scipy import integrate, stats

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures", "compas"))
OUT = os.path.join(HERE, "rates_expected.json")

# Units: 1 pc = 648000/pi au, 1 au = 149597870.7 km; a Julian year of 365.25 days.
KM_PER_MPC = 648000.0 / math.pi * 149597870.7 * 1e6
S_PER_MYR = 365.25 * 86400.0 * 1e6

DEFAULTS = {
    "f_bin": 0.7,
    "sfr": (0.01, 2.77, 2.90, 4.70),
    "mssfr": (0.035, -0.23, 0.39),
    "H0": 67.66,
    "Om": 0.30966,
    "z_max": 10.0,
    "z_step": 0.01,
    "z_first_sf": 10.0,
    "outer": "drop",
}
FINE_STEP = 0.001  # COMPAS's redshift step
LNZ_MIN, LNZ_MAX = -12.0, 0.0


# ---------------------------------------------------------------- star-forming mass
def kroupa_unnormalised(m):
    """dN/dm of Kroupa 2001, continuous at 0.08 and 0.5 Msol, zero outside [0.01, 200]."""
    if m < 0.01 or m > 200.0:
        return 0.0
    if m < 0.08:
        return (m / 0.08) ** -0.3 * (0.08 / 0.5) ** -1.3
    if m < 0.5:
        return (m / 0.5) ** -1.3
    return (m / 0.5) ** -2.3


def quad_pieces(f, lo, hi):
    """Integral of f over [lo, hi], split at the IMF breaks so quad sees smooth pieces."""
    edges = [lo] + [b for b in (0.08, 0.5) if lo < b < hi] + [hi]
    return sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=200)[0] for a, b in zip(edges, edges[1:]))


def m_rep(m1_min, m1_max, m2_min, f_bin):
    """Msol of star formation per binary COMPAS samples (primary in [m1_min, m1_max], flat q,
    secondary above m2_min), for a population with binary fraction f_bin whose stars follow
    the Kroupa IMF: total mass of binaries and singles formed, divided by the number of
    binaries inside COMPAS's sampling box."""
    norm = quad_pieces(kroupa_unnormalised, 0.01, 200.0)
    mean_star = quad_pieces(lambda m: m * kroupa_unnormalised(m), 0.01, 200.0) / norm
    # A binary: primary from the IMF, q uniform on [0, 1]: mean mass 1.5 mean_star. For each
    # binary there are (1 - f_bin)/f_bin single stars.
    mass_per_binary_system = mean_star * (1.5 + (1.0 - f_bin) / f_bin)
    # Fraction of binaries with m1 in the box and q m1 > m2_min.
    sampled = quad_pieces(lambda m: kroupa_unnormalised(m) * max(0.0, 1.0 - m2_min / m), m1_min, m1_max) / norm
    return mass_per_binary_system / sampled


# ---------------------------------------------------------------- cosmology and SFR
def age_myr(z, H0, Om, Or=0.0):
    """Age of a flat universe at z: integral over the scale factor a of da / (a H(a))."""
    OL = 1.0 - Om - Or
    t_h = KM_PER_MPC / H0 / S_PER_MYR
    f = lambda a: 1.0 / math.sqrt(Om / a + Or / (a * a) + OL * a * a)
    return t_h * integrate.quad(f, 0.0, 1.0 / (1.0 + z), epsabs=0, epsrel=1e-12, limit=200)[0]


def sfr_gpc(z, p):
    a, b, c, d = p
    return a * (1.0 + z) ** b / (1.0 + ((1.0 + z) / c) ** d) * 1e9


class Cosmic:
    """COMPAS-style tables: fine redshift grid, ages on it, and ages on the output grid."""

    def __init__(self, opts, Or=0.0):
        self.opts = opts
        H0, Om = opts["H0"], opts["Om"]
        n_fine = int(round(opts["z_first_sf"] / FINE_STEP)) + 1
        self.z_fine = np.arange(n_fine) * FINE_STEP
        self.t_fine = np.array([age_myr(z, H0, Om, Or) for z in self.z_fine])
        self.t_first = age_myr(opts["z_first_sf"], H0, Om, Or)
        n_out = int(round(opts["z_max"] / opts["z_step"])) + 1
        self.z_out = np.linspace(0.0, opts["z_max"], n_out)
        self.t_out = np.array([age_myr(z, H0, Om, Or) for z in self.z_out])
        self.sfr_fine = sfr_gpc(self.z_fine, opts["sfr"])
        # np.interp needs increasing x: ages decrease with z.
        self._t_inc = self.t_fine[::-1]
        self._z_inc = self.z_fine[::-1]

    def merger_rate(self, delays, rate_fine, block=2000):
        """Sum over DCOs of rate_fine[ceil(z_form / 0.001)] at each output redshift, and each
        DCO's value at z = 0. Blocks of DCOs keep memory bounded."""
        total = np.zeros(len(self.z_out))
        z0 = np.zeros(len(delays))
        for s in range(0, len(delays), block):
            d = delays[s:s + block]
            t_form = self.t_out[None, :] - d[:, None]
            ok = t_form >= self.t_first
            z_form = np.interp(np.where(ok, t_form, self.t_first), self._t_inc, self._z_inc)
            idx = np.minimum(np.ceil(z_form / FINE_STEP).astype(np.int64), len(rate_fine) - 1)
            contrib = np.where(ok, rate_fine[idx], 0.0)
            total += contrib.sum(axis=0)
            z0[s:s + block] = contrib[:, 0]
        return total, z0


def bin_fraction(z, lo, hi, mssfr):
    """Fraction of star formation at each z (array) with ln Z in [lo, hi], log-normal of
    Neijssel+19 normalised on [-12, 0], by quad of the normal density."""
    mu0, muz, sigma = mssfr
    out = np.empty(len(z))
    for i, zi in enumerate(z):
        loc = math.log(mu0 * 10.0 ** (muz * zi)) - sigma * sigma / 2.0
        pdf = lambda x: math.exp(-0.5 * ((x - loc) / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
        a, b = max(lo, LNZ_MIN), min(hi, LNZ_MAX)
        norm = integrate.quad(pdf, LNZ_MIN, LNZ_MAX, points=[loc] if LNZ_MIN < loc < LNZ_MAX else None, epsabs=0, epsrel=1e-10, limit=200)[0]
        part = 0.0 if b <= a else integrate.quad(pdf, a, b, points=[loc] if a < loc < b else None, epsabs=0, epsrel=1e-10, limit=200)[0]
        out[i] = part / norm
    return out


def bin_fraction_fast(z, lo, hi, mssfr):
    """The same with scipy's normal CDF (vectorised), for the benchmark."""
    mu0, muz, sigma = mssfr
    loc = np.log(mu0 * 10.0 ** (muz * z)) - sigma * sigma / 2.0
    a, b = max(lo, LNZ_MIN), min(hi, LNZ_MAX)
    cdf = lambda x: stats.norm.cdf((x - loc) / sigma)
    norm = cdf(LNZ_MAX) - cdf(LNZ_MIN)
    return np.zeros(len(z)) if b <= a else (cdf(b) - cdf(a)) / norm


def bins(metallicities, outer):
    ln = sorted(set(math.log(z) for z in metallicities))
    inner = [(x + y) / 2.0 for x, y in zip(ln, ln[1:])]
    lo = LNZ_MIN if outer == "extend" else ln[0]
    hi = LNZ_MAX if outer == "extend" else ln[-1]
    return ln, [lo] + inner + [hi]


# ---------------------------------------------------------------- reading a COMPAS file
def read_run(path):
    with h5py.File(path, "r") as f:
        rd = f["Run_Details"]
        val = lambda k: rd[k][0].decode().strip().strip("'") if rd[k].dtype.kind == "S" else float(rd[k][0])
        sampling = {
            "imf": val("initial-mass-function"),
            "q": val("mass-ratio-distribution"),
            "m1_min": val("initial-mass-min"),
            "m1_max": val("initial-mass-max"),
            "m2_min": val("minimum-secondary-mass"),
        }
        n = len(f["BSE_System_Parameters/SEED"])
        if "BSE_Double_Compact_Objects" not in f:
            return sampling, n, {"type": np.array([], dtype=object), "delay": np.zeros(0), "merges": np.zeros(0, int), "pess": np.zeros(0, int)}
        g = f["BSE_Double_Compact_Objects"]
        s1, s2 = g["Stellar_Type(1)"][()], g["Stellar_Type(2)"][()]
        kind = np.array(["BBH" if (a, b) == (14, 14) else "BNS" if (a, b) == (13, 13) else "BHNS" for a, b in zip(s1, s2)], dtype=object)
        delay = g["Time"][()] + g["Coalescence_Time"][()]
        merges = g["Merges_Hubble_Time"][()].astype(int)
        seeds = g["SEED"][()]
        bad = set()
        if "BSE_Common_Envelopes" in f:
            ce = f["BSE_Common_Envelopes"]
            flag = (ce["Optimistic_CE"][()] == 1) | (ce["Immediate_RLOF>CE"][()] == 1)
            bad = set(ce["SEED"][()][flag].tolist())
        pess = np.array([1 if s in bad else 0 for s in seeds.tolist()], dtype=int)
    return sampling, n, {"type": kind, "delay": delay, "merges": merges, "pess": pess}


def selected(d, kind):
    return (d["type"] == kind) & (d["merges"] == 1) & (d["pess"] == 0)


# ---------------------------------------------------------------- the expected values
# Runs of the synthetic test ensemble: fixture folder, parameters given in the manifest.
GROUP_THETA = {"alpha_ce": 1.0, "lambda_ce": 0.1, "kick_sigma": 217.0, "mass_transfer_fa": 0.5}
SCENARIO = [
    ("z1e-4", "alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000", {**GROUP_THETA, "metallicity": 0.0001}),
    ("z5e-4_massbounds", "massbounds_alpha1.0_lambda0.1_Z0.0005_fa0.5_kick217_N5000_seed1100000", {**GROUP_THETA, "metallicity": 0.0005}),
    ("z2e-3", "alpha3.0_lambda0.1_Z0.002_fa0.5_kick265_N20000_seed1000000", {**GROUP_THETA, "metallicity": 0.002}),
    ("z1.42e-2", "alpha5.0_lambda0.5_Z0.0142_fa0.5_kick217_N10000_seed200000", {**GROUP_THETA, "metallicity": 0.0142}),
    ("z1e-4_second", "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217/full_N2000_seed700000", {**GROUP_THETA, "metallicity": 0.0001}),
    ("alone", "detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315",
     {"alpha_ce": 0.1, "lambda_ce": 0.1, "kick_sigma": 217.0, "mass_transfer_fa": 0.5, "metallicity": 0.0001}),
]
# Every non-default option at once, to check each reaches the numbers.
VARIANT = {**DEFAULTS, "f_bin": 0.5, "sfr": (0.015, 2.7, 2.9, 5.6), "mssfr": (0.025, -0.15, 0.5), "H0": 70.0, "Om": 0.3,
           "z_max": 8.0, "z_step": 0.005, "outer": "extend"}
# R(z) is kept at z = 0, 0.1, 0.2, ... (every 10th point of the default grid, every 20th of
# the variant's), which checks the whole range while keeping the file small.
EVERY = {"default": 10, "variant": 20}


def short(values):
    """Floats to 10 significant digits: far below the 1 % tolerance, half the JSON size."""
    return [float(f"{v:.10g}") for v in values]


def dataset_rates(runs, opts, cosmic):
    """Per-run and combined rates, as the dataset holds them."""
    out = {"runs": [], "groups": []}
    for r in runs:
        mass = m_rep(r["sampling"]["m1_min"], r["sampling"]["m1_max"], r["sampling"]["m2_min"], opts["f_bin"]) * r["n"]
        r["mass"] = mass
        per = {}
        z0 = np.zeros(len(r["dcos"]["delay"]))
        for kind in ("BBH", "BHNS", "BNS"):
            sel = selected(r["dcos"], kind)
            total, dz0 = cosmic.merger_rate(r["dcos"]["delay"][sel], cosmic.sfr_fine)
            per[kind] = total / mass
            z0[sel] = dz0 / mass
        out["runs"].append({"mass": mass, "rates": per, "rate_z0": z0})
    keys = {}
    for i, r in enumerate(runs):
        keys.setdefault(tuple(r["params"][k] for k in ("alpha_ce", "lambda_ce", "kick_sigma", "mass_transfer_fa")), []).append(i)
    for theta, members in keys.items():
        zs = [runs[i]["params"]["metallicity"] for i in members]
        if len(set(zs)) < 2:
            out["groups"].append({"theta": list(theta), "runs": members, "single": True})
            continue
        ln, edges = bins(zs, opts["outer"])
        pooled = [sum(runs[i]["mass"] for i in members if math.log(runs[i]["params"]["metallicity"]) == x) for x in ln]
        fine = {}
        total = {k: np.zeros(len(cosmic.z_out)) for k in ("BBH", "BHNS", "BNS")}
        for i in members:
            j = ln.index(math.log(runs[i]["params"]["metallicity"]))
            if j not in fine:
                fine[j] = cosmic.sfr_fine * bin_fraction(cosmic.z_fine, edges[j], edges[j + 1], opts["mssfr"])
            for kind in ("BBH", "BHNS", "BNS"):
                sel = selected(runs[i]["dcos"], kind)
                t, _ = cosmic.merger_rate(runs[i]["dcos"]["delay"][sel], fine[j])
                total[kind] += t / pooled[j]
        out["groups"].append({"theta": list(theta), "runs": sorted(members, key=lambda i: runs[i]["params"]["metallicity"]), "single": False,
                              "rates": total, "edges": edges})
    return out


def function_values():
    """Values of the single formulas at a few points, for the unit tests of each module."""
    zs = [0.0, 0.2, 0.5, 1.0, 2.0, 4.0, 10.0]
    cosmologies = {"planck18": (67.66, 0.30966), "h70_om03": (70.0, 0.3), "einstein_de_sitter": (70.0, 1.0)}
    edges = [[-12.0, -8.5], [-8.5, -6.0], [-6.0, -3.0], [-3.0, 0.0], [-30.0, -7.0], [-7.6, -7.6]]
    return {
        "z": zs,
        "age_myr": {k: [age_myr(z, h, om) for z in zs] for k, (h, om) in cosmologies.items()},
        "cosmologies": {k: {"H0": h, "omegaM": om} for k, (h, om) in cosmologies.items()},
        "sfr_msol_yr_mpc3": {"default": [sfr_gpc(z, DEFAULTS["sfr"]) / 1e9 for z in zs],
                             "variant": [sfr_gpc(z, VARIANT["sfr"]) / 1e9 for z in zs]},
        "m_rep": [{"bounds": list(b), "f_bin": f, "m_rep": m_rep(*b, f)}
                  for b, f in (((5.0, 150.0, 0.1), 0.7), ((8.0, 100.0, 0.5), 0.7), ((5.0, 150.0, 0.1), 1.0),
                               ((0.5, 200.0, 0.08), 0.5), ((20.0, 60.0, 3.0), 0.3))],
        "bin_fraction": [{"edges": e, "mssfr": list(m), "fractions": bin_fraction(zs, e[0], e[1], m).tolist()}
                         for m in (DEFAULTS["mssfr"], VARIANT["mssfr"]) for e in edges],
    }


def make_expected():
    tmp = tempfile.mkdtemp(prefix="rates-ref-")
    try:
        runs = []
        for run_id, folder, params in SCENARIO:
            dest = os.path.join(tmp, run_id + ".h5")
            with gzip.open(os.path.join(FIXTURES, folder, "COMPAS_Output", "COMPAS_Output.h5.gz"), "rb") as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
            sampling, n, dcos = read_run(dest)
            runs.append({"run_id": run_id, "fixture": folder, "params": params, "sampling": sampling, "n": n, "dcos": dcos})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    expected = {
        "generated_by": "test/expected/rates_ref.py",
        "hand_value": {"bounds": [5, 150, 0.1], "f_bin": 0.7, "m_rep": m_rep(5.0, 150.0, 0.1, 0.7)},
        "functions": function_values(),
        "scenario": [{"run_id": r["run_id"], "fixture": r["fixture"], "params": r["params"], "n_systems": r["n"],
                      "sampling": r["sampling"]} for r in runs],
        "every": EVERY,
    }
    for label, opts in (("default", DEFAULTS), ("variant", VARIANT)):
        cosmic = Cosmic(opts)
        res = dataset_rates(runs, opts, cosmic)
        keep = slice(None, None, EVERY[label])
        block = {
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
            "z": cosmic.z_out[keep].tolist(),
            "runs": [],
            "groups": [],
        }
        for r, got in zip(runs, res["runs"]):
            counts = {k: int((r["dcos"]["type"] == k).sum()) for k in ("BBH", "BHNS", "BNS")}
            merging = {k: int(((r["dcos"]["type"] == k) & (r["dcos"]["merges"] == 1)).sum()) for k in ("BBH", "BHNS", "BNS")}
            block["runs"].append({
                "run_id": r["run_id"],
                "m_rep": got["mass"] / r["n"],
                "star_forming_mass": got["mass"],
                "yield_per_msun": {**{k: counts[k] / got["mass"] for k in counts}, **{k + "_merging": merging[k] / got["mass"] for k in merging}},
                "rates": {k: short(v[keep]) for k, v in got["rates"].items()},
                "rate_z0": short(got["rate_z0"]),
            })
        for g in res["groups"]:
            entry = {"theta": g["theta"], "runs": [runs[i]["run_id"] for i in g["runs"]], "single": g["single"]}
            if not g["single"]:
                entry["rates"] = {k: short(v[keep]) for k, v in g["rates"].items()}
                entry["ln_z_edges"] = g["edges"]
            block["groups"].append(entry)
        expected[label] = block
    with open(OUT, "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


# ---------------------------------------------------------------- benchmark side
def bench(folder):
    """Rates of the DCOs in FOLDER (written by bench/rates.ts): per run and per group."""
    meta = json.load(open(os.path.join(folder, "meta.json")))
    load = lambda name: np.load(os.path.join(folder, name))
    t0 = time.perf_counter()
    run_index, kind, delay = load("run_index.npy"), load("type.npy"), load("t_delay.npy")
    merges, pess = load("merges_hubble_time.npy"), load("pessimistic_ce.npy")
    mass, metal, group = load("star_forming_mass.npy"), load("metallicity.npy"), load("group.npy")
    opts = dict(DEFAULTS)
    cosmic = Cosmic(opts)
    n_runs, n_z = len(mass), len(cosmic.z_out)
    names = ("BBH", "BHNS", "BNS")
    per_run = np.zeros((3, n_runs, n_z))
    order = np.argsort(run_index, kind="stable")
    starts = np.searchsorted(run_index[order], np.arange(n_runs + 1))
    ok = (merges == 1) & (pess == 0)
    for r in range(n_runs):
        rows = order[starts[r]:starts[r + 1]]
        for k in range(3):
            sel = rows[ok[rows] & (kind[rows] == k)]
            per_run[k, r] += cosmic.merger_rate(delay[sel], cosmic.sfr_fine)[0] / mass[r]
    combined = []
    for g in range(int(group.max()) + 1 if len(group) else 0):
        members = np.nonzero(group == g)[0]
        ln, edges = bins(metal[members].tolist(), opts["outer"])
        total = np.zeros((3, n_z))
        for r in members:
            j = ln.index(math.log(metal[r]))
            pooled = sum(mass[i] for i in members if math.log(metal[i]) == ln[j])
            fine = cosmic.sfr_fine * bin_fraction_fast(cosmic.z_fine, edges[j], edges[j + 1], opts["mssfr"])
            rows = order[starts[r]:starts[r + 1]]
            for k in range(3):
                sel = rows[ok[rows] & (kind[rows] == k)]
                total[k] += cosmic.merger_rate(delay[sel], fine)[0] / pooled
        combined.append(total)
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "seconds": elapsed,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "per_run_sum": {n: float(per_run[k].sum()) for k, n in enumerate(names)},
        "per_run_z0": {n: per_run[k][:, 0].tolist() for k, n in enumerate(names)},
        "combined_z0": [{n: float(c[k][0]) for k, n in enumerate(names)} for c in combined],
        "n_dco": int(len(delay)),
        "n_runs": n_runs,
        "meta": meta,
    }))


def radiation_effect():
    """Largest relative change of a fixture's R(z) when H(z) gets radiation (photons and
    3.046 massless neutrino species, T_CMB = 2.7255 K), as astropy's Planck18 has."""
    h = DEFAULTS["H0"] / 100.0
    o_r = 2.4728e-5 / (h * h) * (1.0 + 0.2271 * 3.046)
    tmp = tempfile.mkdtemp(prefix="rates-rad-")
    try:
        dest = os.path.join(tmp, "a.h5")
        with gzip.open(os.path.join(FIXTURES, SCENARIO[2][1], "COMPAS_Output", "COMPAS_Output.h5.gz"), "rb") as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst)
        _, _, dcos = read_run(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    plain, rad = Cosmic(DEFAULTS), Cosmic(DEFAULTS, Or=o_r)
    worst = {}
    for kind in ("BBH", "BHNS", "BNS"):
        sel = selected(dcos, kind)
        a = plain.merger_rate(dcos["delay"][sel], plain.sfr_fine)[0]
        b = rad.merger_rate(dcos["delay"][sel], rad.sfr_fine)[0]
        m = a > 0
        worst[kind] = float(np.max(np.abs(b[m] / a[m] - 1.0)))
    print(json.dumps({"age_z0_myr": [plain.t_out[0], rad.t_out[0]], "age_z10_myr": [plain.t_first, rad.t_first],
                      "max_rel_change_of_R": worst}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "bench":
        bench(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "radiation":
        radiation_effect()
    else:
        make_expected()
