"""Paper 4, part `aging` (Sec. VII C, Fig. 8): <S(t)> after quenches from T_I = 0.70 to T_F = 0.30, 0.35,
0.40 in MD, in the independent-trap model and in the TRSP lattice model; rows aging-md-collapse,
aging-trap-no-collapse, aging-trsp-no-collapse, aging-trsp-closer of criteria.toml (their estimators are
the spec: T_I, T_F, the grids, t_mid and the jackknife are fixed there).

The statistic (`collapse`): m(t) = mean over T_F of <S(t)>; R = |m(0) - m(t_end)|; t_mid = the first grid
time t >= 1 tau with |m(0) - m(t)| >= R/2; Delta = [<S(t_mid)>_{0.30} - <S(t_mid)>_{0.40}] / R. Its se
(`delta_and_se`): delete-one jackknife over the samples (MD units, model runs) of each scored T_F, the
scored T_F's variances added (the T_F are independent). MD <S(t)>: IS softness (the main part's T = 0.47
SVM, its CG quench settings) of the A particles of the stored frames at t = 0 and t >= 1 tau, cached per
unit. Called by `analysis.analyse` once the main part has trained the SVM and written the lattice deck.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from pyglass.analysis.statistics import jackknife
from pyglass.workflow.reproduce.criteria import measured as _m

T_INITIAL = 0.70                     # T_I [criteria, aging-md-collapse]
T_FINALS = (0.30, 0.35, 0.40)        # T_F [criteria]
SCORED = (0.30, 0.40)                # Delta compares the coldest and the warmest T_F [criteria]
GRID_START = 1.0                     # tau: the first grid time after t = 0 [criteria]
PER_DECADE = 10                      # grid times per decade [criteria]
MD_T_END = 1e3                       # tau, MD [criteria]
MODEL_T_END = 1e4                    # tau, trap and TRSP models [criteria]
MODEL_RUNS = 50                      # independent runs per T_F, both models [criteria]
TRAP_SITES = 8000                    # independent sites of the trap model [criteria]
MAX_MODEL_EVENTS = 2e8              # expected events per model and T_F beyond which a model is not run (a
                                     # rate law extrapolated far out of range; ~10^5-10^6 with this run's deck)
AGING_SEED = 8000
SEED_STRIDE = 10                     # quench() uses seed and seed + 1: keep the T_F's streams apart
DIAGNOSTIC_BOUND = 0.95              # the bound-eigenvalue row's scale rule, reused only for the unscored diagnostic
ROWS = ("aging-md-collapse", "aging-trsp-no-collapse", "aging-trap-no-collapse", "aging-trsp-closer")


def _label(T_F):
    return f"TF{T_F:.2f}"


def model_grid(t_end=None):
    """t = 0 and 10 log-spaced times per decade from GRID_START to t_end (default MODEL_T_END)."""
    t_end = MODEL_T_END if t_end is None else float(t_end)
    if not t_end >= GRID_START:
        raise ValueError(f"the grid needs t_end >= {GRID_START} tau, got {t_end}")
    decades = np.log10(t_end / GRID_START)
    return np.concatenate([[0.0], GRID_START * 10 ** (np.arange(0, decades + 1e-9, 1.0 / PER_DECADE))])


# ------------------------------------------------------------------ the statistic
@dataclass
class Curves:
    """<S(t)> of every sample (MD unit or model run) per T_F on a shared grid with times[0] = 0."""
    name: str
    times: np.ndarray
    samples: dict                    # T_F -> (n_samples, n_times)
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.times = np.asarray(self.times, float)
        if self.times.ndim != 1 or len(self.times) < 2 or self.times[0] != 0.0 or np.any(np.diff(self.times) <= 0):
            raise ValueError(f"{self.name}: the grid must start at t = 0 and increase, got {self.times}")
        for T_F, s in self.samples.items():
            s = np.asarray(s, float)
            if s.ndim != 2 or s.shape[1] != len(self.times):
                raise ValueError(f"{self.name} T_F = {T_F:g}: curves must be (samples, {len(self.times)}), "
                                 f"got {s.shape}")
            self.samples[T_F] = s

    def mean(self, T_F, keep=None):
        s = self.samples[T_F]
        return s.mean(axis=0) if keep is None else s[keep].mean(axis=0)


def collapse(times, means: dict) -> dict:
    """The criteria's statistic on the mean curves {T_F: <S(t)>} (every T_F of T_FINALS, times[0] = 0):
    {"delta", "R", "t_mid", "i_mid", "m"}; delta is NaN when R = 0."""
    missing = [T for T in T_FINALS if T not in means]
    if missing:
        raise ValueError(f"collapse needs every T_F of {T_FINALS}; missing {missing}")
    times = np.asarray(times, float)
    m = np.mean([means[T] for T in T_FINALS], axis=0)
    drop = np.abs(m - m[0])
    R = float(drop[-1])
    on_grid = np.flatnonzero((times >= GRID_START * (1 - 1e-9)) & (drop >= R / 2))
    i_mid = int(on_grid[0]) if len(on_grid) else len(times) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = float((means[SCORED[0]][i_mid] - means[SCORED[1]][i_mid]) / R)
    return {"delta": delta, "R": R, "t_mid": float(times[i_mid]), "i_mid": i_mid, "m": m}


def delta_and_se(curves: Curves) -> tuple[float, float, dict]:
    """(Delta, se, {T_F: jackknife variance}): se^2 = the delete-one jackknife variances over the samples
    of the scored T_F added; the T_F = 0.35 term (it enters R and t_mid only) is returned, not added."""
    full = collapse(curves.times, {T: curves.mean(T) for T in T_FINALS})["delta"]
    variance = {}
    for T_F in T_FINALS:
        n = len(curves.samples[T_F])
        if n < 2:
            variance[T_F] = float("nan")
            continue

        def estimate(keep, T_F=T_F):
            means = {T: curves.mean(T, keep if T == T_F else None) for T in T_FINALS}
            return collapse(curves.times, means)["delta"]
        variance[T_F] = jackknife(estimate, n)[1] ** 2
    return full, float(np.sqrt(sum(variance[T] for T in SCORED))), variance


# ------------------------------------------------------------------ MD
def _md_unit(unit, svm, softness, potential, minimizer, minimizer_keys, cache_dir):
    """(times, <S> of the A particles per frame) of one unit: the frames at t = 0 and GRID_START <= t <=
    MD_T_END after the quench, each quenched to its inherent structure. Cached on the unit file's size and
    mtime, the SVM and the quench settings."""
    from pyglass.analysis.ensembles.inherent_structures import quench
    run = unit.run
    st = os.stat(unit.path)
    with open(svm["path"], "rb") as fh:
        key = hashlib.sha256(f"{os.path.basename(unit.path)} {st.st_size} {st.st_mtime_ns} {GRID_START} {MD_T_END} "
                             f"{json.dumps(minimizer_keys, sort_keys=True, default=str)}".encode() + fh.read()
                             ).hexdigest()[:16]
    cache = os.path.join(cache_dir, f"aging_md_{unit.state}_s{unit.sample}_{key}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return z["times"], z["S"]
    t, _ = run.trajectory(unwrapped=False)
    t = t - t[0]                     # the trajectory starts with the aging stage: its first frame is the quench
    frames = np.flatnonzero((t == 0) | ((t >= GRID_START * (1 - 1e-6)) & (t <= MD_T_END * (1 + 1e-6))))
    if len(frames) < 2 or frames[0] != 0:
        raise ValueError(f"{unit.path}: no frames on the grid (times {t[:3]} ... {t[-1:]})")
    S = []
    for k in frames:
        system = run.frame(int(k))
        inherent, _ = quench(system, potential, minimizer)
        a_idx = np.flatnonzero(system.types == 0)
        S.append(float(np.mean(softness(inherent, inherent.positions, a_idx))))
    np.savez_compressed(cache, times=t[frames], S=np.array(S))
    return t[frames], np.array(S)


def md_curves(index, svm, softness, potential, minimizer, minimizer_keys, cache_dir) -> Curves:
    """<S(t)> of every complete unit of the aging study, grouped by T_F (info: units, skipped, seconds).
    svm: the model dict of `analysis._train` (its file keys the cache); softness(system, positions, a_idx):
    S of the A particles of an inherent structure (`analysis._is_softness` with that model)."""
    from pyglass.workflow.run import results
    start = time.perf_counter()
    samples, times, skipped = {}, None, []
    for unit in results.open(index).units(status="complete"):
        T_F = float(unit.state.removeprefix("TF"))
        try:
            t, S = _md_unit(unit, svm, softness, potential, minimizer, minimizer_keys, cache_dir)
        except RuntimeError as exc:          # a quench that did not converge drops its unit, said in the notes
            skipped.append(f"{unit.state} s{unit.sample}: {exc}")
            continue
        if times is None:
            times = t
        elif len(t) != len(times) or not np.allclose(t, times, rtol=1e-6, atol=1e-9):
            raise ValueError(f"{unit.path}: its frames lie on another grid than the first unit's "
                             f"({len(t)} against {len(times)} frames)")
        samples.setdefault(T_F, []).append(S)
    if times is None:
        raise ValueError("no complete unit of the aging study could be analysed" + (f" ({'; '.join(skipped)})"
                                                                                    if skipped else ""))
    return Curves("MD", times, {T: np.array(v) for T, v in sorted(samples.items())},
                  {"units": {T: len(v) for T, v in samples.items()}, "skipped": skipped,
                   "seconds": time.perf_counter() - start})


# ------------------------------------------------------------------ models
def _cached(cache_dir, name, T_F, deck_path, extra, compute):
    with open(deck_path, "rb") as fh:
        key = hashlib.sha256(fh.read() + repr(extra).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"aging_{name}_{_label(T_F)}_{key}.npz")
    if os.path.exists(path):
        return np.load(path)["S"]
    S = compute()
    np.savez_compressed(path, S=S)
    return S


def trap_curves(deck_path, cache_dir, n_runs=None, n_sites=None, t_end=None) -> Curves:
    """The independent-trap model (lattice.aging.trap_quench) at every T_F on the model grid."""
    from pyglass.analysis.lattice.aging import trap_quench
    n_runs, n_sites = n_runs or MODEL_RUNS, n_sites or TRAP_SITES
    times, start, samples = model_grid(t_end), time.perf_counter(), {}
    for j, T_F in enumerate(T_FINALS):
        seed = AGING_SEED + 1000 + SEED_STRIDE * j
        samples[T_F] = _cached(cache_dir, "trap", T_F, deck_path, (T_INITIAL, n_runs, n_sites, seed, list(times)),
                               lambda: trap_quench(deck_path, T_INITIAL, T_F, times, n_sites, n_runs, seed,
                                                   max_events=MAX_MODEL_EVENTS))
    return Curves("trap", times, samples, {"runs": n_runs, "sites": n_sites, "seconds": time.perf_counter() - start})


def trsp_curves(deck_path, L, cache_dir, n_runs=None, t_end=None, kick=None) -> Curves:
    """The TRSP model (lattice.aging.quench, L^3 sites) at every T_F on the model grid. `kick`: a kick
    table replacing the deck's (the unscored diagnostic only). Raises ValueError where the model does not
    exist at a T_F (Eq. 19's bound)."""
    from pyglass.analysis.lattice.aging import quench
    n_runs = n_runs or MODEL_RUNS
    times, start, samples, events = model_grid(t_end), time.perf_counter(), {}, {}
    overrides = {"L": int(L)} if kick is None else {"L": int(L), "kick": dict(kick)}
    for j, T_F in enumerate(T_FINALS):
        seed = AGING_SEED + SEED_STRIDE * j

        def compute(T_F=T_F, seed=seed):
            run, _ = quench(deck_path, T_INITIAL, T_F, times[-1], sample_times=times, n_runs=n_runs, seed=seed,
                            **overrides)
            events[T_F] = run.n_events
            return run.mean_softness_runs
        samples[T_F] = _cached(cache_dir, "trsp", T_F, deck_path, (T_INITIAL, n_runs, seed, sorted(overrides.items()),
                                                                   list(times)), compute)
    return Curves("TRSP", times, samples, {"runs": n_runs, "L": int(L), "events": events,
                                            "seconds": time.perf_counter() - start})


def _over_budget(deck_path, n_sites):
    """None, or why the TRSP quenches at some T_F would exceed MAX_MODEL_EVENTS (expected events from the
    observed single-site rate law averaged over the initial and the final equilibrium laws)."""
    from pyglass.analysis.lattice.deck import load_deck, mean_softness, model_parameters
    deck = load_deck(deck_path)
    C0 = float(deck["correlation"]["C0"])
    for T_F in T_FINALS:
        law = model_parameters(deck, T_F)["rate"]
        rate = max(law.mean_rate(mean_softness(deck, T_INITIAL), C0), law.mean_rate(mean_softness(deck, T_F), C0))
        expected = n_sites * MODEL_RUNS * MODEL_T_END * rate
        if not expected <= MAX_MODEL_EVENTS:
            return (f"~{expected:.3g} events expected at T_F = {T_F:g} (budget {MAX_MODEL_EVENTS:.3g}): the rate law "
                    "extrapolated to T_F is too fast")
    return None


def _bound_at_finals(deck_path, L):
    """{T_F: largest eigenvalue of Eq. 19} for the deck's kicks on the L^3 lattice."""
    from pyglass.analysis.lattice.deck import load_deck, model_parameters
    from pyglass.analysis.lattice.model import kick_bound
    deck = load_deck(deck_path)
    return {T_F: kick_bound(**dict(model_parameters(deck, T_F), L=int(L))) for T_F in T_FINALS}


# ------------------------------------------------------------------ the part
def analyse_part(index, main_deck, aging_deck, svm, softness, lattice_deck, L, cache_dir) -> dict:
    """Measure the four rows. index: the aging study's index file; main_deck, aging_deck: the parts' Decks
    (the quench minimizer is the main part's `rearrangements` stage's, the potential the aging deck's);
    svm, softness: as `md_curves`; lattice_deck: the main part's lattice deck (None
    where it was not written: the model rows are then not measured); L: the TRSP lattice side.
    Returns {"measured": {row: Measured}, "why": {row: reason not measured}, "curves": {name: (Curves,
    collapse dict)}, "notes": [str]}."""
    out = {"measured": {}, "why": {}, "curves": {}, "notes": []}
    stage = next((st for st in main_deck.data["stage"] if st["kind"] == "rearrangements"), None)
    if stage is None:
        raise ValueError("the main deck has no `rearrangements` stage: no quench settings for the IS softness")
    minimizer_keys = dict(stage["minimizer"])
    try:
        md = md_curves(index, svm, softness, aging_deck.build_potential(), main_deck.build_minimizer(stage), minimizer_keys,
                       cache_dir)
    except ValueError as exc:
        md = None
        out["why"]["aging-md-collapse"] = f"the MD curves could not be read ({exc})"
    if md is not None:
        _score(out, "aging-md-collapse", md, f"{sum(md.info['units'].values())} units "
               f"({', '.join(f'{T:g}: {n}' for T, n in sorted(md.info['units'].items()))}), IS quench "
               f"{minimizer_keys.get('type')} ftol {minimizer_keys.get('ftol')}")
        if md.info["skipped"]:
            out["notes"].append("Aging MD units dropped (quench did not converge): " + "; ".join(md.info["skipped"]))
    if lattice_deck is None:
        why = ("this analysis wrote no lattice deck (the main part's fit or Eq. 19's check did not complete: see "
               "the lattice notes)")
        for rid in ROWS[1:]:
            out["why"][rid] = why
        return out
    model_rows(out, lattice_deck, L, cache_dir)
    return out


def model_rows(out, lattice_deck, L, cache_dir):
    """The trap and TRSP rows (and aging-trsp-closer) into `out` (see `analyse_part`) from a lattice deck."""
    try:
        trap = trap_curves(lattice_deck, cache_dir)
        _score(out, "aging-trap-no-collapse", trap, f"{trap.info['runs']} runs x {trap.info['sites']} sites per T_F")
    except ValueError as exc:        # the events budget: a rate law extrapolated far out of range
        out["why"]["aging-trap-no-collapse"] = f"the trap-model quenches were not run: {exc}"
    trsp = None
    lam = _bound_at_finals(lattice_deck, L)
    too_many = _over_budget(lattice_deck, int(L) ** 3)
    if max(lam.values()) >= 1.0:
        out["why"]["aging-trsp-no-collapse"] = (
            f"the TRSP model does not exist at the T_F with this run's lattice deck: Eq. 19's largest eigenvalue "
            f"K_Delta K'^-1 at L = {L} is " + ", ".join(f"{T:g}: {v:.3f}" for T, v in lam.items())
            + " (>= 1: the extrapolated delta0(T_F) shrinks K'); the criteria fix the kick scale only at the "
            "model temperatures (row bound-eigenvalue), so no rule of theirs gives a model at T_F")
        if too_many is None:
            _diagnostic(out, lattice_deck, L, cache_dir, max(lam.values()))
    elif too_many:
        out["why"]["aging-trsp-no-collapse"] = f"the TRSP quenches were not run: {too_many}"
    else:
        try:
            trsp = trsp_curves(lattice_deck, L, cache_dir)
        except ValueError as exc:        # the deck gives no model at some T_F (e.g. App. D's renormalisation)
            out["why"]["aging-trsp-no-collapse"] = f"the TRSP model could not be built at the T_F: {exc}"
    if trsp is None:
        out["why"]["aging-trsp-closer"] = "aging-trsp-no-collapse is not measured"
    else:
        _score(out, "aging-trsp-no-collapse", trsp, f"L = {L}, {trsp.info['runs']} runs per T_F")
        if "aging-trap-no-collapse" in out["measured"]:
            a, b = out["measured"]["aging-trap-no-collapse"], out["measured"]["aging-trsp-no-collapse"]
            out["measured"]["aging-trsp-closer"] = _m(abs(a.ours) - abs(b.ours), float(np.hypot(a.se, b.se)),
                                                      f"|Delta_trap| = {abs(a.ours):.3g}, |Delta_TRSP| = {abs(b.ours):.3g}")
        else:
            out["why"]["aging-trsp-closer"] = "aging-trap-no-collapse is not measured"


def _score(out, rid, curves: Curves, what):
    """Delta of `curves` as row `rid` (a reason instead where a T_F is missing or R = 0)."""
    missing = [T for T in T_FINALS if T not in curves.samples]
    if missing:
        out["why"][rid] = f"no {curves.name} curves at T_F = {', '.join(f'{T:g}' for T in missing)}"
        return
    few = [T for T in SCORED if len(curves.samples[T]) < 2]
    if few:
        out["why"][rid] = (f"fewer than two {curves.name} samples at T_F = {', '.join(f'{T:g}' for T in few)}: "
                           "no jackknife se")
        return
    c = collapse(curves.times, {T: curves.mean(T) for T in T_FINALS})
    delta, se, var = delta_and_se(curves)
    out["curves"][curves.name] = (curves, c)
    if not np.isfinite(delta):
        out["why"][rid] = f"R = {c['R']:.3g}: <S(t)> of the {curves.name} does not move, Delta is undefined"
        return
    at_mid = ", ".join(f"{T:g}: {curves.mean(T)[c['i_mid']]:.4f}" for T in T_FINALS)
    out["measured"][rid] = _m(delta, se, f"{what}; t_mid = {c['t_mid']:.3g} tau, R = {c['R']:.4g}, <S(t_mid)> "
                                         f"{at_mid}; jackknife se of T_F = 0.35 (not added, as fixed): "
                                         f"{np.sqrt(var[0.35]):.2g}")
    out["notes"].append(f"Fig. 8 {curves.name}: t_mid = {c['t_mid']:.3g} tau, R = |m(0) - m(t_end)| = {c['R']:.4g} "
                        f"(m(0) = {c['m'][0]:.4f}, m(t_end = {curves.times[-1]:.3g} tau) = {c['m'][-1]:.4f}), "
                        f"<S(t_mid)> per T_F {at_mid}; Delta = {delta:.3f} +- {se:.3f}; samples per T_F "
                        + ", ".join(f"{T:g}: {len(curves.samples[T])}" for T in T_FINALS)
                        + f"; {curves.info.get('seconds', 0.0):.1f} s (~0 when cached).")


def _diagnostic(out, lattice_deck, L, cache_dir, lam):
    """Unscored: the TRSP model with the bound-eigenvalue row's rule applied at the T_F (kicks x sqrt(0.95 /
    lambda_max), lambda_max = `lam` over T_F), so the report shows what the model does once it exists there."""
    from pyglass.analysis.lattice.deck import load_deck
    f = float(np.sqrt(DIAGNOSTIC_BOUND / lam))
    kick = dict(load_deck(lattice_deck)["kick"])
    kick["sigma0"] *= f
    kick["sigma1"] = kick.get("sigma1", 0.0) * f
    try:
        trsp = trsp_curves(lattice_deck, L, cache_dir, kick=kick)
        c = collapse(trsp.times, {T: trsp.mean(T) for T in T_FINALS})
        delta, se, _ = delta_and_se(trsp)
    except ValueError as exc:
        out["notes"].append(f"Aging TRSP diagnostic (kicks x {f:.3f}) failed: {exc}")
        return
    trsp.name = f"TRSP, kicks x {f:.3f} (diagnostic, not scored)"
    out["curves"]["TRSP"] = (trsp, c)
    out["notes"].append(f"Aging TRSP diagnostic, not scored: with sigma0, sigma1 scaled by a further sqrt(0.95 / "
                        f"{lam:.3f}) = {f:.3f} (the bound rule applied at the T_F) the model runs: Delta = "
                        f"{delta:.3f} +- {se:.3f}, t_mid = {c['t_mid']:.3g} tau, R = {c['R']:.4g}; "
                        f"{trsp.info['seconds']:.0f} s.")


# ------------------------------------------------------------------ figure
def figure(out_dir, result, written):
    """trsp_fig8.png: <S(t)> against t per T_F, MD / trap / TRSP, t_mid marked (appended to `written`)."""
    from pyglass.analysis.figures import pyplot, save_png
    panels = [(name, result["curves"].get(name)) for name in ("MD", "trap", "TRSP")]
    if not any(p for _, p in panels):
        return
    plt = pyplot()
    colours = ("tab:blue", "tab:purple", "tab:red")       # cold to warm T_F
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (name, panel) in zip(axes, panels):
        if panel is None:
            ax.set_title(f"{name}: not measured", fontsize=9)
            ax.axis("off")
            continue
        curves, c = panel
        t = curves.times.copy()
        t[0] = GRID_START / 10 ** (1.0 / PER_DECADE)     # t = 0 drawn one grid step before the first time
        for j, T_F in enumerate(T_FINALS):
            s = curves.samples[T_F]
            err = s.std(axis=0, ddof=1) / np.sqrt(len(s)) if len(s) > 1 else None
            ax.errorbar(t, s.mean(axis=0), yerr=err, fmt="o-", ms=3, color=colours[j],
                        label=f"T_F = {T_F:g} ({len(s)})")
        ax.axvline(c["t_mid"], ls=":", color="k", label=f"t_mid = {c['t_mid']:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("t after the quench (tau; leftmost point: t = 0)")
        ax.set_ylabel("<S(t)>")
        ax.set_title(f"Fig. 8 {curves.name}", fontsize=9)
        ax.legend(fontsize=7)
    save_png(fig, os.path.join(out_dir, "trsp_fig8.png"), written)
