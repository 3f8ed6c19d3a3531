"""Reference for bench/extract.ts: the same DCO extraction with h5py + numpy.

Usage: /usr/bin/python3 bench/extract_ref.py FILE.h5 [REPEAT]

Reads the columns src/physics/dco.ts reads (DCO, supernova, common-envelope, RLOF and CHE
columns), joins them on SEED and computes the same quantities (GW-ordered masses, q, chirp
mass, t_delay, default-model spins and tilts with the SplitMix64 azimuth, chi_eff, chi_p,
channels I-V, pessimistic flag), vectorised with numpy as a Python user would write it.
Prints one JSON object: best and mean wall time over REPEAT runs (excluding interpreter
start-up and imports), peak RSS, and a checksum to compare with the library's result.
"""
import json
import resource
import sys
import time

import h5py
import numpy as np

MSOL, G, RSOL, DAY = 1.98892e30, 6.67430e-11, 6.957e8, 86400.0


def splitmix_first_uniform(seeds):
    with np.errstate(over="ignore"):
        z = seeds.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def join(group, dco_sorted, dco_order, cols):
    """Rows of `group` whose SEED is a DCO's: (dco index per row, {col: values})."""
    if group is None:
        return np.zeros(0, dtype=np.int64), {c: np.zeros(0) for c in cols}
    seeds = group["SEED"][()]
    pos = np.searchsorted(dco_sorted, seeds)
    pos[pos >= len(dco_sorted)] = 0
    rows = np.nonzero(dco_sorted[pos] == seeds)[0]
    return dco_order[pos[rows]], {c: group[c][()][rows] for c in cols}


def first_per(keys, n):
    """Index of the first element of each key in 0..n-1 (-1 if none); keys must be sorted."""
    out = np.full(n, -1, dtype=np.int64)
    uniq, idx = np.unique(keys, return_index=True)
    out[uniq] = idx
    return out


def take(arr, idx, fill):
    """arr[idx], or `fill` everywhere when arr is empty (no matched rows at all)."""
    return arr[idx] if len(arr) else np.full(len(idx), fill)


def extract(path):
    f = h5py.File(path, "r")
    d = f["BSE_Double_Compact_Objects"]
    seed = d["SEED"][()]
    ma, mb = d["Mass(1)"][()], d["Mass(2)"][()]
    st1, st2 = d["Stellar_Type(1)"][()], d["Stellar_Type(2)"][()]
    t_form, t_coal, merges = d["Time"][()], d["Coalescence_Time"][()], d["Merges_Hubble_Time"][()]
    n = len(seed)
    order = np.argsort(seed, kind="stable")
    sorted_seeds = seed[order]

    # Supernovae: SN_a, SN_b per DCO by Time (ties in file order).
    sdco, sn = join(f.get("BSE_Supernovae"), sorted_seeds, order,
                    ["Time", "Supernova_State", "Stellar_Type_Prev(SN)", "SemiMajorAxis<SN", "Mass_Total@CO(SN)",
                     "Mass(CP)", "SN_Orbit_Inclination_Angle"])
    o = np.lexsort((np.arange(len(sdco)), sn["Time"], sdco))
    assert np.all(np.bincount(sdco, minlength=n) == 2)
    a, b = o[0::2], o[1::2]
    star_a = np.where(sn["Supernova_State"][a] == 1, 1, 2)
    star_b = np.where(sn["Supernova_State"][b] == 1, 1, 2)
    va, vb = sn["SN_Orbit_Inclination_Angle"][a], sn["SN_Orbit_Inclination_Angle"][b]
    dphi = 2 * np.pi * splitmix_first_uniform(seed)
    tilt_first = np.arccos(np.clip(np.cos(va) * np.cos(vb) - np.sin(va) * np.sin(vb) * np.cos(dphi), -1, 1))
    mwr = sn["Mass_Total@CO(SN)"][b]
    a_m = sn["SemiMajorAxis<SN"][b] * RSOL
    p_days = 2 * np.pi * np.sqrt(a_m ** 3 / (G * (mwr + sn["Mass(CP)"][b]) * MSOL)) / DAY
    lp = np.log10(p_days)
    alpha = -0.059305 / (0.035552 + np.exp(-0.270245 * mwr))
    beta = -0.026960 / (0.011001 + np.exp(-0.420739 * mwr))
    chi_fit = np.where(p_days <= 1, np.clip(alpha * lp ** 2 + beta * lp, 0, 1), 0.0)
    type_second = np.where(star_b == 1, st1, st2)
    spun = (type_second == 14) & np.isin(sn["Stellar_Type_Prev(SN)"][b], (7, 8, 9))
    chi_second = np.where(spun, chi_fit, 0.0)
    chi_c1 = np.where(star_b == 1, chi_second, 0.0)
    chi_c2 = np.where(star_b == 2, chi_second, 0.0)
    tilt_c1 = np.where(star_a == 1, tilt_first, vb)
    tilt_c2 = np.where(star_a == 2, tilt_first, vb)

    swap = mb > ma
    m1, m2 = np.where(swap, mb, ma), np.where(swap, ma, mb)
    chi1, chi2 = np.where(swap, chi_c2, chi_c1), np.where(swap, chi_c1, chi_c2)
    tilt1, tilt2 = np.where(swap, tilt_c2, tilt_c1), np.where(swap, tilt_c1, tilt_c2)
    q = m2 / m1
    chirp = (m1 * m2) ** 0.6 / (m1 + m2) ** 0.2
    t_delay = t_form + t_coal
    with np.errstate(invalid="ignore"):
        s1 = np.where(chi1 == 0, 0.0, m1 * chi1 * np.cos(tilt1))
        s2 = np.where(chi2 == 0, 0.0, m2 * chi2 * np.cos(tilt2))
        chi_eff = (s1 + s2) / (m1 + m2)
        p1 = np.where(chi1 == 0, 0.0, chi1 * np.sin(tilt1))
        p2 = np.where(chi2 == 0, 0.0, q * (4 * q + 3) / (4 + 3 * q) * chi2 * np.sin(tilt2))
    chi_p = np.maximum(p1, p2)
    dtype = np.where((st1 == 14) & (st2 == 14), "BBH", np.where((st1 == 13) & (st2 == 13), "BNS", "BHNS"))

    # Common envelopes: pessimistic flag, first CE row's double-core view.
    cdco, ce = join(f.get("BSE_Common_Envelopes"), sorted_seeds, order,
                    ["Time", "Stellar_Type(1)<CE", "Stellar_Type(2)<CE", "Double_Core_CE", "Optimistic_CE",
                     "Immediate_RLOF>CE"])
    pess = np.bincount(cdco, weights=((ce["Optimistic_CE"] == 1) | (ce["Immediate_RLOF>CE"] == 1)), minlength=n) > 0
    n_ce = np.bincount(cdco, minlength=n)
    oc = np.lexsort((np.arange(len(cdco)), ce["Time"], cdco))
    fc = first_per(cdco[oc], n)
    has_ce = fc >= 0
    fci = take(oc, np.where(has_ce, fc, 0), 0)
    giant = lambda t: (t >= 3) & (t <= 6)
    dc_first = has_ce & (take(ce["Double_Core_CE"], fci, 0) == 1) & giant(take(ce["Stellar_Type(1)<CE"], fci, 0)) \
        & giant(take(ce["Stellar_Type(2)<CE"], fci, 0))

    # CHE flag from the system parameters.
    ydco, sysp = join(f.get("BSE_System_Parameters"), sorted_seeds, order, ["CH_on_MS(1)", "CH_on_MS(2)"])
    che = np.bincount(ydco, weights=(sysp["CH_on_MS(1)"] == 1) | (sysp["CH_on_MS(2)"] == 1), minlength=n) > 0

    # RLOF episodes: rows grouped by (SEED, MT_Event_Counter), ordered by counter then Time<MT.
    channel = np.full(n, "unknown", dtype=object)
    reason = np.full(n, "", dtype=object)
    mismatches = 0
    if "BSE_RLOF" in f:
        rdco, r = join(f["BSE_RLOF"], sorted_seeds, order,
                       ["MT_Event_Counter", "Time<MT", "Stellar_Type(1)<MT", "Stellar_Type(2)<MT", "RLOF(1)<MT",
                        "RLOF(1)>MT", "RLOF(2)<MT", "RLOF(2)>MT", "CEE>MT", "Mass(1)<MT", "Mass(1)>MT", "Mass(2)<MT",
                        "Mass(2)>MT"])
        orr = np.lexsort((np.arange(len(rdco)), r["Time<MT"], r["MT_Event_Counter"], rdco))
        dd, cc = rdco[orr], r["MT_Event_Counter"][orr]
        new_ep = np.ones(len(orr), dtype=bool)
        new_ep[1:] = (dd[1:] != dd[:-1]) | (cc[1:] != cc[:-1])
        starts = np.nonzero(new_ep)[0]
        ends = np.append(starts[1:], len(orr)) - 1
        col = lambda name: r[name][orr]
        any_in = lambda x: np.maximum.reduceat(x.astype(np.int8), starts) > 0 if len(starts) else np.zeros(0, bool)
        rl1 = any_in((col("RLOF(1)<MT") == 1) | (col("RLOF(1)>MT") == 1))
        rl2 = any_in((col("RLOF(2)<MT") == 1) | (col("RLOF(2)>MT") == 1))
        ep_ce = any_in(col("CEE>MT") == 1)
        loss1 = col("Mass(1)<MT")[starts] - col("Mass(1)>MT")[ends]
        loss2 = col("Mass(2)<MT")[starts] - col("Mass(2)>MT")[ends]
        both = rl1 & rl2
        donor = np.where(rl1 & ~rl2, 1, np.where(rl2 & ~rl1, 2, 0))
        donor = np.where(both & ((loss1 > 0) | (loss2 > 0)), np.where(loss2 > loss1, 2, 1), donor)
        et1, et2, ed = col("Stellar_Type(1)<MT")[starts], col("Stellar_Type(2)<MT")[starts], dd[starts]
        first_ep = first_per(ed, n)
        has_ep = first_ep >= 0
        e1 = np.where(has_ep, first_ep, 0)
        is_first = np.zeros(len(starts), dtype=bool)
        is_first[first_ep[has_ep]] = True
        later2 = np.nonzero((donor == 2) & ~is_first)[0]
        fl = first_per(ed[later2], n)
        l2 = later2[np.where(fl >= 0, fl, 0)] if len(later2) else np.zeros(n, dtype=np.int64)
        later_ce = (fl >= 0) & take(ep_ce, l2, False) & (take(et2, l2, 0) < 7) if len(later2) else np.zeros(n, dtype=bool)
        any_ce = (n_ce > 0) | (np.bincount(ed, weights=ep_ce, minlength=n) > 0)
        t1, t2, dn, ce1 = take(et1, e1, 0), take(et2, e1, 0), take(donor, e1, 0), take(ep_ce, e1, False)
        base = has_ep & (dn == 1)
        stable1 = base & ~ce1 & (t1 >= 2) & (t1 <= 6) & (t2 <= 1)
        ch_i = stable1 & later_ce
        ch_ii = stable1 & ~ch_i & ~any_ce
        ch_iii = base & ce1 & giant(t1) & (t2 <= 1)
        ch_iv = base & ce1 & giant(t1) & giant(t2)
        channel = np.select([ch_i, ch_ii, ch_iii, ch_iv], ["I", "II", "III", "IV"], "V").astype(object)
        ep16 = np.bincount(ed, weights=(et1 == 16) | (et2 == 16), minlength=n) > 0
        donor_type = np.where(dn == 1, t1, np.where(dn == 2, t2, 99))
        reason = np.select([che | ep16, ~has_ep, donor_type <= 1], ["CHE", "no transfer", "case A"], "other").astype(object)
        reason[channel != "V"] = ""
        mismatches = int(np.sum((channel == "IV") != dc_first))
    f.close()
    return {
        "seed": seed, "m1": m1, "m2": m2, "q": q, "chirp_mass": chirp, "type": dtype, "t_form": t_form,
        "t_coal": t_coal, "t_delay": t_delay, "merges_hubble_time": merges, "chi1": chi1, "chi2": chi2,
        "tilt1": tilt1, "tilt2": tilt2, "chi_eff": chi_eff, "chi_p": chi_p, "channel": channel,
        "channel_v_reason": reason, "pessimistic_ce": pess.astype(np.uint8), "double_core_mismatches": mismatches,
    }


def checksum(res):
    channels, counts = np.unique(res["channel"].astype(str), return_counts=True)
    reasons, rcounts = np.unique(res["channel_v_reason"].astype(str), return_counts=True)
    return {
        "dcos": int(len(res["seed"])),
        "merging": int(res["merges_hubble_time"].sum()),
        "sum_m1": float(res["m1"].sum()),
        "sum_chirp_mass": float(res["chirp_mass"].sum()),
        "sum_chi_eff": float(res["chi_eff"].sum()),
        "sum_chi_p": float(res["chi_p"].sum()),
        "sum_tilt1": float(np.nansum(res["tilt1"])),
        "channels": {str(c): int(k) for c, k in zip(channels, counts)},
        "reasons": {str(c): int(k) for c, k in zip(reasons, rcounts) if c != ""},
        "pessimistic": int(res["pessimistic_ce"].sum()),
    }


def main():
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = []
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = extract(path)
        times.append(time.perf_counter() - t0)
    print(json.dumps({
        "best_s": min(times),
        "mean_s": sum(times) / len(times),
        "times_s": times,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "checksum": checksum(res),
    }))


if __name__ == "__main__":
    main()
