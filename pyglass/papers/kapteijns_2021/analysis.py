"""Paper 2: Kapteijns, Richard, Bouchbinder, Schroder, Dyre & Lerner, J. Chem. Phys. 155, 074502 (2021)
— the mesoscopic dipole stiffness kappa(T_p), G(T_p), the mesoelastic fit and landscape granularity
across four models (IPL, mBLJ, SS, SW), local kappa against mobility in the SS model (Figs. 6-7), and
the 2D IPL liquid of Fig. 2 / App. B. Scored under the reproduction standard: every row of
`criteria.toml` (fixed before the run) is measured here as a `Measurement` and returned through
`Criteria.score`; a row the run cannot measure is left out and reported as "not measured" with the
reason in NOT_MEASURED.

Parts (PARTS): one deck per model ("ipl", "mblj", "ss", "sw": the liquid along a ladder of temperatures,
glasses quenched from each, G and kappa_ij of random interacting pairs, F_s and MSD of the largest species,
an inherent-structure trajectory at one viscous state); "ss-densities" (the SS model at matched viscosity at
rho = 0.6, 0.7 and 0.95: the IS trajectories of Fig. 5 c-d, and inherent structures with the local kappa_i
and the iso-configurational mobility of Figs. 6-7); "ipl-2d" (the 2D IPL liquid at T = 0.48: local kappa,
neighbour-relative propensity and pseudoharmonic modes of Fig. 2 / App. B); "ss-ladders" (the SS model's
temperature ladders with glasses at rho = 0.7 and 0.95: Eq. 3 of Fig. 6a). The four model decks write
production frames at their viscous state (1.5 tau_alpha apart): the first-shell attractive fraction of
Fig. 12.

The estimators follow the criteria header: tau_alpha from F_s = 0.2 with its se from the origin blocks;
kappa(T_p) and G(T_p) means over glasses; relative changes from a line in 1/T_p weighted by the inverse
variances, se by a bootstrap over glasses; Eq. 3 fitted over tau_alpha/t0 >= 10 with a bootstrap over
glasses and ln tau_alpha; IS rates with their spread over segments.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import linregress, rankdata, spearmanr

from pyglass.analysis.ensembles.inherent_structures import count_new_minima, transition_rate_spread
from pyglass.analysis.landscape.dipoles import mesoelastic_fit
from pyglass.analysis.statistics import mean_and_se, relative_change
from pyglass.workflow.run import results
from pyglass.workflow.reproduce.criteria import difference as _difference, measured as _m, sample_mean as _mean

NAME = "kapteijns-2021"
TITLE = ("Kapteijns et al., J. Chem. Phys. 155, 074502 (2021): mesoscopic elasticity, dipole stiffness and "
         "landscape granularity (paper 2)")
_REDUCED = {"system.n": 1000, "study.samples": 12, "stage.kappa.n_pairs": 300}
# full scale: Table I sizes (the decks' N) and Table II's ensembles per T_p (glasses; kappa_ij per glass =
# Table II's count / glasses: the decks' n_pairs); 240 inherent structures per SS density [paper, Sec. III C]
# mBLJ and SS take 24 glasses per T_p at the reduced scale: their kappa(T_p) changes by a few per cent, below the
# glass-to-glass noise of 12 glasses of 1000 particles. The 2D part starts its pseudoharmonic minimisations from
# 300 random interacting pairs per inherent structure at the reduced scale (the paper: every pair, the deck's
# default), blind to kappa_ij so that where the modes sit says something about kappa. The 2D liquid's T = 0.48 is
# deep (tau_alpha/t0 ~ 900 in our pilot), so its reduced scale takes N = 500 and two inherent structures.
PARTS = [
    ("ipl", "kapteijns_2021_ipl.toml", _REDUCED, {"study.samples": 10000}),
    ("mblj", "kapteijns_2021_mblj.toml", {**_REDUCED, "study.samples": 24}, {"study.samples": 128}),
    ("ss", "kapteijns_2021_ss.toml", {**_REDUCED, "study.samples": 24}, {"study.samples": 238}),
    ("sw", "kapteijns_2021_sw.toml", _REDUCED, {"study.samples": 200}),
    ("ss-densities", "kapteijns_2021_ss_densities.toml", {"system.n": 1000, "study.samples": 6},
     {"study.samples": 240}),
    ("ipl-2d", "kapteijns_2021_ipl_2d.toml",
     {"system.n": 500, "study.samples": 2, "stage.modes.n_starts": 300, "stage.modes.starts": "random"},
     {"study.samples": 10}),
    # Table II's SS glasses: 49 at rho = 0.7 and 93 at 0.95 (one study.samples per deck: the larger)
    ("ss-ladders", "kapteijns_2021_ss_ladders.toml", _REDUCED, {"study.samples": 93}),
]
MODELS = ("ipl", "mblj", "ss", "sw")
LABEL = {"ipl": "IPL", "mblj": "mBLJ", "ss": "SS", "sw": "SW", "ss07": "SS rho = 0.7", "ss095": "SS rho = 0.95"}
LADDERS = {"ss07": 0.7, "ss095": 0.95}   # part ss-ladders: the SS ladders of Fig. 6(a2, a3) by density
FIT = {"ipl": (0.1, 0.4), "mblj": (0.02, 0.4)}      # (t~, l~) of Eq. 3 [paper, Sec. III A], for the figure
FIT_MIN = 10.0         # Eq. 3 over tau_alpha/t0 >= 10: "valid from the very start of the activated regime - around t/t0 ≈ 10"
REPLICATES = 2000      # bootstrap replicates [criteria header]
BALLISTIC_DROP = 0.5   # the ballistic regime ends where MSD falls to this fraction of 3 a0^2 (t/t0)^2 [criteria]
D_FROM = 0.5           # D from the MSD over lags >= D_FROM tau_alpha (the blocks reach ~2.5 tau_alpha) [criteria]
D_MIN_LAGS = 2
MOBILITY_AT = 10.0     # mobility at tau_alpha/10 [paper, Sec. III C]
PROPENSITY_AT = 6.0    # propensity at tau_alpha/6 [paper, Fig. 2]
EXTREMES = 5           # the 5 most mobile and 5 least mobile local extremes per configuration [paper, Sec. III C]
R_CUT_BB = 1.4 * 1.2 * 2 ** (1 / 6)   # r_cut^BB of the SS model: lambda_BB x_c [paper, Sec. III C, footnote 85]
MODES = 12             # "the twelve excitations with the smallest stiffness" [paper, App. B]
SEED = 20210818        # bootstrap seed (fixed so that a report is reproducible)


# ---------------------------------------------------------------------------------------------- reading
def _stage(data, name):
    return next(s for s in data["stage"] if s["name"] == name)


def _has_stage(data, name):
    return any(s["name"] == name for s in data["stage"])


def _states(deck):
    """[(label, T, density, N, dim)] of a deck's state points."""
    return [(label, float(_stage(d, "production")["integrator"]["T"]), float(d["system"]["density"]),
             int(d["system"]["n"]), int(d["system"].get("dim", 3))) for label, d in deck.states]


def _draw(index, label):
    """Liquid results of one state point: F_s, MSD, the IS trajectory (in the draw trajectory's file,
    or in sample 0's where the deck draws no samples)."""
    study = results.open(index)
    try:
        run = study.draw(label)
        run.status
    except (FileNotFoundError, OSError):
        run = study.unit(label, 0).run
    out = {"run": run}
    production = run.stage("production") if run.has_stage("production") else {}
    if "self-dynamics" in production:
        g = production["self-dynamics"]
        out.update(t=g["t"], fs=g["fs"], msd=g["msd"])
        if "fs_first_block" in g:
            out.update(fs_first=g["fs_first_block"], fs_later=g["fs_later_blocks"])
        if "fs_origin_sd" in g:
            out.update(fs_sd=g["fs_origin_sd"], origins=g["origins"])
    g = run.stage("is-trajectory") if run.has_stage("is-trajectory") else {}
    if "energies" in g:
        out.update(is_t=g["times"], is_u=g["energies"], n_tr=int(g["n_transitions"]), rate=float(g["rate"]),
                   reduced_rate=float(g["reduced_rate"]))
        out["is_seg"] = g["segment"] if "segment" in g else np.zeros(len(out["is_t"]), int)
        out["is_tr"] = g["transitions"].astype(bool)   # per quench interval (ISTrajectory)
    return out


def _block_mean(x, n_blocks=5):
    """(mean, standard error from n_blocks block means) of a correlated series."""
    m = np.array([b.mean() for b in np.array_split(np.asarray(x, float), n_blocks)])
    return float(m.mean()), float(m.std(ddof=1) / np.sqrt(n_blocks))


def _stationarity(run, deck):
    """Equilibration check from the thermo series: the potential energy per particle of the production
    run minus that of the second half of the equilibration, in standard errors (block means)."""
    names = [st["name"] for st in deck.data["stage"]]
    th = run.thermo()
    stage, u = th["stage"], th["potential_energy"]
    eq, pr = u[stage == names.index("equilibrate")], u[stage == names.index("production")]
    eq = eq[len(eq) // 2:]
    if len(eq) < 10 or len(pr) < 10:
        return np.nan
    (m1, e1), (m2, e2) = _block_mean(eq), _block_mean(pr)
    return float((m2 - m1) / np.hypot(e1, e2))


def _glasses(index):
    """{state label: (G per glass, mean kappa_ij per glass)} of the finished units (read while a study
    still runs too); {} for a deck without G."""
    G, K = {}, {}
    for u in results.open(index).units(status="complete"):
        run = u.run
        if not run.has_stage("G"):
            return {}
        G.setdefault(u.state, []).append(float(run.stage("G")["G"]))
        K.setdefault(u.state, []).append(float(np.mean(run.stage("kappa")["kappa"])))
    return {lab: (np.array(G[lab]), np.array(K[lab])) for lab in G}


def _model(index, deck):
    """Every per-temperature number of one part: a list of dicts, one per state point."""
    from pyglass.analysis.observables.dynamics import (ballistic_end, diffusion_coefficient, first_block_drift,
                                                       log_relaxation_time_sd, relaxation_time)
    sp = int(_stage(deck.data, "production")["observable"][0].get("species", 0))
    glasses = _glasses(index)
    rows = []
    for label, T, rho, n, dim in _states(deck):
        a0 = rho ** (-1.0 / dim)
        t0 = a0 / np.sqrt(T)
        row = {"label": label, "T": T, "rho": rho, "N": n, "dim": dim, "a0": a0, "t0": t0}
        d = dict(deck.states)[label]
        row["md_dt"] = float(_stage(d, "production")["integrator"]["dt"])
        if _has_stage(d, "is-trajectory"):
            isp = _stage(d, "is-trajectory")
            row.update(is_every=int(isp["every"]), is_dt=float(isp["integrator"]["dt"]), is_eps=float(isp["epsilon"]))
        try:
            row.update(_draw(index, label))
        except (OSError, KeyError):
            rows.append(row)
            continue
        if "fs" in row:
            t, fs = row["t"], row["fs"]
            row["tau"] = float(relaxation_time(t, fs, 0.2))
            if "fs_sd" in row and np.isfinite(row["tau"]):
                # one origin block's sd of ln tau_alpha over sqrt(blocks) [criteria header]
                blocks = float(np.interp(np.log(row["tau"]), np.log(t[1:]), row["origins"][1:]))
                row["ln_tau_se"] = log_relaxation_time_sd(t, fs, row["fs_sd"], 0.2) / np.sqrt(max(blocks, 1.0))
                drift = first_block_drift(t, fs, row["fs_first"], row["fs_later"], row["fs_sd"], row["origins"], 0.2,
                                          tau=row["tau"])
                if drift:
                    row.update(tau_z=drift["z"], tau_dof=drift["dof"])
            try:
                row["z_U"] = _stationarity(row["run"], deck)
            except (KeyError, ValueError):
                row["z_U"] = np.nan
            msd = row["msd"][:, sp]
            row["msd_sp"] = msd
            row["t_ball"] = ballistic_end(t, msd, T, dim=dim, drop=BALLISTIC_DROP) / t0
            if np.isfinite(row["tau"]) and np.sum(t >= D_FROM * row["tau"]) >= D_MIN_LAGS:
                row["D"] = diffusion_coefficient(t, msd, dim, t_min=D_FROM * row["tau"])
        if label in glasses:
            row["G_glass"], row["kappa_glass"] = glasses[label]
        rows.append(row)
    return rows


@dataclass
class Configuration:
    """One inherent structure of parts ss-densities and ipl-2d: its particles and per-particle fields."""
    state: str
    sample: int
    positions: np.ndarray
    lengths: np.ndarray
    types: np.ndarray
    kappa_local: np.ndarray
    times: np.ndarray
    motion: np.ndarray                 # (n_times, N): mobility <|dr|> or the neighbour-relative propensity
    mode_centres: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _configurations(index, motion_stage, motion_key):
    """The inherent structures of a study whose units end with kappa (local) and an iso-configurational
    stage: {state label: [Configuration]}."""
    out = {}
    for u in results.open(index).units(status="complete"):
        run = u.run
        if not (run.has_stage("kappa") and run.has_stage(motion_stage)):
            continue
        kappa, motion = run.stage("kappa"), run.stage(motion_stage)
        if "kappa_local" not in kappa or motion_key not in motion:
            continue
        system = run.final_system()
        centres = run.stage("modes")["centres"] if run.has_stage("modes") else np.zeros(0, np.int64)
        out.setdefault(u.state, []).append(Configuration(
            u.state, u.sample, np.asarray(system.positions, float), np.asarray(system.box.lengths, float)[:system.dim],
            np.asarray(system.types), np.asarray(kappa["kappa_local"], float), np.asarray(motion["times"], float),
            np.asarray(motion[motion_key], float), np.asarray(centres, np.int64)))
    return out


def _pair_slope(potential):
    """phi_ab'(r) of a model's pair law as f(type_a, type_b, r); for SW its two-body term [criteria:
    attractive-*]."""
    if hasattr(potential, "pair_derivatives"):
        return lambda ta, tb, r: potential.pair_derivatives(ta, tb, r, order=1)[1]
    return lambda ta, tb, r: potential.two_body(r, order=1)[1]


def attractive_fractions(frames, slope):
    """Fig. 12 [criteria: attractive-*]: per configuration, the fraction of first-shell pairs (closer than the
    first minimum of their partial g(r) over all the frames) at separations where phi_ab'(r) > 0 (an attractive
    force), every species pair pooled; and the first-shell cutoffs (n_types, n_types)."""
    from pyglass.analysis.observables.structure import neighbour_cutoffs, pair_vectors
    box, types = frames[0].box, np.asarray(frames[0].types)
    cut = neighbour_cutoffs(np.stack([np.asarray(f.positions, float) for f in frames]), box, types)
    out = []
    for f in frames:
        i, j, dr = pair_vectors(f.positions, f.box, float(cut.max()), types)
        r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
        ti, tj = types[i], types[j]
        shell = (r < cut[ti, tj]) & (r > 0)
        if shell.any():
            out.append(float(np.mean(slope(ti[shell], tj[shell], r[shell]) > 0)))
    return np.array(out), cut


def _attraction(row, deck):
    """(fractions per frame, cutoffs, frame spacing in MD steps) of a part's viscous state, or None where its
    draw run stored fewer than two frames."""
    run = row.get("run")
    if run is None or run.n_frames < 2:
        return None
    state = dict(deck.states)[row["label"]]
    f, cut = attractive_fractions(list(run.frames()), _pair_slope(deck.with_data(state).build_potential()))
    return f, cut, int(state["output"]["trajectory"])


# ---------------------------------------------------------------------------------------------- statistics
def _glass_means(row, pick=None):
    """(mean G, se, mean kappa, se) over the glasses of a state (a resample `pick` of their indices)."""
    G, K = row["G_glass"], row["kappa_glass"]
    if pick is not None:
        G, K = G[pick], K[pick]
    n = len(G)
    sd = (lambda x: x.std(ddof=1) / np.sqrt(n)) if n > 1 else (lambda x: np.nan)
    return G.mean(), sd(G), K.mean(), sd(K)


def _changes(rows, picks=None):
    """(relative change of kappa, of G) over a ladder: lines in 1/T_p weighted by the inverse variances of the
    means (statistics.relative_change) [criteria header]."""
    x, g, gs, k, ks = [], [], [], [], []
    for i, r in enumerate(rows):
        G, sG, K, sK = _glass_means(r, None if picks is None else picks[i])
        x.append(1.0 / r["T"])
        g.append(G)
        gs.append(sG)
        k.append(K)
        ks.append(sK)
    return relative_change(x, k, ks)[0], relative_change(x, g, gs)[0]


def _ladder(rows):
    """The states of a ladder with glasses (at least two each)."""
    return [r for r in rows if len(r.get("G_glass", ())) >= 2]


def kappa_vs_g(rows, rng):
    """{"kappa", "G", "difference" (percentage points), "ratio"}: central values and bootstrap sds over glasses
    (each T_p's glasses resampled with replacement, a glass's G and kappa together; REPLICATES) [criteria]."""
    have = _ladder(rows)
    if len(have) < 2:
        return None
    rk, rg = _changes(have)
    boot = []
    for _ in range(REPLICATES):
        picks = [rng.integers(0, len(r["G_glass"]), len(r["G_glass"])) for r in have]
        boot.append(_changes(have, picks))
    boot = np.array(boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = boot[:, 0] / boot[:, 1]
    return {"kappa": rk, "G": rg, "kappa_se": float(np.std(boot[:, 0], ddof=1)), "G_se": float(np.std(boot[:, 1], ddof=1)),
            "difference": 100 * (rk - rg), "difference_se": 100 * float(np.std(boot[:, 0] - boot[:, 1], ddof=1)),
            "ratio": rk / rg if rg != 0 else np.nan, "ratio_se": float(np.nanstd(ratio[np.isfinite(ratio)], ddof=1)),
            "T_high": max(r["T"] for r in have), "T_low": min(r["T"] for r in have), "states": len(have),
            "glasses": sorted({len(r["G_glass"]) for r in have})}


def eq3_fit(rows, rng):
    """Eq. 3 over the states with glasses and tau_alpha/t0 >= FIT_MIN (landscape.mesoelastic_fit), with
    log10 t~ and l~ bootstrapped over glasses and ln tau_alpha (normal of its se) [criteria header]."""
    pts = [r for r in _ladder(rows) if np.isfinite(r.get("tau", np.nan))]
    col = {k: np.array([r[k] for r in pts], float) for k in ("T", "a0", "t0", "tau")}
    kappa = np.array([r["kappa_glass"].mean() for r in pts])
    fit = mesoelastic_fit(col["T"], col["a0"], kappa, col["tau"], col["t0"], min_tau=FIT_MIN)
    fit["all_x"] = col["a0"] ** 2 * kappa / col["T"] if pts else np.zeros(0)
    fit["all_y"] = np.log(col["tau"] / col["t0"]) if pts else np.zeros(0)
    if fit["n"] < 3:
        return fit
    use = [r for r in pts if r["tau"] / r["t0"] >= FIT_MIN]
    ln_se = np.array([r.get("ln_tau_se", np.nan) for r in use])
    ln_se = np.where(np.isfinite(ln_se), ln_se, 0.0)
    fit["tau_se_missing"] = int(np.sum([not np.isfinite(r.get("ln_tau_se", np.nan)) for r in use]))
    log_t, ell = [], []
    for _ in range(REPLICATES):
        k = np.array([r["kappa_glass"][rng.integers(0, len(r["kappa_glass"]), len(r["kappa_glass"]))].mean()
                      for r in use])
        x = np.array([r["a0"] ** 2 for r in use]) * k / np.array([r["T"] for r in use])
        y = np.array([np.log(r["tau"] / r["t0"]) for r in use]) + rng.normal(0.0, ln_se)
        b = linregress(x, y)
        log_t.append(b.intercept / np.log(10))
        ell.append(np.sqrt(b.slope) if b.slope > 0 else np.nan)
    fit["log10_t"] = fit["intercept"] / np.log(10)
    fit["log10_t_se"] = float(np.std(log_t, ddof=1))
    ell = np.array(ell)
    fit["l_se"] = float(np.nanstd(ell, ddof=1)) if np.sum(np.isfinite(ell)) > 1 else np.nan
    fit["l_nonpositive"] = int(np.sum(~np.isfinite(ell)))
    return fit


def _log10_ratio(a, sa, b, sb):
    """log10(a/b) and its se by the delta method (independent a, b)."""
    if not (a > 0 and b > 0):
        return None
    return float(np.log10(a / b)), float(np.hypot(sa / a, sb / b) / np.log(10))


def _rate(r):
    """(reduced rate, its spread over segments, fraction of quench intervals with a transition), or None."""
    if r is None or "reduced_rate" not in r:
        return None
    return (r["reduced_rate"], *transition_rate_spread(r["reduced_rate"], r["is_tr"], r["is_seg"]))


def _viscous(rows):
    """The state of a ladder that holds the long IS trajectory (Fig. 5's viscous state)."""
    return max((r for r in rows if "reduced_rate" in r), key=lambda r: (len(r["is_t"]), -r["T"]), default=None)


def _nearest_time(times, target):
    """Index of the recorded time nearest `target` in ln t."""
    return int(np.argmin(np.abs(np.log(np.asarray(times, float) / target))))


def _species_ranks(values, types):
    """Rank of each particle's value within its species, scaled to [0, 1]: (rank - 1)/(N_s - 1)."""
    out = np.full(len(values), np.nan)
    for s in np.unique(types):
        sel = types == s
        if sel.sum() > 1:
            out[sel] = (rankdata(values[sel]) - 1) / (sel.sum() - 1)
    return out


def _local_extremes(c: Configuration, mobility, species):
    """(immobile, mobile): of the particles of `species`, those that are the least (most) mobile of their
    species within R_CUT_BB of themselves; the EXTREMES least mobile local minima and most mobile local
    maxima [criteria: rank-gap-ss095]."""
    from scipy.spatial import cKDTree
    idx = np.flatnonzero(c.types == species)
    pos = np.mod(c.positions[idx], c.lengths)
    tree = cKDTree(pos, boxsize=c.lengths)
    near = tree.query_ball_point(pos, R_CUT_BB)
    m = mobility[idx]
    is_max = np.array([m[k] >= m[nb].max() for k, nb in enumerate(near)])
    is_min = np.array([m[k] <= m[nb].min() for k, nb in enumerate(near)])
    maxima, minima = idx[is_max], idx[is_min]
    mobile = maxima[np.argsort(-mobility[maxima], kind="stable")[:EXTREMES]]
    immobile = minima[np.argsort(mobility[minima], kind="stable")[:EXTREMES]]
    return immobile, mobile


def _spearman_by_species(kappa_local, motion, types):
    """Spearman correlation of 1/kappa_i with the motion, per species, averaged over species."""
    cs = []
    for s in np.unique(types):
        sel = (types == s) & np.isfinite(kappa_local) & (kappa_local != 0)
        if sel.sum() > 2:
            cs.append(spearmanr(1.0 / kappa_local[sel], motion[sel]).statistic)
    return float(np.mean(cs)) if cs else np.nan


def mobility_scores(configs, tau):
    """Per inherent structure of one SS density: rank gap, immobile and mobile ranks, C_s; and the time used."""
    out = {"gap": [], "immobile": [], "mobile": [], "cs": [], "t_over_tau": np.nan}
    big = None
    for c in configs:
        if not np.isfinite(tau):
            break
        k = _nearest_time(c.times, tau / MOBILITY_AT)
        out["t_over_tau"] = c.times[k] / tau
        mob = c.motion[k]
        big = int(c.types.max()) if big is None else big      # the large species (lambda_BB = 1.4): the last type
        ranks = _species_ranks(c.kappa_local, c.types)
        immobile, mobile = _local_extremes(c, mob, big)
        if len(immobile) and len(mobile):
            out["immobile"].append(np.nanmean(ranks[immobile]))
            out["mobile"].append(np.nanmean(ranks[mobile]))
            out["gap"].append(out["immobile"][-1] - out["mobile"][-1])
        out["cs"].append(_spearman_by_species(c.kappa_local, mob, c.types))
    return out


def fig2_scores(configs, tau):
    """Per inherent structure of the 2D IPL: C_s of 1/kappa_i with the neighbour-relative propensity, and the
    mean local-kappa rank of the softest pseudoharmonic modes' cores."""
    out = {"cs": [], "qlm": [], "t_over_tau": np.nan, "modes": []}
    for c in configs:
        if not np.isfinite(tau):
            break
        k = _nearest_time(c.times, tau / PROPENSITY_AT)
        out["t_over_tau"] = c.times[k] / tau
        out["cs"].append(_spearman_by_species(c.kappa_local, c.motion[k], c.types))
        if len(c.mode_centres):
            ranks = _species_ranks(c.kappa_local, c.types)
            out["qlm"].append(np.nanmean(ranks[c.mode_centres[:MODES]]))
            out["modes"].append(min(len(c.mode_centres), MODES))
    return out


def _equilibration(rows, label):
    """(eq-fs, eq-u) Measurements of a part's states [criteria: eq-fs-ipl, eq-u-ipl]."""
    from scipy.stats import t as student
    drift = [r for r in rows if np.isfinite(r.get("tau_z", np.nan))]
    untested = [r["label"] for r in rows if np.isfinite(r.get("tau", np.nan)) and r not in drift]
    fs = None
    if drift:
        p = np.array([2 * student.sf(abs(r["tau_z"]), r["tau_dof"]) for r in drift])
        worst = drift[int(np.argmin(p))]
        fs = _m(min(1.0, p.min() * len(drift)), 0.0,
                f"{label}: {len(drift)} states; smallest p {p.min():.3g} at {worst['label']} (z = {worst['tau_z']:+.2f}, "
                f"{worst['tau_dof']} dof), Bonferroni x {len(drift)}"
                + (f"; untested (fewer than 3 origins or tau_alpha before the first lag): {', '.join(untested)}"
                   if untested else ""))
    z = np.array([r.get("z_U", np.nan) for r in rows], float)
    u = None
    if np.any(np.isfinite(z)):
        k = int(np.nanargmax(np.abs(z)))
        u = _m(float(np.abs(z[k])), 0.0, f"{label}: {int(np.sum(np.isfinite(z)))} states; largest at {rows[k]['label']}")
    return fs, u


# ---------------------------------------------------------------------------------------------- rows
def _read(indexes, decks):
    """Every part that is present: {tag: rows}, and the configurations of ss-densities and ipl-2d."""
    parts = {tag: _model(indexes[tag], decks[tag]) for tag in indexes}
    configs = {}
    if "ss-densities" in indexes:
        configs["ss-densities"] = _configurations(indexes["ss-densities"], "mobility", "propensity_abs")
    if "ipl-2d" in indexes:
        configs["ipl-2d"] = _configurations(indexes["ipl-2d"], "propensity", "propensity_relative")
    return parts, configs


def rows_models(parts, rng, decks=None):
    """kappa-vs-g, Eq. 3, Stokes-Einstein, ballistic, equilibration, IS and Fig. 12 rows of the four model
    parts."""
    from pyglass.analysis.observables.dynamics import stokes_einstein_exponent
    out, extra = {}, {"changes": {}, "fits": {}, "rates": {}, "attraction": {}}
    for m in MODELS:
        rows = parts.get(m)
        if rows is None:
            continue
        ch = extra["changes"][m] = kappa_vs_g(rows, rng)
        if ch is not None:
            out[f"kappa-vs-g-{m}"] = _m(ch["difference"], ch["difference_se"],
                                        f"kappa {100 * ch['kappa']:.1f} % +- {100 * ch['kappa_se']:.1f}, G "
                                        f"{100 * ch['G']:.1f} % +- {100 * ch['G_se']:.1f}, T_p {ch['T_high']:g} -> "
                                        f"{ch['T_low']:g}, {ch['states']} T_p, {'/'.join(map(str, ch['glasses']))} "
                                        "glasses each")
            if m == "ipl" and np.isfinite(ch["ratio"]):
                out["kappa-g-ratio-ipl"] = _m(ch["ratio"], ch["ratio_se"],
                                              f"kappa {100 * ch['kappa']:.1f} % / G {100 * ch['G']:.1f} % (the paper: "
                                              "~100 % / 26 % over its wider T_p range)")
        fit = extra["fits"][m] = eq3_fit(rows, rng)
        if "log10_t_se" in fit:
            note = (f"{fit['n']} states with tau_alpha/t0 >= {FIT_MIN:g}; slope {fit['slope']:.3g}, R^2 {fit['r2']:.3f}, "
                    f"max |residual| {fit['max_res']:.2g} in ln tau" +
                    (f"; {fit['tau_se_missing']} states without a tau_alpha se" if fit["tau_se_missing"] else ""))
            out[f"eq3-valid-{m}"] = _m(fit["log10_t"], fit["log10_t_se"], note)
            if m in FIT:
                out[f"eq3-ttilde-{m}"] = _m(fit["log10_t"], fit["log10_t_se"], note)
                if np.isfinite(fit.get("l", np.nan)):
                    out[f"eq3-ltilde-{m}"] = _m(fit["l"], fit["l_se"], note + (
                        f"; {fit['l_nonpositive']} of {REPLICATES} replicates with a non-positive slope"
                        if fit["l_nonpositive"] else ""))
        pts = [r for r in rows if "D" in r and np.isfinite(r.get("tau", np.nan)) and r["tau"] / r["t0"] >= FIT_MIN]
        if len(pts) >= 3:
            d_red = [r["D"] * r["t0"] / r["a0"] ** 2 for r in pts]
            tau_red = [r["tau"] / r["t0"] for r in pts]
            xi, _ = stokes_einstein_exponent(d_red, tau_red)
            out[f"se-xi-{m}"] = _m(xi, linregress(np.log(tau_red), np.log(d_red)).stderr,
                                   f"{len(pts)} states, tau_alpha/t0 {min(tau_red):.3g}-{max(tau_red):.3g}")
        tb = [np.log10(r["t_ball"]) for r in rows if r.get("t_ball", np.nan) > 0]
        out[f"ballistic-{m}"] = _mean(tb, "temperatures")
        out[f"eq-fs-{m}"], out[f"eq-u-{m}"] = _equilibration(rows, LABEL[m])
        v = _viscous(rows)
        extra["rates"][m] = (_rate(v), v)
        if _rate(v) is not None:
            out[f"is-resolution-{m}"] = _m(_rate(v)[2], 0.0, f"T = {v['T']:g}, {len(v['is_t'])} quenches")
        try:
            att = _attraction(v, decks[m]) if v is not None and decks and m in decks else None
        except ValueError as err:      # no first minimum of g(r) in the frames (neighbour_cutoffs)
            att, extra.setdefault("why", {})[f"attractive-{m}"] = None, f"the first shell is undefined: {err}"
        if att is not None:
            f, cut, every = att
            extra["attraction"][m] = (f, cut, v)
            apart = (f"{every * v['md_dt'] / v['tau']:.3g} tau_alpha apart" if np.isfinite(v.get("tau", np.nan))
                     else f"{every} MD steps apart (tau_alpha not measured)")
            out[f"attractive-{m}"] = _mean(f, f"T = {v['T']:g}, configurations {apart}; first-shell cutoffs "
                                              + "/".join(f"{c:.3g}" for c in cut[np.triu_indices(len(cut))]))
    rates = {m: extra["rates"].get(m, (None, None))[0] for m in MODELS}
    if all(rates[m] is not None for m in MODELS):
        fast = min(("ss", "sw"), key=lambda m: rates[m][0])
        slow = max(("ipl", "mblj"), key=lambda m: rates[m][0])
        lr = _log10_ratio(rates[fast][0], rates[fast][1], rates[slow][0], rates[slow][1])
        if lr:
            out["gamma-granular-vs-simple"] = _m(*lr, f"{LABEL[fast]} {rates[fast][0]:.3g} / {LABEL[slow]} "
                                                 f"{rates[slow][0]:.3g}")
    if rates.get("mblj") is not None and rates.get("ipl") is not None:
        lr = _log10_ratio(rates["mblj"][0], rates["mblj"][1], rates["ipl"][0], rates["ipl"][1])
        if lr:
            out["gamma-mblj-vs-ipl"] = _m(*lr, f"mBLJ {rates['mblj'][0]:.3g} +- {rates['mblj'][1]:.2g} / IPL "
                                          f"{rates['ipl'][0]:.3g} +- {rates['ipl'][1]:.2g}")
    if rates.get("mblj") is not None and rates["mblj"][0] > 0:
        r = rates["mblj"]
        out["gamma-mblj"] = _m(np.log10(r[0]), r[1] / r[0] / np.log(10), f"{r[0]:.3g} +- {r[1]:.2g}")
    visc = [extra["rates"].get(m, (None, None))[1] for m in MODELS]
    taus = [v["tau"] / v["t0"] for v in visc if v is not None and np.isfinite(v.get("tau", np.nan))]
    if len(taus) == len(MODELS):
        out["is-states-matched"] = _m(max(taus) / min(taus), 0.0, ", ".join(
            f"{LABEL[m]} {v['tau'] / v['t0']:.3g} (T = {v['T']:g})" for m, v in zip(MODELS, visc)))
    return out, extra


def rows_ladders(rows, rng, fits):
    """Rows of part ss-ladders: Eq. 3 at rho = 0.7 and 0.95 (Fig. 6 a2, a3) with the model parts' estimator
    (eq3_fit), and the part's equilibration checks. `fits` (extra["fits"]) gains "ss07" and "ss095"."""
    out = {}
    for key, rho in LADDERS.items():
        ladder = [r for r in rows if abs(r["rho"] - rho) < 1e-9]
        if not ladder:
            continue
        fit = fits[key] = eq3_fit(ladder, rng)
        if "log10_t_se" in fit:
            out[f"eq3-valid-{key}"] = _m(fit["log10_t"], fit["log10_t_se"], (
                f"{fit['n']} of {len(ladder)} states with tau_alpha/t0 >= {FIT_MIN:g}; slope {fit['slope']:.3g}, "
                f"R^2 {fit['r2']:.3f}, max |residual| {fit['max_res']:.2g} in ln tau"
                + (f"; {fit['tau_se_missing']} states without a tau_alpha se" if fit["tau_se_missing"] else "")))
    out["eq-fs-ss-ladders"], out["eq-u-ss-ladders"] = _equilibration(rows, "SS ladders")
    return out


def rows_densities(rows, configs, ss_rows):
    """Rows of part ss-densities: Gamma(rho), the matched states, Figs. 6-7."""
    out, extra = {}, {}
    by = {r["label"]: r for r in rows}
    r95 = _rate(by.get("rho0.95"))
    r06 = _rate(_viscous(ss_rows)) if ss_rows is not None else None
    if r95 is not None and r06 is not None:
        lr = _log10_ratio(r06[0], r06[1], r95[0], r95[1])
        if lr:
            out["gamma-ss-density"] = _m(*lr, f"rho = 0.6 (part ss) {r06[0]:.3g} +- {r06[1]:.2g}, rho = 0.95 "
                                         f"{r95[0]:.3g} +- {r95[1]:.2g}")
    fractions = [(lab, _rate(by.get(lab))[2]) for lab in ("rho0.7", "rho0.95") if _rate(by.get(lab)) is not None]
    if r06 is not None:
        fractions.append(("rho0.6 (part ss)", r06[2]))
    if fractions:
        lab, worst = max(fractions, key=lambda f: f[1])
        out["is-resolution-ss-densities"] = _m(worst, 0.0, ", ".join(f"{a} {b:.2f}" for a, b in fractions))
    taus = {lab: r["tau"] / r["t0"] for lab, r in by.items() if np.isfinite(r.get("tau", np.nan))}
    if len(taus) == 3:
        out["ss-densities-matched"] = _m(max(taus.values()) / min(taus.values()), 0.0,
                                         ", ".join(f"{k} {v:.3g}" for k, v in taus.items()))
    out["eq-fs-ss-densities"], out["eq-u-ss-densities"] = _equilibration(rows, "SS densities")
    scores = {lab: mobility_scores(configs.get(lab, []), by[lab].get("tau", np.nan)) for lab in by}
    extra["mobility"] = scores

    def when(lab):
        return f"mobility at t = {scores[lab]['t_over_tau']:.3g} tau_alpha"

    if "rho0.95" in scores:
        s95 = scores["rho0.95"]
        out["rank-gap-ss095"] = _mean(s95["gap"], when("rho0.95"))
        out["cs-ss095"] = _mean(s95["cs"], when("rho0.95"))
    if "rho0.6" in scores:
        s06 = scores["rho0.6"]
        out["immobile-rank-ss06"] = _mean(s06["immobile"], when("rho0.6"))
        out["mobile-rank-ss06"] = _mean(s06["mobile"], when("rho0.6"))
        if "rho0.95" in scores:
            out["rank-gap-ss095-vs-ss06"] = _difference(_mean(scores["rho0.95"]["gap"]), _mean(s06["gap"]))
    if {"rho0.95", "rho0.7"} <= set(scores):
        out["cs-ss095-vs-ss07"] = _difference(_mean(scores["rho0.95"]["cs"]), _mean(scores["rho0.7"]["cs"]))
    if {"rho0.7", "rho0.6"} <= set(scores):
        out["cs-ss07-vs-ss06"] = _difference(_mean(scores["rho0.7"]["cs"]), _mean(scores["rho0.6"]["cs"]))
    return out, extra


def rows_2d(rows, configs):
    """Rows of part ipl-2d: Fig. 2's propensity correlation and the pseudoharmonic modes' cores."""
    out = {}
    out["eq-fs-ipl-2d"], _ = _equilibration(rows, "2D IPL")
    if not rows:
        return out, {}
    r = rows[0]
    s = fig2_scores(configs.get(r["label"], []), r.get("tau", np.nan))
    when = f"propensity at t = {s['t_over_tau']:.3g} tau_alpha (tau_alpha/t0 = {r.get('tau', np.nan) / r['t0']:.3g})"
    out["fig2-propensity-cs"] = _mean(s["cs"], when)
    out["fig2-qlm-kappa-rank"] = _mean(s["qlm"], f"{'/'.join(map(str, sorted(set(s['modes']))))} modes per structure")
    return out, {"fig2": s}


def analyse(indexes, decks, out, full):
    from pyglass.workflow.reproduce.criteria import Criteria
    crit = Criteria.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "criteria.toml"))
    rng = np.random.default_rng(SEED)
    parts, configs = _read(indexes, decks)
    measured, extra = rows_models(parts, rng, decks)
    if "ss-densities" in parts:
        more, extra_d = rows_densities(parts["ss-densities"], configs.get("ss-densities", {}), parts.get("ss"))
        measured.update(more)
        extra.update(extra_d)
    if "ss-ladders" in parts:
        measured.update(rows_ladders(parts["ss-ladders"], rng, extra["fits"]))
    if "ipl-2d" in parts:
        more, extra_2d = rows_2d(parts["ipl-2d"], configs.get("ipl-2d", {}))
        measured.update(more)
        extra.update(extra_2d)
    measured = {k: v for k, v in measured.items() if v is not None}
    quantities = crit.score(measured)
    figures = _figures(parts, configs, extra, out)
    notes = _notes(quantities, crit, parts, extra, full)
    return quantities, figures, notes


# ---------------------------------------------------------------------------------------------- figures
def _legend(ax, size):
    if ax.get_legend_handles_labels()[0]:   # a tiny or partial run may have drawn nothing on a panel
        ax.legend(fontsize=size)


def _figures(parts, configs, extra, out):
    from pyglass.analysis.figures import pyplot, save_png
    plt = pyplot()
    written = []
    models = [m for m in MODELS if m in parts]
    if models:
        fig, ax = plt.subplots(len(models), 4, figsize=(14, 3 * len(models)), squeeze=False)
        for i, m in enumerate(models):
            rows = parts[m]
            cmap = plt.get_cmap("coolwarm")
            Ts = [r["T"] for r in rows]
            for r in rows:
                if "fs" in r:
                    ax[i, 0].semilogx(r["t"][1:] / r["t0"], r["fs"][1:], label=f"T = {r['T']:g}",
                                      color=cmap((r["T"] - min(Ts)) / max(np.ptp(Ts), 1e-12)))
            ax[i, 0].axhline(0.2, color="k", ls="--", lw=0.7)
            ax[i, 0].set_xlabel("t / t0")
            ax[i, 0].set_ylabel(f"{LABEL[m]}: F_s(q_max, t)")
            _legend(ax[i, 0], 6)
            ok = [r for r in rows if np.isfinite(r.get("tau", np.nan))]
            ax[i, 1].semilogy([1 / r["T"] for r in ok], [r["tau"] / r["t0"] for r in ok], "o-")
            ax[i, 1].axhline(FIT_MIN, color="k", ls=":", lw=0.7)
            ax[i, 1].set_xlabel("1 / T")
            ax[i, 1].set_ylabel("tau_alpha / t0")
            have = _ladder(rows)
            if have:
                hot = max(have, key=lambda r: r["T"])
                for key, mk, j in (("kappa", "o-", 2), ("G", "s-", 0)):
                    means = np.array([_glass_means(r)[j] for r in have])
                    ses = np.array([_glass_means(r)[j + 1] for r in have])
                    ax[i, 2].errorbar([1 / r["T"] for r in have], means / _glass_means(hot)[j] - 1,
                                      yerr=ses / abs(_glass_means(hot)[j]), fmt=mk, ms=4, capsize=2,
                                      label=f"{key}(T_p) / {key}(T_p,max) - 1")
            ax[i, 2].set_xlabel("1 / T_p")
            _legend(ax[i, 2], 7)
            f = extra["fits"].get(m, {})
            if len(f.get("all_x", ())):
                ax[i, 3].plot(f["all_x"], f["all_y"], "o", mfc="none", label="all states")
            if "x" in f:
                ax[i, 3].plot(f["x"], f["y"], "o", label=f"tau_alpha/t0 >= {FIT_MIN:g}")
                xx = np.linspace(0, max(f["all_x"].max(), f["x"].max()) * 1.05, 20)
                ax[i, 3].plot(xx, f["intercept"] + f["slope"] * xx, "k--",
                              label=f"log10 t~ = {f['intercept'] / np.log(10):.2f}, l~ = {f.get('l', np.nan):.3g}")
                if m in FIT:
                    t_p, l_p = FIT[m]
                    ax[i, 3].plot(xx, np.log(t_p) + l_p ** 2 * xx, "r:", label=f"paper ({t_p}, {l_p})")
            _legend(ax[i, 3], 7)
            ax[i, 3].set_xlabel("a0^2 kappa(T) / T")
            ax[i, 3].set_ylabel("ln(tau_alpha / t0)")
        save_png(fig, os.path.join(out, "kapteijns2021_fig4.png"), written)

    rates = {LABEL[m]: extra["rates"][m] for m in models if extra["rates"].get(m, (None,))[0] is not None}
    dens = {r["label"]: r for r in parts.get("ss-densities", [])}
    if rates or dens:
        fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
        series = [(name, v) for name, (_, v) in rates.items()]
        series += [(f"SS {lab}", r) for lab, r in dens.items() if len(r.get("is_t", ())) > 21]
        for k, (lab, r) in enumerate(series):
            first = r["is_seg"] == r["is_seg"][0]
            t, u = r["is_t"][first], r["is_u"][first]
            ax[0].step((t - t[0]) * r["N"] / (1000 * 0.1 * r["t0"]), (u - u[0]) / r["T"] + 20 * k, lw=0.8, where="post",
                       label=f"{lab} (T = {r['T']:g})")
        ax[0].set_xlabel("N t / (N0 t_ballistic)")
        ax[0].set_ylabel("(U_IS - U_IS(0)) / T  (offset by 20)")
        _legend(ax[0], 6)
        if rates:
            ax[1].bar(list(rates), [v[0][0] for v in rates.values()], yerr=[v[0][1] for v in rates.values()])
            ax[1].set_yscale("log")
        ax[1].set_ylabel("Gamma t_ballistic N0 / N")
        ax[1].set_title("Fig. 5b", fontsize=9)
        pts = [(0.6, rates["SS"][0]) if "SS" in rates else None] + \
            [(dens[lab]["rho"], _rate(dens[lab])) for lab in ("rho0.7", "rho0.95") if _rate(dens.get(lab)) is not None]
        pts = [p for p in pts if p is not None]
        if pts:
            ax[2].errorbar([p[0] for p in pts], [p[1][0] for p in pts], yerr=[p[1][1] for p in pts], fmt="o-")
            ax[2].set_yscale("log")
        ax[2].set_xlabel("SS density")
        ax[2].set_ylabel("Gamma t_ballistic N0 / N")
        ax[2].set_title("Fig. 5d", fontsize=9)
        save_png(fig, os.path.join(out, "kapteijns2021_fig5.png"), written)

    mob = extra.get("mobility")
    if mob:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        labels = [lab for lab in ("rho0.6", "rho0.7", "rho0.95") if lab in mob]
        for k, lab in enumerate(labels):
            s = mob[lab]
            for key, mk, off in (("immobile", "^", -0.1), ("mobile", "v", 0.1)):
                if s[key]:
                    ax[0].plot(np.full(len(s[key]), k + off), s[key], mk, color="C1" if key == "mobile" else "C0",
                               label=key if k == 0 else None)
        ax[0].axhline(0.5, color="k", lw=0.6, ls=":")
        ax[0].set_xticks(range(len(labels)), labels)
        ax[0].set_ylabel("mean local-kappa rank of the extremes (per IS)")
        ax[0].set_title("Fig. 6(c): 0 = softest, 1 = stiffest", fontsize=9)
        _legend(ax[0], 7)
        cs = [mean_and_se(mob[lab]["cs"]) for lab in labels]
        ax[1].errorbar([dens[lab]["rho"] for lab in labels], [c[0] for c in cs], yerr=[np.nan_to_num(c[1]) for c in cs],
                       fmt="o-")
        ax[1].set_xlabel("SS density")
        ax[1].set_ylabel("C_s(1/kappa_i, mobility)")
        ax[1].set_title("Fig. 7", fontsize=9)
        save_png(fig, os.path.join(out, "kapteijns2021_fig6_7.png"), written)

    ladders = [k for k in LADDERS if len(extra.get("fits", {}).get(k, {}).get("all_x", ()))]
    if ladders:
        fig, ax = plt.subplots(1, len(ladders), figsize=(5 * len(ladders), 3.8), squeeze=False)
        for axis, k in zip(ax[0], ladders):
            f = extra["fits"][k]
            axis.plot(f["all_x"], f["all_y"], "o", mfc="none", label="all states")
            if "x" in f:
                xx = np.linspace(0, max(f["all_x"].max(), f["x"].max()) * 1.05, 20)
                axis.plot(xx, f["intercept"] + f["slope"] * xx, "k--",
                          label=f"log10 t~ = {f['intercept'] / np.log(10):.2f}, l~ = {f.get('l', np.nan):.3g}")
            axis.axhline(np.log(FIT_MIN), color="k", ls=":", lw=0.7)
            axis.set_xlabel("a0^2 kappa(T) / T")
            axis.set_ylabel("ln(tau_alpha / t0)")
            axis.set_title(f"Fig. 6(a): {LABEL[k]}", fontsize=9)
            _legend(axis, 7)
        save_png(fig, os.path.join(out, "kapteijns2021_fig6a.png"), written)

    cfg2d = configs.get("ipl-2d", {})
    first = next((c for cs in cfg2d.values() for c in cs), None)
    if first is not None and "fig2" in extra and parts.get("ipl-2d"):
        tau = parts["ipl-2d"][0].get("tau", np.nan)
        k = _nearest_time(first.times, tau / PROPENSITY_AT) if np.isfinite(tau) else len(first.times) - 1
        fig, ax = plt.subplots(1, 2, figsize=(11, 5))
        p = np.mod(first.positions, first.lengths)
        size = np.where(first.types == first.types.max(), 14, 8)
        a = ax[0].scatter(p[:, 0], p[:, 1], c=first.motion[k], s=size, cmap="viridis")
        fig.colorbar(a, ax=ax[0], label="neighbour-relative propensity")
        b = ax[1].scatter(p[:, 0], p[:, 1], c=first.kappa_local, s=size, cmap="viridis_r")
        fig.colorbar(b, ax=ax[1], label="local kappa (soft = light)")
        for axis in ax:
            axis.scatter(p[first.mode_centres[:MODES], 0], p[first.mode_centres[:MODES], 1], s=160, facecolors="none",
                         edgecolors="r", lw=1.2)
            axis.set_aspect("equal")
        ax[0].set_title(f"Fig. 2 (left): t = {first.times[k]:.3g}", fontsize=9)
        ax[1].set_title("Fig. 2 (right): local kappa; circles: cores of the softest pseudoharmonic modes", fontsize=9)
        save_png(fig, os.path.join(out, "kapteijns2021_fig2.png"), written)

    if models:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, m in enumerate(models):
            for r in parts[m]:
                if "msd_sp" in r:
                    ax[0].loglog(r["t"][1:] / r["t0"], r["msd_sp"][1:] / r["a0"] ** 2, color=f"C{i}", lw=0.7,
                                 label=LABEL[m] if r is parts[m][0] else None)
            pts = [r for r in parts[m] if "D" in r and np.isfinite(r.get("tau", np.nan))]
            ax[1].loglog([r["tau"] / r["t0"] for r in pts], [r["D"] * r["t0"] / r["a0"] ** 2 for r in pts], "o-",
                         color=f"C{i}", label=LABEL[m])
        xx = np.geomspace(1e-3, 1, 20)
        ax[0].loglog(xx, 3 * xx ** 2, "k--", lw=0.7, label="3 (t/t0)^2")
        ax[0].axvline(0.1, color="k", lw=0.5)
        ax[0].set_xlabel("t / t0")
        ax[0].set_ylabel("MSD / a0^2 (largest species)")
        _legend(ax[0], 7)
        ax[1].set_xlabel("tau_alpha / t0")
        ax[1].set_ylabel("D t0 / a0^2")
        _legend(ax[1], 7)
        save_png(fig, os.path.join(out, "kapteijns2021_fig9.png"), written)
    return written


# ---------------------------------------------------------------------------------------------- notes
_NO_FRAMES = ("the part's viscous state stored fewer than two equilibrium frames (the deck writes them through "
              "output.trajectory of that state; a run of an earlier deck has none)")
NOT_MEASURED = {f"attractive-{m}": _NO_FRAMES for m in MODELS}
WHY = {
    "kappa-vs-g": "kappa(T_p) changes by only a few per cent over our ladders in the mBLJ, SS and SW models (the "
                  "paper's 'mechanical inannealability' for SS and SW, Fig. 4 c3/d3), while the per-glass mean "
                  "kappa of 1000 particles scatters by ~6-20 %: the bootstrap standard error of the difference is "
                  "of the size of the difference itself.",
    "kappa-g-ratio-ipl": "the ratio of two small relative changes over our narrow ladder is noisy, and the "
                         "paper's magnitudes belong to a wider T_p range (Fig. 3); the note gives both changes.",
    "eq3-valid-ss0": "the SS ladders at rho = 0.7 and 0.95 reach tau_alpha/t0 ~ 70 (four states from ~13): the "
                     "intercept is an extrapolation over a short range of x = a0^2 kappa/T, so a fit within two "
                     "standard errors of the boundary is undecided (the row's note gives the slope and residuals).",
    "eq3-valid": "the intercept of Eq. 3 is an extrapolation from x = a0^2 kappa/T ~ 10^2 to 0 over a ladder that "
                 "reaches only tau_alpha/t0 ~ 10^2 (the paper: 10^3-10^4); t~ and l~ are strongly correlated, "
                 "so a slope 20 % off moves log10 t~ by a decade or more (the row's note gives the slope and "
                 "residuals).",
    "eq3-ttilde": "as eq3-valid: the intercept is far from the data.",
    "attractive": "the first shell is cut at the first minimum of g(r) (criteria); the per-configuration "
                  "fractions are in the notes: a fraction near one half is undecided over a few configurations.",
    "eq3-ltilde": "the slope over a handful of states with tau_alpha/t0 >= 10 carries the glass-to-glass scatter of "
                  "kappa(T); see the row's note.",
    "gamma-granular-vs-simple": "the SS and SW rates are resolution-limited (transitions in half or more of the "
                                "dt/10 intervals, check is-resolution-*), so they are lower bounds and so is "
                                "the ratio.",
    "gamma-mblj-vs-ipl": "our viscous states are matched in tau_alpha/t0, not by the paper's curve collapse; IPL's "
                         "transitions come in bursts (its segment rates span an order of magnitude).",
    "gamma-mblj": "as gamma-mblj-vs-ipl: the rate depends on the state point, which the paper picks by eye.",
    "gamma-ss-density": "the dense SS liquid flickers between a few nearby minima (most transitions return to a "
                        "recently visited minimum, see the notes), which keeps its rate high; rho = 0.6's rate is "
                        "resolution-limited (a lower bound).",
    "rank-gap": "our extremes are 5 per inherent structure over a few structures (the paper: 240); the gap's "
                "standard error is over structures.",
    "immobile-rank": "as rank-gap.",
    "mobile-rank": "as rank-gap.",
    "cs-": "C_s per structure scatters by ~0.05 between structures of 1000 particles; with a few structures per "
           "density differences of ~0.05 are not resolved.",
    "fig2": "two inherent structures of 500 particles at the reduced scale, and modes from 300 random starts "
            "(not every pair): see the row's note.",
    "se-xi": "our ladders reach tau_alpha/t0 ~ 10^2 against the paper's 10^3-10^4, where Stokes-Einstein breaks "
             "down more weakly (xi nearer 1); each D comes from 2-4 lags of one short block.",
    "ballistic": "the half-value definition of the end of the ballistic regime (criteria) against the paper's "
                 "reading by eye.",
    "eq-fs": "the first production block relaxes at a different rate than the later ones: the liquid was still "
             "ageing when production began (the state is named in the row's note); lengthen its equilibration.",
    "eq-u": "the production's potential energy differs from the end of the equilibration: a drift.",
    "is-resolution": "quenching every dt/10 still leaves transitions in half or more of the intervals: the rate is "
                     "resolution-limited and only a lower bound.",
    "is-states-matched": "the IS trajectories sit where the pilots put tau_alpha/t0 ~ 70-150; the measured values "
                         "are in the row's note.",
    "ss-densities-matched": "as is-states-matched for the three densities.",
}


def _why(row_id):
    return next((w for k, w in WHY.items() if row_id.startswith(k)), "see the notes below.")


def _notes(quantities, crit, parts, extra, full):
    from pyglass.workflow.reproduce.report import miss_note
    part_of = {r.id: r.part for r in crit.rows}
    notes = []
    for q in quantities:
        if q.holds:
            continue
        if isinstance(q.ours, (int, float, np.floating)):
            notes.append(miss_note(q, _why(q.id)))
            continue
        absent = sorted({t for t in [part_of[q.id]] + (list(MODELS) if not part_of[q.id] else []) if t}
                        - set(parts))
        why = (f"part(s) {', '.join(absent)} not in this run" if absent else
               extra.get("why", {}).get(q.id) or NOT_MEASURED.get(q.id) or
                                         "too few states, glasses or structures for the estimator (at least 3 "
                                         "states with tau_alpha/t0 >= 10 for Eq. 3 and xi, 2 samples for a standard "
                                         "error)")
        notes.append(miss_note(q, why))
    for m in MODELS:
        rows = parts.get(m)
        if not rows:
            continue
        text = []
        for r in rows:
            s = f"T = {r['T']:g}: tau_alpha/t0 = {_tau_text(r)}"
            if len(r.get("G_glass", ())):
                G, sG, K, sK = _glass_means(r)
                s += (f", kappa = {K:.4g} +- {sK:.2g}, G = {G:.4g} +- {sG:.2g} ({len(r['G_glass'])} glasses"
                      + (f"; {int(np.sum(r['G_glass'] <= 0))} with G <= 0)" if np.any(r["G_glass"] <= 0) else ")"))
            text.append(s)
        notes.append(f"{LABEL[m]} (a0 = {rows[0]['a0']:.4f}): " + "; ".join(text) + ".")
    for key, rho in LADDERS.items():
        ladder = [r for r in parts.get("ss-ladders", []) if abs(r["rho"] - rho) < 1e-9]
        if ladder:
            notes.append(f"{LABEL[key]} ladder (part ss-ladders, a0 = {ladder[0]['a0']:.4f}): " + "; ".join(
                f"T = {r['T']:g}: tau_alpha/t0 = {_tau_text(r)}" + (
                    f", kappa = {_glass_means(r)[2]:.4g} +- {_glass_means(r)[3]:.2g} ({len(r['kappa_glass'])} glasses)"
                    if len(r.get("kappa_glass", ())) else "") for r in ladder) + ".")
    for m, (f, cut, v) in extra.get("attraction", {}).items():
        notes.append(f"Fig. 12, {LABEL[m]} at T = {v['T']:g}: attractive fraction of the first shell per configuration "
                     + ", ".join(f"{x:.3f}" for x in f) + ".")
    for m, f in extra.get("fits", {}).items():
        if "x" in f:
            res = f["y"] - (f["intercept"] + f["slope"] * f["x"])
            notes.append(f"{LABEL[m]} Eq. 3 over {f['n']} states with tau_alpha/t0 >= {FIT_MIN:g}: log10 t~ = "
                         f"{f['intercept'] / np.log(10):.3g} +- {f.get('log10_t_se', np.nan):.2g}, l~ = "
                         f"{f.get('l', np.nan):.3g} +- {f.get('l_se', np.nan):.2g}, residuals in ln tau "
                         + ", ".join(f"{v:+.2f}" for v in res) + ".")
        else:
            notes.append(f"{LABEL[m]} Eq. 3: {f['n']} states with tau_alpha/t0 >= {FIT_MIN:g} (3 needed): not fitted.")
    for m, (rate, r) in extra.get("rates", {}).items():
        if rate is None:
            continue
        n_new = count_new_minima(r["is_u"], r["is_tr"], r["is_eps"])
        n_seg = len(np.unique(r["is_seg"]))
        notes.append(f"IS trajectory {LABEL[m]} at T = {r['T']:g}: reduced rate {rate[0]:.3g} +- {rate[1]:.2g} "
                     f"({f'spread over {n_seg} segments' if n_seg > 2 else 'Poisson'}), transitions in "
                     f"{100 * rate[2]:.0f} % of the quench intervals; {n_new} of its {r['n_tr']} transitions reach a "
                     "minimum not visited before (the paper counts every jump). The segments are 0.2 tau_alpha "
                     "apart along one run, not independent trajectories as the criteria's five.")
    for r in parts.get("ss-densities", []):
        rate = _rate(r) if len(r.get("is_t", ())) > 21 else None
        s = f"SS rho = {r['rho']:g} at T = {r['T']:g}: tau_alpha/t0 = {_tau_text(r)}"
        if rate is not None:
            s += f", reduced rate {rate[0]:.3g} +- {rate[1]:.2g} (transitions in {100 * rate[2]:.0f} % of the intervals)"
        mob = extra.get("mobility", {}).get(r["label"])
        if mob and mob["cs"]:
            s += (f"; {len(mob['cs'])} inherent structures, mobility at {mob['t_over_tau']:.3g} tau_alpha, C_s = "
                  f"{np.mean(mob['cs']):.3g}")
            if mob["gap"]:
                s += (f", ranks immobile {np.mean(mob['immobile']):.3g} / mobile {np.mean(mob['mobile']):.3g}")
        notes.append(s + ".")
    if "fig2" in extra and parts.get("ipl-2d"):
        r, s = parts["ipl-2d"][0], extra["fig2"]
        notes.append(f"2D IPL at T = {r['T']:g}, rho = {r['rho']:g}, N = {r['N']}: tau_alpha/t0 = {_tau_text(r)} (t0 = "
                     f"{r['t0']:.3g}); {len(s['cs'])} inherent structures; propensity at {s['t_over_tau']:.3g} "
                     "tau_alpha; pseudoharmonic modes minimised from "
                     + ("every interacting pair." if full else "300 random interacting pairs (reduced scale)."))
    sizes = sorted({r["N"] for m in MODELS for r in parts.get(m, [])})
    notes.append(("Scale: full (Table I sizes, Table II ensembles)." if full else
                  f"Scale: N = {', '.join(map(str, sizes))} (the paper: IPL 2000, mBLJ 8000, SS 3000/4000, SW 8000), "
                  "12-24 glasses per T_p with 300 random kappa_ij each (Table II: 128-10 000 glasses), one IS run per "
                  "model in ten segments (the paper: ten trajectories), 6 inherent structures per SS density (the "
                  "paper: 240)."))
    notes.append("Standard errors: bootstrap over glasses (2000 replicates, seed fixed) for the relative changes and "
                 "Eq. 3 (with ln tau_alpha drawn from its block standard error); over inherent structures for the "
                 "local-kappa rows; over segments for the IS rates; the states for xi and the ballistic time.")
    notes.append("Temperatures are ours (the paper states them in figure legends only), picked from pilot runs so "
                 "that each model spans the same reduced relaxation times; the decks say so. mBLJ uses the paper's "
                 "force-shifted cutoff (HOOMD force_shifted_lj), whose curvature jump at r_c can split basins.")
    return notes


def _tau_text(row):
    """tau_alpha/t0 of a state, or its lower bound where F_s stays above 0.2 over the whole block."""
    tau = row.get("tau", np.nan)
    if np.isfinite(tau) or "fs" not in row:
        return f"{tau / row['t0']:.3g}"
    return f"> {row['t'][-1] / row['t0']:.3g} (F_s = {row['fs'][-1]:.2f} at the block's end)"
