"""Independent expected values for the DCO extraction tests.

Run with Debian's Python (h5py + numpy):  /usr/bin/python3 test/expected/make_expected.py
Writes test/expected/dco_expected.json from the COMPAS fixtures in test/fixtures/compas.

This is a separate implementation of docs/physics.md (written against the spec, not translated
from the TypeScript), so the tests compare two readings of the same definitions:
- masses in GW order (m1 >= m2), q, chirp mass, type, t_form, t_coal, t_delay, COMPAS flag;
- spins under the default model (Bavera et al. 2021 for second-born BHs from helium stars,
  chi_natal = 0 otherwise, NS 0), tilts from SN inclinations with the SplitMix64 azimuth;
- channels (Broekgaarden et al. 2021 rules as in docs/physics.md), pessimistic-CE flag, and the
  double-core cross-check count.
"""
import gzip
import json
import math
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures", "compas"))
OUT = os.path.join(HERE, "dco_expected.json")

FIXTURE_DIRS = [
    "alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000",
    "alpha5.0_lambda0.5_Z0.0142_fa0.5_kick217_N10000_seed200000",
    "detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315",
    "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217/full_N2000_seed700000",
]

MSOL = 1.98892e30
G = 6.67430e-11
RSOL = 6.957e8
DAY = 86400.0
M64 = (1 << 64) - 1


def splitmix_uniforms(seed, n):
    state = seed & M64
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z = z ^ (z >> 31)
        out.append((z >> 11) / float(1 << 53))
    return out


def period_days(a_rsol, m_msol):
    if not (a_rsol > 0 and m_msol > 0):
        return float("nan")
    a = a_rsol * RSOL
    return 2.0 * math.pi * math.sqrt(a ** 3 / (G * m_msol * MSOL)) / DAY


def bavera(p_days, m_wr):
    if not p_days <= 1.0:
        return 0.0
    f = lambda c1, c2, c3: -c1 / (c2 + math.exp(-c3 * m_wr))
    alpha = f(0.059305, 0.035552, 0.270245)
    beta = f(0.026960, 0.011001, 0.420739)
    lp = math.log10(p_days)
    return min(1.0, max(0.0, alpha * lp * lp + beta * lp))


def rows_by_seed(group, columns):
    """dict SEED -> list of row dicts (file order) for the given columns."""
    if group is None:
        return {}
    seeds = group["SEED"][()]
    data = {c: group[c][()] for c in columns}
    out = {}
    for i, s in enumerate(seeds.tolist()):
        out.setdefault(s, []).append({c: data[c][i].item() for c in columns})
    return out


def episodes_of(rows):
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["MT_Event_Counter"], rows[i]["Time<MT"], i))
    eps = []
    for i in order:
        r = rows[i]
        if eps and eps[-1]["counter"] == r["MT_Event_Counter"]:
            eps[-1]["rows"].append(r)
        else:
            eps.append({"counter": r["MT_Event_Counter"], "rows": [r]})
    result = []
    for e in eps:
        rs = e["rows"]
        f, l = rs[0], rs[-1]
        r1 = any(x["RLOF(1)<MT"] == 1 or x["RLOF(1)>MT"] == 1 for x in rs)
        r2 = any(x["RLOF(2)<MT"] == 1 or x["RLOF(2)>MT"] == 1 for x in rs)
        if r1 and r2:
            loss1 = f["Mass(1)<MT"] - l["Mass(1)>MT"]
            loss2 = f["Mass(2)<MT"] - l["Mass(2)>MT"]
            if loss1 <= 0 and loss2 <= 0:
                donor = 0
            else:
                donor = 2 if loss2 > loss1 else 1
        else:
            donor = 1 if r1 else (2 if r2 else 0)
        result.append({
            "t1": f["Stellar_Type(1)<MT"],
            "t2": f["Stellar_Type(2)<MT"],
            "donor": donor,
            "ce": any(x["CEE>MT"] == 1 for x in rs),
        })
    return result


def channel_of(eps, ce_rows, che):
    if eps is None:
        return "unknown", ""
    giant = lambda t: 3 <= t <= 6
    if eps:
        e1 = eps[0]
        if e1["donor"] == 1 and not e1["ce"] and 2 <= e1["t1"] <= 6 and e1["t2"] <= 1:
            later = [e for e in eps[1:] if e["donor"] == 2]
            if later and later[0]["ce"] and later[0]["t2"] < 7:
                return "I", ""
            if not ce_rows and not any(e["ce"] for e in eps):
                return "II", ""
        if e1["donor"] == 1 and e1["ce"] and giant(e1["t1"]) and e1["t2"] <= 1:
            return "III", ""
        if e1["donor"] == 1 and e1["ce"] and giant(e1["t1"]) and giant(e1["t2"]):
            return "IV", ""
    if che or any(e["t1"] == 16 or e["t2"] == 16 for e in eps):
        return "V", "CHE"
    if not eps:
        return "V", "no transfer"
    e1 = eps[0]
    donor_type = e1["t1"] if e1["donor"] == 1 else (e1["t2"] if e1["donor"] == 2 else None)
    if donor_type is not None and donor_type <= 1:
        return "V", "case A"
    return "V", "other"


def num(x):
    return None if isinstance(x, float) and math.isnan(x) else x


def expected_for(path):
    f = h5py.File(path, "r")
    d = f["BSE_Double_Compact_Objects"]
    sn = rows_by_seed(f.get("BSE_Supernovae"), ["Time", "Supernova_State", "Stellar_Type_Prev(SN)", "SemiMajorAxis<SN",
                                                "Mass_Total@CO(SN)", "Mass(CP)", "SN_Orbit_Inclination_Angle"])
    ce = rows_by_seed(f.get("BSE_Common_Envelopes"), ["Time", "Stellar_Type(1)<CE", "Stellar_Type(2)<CE", "Double_Core_CE",
                                                      "Optimistic_CE", "Immediate_RLOF>CE"])
    has_rlof = "BSE_RLOF" in f
    rlof = rows_by_seed(f.get("BSE_RLOF"), ["MT_Event_Counter", "Time<MT", "Stellar_Type(1)<MT", "Stellar_Type(2)<MT",
                                            "RLOF(1)<MT", "RLOF(1)>MT", "RLOF(2)<MT", "RLOF(2)>MT", "CEE>MT",
                                            "Mass(1)<MT", "Mass(1)>MT", "Mass(2)<MT", "Mass(2)>MT"])
    sysp = rows_by_seed(f["BSE_System_Parameters"], ["CH_on_MS(1)", "CH_on_MS(2)"])
    seeds = d["SEED"][()].tolist()
    ma, mb = d["Mass(1)"][()], d["Mass(2)"][()]
    st1, st2 = d["Stellar_Type(1)"][()], d["Stellar_Type(2)"][()]
    tform, tcoal, merges = d["Time"][()], d["Coalescence_Time"][()], d["Merges_Hubble_Time"][()]
    dcos = []
    mismatches = 0
    for k, seed in enumerate(seeds):
        types = (int(st1[k]), int(st2[k]))
        dtype = {(14, 14): "BBH", (13, 13): "BNS", (13, 14): "BHNS", (14, 13): "BHNS"}[types]
        # spins in COMPAS order
        chi = [0.0, 0.0]
        tilt = [float("nan"), float("nan")]
        rows = sn.get(seed, [])
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["Time"], i))
        assert len(order) == 2, (path, seed)
        a, b = rows[order[0]], rows[order[1]]
        star = lambda r: 1 if r["Supernova_State"] == 1 else 2
        first, second = star(a), star(b)
        assert first != second
        u = splitmix_uniforms(seed, 1)[0]
        dphi = 2.0 * math.pi * u
        va, vb = a["SN_Orbit_Inclination_Angle"], b["SN_Orbit_Inclination_Angle"]
        cos_t = math.cos(va) * math.cos(vb) - math.sin(va) * math.sin(vb) * math.cos(dphi)
        tilt[first - 1] = math.acos(max(-1.0, min(1.0, cos_t)))
        tilt[second - 1] = vb
        if types[second - 1] == 14 and b["Stellar_Type_Prev(SN)"] in (7, 8, 9):
            p = period_days(b["SemiMajorAxis<SN"], b["Mass_Total@CO(SN)"] + b["Mass(CP)"])
            chi[second - 1] = bavera(p, b["Mass_Total@CO(SN)"])
        if mb[k] > ma[k]:
            m1, m2, c1, c2, t1, t2 = mb[k], ma[k], chi[1], chi[0], tilt[1], tilt[0]
        else:
            m1, m2, c1, c2, t1, t2 = ma[k], mb[k], chi[0], chi[1], tilt[0], tilt[1]
        m1, m2 = float(m1), float(m2)
        q = m2 / m1
        term1 = m1 * c1 * math.cos(t1) if c1 != 0 else 0.0
        term2 = m2 * c2 * math.cos(t2) if c2 != 0 else 0.0
        chi_eff = (term1 + term2) / (m1 + m2)
        p1 = c1 * math.sin(t1) if c1 != 0 else 0.0
        p2 = q * (4 * q + 3) / (4 + 3 * q) * c2 * math.sin(t2) if c2 != 0 else 0.0
        chi_p = max(p1, p2)
        ce_rows = ce.get(seed, [])
        eps = episodes_of(rlof.get(seed, [])) if has_rlof else None
        che = any(r["CH_on_MS(1)"] == 1 or r["CH_on_MS(2)"] == 1 for r in sysp.get(seed, []))
        channel, reason = channel_of(eps, ce_rows, che)
        if eps is not None:
            first_ce = None
            for r in ce_rows:
                if first_ce is None or r["Time"] < first_ce["Time"]:
                    first_ce = r
            dc = first_ce is not None and first_ce["Double_Core_CE"] == 1 and \
                3 <= first_ce["Stellar_Type(1)<CE"] <= 6 and 3 <= first_ce["Stellar_Type(2)<CE"] <= 6
            if dc != (channel == "IV"):
                mismatches += 1
        pess = any(r["Optimistic_CE"] == 1 or r["Immediate_RLOF>CE"] == 1 for r in ce_rows)
        dcos.append({
            "seed": seed,
            "m1": m1,
            "m2": m2,
            "q": q,
            "chirp_mass": (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2,
            "type": dtype,
            "t_form": float(tform[k]),
            "t_coal": float(tcoal[k]),
            "t_delay": float(tform[k]) + float(tcoal[k]),
            "merges_hubble_time": int(merges[k]),
            "chi1": c1,
            "chi2": c2,
            "tilt1": num(t1),
            "tilt2": num(t2),
            "chi_eff": chi_eff,
            "chi_p": chi_p,
            "channel": channel,
            "channel_v_reason": reason,
            "pessimistic_ce": int(pess),
        })
    groups = {g: int(f[g]["SEED"].shape[0]) for g in f if g.startswith("BSE_")}
    f.close()
    return {"groups": groups, "double_core_mismatches": mismatches, "has_rlof": has_rlof, "dcos": dcos}


def main():
    tmp = tempfile.mkdtemp()
    try:
        result = {
            "generator": "test/expected/make_expected.py (h5py %s, numpy %s)" % (h5py.__version__, np.__version__),
            "spin_model": {"name": "bavera2021", "chiNatal": 0},
            "constants": {"Msol_kg": MSOL, "G_SI": G, "Rsol_m": RSOL, "day_s": DAY},
            "fixtures": {},
        }
        for rel in FIXTURE_DIRS:
            src = os.path.join(FIXTURES, rel, "COMPAS_Output", "COMPAS_Output.h5.gz")
            dst = os.path.join(tmp, rel.replace("/", "__") + ".h5")
            with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            result["fixtures"][rel] = expected_for(dst)
            os.remove(dst)
        with open(OUT, "w") as fh:
            json.dump(result, fh, indent=1, allow_nan=False)
            fh.write("\n")
        print("wrote", OUT, file=sys.stderr)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
