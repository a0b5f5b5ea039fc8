"""Paper 5: Sharma, Nandi & Bhattacharyya (2022), "Identifying structural signature of dynamical
heterogeneity via the local softness parameter" — softness of the mean-field caging potential against
local rearrangements in Kob-Andersen (rho = 1.2; the paper N = 4000, `pyglass reproduce` N = 2000),
scored under the reproduction standard (docs/reproductions/standard.md).

Every row of criteria.toml (fixed before the run) is measured here by the estimator the row states and
returned through `Criteria.score`; a row the run cannot measure is left out and reported as "not
measured" (a miss, with the reason in the notes). Results are read through `pyglass.workflow.run.results`.

Per temperature (one study unit each) the `rearrangements` stage holds the instantaneous unwrapped
trajectory (a frame every 0.5 tau) and p_hop (Delta t = 15); the `caging` stage the local depth of the
last frame (checked against ours). The analysis, in the criteria's terms:
1. per T, from all time origins of the A particles: MSD, alpha_2 (its maximum gives p_c(T) = MSD(t*),
   one threshold per T) and Q(t) (Eq. 10, a = 0.3) whose 1/e time is tau_alpha(T);
2. units: contiguous blocks of one trajectory, K per T with K = min over T of floor(L_T / 2 tau_alpha(T))
   (the same K at every T, so that unit k can be dropped at every T together); a frame, a configuration
   and a lag pair (by its origin) belong to one unit;
3. per configuration (every 10 tau) the global partial g_uv(r) and S_uv(q); per frame the local depth
   beta Phi_r(i) of every A particle (Eq. 5 with the local g_i of Eq. 8, delta = 0.09) against the
   reference of the whole run; at the coldest T the local rdf of Fig. 2, the immobility of every
   (origin, particle) pair and its rearranging neighbours;
4. every row from a replicate that keeps a set of units: the reference (g, C, limits, beta Phi_r^av,
   1/S^av) is rebuilt from the kept configurations, the calibration (Eq. 7) refitted, S_i recomputed,
   and every statistic taken over the kept frames / origins; se = delete-one jackknife
   (`analysis.statistics.jackknife`). The local depths themselves keep the whole run's reference (a
   stated approximation: recomputing them per replicate would repeat the most expensive step K times).
The other readings of Eqs. 5 and 8 are evaluated beside (every ALT_EVERY-th frame, whole run) and
reported in the notes, not scored.
"""
from __future__ import annotations

import os
import re

import numpy as np

from pyglass.workflow.run import results
from pyglass.workflow.reproduce.criteria import measured as _m

NAME = "sharma-2022"
TITLE = "Paper 5 (Sharma et al. 2022): local softness of the mean-field caging potential in Kob-Andersen"
DECK = "sharma_2022_ka.toml"
REDUCED = {"system.n": 2000}
FULL = {}

# [paper]
T_ONSET = 0.801                      # Fig. 5(c) crossing
DELTA = 0.09                         # local g width (Eq. 8)
Q_OVERLAP = 0.3                      # Eq. 10
MOBILE = 0.5                         # Fig. 4(b, c): 'particles that move less than a distance 0.5'
# [criteria.toml]
COLD, TRIO = 0.47, (0.80, 0.53, 0.47)
FIG5 = (0.70, 0.60, 0.53, 0.50, 0.47)             # Fig. 5 temperatures (below the crossing)
DELTA_USUAL = 0.1056                               # 0.12 sigma_BB (g-peak-wider)
STRUCTURE_TAU = 10.0                               # configurations of g_uv, S_uv every 10 tau
ORIGIN_TAU = 10.0                                  # origins of G, <S(t)>, neighbour-cause
Q_MAX, Q_BIN = 30.0, 0.2
Q_PER_BIN = ((12.0, 150), (Q_MAX, 60))             # wavevectors per shell (one of each +-q)
DR_FIT = 0.2                                       # harmonic fit of Eq. 3
S_CENTRES = np.array([0.0010, 0.001375, 0.00175, 0.002125, 0.0025])
S_WIDTH = 0.000375
MIN_REARRANGING = 20                               # per bin and T
PR_SPAN = 0.0015                                   # orders-of-magnitude: the paper's S range
G_S0 = (0.0009, 0.0011)                            # 'S0 = 0.001'
HARD = (0.0009, 0.0013)                            # neighbour-cause
GROUPS = np.round(np.arange(0.0010, 0.00201, 0.0002), 6)   # Fig. 4(c) S0 groups, width 0.0002
MIN_GROUP = 100
LAG_TAU = {"g0": 10.0, "g1": 1000.0, "tau": 700.0, "two_tau": 1400.0, "cause": 70.0, "cs_drop": 1.0,
           "cs_plateau": 10.0}
LONG_WINDOW = 75.0                                 # pr-slope-t047-dt75
FIG2_R = (2.0, 200)                                # r_max, bins: bins of 0.01
FIG2_SHELL = (0.8, 1.6)
# our choices
ALT_EVERY = 10                                     # frames between evaluations of the other readings
CHUNK = 2000                                       # origins per chunk of the lag statistics


# ------------------------------------------------------------------------------ reading
def _temperature(label, deck):
    """T of a state: the caging stage's T in the deck's state, else the number in the label (T0.47)."""
    for lab, data in getattr(deck, "states", []) or []:
        if lab == label:
            for st in data.get("stage", []):
                if st.get("kind") == "caging-softness" and st.get("T") is not None:
                    return float(st["T"])
    m = re.search(r"(\d+(?:\.\d*)?)", str(label))
    if m is None:
        raise ValueError(f"no temperature in state label {label!r}")
    return float(m.group(1))


def _near(a, b):
    return abs(a - b) < 1e-6


# ------------------------------------------------------------------------------ estimators (unit-tested)
def lag_grid(n_frames: int, last: int, per_decade: int = 10, extra=()) -> np.ndarray:
    """Frame lags 10 per decade from 1 to `last` (< n_frames), with `extra` lags added."""
    last = max(1, min(int(last), n_frames - 1))
    n = int(np.ceil(per_decade * np.log10(max(last, 1)))) + 1
    lags = np.unique(np.r_[np.round(np.geomspace(1, last, max(n, 2))).astype(int), np.asarray(extra, int)])
    return lags[(lags >= 1) & (lags < n_frames)]


def lag_statistics(pos, lags, a: float = Q_OVERLAP, chunk: int = CHUNK):
    """Per lag and time origin (all origins that fit), the particle means of r^2, r^4 and the overlap
    w(r) = [r < a] (Eq. 10) of the displacements r over `lag` frames. pos: (frames, N, d) unwrapped.
    Returns a list over lags of (3, n_origins) arrays."""
    out = []
    nf = len(pos)
    for lag in lags:
        o_all = np.arange(nf - lag)
        res = np.empty((3, len(o_all)))
        for s in range(0, len(o_all), chunk):
            o = o_all[s:s + chunk]
            r2 = np.einsum("ond,ond->on", pos[o + lag] - pos[o], pos[o + lag] - pos[o])
            res[0, s:s + chunk] = r2.mean(1)
            res[1, s:s + chunk] = (r2 ** 2).mean(1)
            res[2, s:s + chunk] = (r2 < a * a).mean(1)
        out.append(res)
    return out


def immobile(pos, origins, lags, max_displacement: float = MOBILE):
    """For (origin, particle) pairs: did the particle stay within `max_displacement` of its position
    at the origin at every frame of (origin, origin + lag]? Returns {lag: (n_origins, N) bool} (False
    where origin + lag is past the run) and {lag: at-time-lag reading}."""
    nf = len(pos)
    origins = np.asarray(origins, int)
    lags = sorted(int(v) for v in lags)
    stay = np.ones((len(origins), pos.shape[1]), bool)
    keep, at = {}, {}
    lim = max_displacement ** 2
    for f in range(1, (lags[-1] if lags else 0) + 1):
        ok = origins + f < nf
        if not ok.any():
            break
        o = origins[ok]
        d2 = np.einsum("ond,ond->on", pos[o + f] - pos[o], pos[o + f] - pos[o])
        stay[ok] &= d2 < lim
        stay[~ok] = False
        if f in lags:
            keep[f] = stay.copy()
            a = np.zeros_like(stay)
            a[ok] = d2 < lim
            at[f] = a
    for f in lags:
        keep.setdefault(f, np.zeros_like(stay))
        at.setdefault(f, np.zeros_like(stay))
    return keep, at


def propagator(S0, St, keep, s0_range, bins):
    """G(S, S0, t): the normalised distribution of S(t' + t) (St) over the (origin, particle) pairs with
    S(t') (S0) in [s0_range) that `keep` selects. Returns (centres, density, values)."""
    sel = keep & (S0 >= s0_range[0]) & (S0 < s0_range[1]) & np.isfinite(St)
    v = St[sel]
    h, e = np.histogram(v, bins=bins, density=v.size > 0)
    return 0.5 * (e[1:] + e[:-1]), h.astype(float), v


def group_means(S0, St, keep, centres, width, min_pairs: int = MIN_GROUP):
    """<S(t)>_{S0} - and <S(0)> - of the kept pairs of each S0 group [c - w/2, c + w/2): (mean_t,
    mean_0, count) per group, NaN where fewer than `min_pairs` pairs."""
    mt, m0, n = (np.full(len(centres), np.nan) for _ in range(3))
    for k, c in enumerate(centres):
        sel = keep & (S0 >= c - width / 2) & (S0 < c + width / 2) & np.isfinite(St)
        n[k] = sel.sum()
        if n[k] >= min_pairs:
            mt[k], m0[k] = St[sel].mean(), S0[sel].mean()
    return mt, m0, n


def r_form(x, y) -> float:
    """max |y - line(x)| over the range of y, for an unweighted least-squares line (criteria header)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(y[ok]) == 0:
        return float("nan")
    c = np.polyfit(x[ok], y[ok], 1)
    return float(np.max(np.abs(y[ok] - np.polyval(c, x[ok]))) / np.ptp(y[ok]))


def fwhm(r, g) -> float:
    """Full width at half maximum of the highest peak of g(r), crossings interpolated linearly."""
    r, g = np.asarray(r, float), np.asarray(g, float)
    k = int(np.nanargmax(g))
    half = g[k] / 2
    lo = np.flatnonzero(g[:k] < half)
    hi = np.flatnonzero(g[k:] < half)
    if not lo.size or not hi.size:
        return float("nan")
    i, j = lo[-1], k + hi[0]
    r_lo = r[i] + (half - g[i]) / (g[i + 1] - g[i]) * (r[i + 1] - r[i])
    r_hi = r[j - 1] + (g[j - 1] - half) / (g[j - 1] - g[j]) * (r[j] - r[j - 1])
    return float(r_hi - r_lo)


def excursions(phop, p_c):
    """Starts of the excursions above p_c whose preceding frame has p_hop defined (and below p_c):
    (frames f of the start, particles i); 'just before' is frame f - 1."""
    v = np.asarray(phop, float)
    rear = np.nan_to_num(v, nan=-np.inf) > p_c
    f, i = np.nonzero(rear[1:] & ~rear[:-1] & np.isfinite(v[:-1]))
    return f + 1, i


def pr_counts(S, rear, edges):
    """Per S bin: (frame, particle) pairs and rearranging pairs (rows of S, rear: frames with p_hop defined)."""
    S = np.asarray(S, float).ravel()
    r = np.asarray(rear, bool).ravel()
    ok = np.isfinite(S)
    n, _ = np.histogram(S[ok], edges)
    nr, _ = np.histogram(S[ok & r], edges)
    return n.astype(float), nr.astype(float)


def fig5_rows(Ts, n, nr):
    """From P_R counts (nT, nbins) at temperatures Ts: per-T slopes of ln P_R against S, the Arrhenius
    lines of the Fig. 5 temperatures (bins entering at >= 3 T), their r_form, crossing and d Delta E/dS."""
    from pyglass.analysis.softness.statistics import arrhenius_fit
    Ts = np.asarray(Ts, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        PR = np.where(nr >= MIN_REARRANGING, nr / np.maximum(n, 1), np.nan)
    slopes = np.full(len(Ts), np.nan)
    for j in range(len(Ts)):
        ok = np.flatnonzero(np.isfinite(PR[j]) & (PR[j] > 0))
        if ok.size >= 2:
            slopes[j] = np.polyfit(S_CENTRES[ok], np.log(PR[j, ok]), 1)[0]
    five = np.array([any(_near(T, f) for f in FIG5) for T in Ts])
    out = {"PR": PR, "slopes": slopes, "form": np.nan, "T_star": np.nan, "de_slope": np.nan, "fit": None,
           "five": five}
    if five.sum() >= 3:
        fit = arrhenius_fit(Ts[five], PR[five], min_points=3)
        out["fit"] = fit
        ok = np.isfinite(fit["dE"])
        if ok.sum() >= 1:
            pts = [(np.log(PR[five][j, k]), fit["sigma"][k] - fit["dE"][k] / Ts[five][j])
                   for k in np.flatnonzero(ok) for j in range(five.sum()) if np.isfinite(PR[five][j, k])]
            y, yf = np.array(pts).T
            out["form"] = float(np.max(np.abs(y - yf)) / np.ptp(y)) if np.ptp(y) > 0 else np.nan
        if ok.sum() >= 3:
            out["T_star"] = float(fit["T0"])
        if ok.sum() >= 2:
            out["de_slope"] = float(np.polyfit(S_CENTRES[ok], fit["dE"][ok], 1)[0])
    return out


def _peak(S, bins=80):
    """Mode of P(S): the maximum of the histogram over the 0.5-99.5 % range smoothed by 2 bins."""
    from scipy.ndimage import gaussian_filter1d
    lo, hi = np.percentile(S, [0.5, 99.5])
    h, e = np.histogram(S, bins=bins, range=(lo, hi))
    k = int(np.argmax(gaussian_filter1d(h.astype(float), 2.0)))
    return float(0.5 * (e[k] + e[k + 1]))


def _half_space_shells(box, q_max, dq, per_bin, seed=0):
    """Commensurate wavevectors 0 < |q| <= q_max, one of each ±q pair, at most `per_bin` per shell."""
    caps = ((np.inf, per_bin),) if np.isscalar(per_bin) else tuple(per_bin)
    from pyglass.analysis.observables.structure import commensurate_wavevectors
    qv = commensurate_wavevectors(box, q_max)
    tol = 1e-9
    half = (qv[:, 0] > tol) | ((np.abs(qv[:, 0]) <= tol) & (qv[:, 1] > tol)) | \
        ((np.abs(qv[:, 0]) <= tol) & (np.abs(qv[:, 1]) <= tol) & (qv[:, 2] > tol))
    qv = qv[half]
    k = (np.linalg.norm(qv, axis=1) / dq).astype(int)
    rng = np.random.default_rng(seed)
    keep = []
    for b in np.unique(k):
        idx = np.flatnonzero(k == b)
        cap = next((c for qu, c in caps if b * dq < qu), caps[-1][1])
        keep.append(idx if len(idx) <= cap else rng.choice(idx, cap, replace=False))
    return qv[np.sort(np.concatenate(keep))]


def _harmonic_fit(q, sp, x, dr_fit):
    """1/S of beta Phi(0) + Delta r^2/(2 S) fitted (no free offset) to Eq. 3 on 0 <= Delta r <= dr_fit."""
    from pyglass.analysis.softness.caging import caging_potential_q
    dr = np.linspace(0.0, dr_fit, 21)
    y = caging_potential_q(q, sp, x, dr)
    y = y - y[0]
    return float(2 * np.sum(y * dr ** 2) / np.sum(dr ** 4))


def _readings(r, x, rho, dim=3):
    """Integrand factors of the other readings (criteria header): Eq. 5 as a 3D integral (4 pi rho r^2,
    global and local) and Eq. 8 with the printed 1/(2 pi r) (local only: 2 rho_v r against our shell)."""
    nt = len(x)
    w5 = np.broadcast_to(4 * np.pi * rho * r ** 2, (nt, nt, len(r)))
    w8 = np.stack([np.stack([2 * rho * x[v] * r for v in range(nt)]) for _ in range(nt)])
    return {"eq5-3d": (w5, w5), "eq8-2pir": (w8, None), "both": (w5 * w8, w5)}


# ------------------------------------------------------------------------------ one temperature
def _analyse_unit(T, label, run, potential, cold: bool):
    """Everything of one temperature that needs its trajectory (see the module docstring, 1 and 3)."""
    from pyglass.analysis.observables.dynamics import peak_in_log_time, relaxation_time
    from pyglass.analysis.observables.structure import neighbour_pairs, radial_distribution, structure_factor
    from pyglass.analysis.softness.caging import CagingPotential, local_rdf
    g = run.stage("rearrangements")
    s = run.final_system()
    types = np.asarray(s.types)
    A = types == 0
    pos = np.asarray(g["positions"], float)
    times = np.asarray(g["times"], float)
    phop_all = np.asarray(g["phop"], float)
    nf = len(pos)
    dt = float(np.median(np.diff(times)))
    fr = lambda tau: int(round(tau / dt))   # noqa: E731
    # 1. lag statistics of the A particles, all origins
    last = max(nf // 2, 1)
    lags = lag_grid(nf, last, extra=[fr(v) for v in (LAG_TAU["cs_drop"], LAG_TAU["cs_plateau"])])
    ls = lag_statistics(pos[:, A], lags)
    msd = np.array([v[0].mean() for v in ls])
    r4 = np.array([v[1].mean() for v in ls])
    a2 = 3 * r4 / (5 * msd ** 2) - 1
    qa = np.array([v[2].mean() for v in ls])
    quarter = lags <= max(nf // 4, 1)
    ta = lags[quarter] * dt
    peak = peak_in_log_time(ta, a2[quarter])
    p_c = float(np.exp(np.interp(np.log(peak.time), np.log(ta), np.log(msd[quarter]))))
    tau = relaxation_time(lags * dt, qa)
    # 3. structure per configuration, local depths per frame
    cfg = np.arange(0, nf, max(fr(STRUCTURE_TAU), 1))
    cp = CagingPotential(potential, T, delta=DELTA)
    nt = int(types.max()) + 1
    x = np.bincount(types, minlength=nt) / len(types)
    qv = _half_space_shells(s.box, Q_MAX, Q_BIN, Q_PER_BIN)
    gc, sc = [], []
    for f in cfg:
        r, gg = radial_distribution(pos[f], s.box, types, cp.r_max, cp.bins)
        q, _, sp = structure_factor(pos[f], s.box, types, q_max=Q_MAX, bins=int(round(Q_MAX / Q_BIN)), qvectors=qv)
        gc.append(gg)
        sc.append(sp)
    gc, sc = np.array(gc), np.array(sc)
    cp.reference_from_rdf(r, gc.mean(0), x, s.dim)
    rho = s.N / s.box.volume
    reads = _readings(r, x, rho, s.dim)
    phi = np.empty((nf, int(A.sum())))
    alt_frames = np.arange(0, nf, ALT_EVERY)
    alt = {k: np.empty((len(alt_frames), int(A.sum())), np.float32) for k in reads}
    for f in range(nf):
        if f % ALT_EVERY == 0:
            v = cp.compute_readings(s, pos[f], {k: w[0] for k, w in reads.items()})
            for k in reads:
                alt[k][f // ALT_EVERY] = v[k][A]
            phi[f] = v[""][A]
        else:
            phi[f] = cp.compute(s, positions=pos[f])[A]
    alt_av = {k: cp.phi_r_average(0, w[1]) for k, w in reads.items()}
    chk = chk64 = np.nan
    if run.has_stage("caging") and "phi_r" in run.stage("caging"):
        staged = np.asarray(run.stage("caging")["phi_r"])
        ref0 = CagingPotential(potential, T, delta=DELTA).fit_reference([pos[0]], s.box, types)
        chk = float(np.max(np.abs(ref0.compute(s, positions=pos[0]) - staged)))
        # the stage ran on the final configuration in float64; frame 0 of the trajectory is stored in float32
        ref64 = CagingPotential(potential, T, delta=DELTA).fit_reference([s.positions], s.box, types)
        chk64 = float(np.max(np.abs(ref64.compute(s) - staged)))
    phop = phop_all[:, A]
    out = {"T": T, "label": label, "N": s.N, "n_A": int(A.sum()), "dt": dt, "nf": nf, "lags": lags, "ls": ls,
           "msd": msd, "a2": a2, "Q": qa, "t_star": peak.time, "at_edge": peak.at_edge, "p_c": p_c, "tau": tau,
           "cfg": cfg, "r": r, "gc": gc, "q": q, "sc": sc, "x": x, "dim": s.dim, "phi": phi, "phop": phop,
           "defined": np.all(np.isfinite(phop), axis=1), "alt": alt, "alt_frames": alt_frames, "alt_av": alt_av,
           "check": chk, "check64": chk64, "rounding": float(np.max(np.abs(s.box.minimum_image(pos[0] - s.positions)))), "window": int(g.attrs.get("window_frames", 0)) * dt, "phop_on": str(g.attrs.get("phop_on", ""))}
    if cold:
        # Fig. 2: local rdf around A at two deltas and g_AA, per configuration
        r2, _ = radial_distribution(pos[0], s.box, types, *FIG2_R)
        f2 = []
        for f in cfg:
            _, gg = radial_distribution(pos[f], s.box, types, *FIG2_R)
            row = [gg[0, 0]]
            for d in (DELTA, DELTA_USUAL):
                row.append(local_rdf(s, r2, d, positions=pos[f])[A, 0, :].mean(0))
            f2.append(row)
        out["fig2"] = (r2, np.array(f2))
        # immobility of (origin, particle) pairs and rearranging neighbours (Fig. 4(b), (c), neighbour-cause)
        og = np.arange(0, nf, max(fr(ORIGIN_TAU), 1))
        want = {k: fr(v) for k, v in LAG_TAU.items() if k not in ("cs_drop", "cs_plateau")}
        top = min(nf - 1, want["two_tau"])      # Fig. 4(b, c) curves to 2 tau_alpha of the paper
        curve = [v for v in np.unique(np.round(np.geomspace(2, max(top, 2), 16)).astype(int)) if v < nf]
        keep, at = immobile(pos[:, A], og, [v for v in set(want.values()) | set(curve) if v > 0])
        L = want["cause"]
        nb = np.zeros((len(og), int(A.sum())), bool)
        hi = cp.reference["hi"]
        for k, o in enumerate(og):
            if o + L >= nf:
                continue
            rearr = np.any(np.nan_to_num(phop_all[o + 1:o + L + 1], nan=-np.inf) > p_c, axis=0)
            i, j = neighbour_pairs(pos[o], s.box, types, hi)
            hit = np.zeros(s.N, bool)
            hit[i[rearr[j]]] = True
            hit[j[rearr[i]]] = True
            nb[k] = hit[A]
        out.update({"og": og, "keep": keep, "keep_at": at, "lag_frames": want, "curve": sorted(keep), "nb": nb})
        # p_hop with the long window, A particles in chunks
        from pyglass.analysis.observables.rearrangements import phop as phop_fn
        w = fr(LONG_WINDOW)
        w += w % 2
        ia = np.flatnonzero(A)
        ph = np.full((nf, len(ia)), np.nan)
        for c in range(0, len(ia), 200):
            ph[:, c:c + 200] = phop_fn(pos[:, ia[c:c + 200]], w)   # as stored: length^2 (module docstring)
        out["phop_long"] = ph
    return out


# ------------------------------------------------------------------------------ one replicate
def _unit_of(frames, nf, K):
    return np.minimum(np.asarray(frames) * K // nf, K - 1)


def _reference(p, keep, K, potential):
    """beta Phi_r^av (A-tagged and all), beta Phi_q^av and 1/S^av from the kept configurations."""
    from pyglass.analysis.softness.caging import CagingPotential, caging_depth_q
    sel = keep[_unit_of(p["cfg"], p["nf"], K)]
    if not sel.any():
        return None
    cp = CagingPotential(potential, p["T"], delta=DELTA).reference_from_rdf(p["r"], p["gc"][sel].mean(0), p["x"],
                                                                            p["dim"])
    sp = p["sc"][sel].mean(0)
    ok = np.all(np.isfinite(sp), axis=(0, 1))
    return {"phi_r": cp.phi_r_average(0), "phi_all": cp.phi_r_average(), "phi_q": caging_depth_q(p["q"][ok], sp[:, :, ok], p["x"]),
            "inv_S": _harmonic_fit(p["q"][ok], sp[:, :, ok], p["x"], DR_FIT)}


def _softness(phi, c0, c1):
    den = c0 + c1 * phi
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 1.0 / den, np.nan)


def _cs(S, lags, origins_ok):
    """C_S at each lag: Pearson across particles of S(t') and S(t' + lag), averaged over the origins
    t' that `origins_ok` keeps (NaN S taken at the frame mean)."""
    m = np.nanmean(S, 1, keepdims=True)
    sd = np.nanstd(S, 1, keepdims=True)
    Z = np.nan_to_num((S - m) / np.where(sd > 0, sd, np.nan))
    out = []
    for lag in lags:
        o = np.flatnonzero(origins_ok[:len(S) - lag])
        out.append(np.mean(np.einsum("on,on->o", Z[o], Z[o + lag]) / S.shape[1]) if o.size else np.nan)
    return np.array(out)


def _measure(per, K, keep, potential, detail=False):
    """Every row value (and its per-T parts) from the units `keep` (module docstring, 4)."""
    from pyglass.analysis.observables.dynamics import relaxation_time
    from pyglass.analysis.softness.caging import calibrate
    v, d = {}, {}
    Ts = np.array([p["T"] for p in per])
    refs = [_reference(p, keep, K, potential) for p in per]
    if any(r is None for r in refs):
        return v
    phi_r, phi_q, inv_s = (np.array([r[k] for r in refs]) for k in ("phi_r", "phi_q", "inv_S"))
    c0, c1 = calibrate(phi_r, inv_s)
    v["lin-1a"], v["lin-1a-inset"], v["lin-1b"] = r_form(phi_q, inv_s), r_form(phi_q, phi_r), r_form(phi_r, inv_s)
    d.update(refs=refs, c0=c0, c1=c1)
    edges = np.r_[S_CENTRES - S_WIDTH / 2, S_CENTRES[-1] + S_WIDTH / 2]
    n, nr = np.zeros((len(per), len(S_CENTRES))), np.zeros((len(per), len(S_CENTRES)))
    tauS, tauQ = {}, {}
    for j, p in enumerate(per):
        T, nf = p["T"], p["nf"]
        fk = keep[_unit_of(np.arange(nf), nf, K)]
        S = _softness(p["phi"], c0, c1)
        Sk = S[fk]
        v[f"depth-mean@{T}"] = float(-p["phi"][fk].mean())
        v[f"depth-std@{T}"] = float(p["phi"][fk].std())
        v[f"s-mean@{T}"] = float(np.nanmean(Sk))
        v[f"s-std@{T}"] = float(np.nanstd(Sk))
        ok = fk & p["defined"]
        n[j], nr[j] = pr_counts(S[ok], p["phop"][ok] > p["p_c"], edges)
        # C_S and Q on the lag grid, origins of the kept units
        lags = p["lags"]
        cs = _cs(S, lags, fk)
        Qk = np.array([st[2][fk[:len(st[2])]].mean() if fk[:len(st[2])].any() else np.nan for st in p["ls"]])
        t = lags * p["dt"]
        for name, tau in (("cs_drop", LAG_TAU["cs_drop"]), ("cs_plateau", LAG_TAU["cs_plateau"])):
            i = np.flatnonzero(np.isclose(t, tau))
            if i.size:
                v[f"{name}@{T}"] = float(cs[i[0]])
                v[f"q_{name}@{T}"] = float(Qk[i[0]])
        unit_len = nf / K * p["dt"]
        short = t <= unit_len
        tauS[T], tauQ[T] = relaxation_time(t[short], cs[short]), relaxation_time(t[short], Qk[short])
        v[f"life@{T}"] = float(np.log(tauS[T] / tauQ[T]))
        if _near(T, COLD):
            v["tau-alpha-t047"] = float(np.log(relaxation_time(t, Qk)))
        if detail:
            d.setdefault("S", {})[T] = S
            d.setdefault("cs", {})[T] = (t, cs, Qk)
    d.update(n=n, nr=nr, tauS=tauS, tauQ=tauQ)
    f5 = fig5_rows(Ts, n, nr)
    d["f5"] = f5
    for j, T in enumerate(Ts):
        v[f"slope@{T}"] = float(f5["slopes"][j])
    v["arrhenius-form"], v["crossing-agree"], v["de-slope"] = f5["form"], f5["T_star"], f5["de_slope"]
    cold = [p for p in per if _near(p["T"], COLD)]
    if cold:
        p = cold[0]
        nf = p["nf"]
        S = _softness(p["phi"], c0, c1)
        fk = keep[_unit_of(np.arange(nf), nf, K)]
        Sall = S[fk][np.isfinite(S[fk])]
        s_all = float(Sall.mean())
        # Fig. 5(a)
        f, i = excursions(p["phop"], p["p_c"])
        sel = fk[f] & np.isfinite(S[f - 1, i])
        Sb = S[f - 1, i][sel]
        peak = _peak(Sall)
        if Sb.size:
            v["frac-above-peak"] = float(np.mean(Sb > peak))
            v["frac-above-all"] = float(np.mean(Sb > peak) - np.mean(Sall > peak))
        # long window
        ok = fk & np.all(np.isfinite(p["phop_long"]), axis=1)
        nl, nrl = pr_counts(S[ok], p["phop_long"][ok] > p["p_c"], edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            PRl = np.where(nrl >= MIN_REARRANGING, nrl / np.maximum(nl, 1), np.nan)
        okb = np.flatnonzero(np.isfinite(PRl) & (PRl > 0))
        if okb.size >= 2:
            v["pr-slope-t047-dt75"] = float(np.polyfit(S_CENTRES[okb], np.log(PRl[okb]), 1)[0])
        # Fig. 2
        r2, f2 = p["fig2"]
        ck = keep[_unit_of(p["cfg"], nf, K)]
        gAA, g09, g12 = f2[ck].mean(0)
        v["g-peak-wider"] = fwhm(r2, g12) - fwhm(r2, g09)
        sh = (r2 >= FIG2_SHELL[0]) & (r2 <= FIG2_SHELL[1])
        from scipy.integrate import trapezoid
        v["g-accuracy"] = float(trapezoid((g12 - gAA)[sh] ** 2, r2[sh]) - trapezoid((g09 - gAA)[sh] ** 2, r2[sh]))
        # Fig. 4(b), (c), neighbour-cause: origins of the kept units
        og = p["og"]
        okg = keep[_unit_of(og, nf, K)]
        lf = p["lag_frames"]

        def pairs(L):
            valid = okg & (og + L < nf)
            o = og[valid]
            return S[o], S[np.minimum(o + L, nf - 1)], p["keep"][L][valid], valid

        def g_stats(L):
            S0, St, kp, _ = pairs(L)
            _, _, vals = propagator(S0, St, kp, G_S0, 40)
            base = S0[(S0 >= G_S0[0]) & (S0 < G_S0[1])]
            return vals, base

        g10, base10 = g_stats(lf["g0"])
        g1000, _ = g_stats(lf["g1"])
        if g10.size > 1 and base10.size > 1:
            v["g-wider"] = float(g10.std() - base10.std())
        if g10.size and g1000.size:
            v["g-shift"] = float(g1000.mean() - g10.mean())
        if g1000.size:
            v["g-average"] = float(g1000.mean() - s_all)
        S0, St, kp, _ = pairs(lf["tau"])
        mt, m0, cnt = group_means(S0, St, kp, GROUPS, 0.0002)
        v["hard-soften"] = float(mt[0] - m0[0])
        v["soft-harden"] = float(mt[-1] - m0[-1])
        S0, St, kp, _ = pairs(lf["two_tau"])
        mt2, _, _ = group_means(S0, St, kp, GROUPS, 0.0002)
        if np.isfinite(mt2).any():
            v["all-average"] = float(np.nanmax(np.abs(mt2 - s_all)))
        S0, St, kp, valid = pairs(lf["cause"])
        hard = kp & (S0 >= HARD[0]) & (S0 < HARD[1]) & np.isfinite(St)
        nb = p["nb"][valid]
        dS = St - S0
        if (hard & nb).any() and (hard & ~nb).any():
            v["neighbour-cause"] = float(dS[hard & nb].mean() - dS[hard & ~nb].mean())
            d["cause_counts"] = (int((hard & nb).sum()), int((hard & ~nb).sum()))
        if detail:
            d["cold"] = {"s_all": s_all, "peak": peak, "Sb": Sb, "Sall": Sall, "PRl": PRl,
                         "fig2": (r2, gAA, g09, g12), "groups": {}, "G": {}}
            for L in p["curve"]:
                S0, St, kp, _ = pairs(L)
                d["cold"]["groups"][L * p["dt"]] = group_means(S0, St, kp, GROUPS, 0.0002)
                d["cold"]["G"][L * p["dt"]] = propagator(S0, St, kp, G_S0, 40)[2]
            d["cold"]["G"][0.0] = S[og[okg]][(S[og[okg]] >= G_S0[0]) & (S[og[okg]] < G_S0[1])]
            d["cold"]["mt_tau"], d["cold"]["cnt_tau"] = mt, cnt
    return (v, d) if detail else v


# ------------------------------------------------------------------------------ the report
NOT_MEASURED = {
    "temperature": "the run has no temperature {T:g}, which the row needs",
    "cold": "needs T = 0.47 with production of at least 1400 tau plus origins, and enough kept pairs "
            "(>= 100 per S0 group, >= 20 rearranging pairs per S bin)",
    "fig5": "needs >= 3 Fig. 5 temperatures and >= 3 S bins with >= 20 rearranging pairs at >= 3 of them",
    "cs-lifetime-t047": "C_S(t) or Q(t) at 0.47 does not fall to 1/e within the lags up to the unit length",
    "cs-lifetime-growth": "C_S(t) or Q(t) at 0.47 or 0.80 does not fall to 1/e within the lags up to the unit length",
    "tau-alpha-t047": "Q(t) at 0.47 does not fall to 1/e within the run",
    "production-length": "tau_alpha(0.47) is not measured (Q(t) does not fall to 1/e within the run)",
    "equilibrated": "needs T = 0.47 and at least 3 units (one to compare with the rest, two for their scatter)",
    "pr-slope-t047-dt75": "the 75-tau window does not fit the run at 0.47, or fewer than 2 S bins have >= 20 "
                          "rearranging pairs with it",
    "pr-slope-t047": "fewer than 2 S bins with >= 20 rearranging pairs at this T",
    "pr-slope-t050": "fewer than 2 S bins with >= 20 rearranging pairs at this T",
    "pr-slope-t053": "fewer than 2 S bins with >= 20 rearranging pairs at this T",
    "pr-slope-t060": "fewer than 2 S bins with >= 20 rearranging pairs at this T",
    "pr-slope-t070": "fewer than 2 S bins with >= 20 rearranging pairs at this T",
    "orders-of-magnitude": "needs the slopes of pr-slope-t047 and pr-slope-t070",
    "cs-drop-t080": "the lag of 1 tau is not on the frame grid at this T",
    "cs-drop-t053": "the lag of 1 tau is not on the frame grid at this T",
    "cs-drop-t047": "the lag of 1 tau is not on the frame grid at this T",
}


def _rows(per, K, potential):
    """Measurements of every row the run can measure, with jackknife se over the K units; and the
    whole-run detail (figures, notes)."""
    from pyglass.analysis.statistics import jackknife
    full, detail = _measure(per, K, np.ones(K, bool), potential, detail=True)
    cache = {}

    def est(key):
        def f(keep):
            k = tuple(keep)
            if k not in cache:
                cache[k] = _measure(per, K, np.asarray(keep), potential)
            return cache[k].get(key, np.nan)
        return f

    def jk(key):
        if key not in full or not np.isfinite(full[key]):
            return None
        if K < 2:
            return full[key], float("nan")
        return jackknife(est(key), K)

    out = {}
    for key in ("lin-1a", "lin-1a-inset", "lin-1b", "g-peak-wider", "g-accuracy", "tau-alpha-t047", "g-wider",
                "g-shift", "g-average", "hard-soften", "soft-harden", "all-average", "neighbour-cause",
                "frac-above-peak", "frac-above-all", "pr-slope-t047-dt75", "arrhenius-form", "crossing-agree",
                "de-slope"):
        r = jk(key)
        if r is not None:
            out[key] = _m(*r, f"jackknife over {K} units")
    if "neighbour-cause" in out and "cause_counts" in detail:
        out["neighbour-cause"].note += "; pairs with / without a rearranging neighbour: %d / %d" % detail["cause_counts"]

    def diff(row, ka, kb, note=""):           # variances of the two temperatures added (criteria)
        a, b = jk(ka), jk(kb)
        if a is not None and b is not None:
            out[row] = _m(a[0] - b[0], np.hypot(a[1], b[1]), f"{a[0]:.4g} +- {a[1]:.2g} minus {b[0]:.4g} +- {b[1]:.2g}"
                          + (f"; {note}" if note else ""))

    for hot, cold_ in ((0.80, 0.53), (0.53, 0.47)):
        tag = f"{int(round(hot * 100)):03d}-{int(round(cold_ * 100)):03d}"
        diff(f"depth-mean-{tag}", f"depth-mean@{cold_}", f"depth-mean@{hot}")
        diff(f"depth-std-{tag}", f"depth-std@{cold_}", f"depth-std@{hot}")
        diff(f"s-mean-{tag}", f"s-mean@{hot}", f"s-mean@{cold_}")
        diff(f"s-std-{tag}", f"s-std@{hot}", f"s-std@{cold_}")
        diff(f"cs-plateau-{tag}", f"cs_plateau@{cold_}", f"cs_plateau@{hot}")
    for T in TRIO:
        a = jk(f"q_cs_drop@{T}")
        if a is not None and f"cs_drop@{T}" in full:
            full[f"drop@{T}"] = full[f"q_cs_drop@{T}"] - full[f"cs_drop@{T}"]
            dv = jackknife(lambda keep, T=T: est(f"q_cs_drop@{T}")(keep) - est(f"cs_drop@{T}")(keep), K) \
                if K >= 2 else (full[f"drop@{T}"], float("nan"))
            out[f"cs-drop-t{int(round(T * 100)):03d}"] = _m(*dv, f"Q(1) = {full[f'q_cs_drop@{T}']:.4g}, "
                                                              f"C_S(1) = {full[f'cs_drop@{T}']:.4g}")
    r = jk(f"life@{COLD}")
    if r is not None:
        out["cs-lifetime-t047"] = _m(*r, f"tau_S = {detail['tauS'][COLD]:.4g}, tau_Q = {detail['tauQ'][COLD]:.4g}")
    diff("cs-lifetime-growth", f"life@{COLD}", f"life@{0.8}")
    for T in FIG5:
        r = jk(f"slope@{T}")
        if r is not None:
            out[f"pr-slope-t{int(round(T * 100)):03d}"] = _m(*r, f"jackknife over {K} units")
    if f"slope@{COLD}" in full and f"slope@{0.7}" in full:
        g = lambda keep: (est(f"slope@{COLD}")(keep) - est(f"slope@{0.7}")(keep)) * PR_SPAN / np.log(10)  # noqa: E731
        val = (full[f"slope@{COLD}"] - full[f"slope@{0.7}"]) * PR_SPAN / np.log(10)
        if np.isfinite(val):
            r = jackknife(g, K) if K >= 2 else (val, float("nan"))
            out["orders-of-magnitude"] = _m(*r, f"one-decade reading (not scored): {'holds' if r[0] - 2 * np.nan_to_num(r[1]) > 1 else 'misses'}")
    return out, full, detail


def _checks(per, K, full, detail):
    out = {}
    out["alpha2-inside"] = _m(int(sum(bool(p["at_edge"]) for p in per)), 0.0,
                              "edges at " + (", ".join(f"{p['T']:g}" for p in per if p["at_edge"]) or "none"))
    cold = [p for p in per if _near(p["T"], COLD)]
    if cold and np.isfinite(cold[0]["tau"]):
        p = cold[0]
        out["production-length"] = _m((p["nf"] - 1) * p["dt"] / p["tau"], 0.0, f"{(p['nf'] - 1) * p['dt']:g} tau over "
                                      f"tau_alpha = {p['tau']:.4g}")
    kt = [np.floor((p["nf"] - 1) * p["dt"] / (2 * p["tau"])) if np.isfinite(p["tau"]) else 0 for p in per]
    out["units"] = _m(float(min(kt)), 0.0, "per T: " + ", ".join(f"{p['T']:g}: {int(k)}" for p, k in zip(per, kt)))
    if cold and K >= 3:
        p = cold[0]
        S = detail["S"][p["T"]]
        u = _unit_of(np.arange(p["nf"]), p["nf"], K)
        means = np.array([np.nanmean(S[u == k]) for k in range(K)])
        sd = means.std(ddof=1)
        out["equilibrated"] = _m(means[0] - means[1:].mean(), np.sqrt(sd ** 2 + sd ** 2 / (K - 1)),
                                 "unit means " + ", ".join(f"{m:.5g}" for m in means))
    chk = [p["check"] for p in per if np.isfinite(p["check"])]
    if chk:
        out["caging-stage-consistency"] = _m(max(chk), 0.0, f"{len(chk)} temperatures")
    bad = [float(np.mean(~np.isfinite(S))) for S in detail["S"].values()]
    out["s-defined"] = _m(max(bad), 0.0, "per T: " + ", ".join(f"{b:.2g}" for b in bad))
    return out


def _alternates(per, detail, potential):
    """The Fig. 5 rows under the other readings of Eqs. 5 and 8 (whole run, every ALT_EVERY-th frame)."""
    from pyglass.analysis.softness.caging import calibrate
    Ts = np.array([p["T"] for p in per])
    inv_s = np.array([r["inv_S"] for r in detail["refs"]])
    edges = np.r_[S_CENTRES - S_WIDTH / 2, S_CENTRES[-1] + S_WIDTH / 2]
    res = {}
    for name in ("", "eq5-3d", "eq8-2pir", "both"):
        phi_av = np.array([p["alt_av"][name] if name else r["phi_r"] for p, r in zip(per, detail["refs"])])
        c0, c1 = calibrate(phi_av, inv_s)
        n, nr = np.zeros((len(per), 5)), np.zeros((len(per), 5))
        bad, means = [], []
        for j, p in enumerate(per):
            af = p["alt_frames"]
            S = _softness(np.asarray(p["alt"][name] if name else p["phi"][af], float), c0, c1)
            bad.append(float(np.mean(~np.isfinite(S))))
            means.append(float(np.nanmean(S)) if np.isfinite(S).any() else np.nan)
            ok = p["defined"][af]
            n[j], nr[j] = pr_counts(S[ok], p["phop"][af][ok] > p["p_c"], edges)
        f5 = fig5_rows(Ts, n, nr)
        sl = dict(zip(Ts, f5["slopes"]))
        res[name] = {"c0": c0, "c1": c1, "lin": r_form(phi_av, inv_s), "bad": max(bad), "means": means,
                     "slope47": sl.get(COLD, np.nan), "slope70": sl.get(0.7, np.nan), "T_star": f5["T_star"],
                     "de": f5["de_slope"], "orders": (sl.get(COLD, np.nan) - sl.get(0.7, np.nan)) * PR_SPAN / np.log(10)}
    return res


WHY = {
    "crossing-agree": "the crossing of nearly parallel extrapolated lines is ill-conditioned; it moves with the "
                      "threshold (one p_c per T here), the S bins and the hottest temperature fitted (see the "
                      "sensitivity in the notes and the readings of Eqs. 5 and 8)",
    "orders-of-magnitude": "the soft-to-hard ratio of P_R over the paper's S range grows on cooling by less than two "
                           "decades between 0.70 and 0.47 in our run (the one-decade reading is in the row's note)",
    "all-average": "immobile survivors at 2 tau_alpha are few and selected (see the group counts)",
    "g-average": "the immobile survivors of the hard group at 1000 tau stay harder than average",
    "units": "the production at the coldest T holds fewer than 4 blocks of 2 tau_alpha",
    "production-length": "the production at 0.47 is shorter than 3 tau_alpha as measured",
}


def analyse(index, deck, out, full):
    import time as _time

    from pyglass.workflow.reproduce.criteria import Criteria
    crit = Criteria.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "criteria.toml"))
    notes = []
    potential = deck.build_potential()
    units = []
    for u in results.open(index).units():
        if u.status != "complete":
            notes.append(f"{os.path.basename(u.path)} ({u.state}) is not complete: left out.")
            continue
        units.append((_temperature(u.state, deck), u.state, u.run))
    units.sort(key=lambda v: -v[0])                      # hot to cold
    if len(units) < 3:
        notes.append(f"Only {len(units)} complete temperature(s): the calibration (Eq. 7) needs at least 3; "
                     "no row was measured.")
        quantities = crit.score({})
        from pyglass.workflow.reproduce.report import miss_note
        return quantities, [], notes + [miss_note(q, "no calibration") for q in quantities]
    t0 = _time.perf_counter()
    per = [_analyse_unit(T, label, run, potential, _near(T, COLD)) for T, label, run in units]
    kt = [int(np.floor((p["nf"] - 1) * p["dt"] / (2 * p["tau"]))) if np.isfinite(p["tau"]) else 1 for p in per]
    K = max(1, min(kt))
    measured, full_v, detail = _rows(per, K, potential)
    measured.update(_checks(per, K, full_v, detail))
    alt = _alternates(per, detail, potential)
    measured = {k: v for k, v in measured.items() if v is not None and k in {r.id for r in crit.rows}}
    quantities = crit.score(measured)
    elapsed = _time.perf_counter() - t0
    figures = _figures(out, per, detail)
    notes += _notes(quantities, crit, per, K, detail, alt, elapsed)
    return quantities, figures, notes


# ------------------------------------------------------------------------------ figures and notes
def _figures(out, per, detail) -> list:
    from pyglass.analysis.figures import pyplot, save_png
    plt = pyplot()
    figures = []
    Ts = np.array([p["T"] for p in per])
    cmap = plt.get_cmap("coolwarm")
    col = {p["T"]: cmap((p["T"] - Ts.min()) / max(np.ptp(Ts), 1e-9)) for p in per}
    refs = detail["refs"]
    phi_r, phi_q, inv_s = (np.array([r[k] for r in refs]) for k in ("phi_r", "phi_q", "inv_S"))
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    ax[0].plot(phi_q, inv_s, "o")
    ax[0].set(xlabel="beta Phi_q^av", ylabel="1/S^av", title="Fig. 1(a)")
    ax[1].plot(phi_q, phi_r, "o")
    ax[1].set(xlabel="beta Phi_q^av", ylabel="beta Phi_r^av (A)", title="Fig. 1(a) inset")
    xx = np.linspace(phi_r.min(), phi_r.max(), 10)
    ax[2].plot(phi_r, inv_s, "o")
    ax[2].plot(xx, detail["c0"] + detail["c1"] * xx, "k-", lw=0.8)
    ax[2].set(xlabel="beta Phi_r^av (A)", ylabel="1/S^av", title=f"Fig. 1(b): c0 = {detail['c0']:.4g}, c1 = {detail['c1']:.4g}")
    save_png(fig, os.path.join(out, "sharma2022_calibration.png"), figures)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    for p in per:
        S = detail["S"][p["T"]]
        w = S[np.isfinite(S)]
        h, e = np.histogram(w, bins=80, range=tuple(np.percentile(w, [0.2, 99.8])), density=True)
        ax[0].plot(0.5 * (e[1:] + e[:-1]), h, color=col[p["T"]], label=f"T = {p['T']:g}")
        t, cs, Q = detail["cs"][p["T"]]
        ax[1].semilogx(t, cs, "-", color=col[p["T"]])
        ax[1].semilogx(t, Q, ":", color=col[p["T"]])
    ax[0].set(xlabel="S", ylabel="P(S)", title="Fig. 3(b)")
    ax[0].legend(fontsize=6)
    ax[1].set(xlabel="t", ylabel="C_S (solid), Q (dotted)", title="Fig. 4(a)")
    c = detail.get("cold")
    if c is not None:
        r2, gAA, g09, g12 = c["fig2"]
        ax[2].plot(r2, gAA, "k-", label="g_AA")
        ax[2].plot(r2, g09, "-", label=f"<g_i^A>, delta = {DELTA:g}")
        ax[2].plot(r2, g12, "--", label=f"<g_i^A>, delta = {DELTA_USUAL:g}")
        ax[2].set(xlabel="r", title=f"Fig. 2, T = {COLD:g}")
        ax[2].legend(fontsize=6)
    save_png(fig, os.path.join(out, "sharma2022_distributions.png"), figures)
    if c is not None:
        fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
        for t in sorted(c["G"]):
            vals = c["G"][t]
            if vals.size > 5 and (t == 0 or t in (10.0, 100.0, 1000.0) or t == max(c["G"])):
                ax[0].hist(vals, bins=40, density=True, histtype="step", label=f"t = {t:g} ({vals.size})")
        ax[0].axvline(c["s_all"], color="k", ls=":", lw=0.8)
        ax[0].set(xlabel="S", ylabel="G(S, S0 = 0.001, t)", title=f"Fig. 4(b), T = {COLD:g}, immobile")
        ax[0].legend(fontsize=6)
        ts = sorted(c["groups"])
        for k, g0 in enumerate(GROUPS):
            ax[1].semilogx(ts, [c["groups"][t][0][k] for t in ts], "o-", ms=3, label=f"S0 = {g0:g}")
        ax[1].axhline(c["s_all"], color="k", ls=":", lw=0.8)
        ax[1].set(xlabel="t", ylabel="<S(t)>_{S0}, immobile", title="Fig. 4(c)")
        ax[1].legend(fontsize=6)
        w = c["Sall"]
        rng_c = tuple(np.percentile(w, [0.2, 99.8]))
        ax[2].hist(w, bins=60, range=rng_c, density=True, histtype="step", color="k", label="P(S), all A")
        if c["Sb"].size:
            ax[2].hist(c["Sb"], bins=30, range=rng_c, density=True, histtype="step", color="r", label="P(S|R)")
        ax[2].axvline(c["peak"], color="k", ls=":")
        ax[2].set(xlabel="S", title="Fig. 5(a)")
        ax[2].legend(fontsize=6)
        save_png(fig, os.path.join(out, "sharma2022_fig4bc_5a.png"), figures)
    f5 = detail["f5"]
    fig, ax = plt.subplots(1, 4, figsize=(15, 3.5))
    for j, T in enumerate(Ts):
        ax[0].semilogy(S_CENTRES, f5["PR"][j], "o-", ms=3, color=col[T], label=f"T = {T:g}")
    ax[0].set(xlabel="S", ylabel="P_R(S)", title="Fig. 5(b)")
    if ax[0].get_legend_handles_labels()[0]:
        ax[0].legend(fontsize=6)
    fit = f5["fit"]
    if fit is not None:
        T5 = Ts[f5["five"]]
        P5 = f5["PR"][f5["five"]]
        x = np.linspace(1 / max(T_ONSET, T5.max()) * 0.95, 1 / T5.min() * 1.03, 30)
        for k in np.flatnonzero(np.isfinite(fit["dE"])):
            ax[1].plot(1 / T5, np.log(P5[:, k]), "o", ms=3)
            ax[1].plot(x, fit["sigma"][k] - fit["dE"][k] * x, "-", lw=0.8, label=f"S = {S_CENTRES[k]:g}")
            ax[2].semilogy(fit["dE"][k] / T5, P5[:, k] / np.exp(fit["sigma"][k]), "o", ms=3)
        if np.isfinite(f5["T_star"]):
            ax[1].axvline(1 / f5["T_star"], color="k", ls="--", lw=0.8, label=f"crossing {f5['T_star']:.3g}")
        ax[1].axvline(1 / T_ONSET, color="r", ls=":", lw=0.8, label=f"paper {T_ONSET:g}")
        ok = np.isfinite(fit["dE"])
        ax[3].errorbar(S_CENTRES[ok], fit["dE"][ok], yerr=fit["dE_err"][ok], fmt="o-")
    ax[1].set(xlabel="1/T", ylabel="ln P_R", title="Fig. 5(c)")
    if ax[1].get_legend_handles_labels()[0]:
        ax[1].legend(fontsize=5)
    ax[2].set(xlabel="Delta E(S)/T", ylabel="P_R/P_0", title="Fig. 5(c) inset: collapse")
    ax[3].set(xlabel="S", ylabel="Delta E(S)", title="Fig. 5(d)")
    save_png(fig, os.path.join(out, "sharma2022_rearrangements.png"), figures)
    return figures


def _why_measured(rid, quantities, per, detail):
    """The reason of a measured miss that this run's numbers can give (None: the static WHY entry)."""
    if rid == "arrhenius-form" and detail["f5"]["fit"] is not None:
        # where ln P_R leaves its line, and whether the departures are per T (all bins together) or per bin
        f5, fit = detail["f5"], detail["f5"]["fit"]
        Ts = np.array([p["T"] for p in per])[f5["five"]]
        PR, nr = f5["PR"][f5["five"]], np.asarray(detail["nr"])[f5["five"]]
        with np.errstate(invalid="ignore", divide="ignore"):
            res = np.log(PR) - (fit["sigma"][None, :] - fit["dE"][None, :] / Ts[:, None])
        j, k = np.unravel_index(np.nanargmax(np.abs(res)), res.shape)
        per_T = np.nanmean(res, axis=1)
        same = [f"{T:g}" for T, r in zip(Ts, res) if np.all(np.sign(r[np.isfinite(r)]) == np.sign(np.nanmean(r)))]
        pc = {f"{p['T']:g}": p["p_c"] for p in per}
        return (f"the largest departure is {res[j, k]:+.2f} in ln P_R at S = {S_CENTRES[k]:g}, T = {Ts[j]:g}, from "
                f"{int(nr[j, k])} rearranging pairs (Poisson s.e. {1 / np.sqrt(max(nr[j, k], 1)):.2f}); the departures "
                f"are mostly per temperature, not per bin: the mean residual per T is " +
                ", ".join(f"{T:g}: {r:+.2f}" for T, r in zip(Ts, per_T)) + " (every bin on the same side at T = " +
                (", ".join(same) or "none") + "), which follows the one threshold p_c per T (" +
                ", ".join(f"{T}: {v:.3g}" for T, v in pc.items() if any(_near(float(T), t) for t in Ts)) +
                "; a lower p_c counts more excursions at every S). A cause we infer, not one we tested")
    if rid == "frac-above-peak" and detail.get("cold") is not None:
        c = detail["cold"]
        above_all = _ours(quantities, "frac-above-all")
        f5 = detail["f5"]
        j = int(np.flatnonzero([_near(p["T"], COLD) for p in per])[0])
        pr = f5["PR"][j][np.isfinite(f5["PR"][j])]
        return (f"P(S) is skewed (mean {c['s_all']:.4g} above its mode {c['peak']:.4g}), so "
                f"{100 * (_ours(quantities, rid) - above_all):.0f} % of all A particles are already above the mode; "
                f"the rearranging ones add only {100 * above_all:.0f} points because our P_R(S) at {COLD:g} rises by a "
                f"factor {pr[-1] / pr[0]:.2g} across the populated bins (the weak S-dependence that also misses "
                f"orders-of-magnitude; other readings of Eqs. 5 and 8, in the notes, steepen it)")
    if rid == "caging-stage-consistency":
        worst = max((p for p in per if np.isfinite(p["check"])), key=lambda p: p["check"])
        return (f"frame 0 of the trajectory is stored in float32 (within {worst['rounding']:.2g} of the state the stage "
                f"used); on the run's float64 final configuration, which the caging stage used, the largest "
                f"difference is {max(p['check64'] for p in per if np.isfinite(p['check64'])):.2g} (T = "
                f"{worst['T']:g} gives the float32 value)")
    return None


def _ours(quantities, rid):
    return next((q.ours for q in quantities if q.id == rid), np.nan)


def _notes(quantities, crit, per, K, detail, alt, elapsed) -> list:
    from pyglass.workflow.reproduce.report import miss_note
    notes = []
    Ts = [p["T"] for p in per]
    for q in quantities:
        if q.holds:
            continue
        if isinstance(q.ours, (int, float, np.floating, np.integer)):
            why = _why_measured(q.id, quantities, per, detail) or WHY.get(q.id, "see the notes below and the figures.")
        else:
            need = [T for T in FIG5 + TRIO if f"{int(round(T * 100)):03d}" in q.id and not any(_near(T, v) for v in Ts)]
            if need:
                why = NOT_MEASURED["temperature"].format(T=need[0])
            elif q.id in NOT_MEASURED:
                why = NOT_MEASURED[q.id]
            elif q.id in ("arrhenius-form", "crossing-agree", "de-slope") or q.id.startswith("pr-slope") \
                    or q.id == "orders-of-magnitude":
                why = NOT_MEASURED["fig5"]
            else:
                why = NOT_MEASURED["cold"]
        notes.append(miss_note(q, why))
    p0 = per[0]
    notes.append(f"Scale: N = {p0['N']} ({p0['n_A']} A), one trajectory per T = " + ", ".join(f"{T:g}" for T in Ts) +
                 "; production " + ", ".join(f"{(p['nf'] - 1) * p['dt']:g}" for p in per) + f" tau, frames every "
                 f"{p0['dt']:g} tau; p_hop window {p0['window']:g} tau on the {p0['phop_on'] or 'stored'} trajectory.")
    notes.append("tau_alpha (Q = 1/e, all origins) per T: " + ", ".join(f"{p['T']:g}: {p['tau']:.4g}" for p in per) +
                 f"; units: K = {K} contiguous blocks per T (the smallest floor(L / 2 tau_alpha) over T, so that unit "
                 "k is dropped at every T together); every se below is a delete-one jackknife over them with the "
                 "reference and the calibration rebuilt from the kept configurations. The local depths keep the "
                 "whole run's reference in every replicate (recomputing them per replicate would repeat the most "
                 "expensive step K times); quantities built from lag pairs belong to the unit of their origin."
                 + (" With fewer than 2 units no standard error exists and the verdicts carry none." if K < 2 else ""))
    notes.append("p_c(T) = MSD of the A particles at the alpha_2 maximum (one per T, criteria header): " +
                 ", ".join(f"{p['T']:g}: {p['p_c']:.3g} at t* = {p['t_star']:.3g}" for p in per) + ".")
    c0, c1 = detail["c0"], detail["c1"]
    refs = detail["refs"]
    notes.append(f"Calibration (Eq. 7, whole run): c0 = {c0:.5g}, c1 = {c1:.5g}; beta Phi_r^av (A) = " +
                 ", ".join(f"{r['phi_r']:.4g}" for r in refs) + "; beta Phi_r^av (all uv, 'whole system level', not "
                 "scored) = " + ", ".join(f"{r['phi_all']:.4g}" for r in refs) + f" (r_form of 1/S^av against it: "
                 f"{r_form([r['phi_all'] for r in refs], [r['inv_S'] for r in refs]):.3g}); 1/S^av = " +
                 ", ".join(f"{r['inv_S']:.4g}" for r in refs) + ".")
    base = alt[""]
    lines = []
    for name, what in (("eq5-3d", "Eq. 5 as a three-dimensional integral (factor 4 pi rho r^2, global and local)"),
                       ("eq8-2pir", "Eq. 8 with the printed 1/(2 pi r) (local values only: 2 rho_v r against our shell)"),
                       ("both", "both other readings")):
        a = alt[name]
        lines.append(f"{what}: calibration r_form {a['lin']:.3g}, c0 = {a['c0']:.4g}, c1 = {a['c1']:.4g}; A particle-"
                     f"frames without a finite positive S {100 * a['bad']:.3g} %; <S> per T " +
                     ", ".join(f"{m:.3g}" for m in a["means"]) + f"; d ln P_R/dS at 0.47 {a['slope47']:.4g}, at 0.70 "
                     f"{a['slope70']:.4g}; orders-of-magnitude {a['orders']:.3g}; crossing {a['T_star']:.3g}; "
                     f"d Delta E/dS {a['de']:.3g}")
    notes.append("Readings of Eqs. 5 and 8 (criteria header): scored under Eq. 5 as printed (a one-dimensional "
                 "integral dr, no density or r^2) and Eq. 8 normalised by the 3D shell and density (so the particle "
                 f"average of g_i is the smoothed g_uv). Whole run on every {ALT_EVERY}th frame, the scored readings give "
                 f"calibration r_form {base['lin']:.3g}, d ln P_R/dS at 0.47 {base['slope47']:.4g}, at 0.70 "
                 f"{base['slope70']:.4g}, orders-of-magnitude {base['orders']:.3g}, crossing {base['T_star']:.3g}, "
                 f"d Delta E/dS {base['de']:.3g}. Under the other readings (not scored): " + "; ".join(lines) + ".")
    f5 = detail["f5"]
    notes.append("P_R(S) in the paper's five bins (centres " + ", ".join(f"{v:g}" for v in S_CENTRES) + f", width "
                 f"{S_WIDTH:g}); rearranging pairs / pairs per T: " +
                 "; ".join(f"{T:g}: " + "/".join(f"{int(a)}:{int(b)}" for a, b in zip(detail['nr'][j], detail['n'][j]))
                           for j, T in enumerate(Ts)) +
                 (". Delta E per bin: " + ", ".join(f"{v:.3g}" for v in f5["fit"]["dE"]) + " (Fig. 5(d); Delta E "
                  "against 1/S reported, not scored: headline fig5d-inset-linearity is not attempted)"
                  if f5["fit"] is not None else "") + ".")
    c = detail.get("cold")
    if c is not None:
        notes.append(f"Fig. 4(c) at T = {COLD:g}: <S(t = 700 tau)> of the immobile pairs per S0 group (" +
                     ", ".join(f"{g:g}: {m:.4g} ({int(n)} pairs)" for g, m, n in zip(GROUPS, c["mt_tau"], c["cnt_tau"]))
                     + f"), <S>_all = {c['s_all']:.4g}; mode of P(S) = {c['peak']:.4g}; {c['Sb'].size} excursions.")
    notes.append(f"Analysis time {elapsed:.0f} s.")
    return notes
