"""Paper 5: Sharma, Nandi & Bhattacharyya (2022), "Identifying structural signature of dynamical
heterogeneity via the local softness parameter" — softness of the mean-field caging potential against
local rearrangements in Kob-Andersen (rho = 1.2; the paper N = 4000, `pyglass reproduce` N = 2000).

Headline numbers and statements (the paper, docs/science.md "The five papers"):
- Fig. 1(b): "Phi_r^av(Delta r = 0) vs 1/S^av is also linear" over temperature: the calibration
  1/S = c0 + c1 beta Phi_r (Eq. 7) used for the local softness S_i;
- Fig. 3(b), Sec. IV A: "with lowering of temperature ... the distribution of softness moves to
  smaller values. Also, note that with lowering of temperature the distribution becomes narrower"
  (T = 0.80, 0.53, 0.47);
- Fig. 5(a), Sec. V: "about 75% of the particles that undergo rearrangement has a softness value
  greater than the peak value of the distribution" (T = 0.47);
- Fig. 5(b): "Particles with higher values of softness have a higher probability of rearranging. This
  dependence becomes orders of magnitude stronger at lower temperatures";
- Fig. 5(c): P_R(S) = P0(S) exp(-Delta E(S)/T) per softness value; "the extrapolated lines cross at
  T = 0.801"; Fig. 5(d): "as softness decreases, the activation energy increases";
- Fig. 4(a) (figure only): C_S(t) (Eq. 9) shows "a similar two-step decay as the overlap function"
  with "a sharper drop" at first; "the plateau becomes more prominent at lower temperatures".

The analysis (`analyse`), per temperature (one unit file each, one sample), from the stored
trajectory of the `rearrangements` stage (instantaneous, unwrapped, a frame every 0.5 tau over 300 tau):
1. p_c = MSD at the peak of alpha_2 (Sec. III) of the A particles, from all time origins (peak refined
   by a parabola in ln t); rearranging: p_hop > p_c. p_hop is stored in length² (docs/science.md §2), the
   square of Eq. 2 as printed, so p_hop > MSD here is the paper's p_hop > root-MSD.
2. Calibration (Eq. 7): global partial g_uv(r) (every 20th frame) + HNC C_uv(r) (Eqs. 5-6) give
   beta Phi_r^av (A-tagged: the AA and AB terms that the local A values contain); partial S_uv(q) of
   the same frames (q <= 30) give 1/S^av from the harmonic form fitted to the q-space caging potential
   (Eq. 3) on 0 <= Delta r <= 0.2 (its curvature at exactly 0 is not converged in q; see the notes);
   c0, c1 by least squares over T. Local beta Phi_r(i) of every A particle (local g_i with
   delta = 0.09, Eq. 8; global C and limits of its T) on every stored frame, S_i = 1/(c0 + c1 beta Phi_r(i)).
3. P(S) per T; 4. S just before a rearrangement: S at the frame before p_hop first exceeds p_c
   in an excursion; 5. P_R(S): the fraction of the (frame, A particle) pairs of an S bin with
   p_hop > p_c on that frame; Arrhenius fit per bin over T (`statistics.arrhenius_fit`) and the
   crossing T0 (least-squares common intersection); 6. C_S(t) (Eq. 9) and Q(t) (Eq. 10, a = 0.3) of
   the A particles.
Spreads: one sample per T, so they come from a bootstrap over time blocks of the trajectory (N_BLOCKS
contiguous blocks per T, resampled independently per T). Blocks of 60 tau are shorter than tau_alpha
at the lowest T, so these spreads are lower bounds. Every choice not in the paper is listed in the notes.
"""
from __future__ import annotations

import os
import re

import numpy as np

from pyglass.analysis.statistics import bootstrap, finite_std
from pyglass.workflow.run import results

NAME = "sharma-2022"
TITLE = "Paper 5 (Sharma et al. 2022): local softness of the mean-field caging potential in Kob-Andersen"
DECK = "sharma_2022_ka.toml"
REDUCED = {"system.n": 2000}
FULL = {}

T_ONSET = 0.801                      # Fig. 5(c) crossing [paper]
ABOVE_PEAK = 0.75                    # Fig. 5(a): fraction of P(S|R) above the peak of P(S) at T = 0.47 [paper]
PS_TEMPERATURES = (0.80, 0.53, 0.47)  # Figs. 3, 4 [paper]
DELTA = 0.09                         # local g width [paper]
Q_OVERLAP = 0.3                      # Eq. 10 [paper]
# our choices (see the notes written by analyse)
STRUCTURE_EVERY = 20                 # frames between the configurations of the global g(r) and S(q)
Q_MAX, Q_BIN = 30.0, 0.2             # S(q) range and shell width
Q_PER_BIN = ((12.0, 150), (Q_MAX, 60))   # wavevectors kept per shell (one of each ±q): 150 up to q = 12, then 60
DR_FIT = 0.2                         # Delta r range of the harmonic fit of Eq. 3 (1/S^av)
STRIDE = 1                           # frames between local-softness evaluations
N_BLOCKS, N_BOOT = 5, 400            # time blocks and bootstrap resamples
N_SBINS = 8                          # softness bins of P_R(S)
MIN_EVENTS = 5                       # rearranging (frame, particle) pairs for a bin to enter a fit
MIN_ORIGINS = 40                     # time origins at the longest lag of alpha_2 and the MSD


# ------------------------------------------------------------------------------ reading


def _temperature(label, deck):
    """T of a state: the caging stage's T in the deck's state (the one the HNC closure used), else
    the number in the label (T0.47)."""
    for lab, data in getattr(deck, "states", []) or []:
        if lab == label:
            for st in data.get("stage", []):
                if st.get("kind") == "caging-softness" and st.get("T") is not None:
                    return float(st["T"])
    m = re.search(r"(\d+(?:\.\d*)?)", str(label))
    if m is None:
        raise ValueError(f"no temperature in state label {label!r}")
    return float(m.group(1))


def _load(run):
    g = run.stage("rearrangements")
    attrs = g.attrs
    caging = run.stage("caging") if run.has_stage("caging") else {}
    return {"times": g["times"], "positions": g["positions"].astype(float), "phop": g["phop"],
            "window_frames": int(attrs.get("window_frames", 0)), "phop_on": str(attrs.get("phop_on", "")),
            "phi_r_stage": caging.get("phi_r"), "system": run.final_system()}


# ------------------------------------------------------------------------------ pieces
def _threshold(pos, types, frame_dt):
    """p_c = MSD of the A particles at the peak of their alpha_2 (all origins), the peak refined by a
    parabola in ln t (dynamics.peak_in_log_time). Lags up to the run length less MIN_ORIGINS frames (the
    longest lags average over few, correlated origins: alpha_2 is flat there).
    Returns dict(t, msd, alpha2, p_c, t_star, at_edge)."""
    from pyglass.analysis.observables.dynamics import (alpha2_from_displacements, displacements, mean_square,
                                                       peak_in_log_time)
    nf = len(pos)
    lags = np.unique(np.r_[np.arange(1, 10), np.geomspace(10, max(nf - MIN_ORIGINS, 11), 50).astype(int)])
    lags = lags[lags < nf]
    a = pos[:, types == 0]
    drs = displacements(a, lags)
    m = np.array([mean_square(dr)[0] for dr in drs])
    a2 = np.array([alpha2_from_displacements(dr) for dr in drs])
    t = lags * frame_dt
    peak = peak_in_log_time(t, a2)
    p_c = float(np.exp(np.interp(np.log(peak.time), np.log(t), np.log(m))))
    return {"t": t, "msd": m, "alpha2": a2, "p_c": p_c, "t_star": peak.time, "at_edge": peak.at_edge}


def _half_space_shells(box, q_max, dq, per_bin, seed=0):
    """Commensurate wavevectors 0 < |q| <= q_max, one of each ±q pair (S(q) = S(-q)), at most
    `per_bin` per shell of width dq (a seeded random subset); per_bin is a number or ((q_upto, cap), ...)."""
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
    """1/S of the harmonic form beta Phi(0) + Delta r^2/(2 S) fitted (least squares, no free offset) to
    the q-space caging potential (Eq. 3) on 0 <= Delta r <= dr_fit."""
    from pyglass.analysis.softness.caging import caging_potential_q
    dr = np.linspace(0.0, dr_fit, 21)
    y = caging_potential_q(q, sp, x, dr)
    y = y - y[0]
    return float(2 * np.sum(y * dr ** 2) / np.sum(dr ** 4))


def _global_structure(frames, box, types, potential, T):
    """Global reference of one temperature: CagingPotential (g, C, cutoffs) and the average depths
    beta Phi_r^av (Eq. 5; all (u, v) and A-tagged), beta Phi_q^av (Eq. 4), 1/S^av (Eq. 3: harmonic fit
    over [0, DR_FIT], and the curvature at 0 for comparison), each also at smaller q cut-offs."""
    from pyglass.analysis.observables.structure import structure_factor
    from pyglass.analysis.softness.caging import CagingPotential, caging_depth_q, caging_softness_q
    cp = CagingPotential(potential, T, delta=DELTA).fit_reference(frames, box, types)
    qv = _half_space_shells(box, Q_MAX, Q_BIN, Q_PER_BIN)
    q, _, sp = structure_factor(frames, box, types, q_max=Q_MAX, bins=int(round(Q_MAX / Q_BIN)), qvectors=qv)
    ok = np.all(np.isfinite(sp), axis=(0, 1))
    q, sp = q[ok], sp[:, :, ok]
    x = np.bincount(types, minlength=sp.shape[0]) / len(types)
    cuts = [qm for qm in (10.0, 20.0) if qm < Q_MAX] + [Q_MAX]
    fit_q = {qm: _harmonic_fit(q[q <= qm], sp[:, :, q <= qm], x, DR_FIT) for qm in cuts}
    curv_q = {qm: 1.0 / caging_softness_q(q[q <= qm], sp[:, :, q <= qm], x) for qm in cuts}
    return {"cp": cp, "phi_r_all": cp.phi_r_average(), "phi_r_A": cp.phi_r_average(0),
            "phi_q": caging_depth_q(q, sp, x), "inv_S": fit_q[Q_MAX], "inv_S_curv": curv_q[Q_MAX],
            "fit_q": fit_q, "curv_q": curv_q, "q": q, "S_AA": sp[0, 0]}


def _blocks(n, k):
    return np.array_split(np.arange(n), k)


def _peak(S, bins=80):
    """Mode of P(S): the maximum of the histogram over the 0.5-99.5 % range smoothed by 2 bins."""
    from scipy.ndimage import gaussian_filter1d
    lo, hi = np.percentile(S, [0.5, 99.5])
    h, e = np.histogram(S, bins=bins, range=(lo, hi))
    k = int(np.argmax(gaussian_filter1d(h.astype(float), 2.0)))
    return float(0.5 * (e[k] + e[k + 1]))


def _before_rearranging(p, p_c):
    """S of the frame before p_hop first exceeds p_c, for every excursion of an A particle above p_c
    that starts after a frame where p_hop is defined and below p_c. Returns (frames of the
    excursion starts, S before)."""
    rear = np.nan_to_num(p["phop"], nan=-np.inf) > p_c
    f, i = np.nonzero(rear[1:] & ~rear[:-1])
    f = f + 1
    ok = p["defined"][f - 1]
    f, i = f[ok], i[ok]
    S = p["S"][f - 1, i]
    good = np.isfinite(S)
    return f[good], S[good]


def _fraction_above(p, p_c, peak, rng):
    """Fraction of the excursions whose S before is above `peak`, its block-bootstrap spread, and the
    number of excursions."""
    f, S = _before_rearranging(p, p_c)
    if not S.size:
        return np.nan, np.nan, 0
    blk = np.array([[np.sum((f >= b[0]) & (f <= b[-1]) & (S > peak)), np.sum((f >= b[0]) & (f <= b[-1]))]
                    for b in _blocks(len(p["S"]), N_BLOCKS)], float)

    def fraction(b):   # over a resample of the blocks
        with np.errstate(invalid="ignore", divide="ignore"):
            return blk[b, 0].sum() / blk[b, 1].sum()

    spread = bootstrap(np.arange(N_BLOCKS), fraction, n_resamples=N_BOOT, seed=rng).spread
    return float(np.mean(S > peak)), float(spread), S.size


def _pr_counts(per, edges, p_c):
    """Per T, time block and S bin: (frame, A particle) pairs and those with p_hop > p_c (frames where
    p_hop is defined). p_c: one value or one per T. Returns (n, n_rearranging), (nT, N_BLOCKS, nbins)."""
    from pyglass.analysis.softness.statistics import rearrangement_probability
    pcs = np.broadcast_to(np.asarray(p_c, float), (len(per),))
    n = np.zeros((len(per), N_BLOCKS, len(edges) - 1))
    nr = np.zeros_like(n)
    for j, p in enumerate(per):
        for b, fb in enumerate(_blocks(len(p["S"]), N_BLOCKS)):
            fb = fb[p["defined"][fb]]
            rear = p["phop"][fb] > pcs[j]
            _, _, n[j, b], nr[j, b] = rearrangement_probability(np.nan_to_num(p["S"][fb], nan=-np.inf), rear, edges)
    return n, nr


def _pr(n, nr):
    """P_R = n_rearranging / n per bin; NaN where fewer than MIN_EVENTS pairs rearrange."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n > 0) & (nr >= MIN_EVENTS), nr / np.maximum(n, 1), np.nan)


def _crossing(Ts, n, nr, weighted=False):
    """Arrhenius fit per S bin (each T one point unless weighted) and the crossing T0 (the
    least-squares common intersection of the lines); n, nr summed over blocks: (nT, nbins)."""
    from pyglass.analysis.softness.statistics import arrhenius_fit
    return arrhenius_fit(Ts, _pr(n, nr), counts=n if weighted else None, min_points=3)


def _boot_crossing(Ts, n, nr, rng):
    """T0 for N_BOOT resamples of the time blocks (independently per T)."""

    def crossing(*blocks):   # one resample of the blocks of every temperature
        nb = np.array([n[j, b].sum(0) for j, b in enumerate(blocks)])
        nrb = np.array([nr[j, b].sum(0) for j, b in enumerate(blocks)])
        return _crossing(Ts, nb, nrb)["T0"]

    return bootstrap(tuple(np.arange(N_BLOCKS) for _ in Ts), crossing, n_resamples=N_BOOT, seed=rng).distribution


def _spread(v):
    """(bootstrap standard error, 16th and 84th percentiles) of the finite resampled values."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return (float(finite_std(v)), *np.percentile(v, [16, 84])) if v.size > 1 else (np.nan, np.nan, np.nan)


def _ordered(values, decreasing=True):
    v = list(values)
    return all((a > b) if decreasing else (a < b) for a, b in zip(v, v[1:]))


# ------------------------------------------------------------------------------ analysis
def _analyse_unit(T, label, run, potential):
    """Everything of one temperature that needs its trajectory: threshold, global structure, local
    beta Phi_r(i) of the A particles on every STRIDE-th frame, Q(t)."""
    import time as _time

    from pyglass.analysis.observables.dynamics import displacements, overlap_from_displacements
    from pyglass.analysis.observables.structure import neighbour_pairs
    from pyglass.analysis.softness.caging import CagingPotential
    u = _load(run)
    s = u["system"]
    types = np.asarray(s.types)
    pos, times = u["positions"], u["times"]
    frame_dt = float(np.median(np.diff(times)))
    A = types == 0
    thr = _threshold(pos, types, frame_dt)
    glob = _global_structure(pos[np.arange(0, len(pos), STRUCTURE_EVERY)], s.box, types, potential, T)
    fr = np.arange(0, len(pos), STRIDE)
    phi = np.empty((len(fr), int(A.sum())))
    t0 = _time.perf_counter()
    for k, f in enumerate(fr):
        phi[k] = glob["cp"].compute(s, positions=pos[f])[A]
    cost = (_time.perf_counter() - t0) / len(fr)
    chk = np.nan               # the deck's caging stage: frame 0 with its own single-frame reference
    if u["phi_r_stage"] is not None:
        ref0 = CagingPotential(potential, T, delta=DELTA).fit_reference([pos[0]], s.box, types)
        chk = float(np.max(np.abs(ref0.compute(s, positions=pos[0]) - u["phi_r_stage"])))
    # what the local depth counts: B neighbours of an A particle (within the first minimum of g_AB), middle frame
    k = len(fr) // 2
    i, j = neighbour_pairs(pos[fr[k]], s.box, types, glob["cp"].reference["hi"])
    n_b = np.zeros(s.N, int)
    for a, b in ((i, j), (j, i)):
        np.add.at(n_b, a[types[b] == 1], 1)
    n_b = n_b[A]
    nb_fit = np.polyfit(n_b, phi[k], 1) if np.ptp(n_b) > 0 else (np.nan, np.nan)
    nb_r = float(np.corrcoef(n_b, phi[k])[0, 1]) if np.ptp(n_b) > 0 else np.nan
    phop = u["phop"][fr][:, A]
    lags_q = np.unique(np.geomspace(1, len(pos) - 1, 30).astype(int))
    Q = np.array([overlap_from_displacements(dr, Q_OVERLAP).mean() for dr in displacements(pos[:, A], lags_q)])
    glob.pop("cp")
    return {"T": T, "label": label, "phi": phi, "phop": phop, "defined": np.all(np.isfinite(phop), axis=1),
            "thr": thr, "glob": glob, "N": s.N, "n_A": int(A.sum()), "check": chk, "cost": cost,
            "nb_slope": float(nb_fit[0]), "nb_r": nb_r,
            "lags_q": lags_q * frame_dt, "Q": Q, "frame_dt": frame_dt, "n_frames": len(pos),
            "window": u["window_frames"] * frame_dt, "phop_on": u["phop_on"]}


def analyse(index, deck, out, full):
    import time as _time

    from scipy import stats as sps

    from pyglass.analysis.figures import pyplot, save_png
    from pyglass.analysis.softness import statistics as st
    from pyglass.analysis.softness.caging import calibrate, local_softness
    from pyglass.workflow.reproduce.report import Quantity
    quantities, figures, notes = [], [], []
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
                     "nothing was analysed.")
        return quantities, figures, notes
    t_start = _time.perf_counter()
    per = [_analyse_unit(T, label, run, potential) for T, label, run in units]
    Ts = np.array([p["T"] for p in per])
    rng = np.random.default_rng(12)
    # ---------------------------------------------------------------- 1. threshold
    pcs = np.array([p["thr"]["p_c"] for p in per])
    tst = np.array([p["thr"]["t_star"] for p in per])
    edge = [p["label"] for p in per if p["thr"]["at_edge"]]
    p_c = float(np.median(pcs))
    quantities.append(Quantity("p_c = MSD_A at the alpha_2 peak, per T (" + ", ".join(f"{T:g}" for T in Ts) +
                               f"); used for every T: their median {p_c:.3g}",
                               "MSD at the alpha_2 maximum (value not given)",
                               ", ".join(f"{v:.3g}" for v in pcs), "t* = " + ", ".join(f"{v:.3g}" for v in tst),
                               "alpha_2 peak inside the lag range at every T", not edge))
    # ---------------------------------------------------------------- 2. calibration
    phi_r = np.array([p["glob"]["phi_r_A"] for p in per])
    phi_all = np.array([p["glob"]["phi_r_all"] for p in per])
    phi_q = np.array([p["glob"]["phi_q"] for p in per])
    inv_s = np.array([p["glob"]["inv_S"] for p in per])
    inv_curv = np.array([p["glob"]["inv_S_curv"] for p in per])
    c0, c1 = calibrate(phi_r, inv_s)
    lr = sps.linregress(phi_r, inv_s)
    quantities.append(Quantity("Fig. 1(b): Pearson r of 1/S^av against beta Phi_r^av over T (calibration "
                               f"c0 = {c0:.4g} +- {lr.intercept_stderr:.2g}, c1 = {c1:.4g} +- {lr.stderr:.2g})",
                               "linear", float(lr.rvalue), f"{len(Ts)} temperatures", "|r| >= 0.95",
                               bool(abs(lr.rvalue) >= 0.95)))
    r_1a = float(np.corrcoef(phi_q, inv_s)[0, 1])
    r_1a_in = float(np.corrcoef(phi_r, phi_q)[0, 1])
    quantities.append(Quantity("Fig. 1(a): Pearson r of 1/S^av vs beta Phi_q^av, and (inset) of beta Phi_r^av vs "
                               "beta Phi_q^av", "linear, linear", f"{r_1a:.4f}, {r_1a_in:.4f}",
                               f"{len(Ts)} temperatures", "|r| >= 0.95 both",
                               bool(min(abs(r_1a), abs(r_1a_in)) >= 0.95)))
    for p in per:
        den = c0 + c1 * p["phi"]
        p["bad"] = float(np.mean(den <= 0))
        with np.errstate(divide="ignore"):
            p["S"] = np.where(den > 0, local_softness(p["phi"], c0, c1), np.nan)
    # ---------------------------------------------------------------- 3. P(Phi_r), P(S) at 0.80, 0.53, 0.47
    trio = [p for T in PS_TEMPERATURES for p in per if abs(p["T"] - T) < 1e-6]
    boot = {}
    for p in per:
        blk = []
        for b in _blocks(len(p["S"]), N_BLOCKS):
            v = p["S"][b]
            v = v[np.isfinite(v)]
            blk.append((v.size, v.sum(), (v ** 2).sum()))
        blk = np.array(blk)

        def mean_std(b):   # P(S)'s mean and std over a resample of the blocks
            nb, s1, s2 = blk[b].sum(0)
            m = s1 / nb
            return np.array([m, np.sqrt(max(s2 / nb - m ** 2, 0.0))])

        res = bootstrap(np.arange(N_BLOCKS), mean_std, n_resamples=N_BOOT, seed=rng)
        v = p["S"][np.isfinite(p["S"])]
        boot[p["T"]] = {"mean": float(v.mean()), "std": float(v.std()), "b_mean": res.distribution[0],
                        "b_std": res.distribution[1], "s_mean": float(res.spread[0]), "s_std": float(res.spread[1])}
    if len(trio) >= 2:
        labs = ", ".join(f"{p['T']:g}" for p in trio)
        pm = [float(p["phi"].mean()) for p in trio]
        ps = [float(p["phi"].std()) for p in trio]
        quantities.append(Quantity(f"Fig. 3(a): mean and std of the local beta Phi_r(i) (A) at T = {labs}: 'broadening "
                                   "and shift ... to higher values' of the depth on cooling (deeper = more negative "
                                   "with Eq. 5's sign)", "deeper and broader",
                                   "mean " + ", ".join(f"{v:.4g}" for v in pm) + "; std " +
                                   ", ".join(f"{v:.4g}" for v in ps),
                                   "one sample per T", "mean falling and std growing from each T to the next colder",
                                   _ordered(pm) and _ordered(ps, decreasing=False)))
        for key, what, quote in (("mean", "mean", "'moves to smaller values'"), ("std", "std", "'becomes narrower'")):
            vals = [boot[p["T"]][key] for p in trio]
            bv = np.array([boot[p["T"]]["b_" + key] for p in trio])
            quantities.append(Quantity(f"Fig. 3(b): {what} of P(S) at T = {labs} ({quote} on cooling)", "decreasing",
                                       ", ".join(f"{v:.4g}" for v in vals),
                                       ", ".join(f"{boot[p['T']]['s_' + key]:.2g}" for p in trio) +
                                       " (block bootstrap); fraction of "
                                       f"resamples ordered: {np.mean(np.all(np.diff(bv, axis=0) < 0, 0)):.2f}",
                                       "decreasing from each T to the next colder", _ordered(vals)))
    # ---------------------------------------------------------------- 4. P(S|R) at the lowest T
    cold = per[-1]
    coldS = cold["S"][np.isfinite(cold["S"])]
    peak = _peak(coldS)
    _, S_before = _before_rearranging(cold, p_c)
    frac, sp_frac, n_ev = _fraction_above(cold, p_c, peak, rng)
    base = float(np.mean(coldS > peak))
    holds4 = bool(np.isfinite(frac) and 0.60 <= frac <= 0.90 and frac > base + 2 * sp_frac)
    quantities.append(Quantity(f"Fig. 5(a), T = {cold['T']:g}: fraction of rearranging A particles whose S (frame "
                               "before p_hop first exceeds p_c) is above the peak of P(S)", ABOVE_PEAK, frac,
                               f"{sp_frac:.2g} (block bootstrap, {n_ev} excursions); all particles: {base:.3f}",
                               "60-90 % and above the all-particle fraction by > 2 spreads", holds4))
    frac_t, _, n_ev_t = _fraction_above(cold, cold["thr"]["p_c"], peak, rng)
    # ---------------------------------------------------------------- 5. P_R(S), Arrhenius, crossing
    pooled = np.concatenate([p["S"][p["defined"]].ravel() for p in per])
    pooled = pooled[np.isfinite(pooled)]
    edges = np.linspace(*np.percentile(pooled, [2, 98]), N_SBINS + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    n, nr = _pr_counts(per, edges, p_c)
    n_tot, nr_tot = n.sum(1), nr.sum(1)
    PR = _pr(n_tot, nr_tot)
    fit = _crossing(Ts, n_tot, nr_tot)
    T0 = float(fit["T0"])
    sp_T0, lo16, hi84 = _spread(_boot_crossing(Ts, n, nr, rng))
    fitted = np.isfinite(fit["dE"])
    alt = {}                                            # other defensible choices, for the spread and notes
    alt["binomial weights"] = _crossing(Ts, n_tot, nr_tot, weighted=True)["T0"]
    if len(Ts) > 3:
        alt[f"without T = {Ts[0]:g} (lines extrapolated)"] = _crossing(Ts[1:], n_tot[1:], nr_tot[1:])["T0"]
    n_t, nr_t = _pr_counts(per, edges, pcs)
    alt["p_c per T"] = _crossing(Ts, n_t.sum(1), nr_t.sum(1))["T0"]
    try:
        alt["global quadratic Delta E(S) (statistics.onset_fit)"] = st.onset_fit(centres, Ts, PR)["T0"]
    except (ValueError, RuntimeError, np.linalg.LinAlgError):
        pass
    av = np.array([v for v in alt.values() if np.isfinite(v)])
    quantities.append(Quantity(f"Fig. 5(c): T where the Arrhenius lines ln P_R(S) = ln P0(S) - Delta E(S)/T of the "
                               f"{int(fitted.sum())} S bins cross (least-squares common crossing = where the fitted "
                               "lines spread least)", T_ONSET, T0,
                               f"{sp_T0:.2g} (block bootstrap; 16-84 %: {lo16:.3g}-{hi84:.3g}); other choices in the "
                               f"notes: {av.min():.3g}-{av.max():.3g}" if av.size else f"{sp_T0:.2g} (block bootstrap)",
                               "0.65-0.95", bool(np.isfinite(T0) and 0.65 <= T0 <= 0.95)))
    slopes, ratio = [], []
    for j in range(len(per)):
        ok = np.flatnonzero(np.isfinite(PR[j]) & (PR[j] > 0))
        slopes.append(float(np.polyfit(centres[ok], np.log(PR[j, ok]), 1)[0]) if ok.size >= 2 else np.nan)
        ratio.append(float(PR[j, ok[-1]] / PR[j, ok[0]]) if ok.size >= 2 else np.nan)
    slopes, ratio = np.array(slopes), np.array(ratio)
    below = (Ts < T_ONSET - 0.005) & np.isfinite(slopes)
    quantities.append(Quantity("Fig. 5(b): d ln P_R / dS per T (" + ", ".join(f"{T:g}" for T in Ts) +
                               "): 'particles with higher values of softness have a higher probability of rearranging'",
                               "> 0 below the onset", ", ".join(f"{v:.3g}" for v in slopes),
                               "least squares over the populated bins", f"> 0 at every T below {T_ONSET:g}",
                               bool(below.any() and np.all(slopes[below] > 0))))
    quantities.append(Quantity("Fig. 5(b): P_R(softest populated bin) / P_R(hardest populated bin) per T ('orders of "
                               "magnitude stronger at lower temperatures')", "grows on cooling",
                               ", ".join(f"{v:.3g}" for v in ratio), "one sample per T",
                               f"larger at T = {Ts[-1]:g} than at T = {Ts[0]:g}", bool(ratio[-1] > ratio[0])))
    okE = np.isfinite(fit["dE"])
    dE_slope = float(np.polyfit(centres[okE], fit["dE"][okE], 1)[0]) if okE.sum() >= 2 else np.nan
    quantities.append(Quantity("Fig. 5(d): d Delta E / dS ('as softness decreases, the activation energy increases')",
                               "< 0", dE_slope, "Delta E per bin: " + ", ".join(f"{v:.3g}" for v in fit["dE"][okE]),
                               "< 0", bool(np.isfinite(dE_slope) and dE_slope < 0)))
    # ---------------------------------------------------------------- 6. C_S(t) and Q(t)
    cs = {}
    for p in per:
        keep = np.all(np.isfinite(p["S"]), axis=0)
        lags = np.unique(np.geomspace(1, len(p["S"]) - 1, 30).astype(int))
        lag, C = st.time_correlation(p["S"][:, keep], lags)
        cs[p["T"]] = (lag * STRIDE * p["frame_dt"], C)
    t_mid = 50.0
    if len(trio) >= 2 and all(cs[p["T"]][0][-1] >= t_mid for p in trio):
        vals = [float(np.interp(np.log(t_mid), np.log(cs[p["T"]][0]), cs[p["T"]][1])) for p in trio]
        quantities.append(Quantity(f"Fig. 4(a): C_S(t = {t_mid:g}) at T = " + ", ".join(f"{p['T']:g}" for p in trio) +
                                   " (the plateau 'becomes more prominent at lower temperatures')",
                                   "increasing on cooling",
                                   ", ".join(f"{v:.3f}" for v in vals), "one sample per T",
                                   "increasing from each T to the next colder", _ordered(vals, decreasing=False)))
    elapsed = _time.perf_counter() - t_start
    # ---------------------------------------------------------------- figures
    plt = pyplot()
    cmap = plt.get_cmap("coolwarm")
    col = {p["T"]: cmap((p["T"] - Ts.min()) / max(np.ptp(Ts), 1e-9)) for p in per}
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    ax[0].plot(phi_q, inv_s, "o")
    for T, x_, y_ in zip(Ts, phi_q, inv_s):
        ax[0].annotate(f"{T:g}", (x_, y_), fontsize=7)
    ax[0].set_xlabel("beta Phi_q^av (Eq. 4)")
    ax[0].set_ylabel(f"1/S^av (Eq. 3, harmonic fit, Delta r <= {DR_FIT:g})")
    ax[0].set_title("Fig. 1(a)", fontsize=9)
    ax[1].plot(phi_q, phi_r, "o", label="A-tagged (used)")
    ax[1].plot(phi_q, phi_all, "s", mfc="none", label="all u, v (Eq. 5)")
    ax[1].set_xlabel("beta Phi_q^av")
    ax[1].set_ylabel("beta Phi_r^av (Eq. 5, HNC)")
    ax[1].legend(fontsize=7)
    ax[1].set_title("Fig. 1(a) inset", fontsize=9)
    xx = np.linspace(phi_r.min(), phi_r.max(), 10)
    ax[2].plot(phi_r, inv_s, "o", label=f"harmonic fit, Delta r <= {DR_FIT:g} (used)")
    ax[2].plot(phi_r, inv_curv, "^", mfc="none", label="curvature at Delta r = 0 (not used)")
    ax[2].plot(xx, c0 + c1 * xx, "k-", lw=0.8, label=f"c0 = {c0:.4g}, c1 = {c1:.4g}")
    ax[2].set_xlabel("beta Phi_r^av (A)")
    ax[2].set_ylabel("1/S^av")
    ax[2].legend(fontsize=7)
    ax[2].set_title("Fig. 1(b): calibration (Eq. 7)", fontsize=9)
    save_png(fig, os.path.join(out, "sharma2022_calibration.png"), figures)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    for p in per:
        c = col[p["T"]]
        ax[0].loglog(p["thr"]["t"], p["thr"]["msd"], "-", color=c, label=f"T = {p['T']:g}")
        ax[0].plot(p["thr"]["t_star"], p["thr"]["p_c"], "o", color=c, ms=4)
        ax[1].semilogx(p["thr"]["t"], p["thr"]["alpha2"], "-", color=c)
        ax[1].axvline(p["thr"]["t_star"], color=c, lw=0.5, ls=":")
        ax[2].semilogx(cs[p["T"]][0], cs[p["T"]][1], "-", color=c, label=f"C_S, T = {p['T']:g}")
        ax[2].semilogx(p["lags_q"], p["Q"], ":", color=c)
    ax[0].axhline(p_c, color="k", lw=0.8, ls="--", label=f"p_c used = {p_c:.3g}")
    ax[0].set_xlabel("t")
    ax[0].set_ylabel("MSD (A); dots: MSD at the alpha_2 peak")
    ax[0].legend(fontsize=6)
    ax[1].set_xlabel("t")
    ax[1].set_ylabel("alpha_2 (A)")
    ax[1].set_title("threshold: MSD at the alpha_2 peak (Sec. III)", fontsize=9)
    ax[2].set_xlabel("t")
    ax[2].set_ylabel("C_S(t) (solid), Q(t) (dotted)")
    ax[2].set_title("Fig. 4(a)", fontsize=9)
    ax[2].legend(fontsize=6)
    save_png(fig, os.path.join(out, "sharma2022_threshold_cs_q.png"), figures)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    for p in per:
        v = p["phi"].ravel()
        h, e = np.histogram(v, bins=80, range=tuple(np.percentile(v, [0.2, 99.8])), density=True)
        ax[0].plot(0.5 * (e[1:] + e[:-1]), h, color=col[p["T"]], label=f"T = {p['T']:g}")
        w = p["S"][np.isfinite(p["S"])]
        x_, h = st.distribution(w, bins=80, range=tuple(np.percentile(w, [0.2, 99.8])))
        ax[1].plot(x_, h, color=col[p["T"]], lw=2 if any(p is q for q in trio) else 0.8, label=f"T = {p['T']:g}")
    ax[0].set_xlabel("beta Phi_r(i) (A particles)")
    ax[0].set_ylabel("P")
    ax[0].legend(fontsize=6)
    ax[0].set_title("Fig. 3(a)", fontsize=9)
    ax[1].set_xlabel("S")
    ax[1].set_ylabel("P(S)")
    ax[1].set_title("Fig. 3(b) (thick: " + ", ".join(f"{p['T']:g}" for p in trio) + ")", fontsize=9)
    ax[1].legend(fontsize=6)
    rng_c = tuple(np.percentile(coldS, [0.2, 99.8]))
    x_, h = st.distribution(coldS, bins=60, range=rng_c)
    ax[2].plot(x_, h, "k-", label="P(S), all A")
    if S_before.size:
        x_, h = st.distribution(S_before, bins=30, range=rng_c)
        ax[2].plot(x_, h, "r-", label=f"P(S|R), {S_before.size} excursions")
    ax[2].axvline(peak, color="k", ls=":", lw=0.8)
    ax[2].set_xlabel("S")
    ax[2].set_title(f"Fig. 5(a), T = {cold['T']:g}: {100 * frac:.0f} % of P(S|R) above the peak", fontsize=9)
    for a in ax[1:]:
        a.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    ax[2].legend(fontsize=7)
    save_png(fig, os.path.join(out, "sharma2022_distributions.png"), figures)
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    for j, p in enumerate(per):
        ax[0].semilogy(centres, PR[j], "o-", color=col[p["T"]], ms=3, label=f"T = {p['T']:g}")
    ax[0].set_xlabel("S")
    ax[0].set_ylabel(f"P_R(S) (p_hop > {p_c:.3g})")
    ax[0].legend(fontsize=6)
    ax[0].set_title("Fig. 5(b)", fontsize=9)
    x_lo = 1 / T0 if np.isfinite(T0) and 0 < T0 < 2 * Ts.max() else 1 / Ts.max()
    inv_T = np.linspace(min(x_lo, 1 / Ts.max(), 1 / T_ONSET) * 0.95, 1 / Ts.min() * 1.03, 50)
    bcol = plt.get_cmap("viridis")
    for k in np.flatnonzero(fitted):
        c = bcol(k / max(N_SBINS - 1, 1))
        ax[1].plot(1 / Ts, np.log(PR[:, k]), "o", color=c, ms=3)
        ax[1].plot(inv_T, fit["sigma"][k] - fit["dE"][k] * inv_T, "-", color=c, lw=0.8, label=f"S = {centres[k]:.3g}")
    if np.isfinite(T0) and T0 > 0:
        ax[1].axvline(1 / T0, color="k", ls="--", lw=0.8, label=f"crossing T = {T0:.3g}")
    ax[1].axvline(1 / T_ONSET, color="r", ls=":", lw=0.8, label=f"paper {T_ONSET:g}")
    ax[1].set_xlabel("1/T")
    ax[1].set_ylabel("ln P_R(S)")
    ax[1].legend(fontsize=5)
    ax[1].set_title("Fig. 5(c)", fontsize=9)
    ax[2].errorbar(centres[okE], fit["dE"][okE], yerr=fit["dE_err"][okE], fmt="o-")
    ax[2].set_xlabel("S")
    ax[2].set_ylabel("Delta E(S)")
    ax[2].set_title("Fig. 5(d)", fontsize=9)
    for a in (ax[0], ax[2]):
        a.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    save_png(fig, os.path.join(out, "sharma2022_rearrangements.png"), figures)
    # ---------------------------------------------------------------- notes
    n0 = per[0]
    notes.append(f"Scale: N = {n0['N']} ({n0['n_A']} A), one sample per T = " + ", ".join(f"{T:g}" for T in Ts) +
                 f"; {n0['n_frames']} frames every {n0['frame_dt']:g} tau (the paper: N = 4000; T = 0.80, 0.53, 0.47 "
                 "in Figs. 3-4, the temperatures of Fig. 5 not listed). p_hop window "
                 f"{n0['window']:g} tau on the {n0['phop_on'] or 'stored'} trajectory (the paper does not say "
                 "inherent or instantaneous). Results are for the A particles, as in the paper.")
    notes.append("Threshold: alpha_2 and the MSD of the A particles (the paper does not say which particles) from all "
                 f"time origins, lags up to the run length less {MIN_ORIGINS} frames, the alpha_2 peak refined by a "
                 "parabola in ln t: MSD at the peak " + ", ".join(f"{v:.3g}" for v in pcs) + " at t* = " +
                 ", ".join(f"{v:.3g}" for v in tst) + f". One threshold for every T, their median p_c = {p_c:.3g}: "
                 "the paper sets 'a threshold value p_c' and an Arrhenius comparison across T needs the same event "
                 "definition at every T; with one 300-tau trajectory per T the alpha_2 maximum (broad, from few "
                 "correlated origins near t*) is noisy from T to T, which a per-T threshold would carry into P_R. "
                 "p_hop is stored as sqrt(<.>_A <.>_B) (length^2); Eq. 2 as printed is its square root and p_c "
                 "there a root-MSD, so the two comparisons are the same." +
                 (f" The alpha_2 maximum is at the edge of the lags for {edge}: its MSD is then a bound."
                  if edge else ""))
    notes.append("Calibration (our choices): global g_uv(r) and S_uv(q) from every "
                 f"{STRUCTURE_EVERY}th frame ({len(np.arange(0, n0['n_frames'], STRUCTURE_EVERY))} configurations "
                 "per T); "
                 "beta Phi_r^av is Eq. 5 restricted to the tagged A particles (the AA and AB terms that the paper's "
                 "local A values contain, so the calibration abscissa and the local values are the same functional); "
                 "the full Sigma_uv of Eq. 5 is in the figure (Pearson r with 1/S^av: "
                 f"{np.corrcoef(phi_all, inv_s)[0, 1]:.4f}). Integration limits: lower = first r with g_uv > 0.01, "
                 "upper = "
                 "first minimum of g_uv (the paper). 1/S^av: the harmonic form beta Phi(0) + Delta r^2/(2 S) fitted "
                 f"(least squares) to Eq. 3 on 0 <= Delta r <= {DR_FIT:g}, about the rms displacement in the cage (the "
                 "paper fits 'near Delta r = 0' over a range it does not give). The curvature at Delta r = 0 itself "
                 "is not converged in q: it weighs C_uv (S_uv - delta_uv) by q^4 and the tail of S(q) - 1 from the "
                 "steep LJ core decays slowly; the fit is damped by exp(-q^2 Delta r^2/6). S(q) on commensurate "
                 f"wavevectors up to q = {Q_MAX:g} (shells of {Q_BIN:g}; of each ±q pair one, at most " +
                 ", ".join(f"{c} per shell up to q = {qu:g}" for qu, c in Q_PER_BIN) + "; the paper's q range is not "
                 "given). 1/S^av (fit) at q cut-offs " + ", ".join(f"{v:g}" for v in n0["glob"]["fit_q"]) + ": " +
                 "; ".join(f"T {p['T']:g}: " + ", ".join(f"{v:.4g}" for v in p["glob"]["fit_q"].values())
                           for p in per) + "; curvature at 0: " +
                 "; ".join(f"T {p['T']:g}: " + ", ".join(f"{v:.4g}" for v in p["glob"]["curv_q"].values())
                           for p in per) + f". With the curvature (q <= {Q_MAX:g}) the calibration line has Pearson "
                 f"r = {np.corrcoef(phi_r, inv_curv)[0, 1]:.4f}.")
    notes.append("beta Phi_r^av (A) = " + ", ".join(f"{v:.4g}" for v in phi_r) + "; mean local beta Phi_r(i) (A) = " +
                 ", ".join(f"{p['phi'].mean():.4g}" for p in per) + " (the local g_i is the true one smoothed by "
                 "delta = 0.09, so its first-shell integral between the fixed limits is smaller than the global one; "
                 "the paper applies the global line to the local values, as we do); beta Phi_q^av = " +
                 ", ".join(f"{v:.4g}" for v in phi_q) + "; 1/S^av = " + ", ".join(f"{v:.4g}" for v in inv_s) +
                 ". Local S ranges over " + f"{np.percentile(pooled, 2):.3g}-{np.percentile(pooled, 98):.3g} "
                 "(2-98 %, all T; the paper's Figs. 4-5 quote S from about 0.001 to 0.0025).")
    notes.append("What the local depth measures: at low T P(beta Phi_r) and P(S) have several peaks, one per number "
                 "n_B of B neighbours of the A particle (within the first minimum of g_AB). One B neighbour adds "
                 "about " + ", ".join(f"{p['nb_slope']:.3g}" for p in per) + " to beta Phi_r (T = " +
                 ", ".join(f"{p['T']:g}" for p in per) + "; Pearson r of beta Phi_r(i) with n_B on one frame: " +
                 ", ".join(f"{p['nb_r']:.2f}" for p in per) + "): C_AB is large (epsilon_AB = 1.5) and g_i^B is "
                 "normalised by the small rho_B, so an A particle's softness is largely its count of B neighbours. "
                 "The mode of P(S) used for Fig. 5(a) is the highest of these peaks.")
    notes.append("P(S) of the A particles over all stored frames, mean +- std per T: " +
                 "; ".join(f"{p['T']:g}: {boot[p['T']]['mean']:.4g} +- {boot[p['T']]['std']:.3g}" for p in per) + ".")
    bad = [p["bad"] for p in per]
    if max(bad) > 0:
        notes.append("Fraction of A particles with c0 + c1 beta Phi_r(i) <= 0 (no finite positive S; left out): " +
                     ", ".join(f"{v:.2g}" for v in bad) + ".")
    notes.append(("Local softness on every stored frame" if STRIDE == 1 else
                  f"Local softness on every {STRIDE}th stored frame") + f" ({n0['cost']:.3g} s per frame of "
                 f"N = {n0['N']}); "
                 f"the whole analysis took {elapsed:.0f} s. Check against the deck's caging stage (frame 0, "
                 "single-frame reference): max |difference| of beta Phi_r(i) = " +
                 ", ".join(f"{p['check']:.2g}" for p in per) + ".")
    notes.append(f"P(S|R): S of the frame just before p_hop first exceeds p_c in an excursion ({n0['frame_dt']:g} tau "
                 "before; an excursion already above p_c at the first defined frame is left out), A particles; "
                 f"'the peak of the distribution' = the mode of P(S) of all A particles at T = {cold['T']:g} (80-bin "
                 f"histogram smoothed over 2 bins) = {peak:.4g}. With the per-T threshold "
                 f"({cold['thr']['p_c']:.3g}) the "
                 f"fraction is {frac_t:.3f} ({n_ev_t} excursions). Tolerance 60-90 %: the paper reads 'about 75 %' off "
                 "a figure without error bar (and likens it to the 77 % of the ML study); the fraction depends on "
                 "the skew of P(S) (its mode is not invariant under the non-linear map from Phi_r to S) and on what "
                 "'just before' means, neither fixed by the paper; without a link between S and rearranging it is "
                 "the all-particle fraction, hence the second condition.")
    notes.append(f"P_R(S): the fraction of the (frame, A particle) pairs of an S bin with p_hop > p_c on that frame "
                 f"(frames where p_hop is defined); {N_SBINS} equal bins between the 2nd and 98th percentiles of S "
                 f"pooled over T; a bin enters a T's fit with >= {MIN_EVENTS} rearranging pairs and the fit needs >= 3 "
                 "temperatures. Per bin ln P_R is fitted against 1/T with every T weighted alike (the pairs are far "
                 "from independent: an excursion spans many frames and neighbours rearrange together, so binomial "
                 "weights would overstate the precision and let the hottest T dominate). The crossing T0: Sigma(S) = "
                 "c + Delta E(S)/T0 over the bins, the least-squares common intersection, which is also the T where "
                 "the variance of the fitted ln P_R across bins is smallest. Pairs above p_c / all per T: " +
                 "; ".join(f"{p['T']:g}: {int(nr_tot[j].sum())}/{int(n_tot[j].sum())}" for j, p in enumerate(per)) +
                 ". Sensitivity of T0: " + "; ".join(f"{k}: {v:.3g}" for k, v in alt.items()) + ".")
    hot = nr_tot[0].sum() / max(n_tot[0].sum(), 1)
    if hot > 0.3:
        notes.append(f"At T = {Ts[0]:g}, {100 * hot:.0f} % of the (frame, A particle) pairs are above p_c: in a 15-tau "
                     "window most particles leave their cage, so P_R is close to saturation there and nearly flat in "
                     "S, which pulls the fitted lines together near that temperature; the crossing without it is "
                     "listed above.")
    notes.append(f"Spreads: one sample per T, so a bootstrap over {N_BLOCKS} contiguous time blocks per T "
                 f"({N_BOOT} resamples, calibration and bins held fixed); blocks of "
                 f"{n0['n_frames'] * n0['frame_dt'] / N_BLOCKS:.0f} tau are shorter than tau_alpha at the lowest T "
                 "(paper: 700 tau at 0.47), so the spreads are lower bounds.")
    if np.isfinite(T0) and not 0.65 <= T0 <= 0.95:
        notes.append(f"Miss: the crossing T0 = {T0:.3g} is outside 0.65-0.95. The common crossing of nearly parallel "
                     "lines is ill-conditioned (the bootstrap range above), our temperatures span only "
                     f"{Ts.min():g}-{Ts.max():g} with one 300-tau trajectory each, and the S bins differ from the "
                     "paper's five values.")
    if not holds4 and np.isfinite(frac):
        notes.append(f"Miss: {100 * frac:.0f} % of the rearranging particles are above the peak of P(S) (all "
                     f"particles: {100 * base:.0f} %).")
    return quantities, figures, notes
