"""Paper 1: Widmer-Cooper, Perry, Harrowell & Reichman, Nat. Phys. 4, 711 (2008) and its SI: soft modes of
inherent structures predict where a 2D supercooled liquid reorganises irreversibly (T = 0.4, P = 13.5).

Every row of criteria.toml (fixed before the run) is measured here by the estimator the row states, and
returned through `Criteria.score`; a row that cannot be measured in a run is left out and reported as
"not measured". Results are read only through the results API (`pyglass.workflow.run.results`). Parts
(`pyglass reproduce widmer-cooper-2008 --part TAG`):
    ""          the main 2D study: state point, tau_alpha and alpha2 from the production frames, the
                iso-configurational ensembles (IR, Fig. S2, Debye-Waller), the quenched short runs
                (persistence, renormalised map), the modes
    "3d"        SI §4: the 3D soft spheres (Debye-Waller against 45, 60, 150 modes; tau_alpha, alpha2)
    "n4096"     SI §6: one N = 4096 configuration
    "recovery"  SI §1, Fig. S1: 1000 tau runs from one configuration
"""
from __future__ import annotations

import os
import tomllib

import numpy as np

from pyglass.analysis.observables.statistics import IR_LEVEL, IR_MIN_CLUSTER, MODE_THRESHOLD

NAME = "widmer-cooper-2008"
TITLE = "Widmer-Cooper et al., Nat. Phys. 4, 711 (2008): soft modes and irreversible reorganisation (paper 1)"
DECK = "widmer_cooper_2008.toml"
REDUCED = {"study.samples": 4, "stage.iso.n_runs": 30}
FULL = {"study.samples": 10, "stage.iso.n_runs": 100}
PARTS = [("", DECK, REDUCED, FULL),
         ("3d", "widmer_cooper_2008_3d.toml", {"study.samples": 3}, {"study.samples": 10}),
         ("n4096", "widmer_cooper_2008_n4096.toml", {"stage.iso.n_runs": 10}, {"stage.iso.n_runs": 100}),
         ("recovery", "widmer_cooper_2008_recovery.toml", {"stage.recovery.n_runs": 6},
          {"stage.recovery.n_runs": 100})]

TAU_ALPHA = 673.0          # main text: "tau_alpha (= 673 tau for the simulations reported here)"
TAU_ALPHA_3D = 832.0       # SI §4: "The alpha relaxation time was found to be tau_alpha = 832 tau"
N_PAPER = 1024
MAP_MODES = 30             # "the 30 lowest frequency modes"
QUASI_LOCALISED = 0.34     # SI §2: "a participation ratio < 0.34"
IS_EPSILON = 1e-5          # criteria is-change-rate: |dU_IS| > 1e-5 epsilon
RANDOM_MAPS = 100          # random maps per configuration (criteria: ir-clustered, ir-mode-overlap-vs-random, dw)
DW_FRACTION = 0.10         # SI §4: top 10 %
S1_MIN_OBSERVATIONS = 30   # criteria s1-peaks: an x with fewer observations makes the row not measured
LATE = (100.0, 200.0)      # criteria s2-late-fraction: first losses in (100, 200] tau
PRESSURE = 13.5            # the state point (criteria header)


def mode_threshold(n: int, n_modes: int = MAP_MODES) -> float:
    """The mode-particle threshold at N particles and n_modes summed: 0.028 for the paper's 30 modes at
    N = 1024, the same multiple of the mean participation n_modes/N otherwise (criteria header)."""
    return MODE_THRESHOLD * (N_PAPER / n) * (n_modes / MAP_MODES)


# ---------------------------------------------------------------------------------------------- reading
def complete_runs(index) -> list:
    """[(sample, Run)] of the complete units of a study, or [(0, Run)] for a one-unit deck (a single run,
    every stage in one file)."""
    from pyglass.workflow.run import results
    out = results.open(index)
    if isinstance(out, results.Study):
        return [(u.sample, u.run) for u in out.units(status="complete")]
    return [(0, out)] if out.complete else []


def trajectory_run(index):
    """The run holding the production frames: a study's draw trajectory, or the single run itself."""
    from pyglass.workflow.run import results
    out = results.open(index)
    return out.draw("") if isinstance(out, results.Study) else out


class Configuration:
    """What one study unit holds, read through the results API."""

    def __init__(self, sample, run, iso: str = "iso", map_counts=(MAP_MODES,)):
        self.sample = sample
        r = run.stage(iso)
        self.iso_times = np.asarray(r["times"], float)
        self.n_runs = len(r["seeds"])
        self.ir = np.asarray(r["ir_probability"])[-1]                 # P_i(IR) over the whole interval
        self.dw = np.asarray(r["debye_waller"])[0]                    # the first time (10 tau where recorded)
        self.threshold = int(r.attrs["threshold"])
        self.first_loss = np.asarray(r["first_loss_times"])[:, self.threshold - 1]   # (runs, N)
        self.failed = np.asarray(r["failed"])                          # (runs, max_x, N)
        self.never = np.asarray(r["never_recovered"])
        self.energies = np.asarray(r["energies"])                      # (runs, 1 + n_times), per particle
        pairs = np.asarray(r["neighbour_pairs"], np.int64)
        self.pairs = (pairs[:, 0], pairs[:, 1])
        self.n = len(self.ir)
        self.modes = run.stage("modes") if run.has_stage("modes") else None
        self.maps, self.eigenvalues, self.participation_ratio = {}, None, None
        if self.modes is not None:
            self.eigenvalues = np.asarray(self.modes["eigenvalues"])
            self.participation_ratio = np.asarray(self.modes["participation_ratio"])
            self.maps = {int(self.modes.attrs["map_modes"]): np.asarray(self.modes["participation"])}
            if "vectors" in self.modes:
                v = np.asarray(self.modes["vectors"])
                cum = np.cumsum(np.einsum("kid,kid->ki", v, v), axis=0)
                self.maps.update({m: cum[m - 1] for m in map_counts if m <= len(v)})
        self.is_max_force = float(run.stage("is").attrs["quench_max_force"]) if run.has_stage("is") else float("nan")
        self.quenched = run.stage("quenched-modes") if run.has_stage("quenched-modes") else None
        system = run.final_system()
        self.positions, self.box, self.types = system.positions, system.box, system.types


def configurations(index, iso="iso", map_counts=(MAP_MODES,)) -> list:
    return [Configuration(k, run, iso, map_counts) for k, run in complete_runs(index)]


def stage_index(run, name: str) -> int:
    """Index of the stage called `name` in the deck a run was made by (thermo rows carry it)."""
    names = [s["name"] for s in tomllib.loads(run.deck)["stage"]]
    if name not in names:
        raise KeyError(f"{run.path}: its deck has no stage {name!r} (stages: {names})")
    return names.index(name)


# ---------------------------------------------------------------------------------------------- dynamics
class Dynamics:
    """tau_alpha, alpha2 peak and their block errors from a study's production frames (criteria
    tau-alpha-*, alpha2-peak-*, eq-fs-*): q* the first peak of the total S(q) of the frames, F_s(q*, t)
    direction-averaged over all particles and time origins, blocks of at least 2 max(paper tau_alpha,
    ours) (at least 3, else the block rows are not measured)."""

    def __init__(self, index, paper_tau: float):
        from pyglass.analysis.observables.dynamics import trajectory_dynamics
        from pyglass.analysis.observables.structure import first_sharp_peak, structure_factor
        self.draw = trajectory_run(index)
        t, x = self.draw.trajectory()
        first = self.draw.frame(0)
        dt_frame = float(np.median(np.diff(t)))
        self.span = float(t[-1] - t[0])
        # S(q) over [3.5, 9] (the first peak of both mixtures lies near 5.5-6.5) from frames spread over the
        # run; the cost per frame grows as N^2, so larger systems use fewer frames. The peak: the first
        # maximum above 1 that is the largest within +-0.5 of it, on S smoothed over 2 bins (0.14 in q)
        n_frames = max(8, int(round(40 * N_PAPER / x.shape[1])))
        sel = np.unique(np.linspace(0, len(x) - 1, n_frames).astype(int))
        self.q, self.sq, _ = structure_factor(x[sel], first.box, first.types, q_max=9.0, bins=80, q_min=3.5)
        self.q_star = first_sharp_peak(self.q, self.sq, smooth=2.0, window=0.5)
        dyn = trajectory_dynamics(x, dt_frame, self.q_star, 3)
        # blocks of at least 2 max(paper tau_alpha, ours); the 1e-9 absorbs the round-off of the frame times
        self.n_blocks = int(np.floor(self.span / (2 * max(paper_tau, dyn.tau_alpha)) + 1e-9)) \
            if np.isfinite(dyn.tau_alpha) else 0
        if self.n_blocks > 3:
            dyn = trajectory_dynamics(x, dt_frame, self.q_star, self.n_blocks)
        self.dyn = dyn
        self.paper_tau = paper_tau
        self.frame_time = dt_frame

    @property
    def blocks_ok(self) -> bool:
        return self.n_blocks >= 3

    def tau_row(self):
        from pyglass.workflow.reproduce.criteria import Measurement
        d = self.dyn
        if not np.isfinite(d.tau_alpha):
            return None
        note = (f"q* = {self.q_star:.3f} (first peak of S(q)); tau_alpha = {d.tau_alpha:.4g} tau; blocks of "
                f"{d.block_length:g} tau: " + ", ".join(f"{v:.4g}" for v in d.tau_blocks))
        if not self.blocks_ok:
            return Measurement(float(np.log(d.tau_alpha)), float("nan"),
                               note + f"; fewer than 3 blocks of 2 max({self.paper_tau:g}, tau_alpha) fit in "
                               f"{self.span:g} tau: no standard error")
        lb = np.log(d.tau_blocks)
        return Measurement(float(np.log(d.tau_alpha)), float(np.std(lb, ddof=1) / np.sqrt(len(lb))), note)

    def peak_row(self):
        from pyglass.workflow.reproduce.criteria import Measurement
        d = self.dyn
        if not np.isfinite(d.peak):
            return None
        lb = np.log(d.peak_blocks)
        se = float(np.std(lb, ddof=1) / np.sqrt(len(lb))) if self.blocks_ok else float("nan")
        return Measurement(float(np.log(d.peak)), se, f"t* = {d.peak:.4g} tau; blocks: "
                           + ", ".join(f"{v:.4g}" for v in d.peak_blocks))

    def equilibration_row(self):
        from pyglass.workflow.reproduce.criteria import Measurement
        d = self.dyn
        lb = np.log(d.tau_blocks)
        if not self.blocks_ok or not np.all(np.isfinite(lb)):
            return None
        n = len(lb)
        s = float(np.std(lb, ddof=1))
        return Measurement(float(lb[0] - lb[1:].mean()), s * np.sqrt(1 + 1 / (n - 1)),
                           f"ln tau_alpha per block: {', '.join(f'{v:.3f}' for v in lb)}")

    def pressure_row(self):
        from pyglass.analysis.statistics import block_standard_error
        from pyglass.workflow.reproduce.criteria import Measurement
        th = self.draw.thermo()
        rows = th["stage"] == stage_index(self.draw, "production")
        if rows.sum() < 10:
            return None
        m, se = block_standard_error(th["pressure"][rows], 10)
        return Measurement(m, se, f"{int(rows.sum())} thermo rows of the production stage, 10 blocks")


# ---------------------------------------------------------------------------------------------- rows
def _mean_row(values, note=""):
    from pyglass.analysis.statistics import mean_and_se
    from pyglass.workflow.reproduce.criteria import Measurement
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return None
    m, se = mean_and_se(v)
    return Measurement(m, se, (note + "; " if note else "") + f"{len(v)} configuration(s): "
                       + ", ".join(f"{x:.3g}" for x in v))


def _mode_clusters(p, pairs, threshold):
    from pyglass.analysis.observables.statistics import clustered
    return clustered(np.asarray(p) > threshold, pairs, IR_MIN_CLUSTER)


def _overlap(c, p, threshold, random_samples=0, seed=0):
    from pyglass.analysis.observables.statistics import ir_mode_overlap
    return ir_mode_overlap(c.ir, p, c.positions, c.box, ir_level=IR_LEVEL, mode_threshold=threshold,
                           min_cluster=IR_MIN_CLUSTER, random_samples=random_samples, seed=seed, neighbours=c.pairs)


def _dw_minus_random(c, p, min_cluster, seed):
    """SI §4 metric: overlap of the top-10 % Debye-Waller clusters with the top-10 % mode clusters, minus
    the mean overlap of random 10 % selections (clustered the same way) with the mode clusters."""
    from pyglass.analysis.observables.statistics import overlap
    kw = dict(fraction=DW_FRACTION, min_cluster=min_cluster, neighbours=c.pairs)
    o = overlap(c.dw, p, c.positions, c.box, **kw)
    rng = np.random.default_rng(seed)
    base = [overlap(rng.permutation(c.dw), p, c.positions, c.box, **kw) for _ in range(RANDOM_MAPS)]
    return o, float(np.mean(np.nan_to_num(base, nan=0.0)))


def main_rows(index, notes):
    """The rows of part "": state point, dynamics, IR, modes, persistence, renormalised map, DW."""
    from pyglass.analysis.observables.statistics import clustered_percent, retained_fraction
    from pyglass.analysis.statistics import jackknife
    from pyglass.workflow.reproduce.criteria import Measurement
    m = {}
    confs = configurations(index, "iso", (MAP_MODES, 80))
    info = {"configurations": confs}
    try:
        dyn = Dynamics(index, TAU_ALPHA)
        info["dynamics"] = dyn
        for key, row in (("tau-alpha-2d", dyn.tau_row()), ("alpha2-peak-2d", dyn.peak_row()),
                         ("eq-fs-2d", dyn.equilibration_row()), ("state-pressure", dyn.pressure_row())):
            if row is not None:
                m[key] = row
    except (KeyError, ValueError, OSError) as exc:
        notes.append(f"tau_alpha, the alpha2 peak and the pressure could not be measured from the production "
                     f"frames ({exc}).")
    if not confs:
        notes.append("No complete configuration of the main part: its rows are not measured.")
        return m, info
    n = confs[0].n
    thr = mode_threshold(n)
    # Fig. S2: first losses of the 4th neighbour weighted to late times
    late = []
    for c in confs:
        t = c.first_loss[np.isfinite(c.first_loss)]
        late.append(float(np.mean((t > LATE[0]) & (t <= LATE[1]))) if len(t) else np.nan)
    m["s2-late-fraction"] = _mean_row(late, "fraction of first 4th-neighbour losses in (100, 200] tau")
    # Fig. 1: IR forms domains
    excess = []
    for k, c in enumerate(confs):
        ir = c.ir >= IR_LEVEL
        if ir.any():
            ours, rand = clustered_percent(ir, c.pairs, IR_MIN_CLUSTER, RANDOM_MAPS, seed=k)
            excess.append(ours - rand)
    m["ir-clustered"] = _mean_row(excess, "IR particles in clusters >= 5 minus random maps, percentage points")
    # Fig. 2 / S3: quasi-localised and delocalised modes among the 30
    ql = [float(np.mean(c.participation_ratio[:MAP_MODES] < QUASI_LOCALISED)) for c in confs
          if c.participation_ratio is not None and len(c.participation_ratio) >= MAP_MODES]
    m["ql-present"] = m["ql-not-all"] = _mean_row(ql, "fraction of the 30 lowest modes with P < 0.34")
    # SI §5: IR clusters against mode clusters, the chance level and the random maps
    scores, chance, rand = [], [], []
    for k, c in enumerate(confs):
        r = _overlap(c, c.maps[MAP_MODES], thr, RANDOM_MAPS, seed=k)
        scores.append(r.score)
        chance.append(r.chance_level)
        rand.append(r.random_mean_zero_filled)
    scores, chance, rand = np.array(scores), np.array(chance), np.array(rand)
    info.update(scores=scores, chance=chance, random=rand)
    has = np.isfinite(scores)
    m["ir-mode-overlap"] = _mean_row(scores, f"{int(has.sum())} of {len(confs)} configurations have an IR cluster")
    m["ir-mode-overlap-vs-chance"] = _mean_row(scores - chance, "overlap minus the chance level")
    m["ir-mode-overlap-vs-random"] = _mean_row(scores - rand, "overlap minus random maps (no cluster: 0)")
    # quenched short runs: changes of inherent structure, persistence, renormalised map
    qconfs = [c for c in confs if c.quenched is not None]
    rate, keep, keep_chance = [], [], []
    for c in qconfs:
        q = c.quenched
        e = np.asarray(q["energies"])
        rate.append(float(np.mean(np.abs(np.diff(e, axis=1)) > IS_EPSILON)))
        p = np.asarray(q["participation"])                     # (runs, quenches + 1, N)
        ret, ret_c = [], []
        for run in p:
            a, b = _mode_clusters(run[0], c.pairs, thr), _mode_clusters(run[-1], c.pairs, thr)
            f = retained_fraction(a, b)
            ret.append(f)
            ret_c.append(f - b.sum() / c.n)
        keep.append(float(np.nanmean(ret)))
        keep_chance.append(float(np.nanmean(ret_c)))
    if qconfs:
        m["is-change-rate"] = _mean_row(rate, "fraction of 1 tau intervals with |dU_IS| > 1e-5")
        m["mode-persist-retention"] = _mean_row(keep, "mode-cluster particles of t = 0 still in mode clusters at 10 tau")
        m["mode-persist-vs-chance"] = _mean_row(keep_chance, "retention minus the mode-cluster fraction at 10 tau")
        info.update(rate=rate, keep=keep, keep_chance=keep_chance)
    worst = [k for k in np.flatnonzero(has) if confs[k].quenched is not None]
    if worst:
        k = min(worst, key=lambda j: scores[j])
        c = confs[k]
        p = np.asarray(c.quenched["participation"])
        n_runs = len(p)

        def renorm(keep_runs):
            return _overlap(c, p[keep_runs].reshape(-1, c.n).max(axis=0), thr)

        full = renorm(np.ones(n_runs, bool))
        if n_runs >= 2 and np.isfinite(full.score):
            o, se = jackknife(lambda kr: renorm(kr).score, n_runs)
            g, gse = jackknife(lambda kr: renorm(kr).score - scores[k], n_runs)
            v, vse = jackknife(lambda kr: (lambda r: r.score - r.chance_level)(renorm(kr)), n_runs)
            base = f"configuration {c.sample} (initial overlap {scores[k]:.1f} %), {n_runs} runs of 10 tau"
            m["renorm-overlap"] = Measurement(o, se, base + f"; renormalised-map chance level {full.chance_level:.1f} %")
            m["renorm-gain"] = Measurement(g, gse, base)
            m["renorm-vs-chance"] = Measurement(v, vse, base)
        info.update(worst=k, renormalised=full, renormalised_map=p.reshape(-1, c.n).max(axis=0))
    # SI §4: Debye-Waller clusters against mode clusters, 30 and 80 modes
    for key, nm in (("dw-modes-2d", MAP_MODES), ("dw-modes-2d-80", 80)):
        vals = []
        for k, c in enumerate(confs):
            if nm in c.maps:
                o, b = _dw_minus_random(c, c.maps[nm], 3, seed=1000 + k)
                vals.append(o - b)
        m[key] = _mean_row(vals, f"O(DW, {nm} modes) minus random 10 % selections")
        info[key] = vals
    # checks: NVE drift, quench residuals, stability
    drift = [float(np.mean(np.abs(c.energies[:, -1] - c.energies[:, 0]))) for c in confs]
    m["nve-drift"] = _mean_row(drift, "|E(200 tau) - E(0)| / N per run, mean over runs")
    forces = [c.is_max_force for c in confs] + [float(np.max(c.quenched["max_force"])) for c in qconfs]
    forces = [f for f in forces if np.isfinite(f)]
    if forces:
        m["is-converged"] = Measurement(float(max(forces)), float("nan"),
                                        f"{len(forces)} sets of inherent structures")
    eigs = [c.eigenvalues for c in confs if c.eigenvalues is not None]
    eigs += [np.asarray(c.quenched["eigenvalues"])[:, 1:].reshape(-1) for c in qconfs]   # column 0: the start
    if eigs:
        m["is-stable"] = Measurement(int(sum(np.sum(e < -1e-6) for e in eigs)), float("nan"),
                                     f"{sum(e.size for e in eigs)} eigenvalues of {len(confs)} initial inherent "
                                     f"structures and the quenches of {len(qconfs)} configurations' short runs")
    return {k: v for k, v in m.items() if v is not None}, info


def recovery_rows(index):
    """Fig. S1 rows (part "recovery"): the histograms P(n | x) of the first configuration's 1000 tau runs."""
    from pyglass.analysis.statistics import jackknife
    from pyglass.workflow.reproduce.criteria import Measurement
    confs = configurations(index, "recovery")
    if not confs:
        return {}, {}
    c = min(confs, key=lambda c: c.sample)          # the first drawn
    m, info = {}, {"configuration": c}
    runs = c.n_runs
    for key, arr in (("failed", c.failed), ("never", c.never)):
        hist = {}
        for x in range(2, 6):
            if x > arr.shape[1]:
                continue
            v = arr[:, x - 1, :]
            hist[x] = np.bincount(v[v >= 0], minlength=x + 1)
        info[key] = hist
    for x, key in ((4, "s1-recover-x4"), (3, "s1-recover-x3")):
        if x > c.failed.shape[1]:
            continue
        f = c.failed[:, x - 1, :]                       # (runs, N)

        def frac(keep, f=f):
            v = f[keep]
            seen = v >= 0
            return float(np.sum(v[seen] == 0) / seen.sum()) if seen.any() else float("nan")

        val, se = jackknife(frac, runs) if runs >= 2 else (frac(np.ones(runs, bool)), float("nan"))
        obs = int(np.sum(f >= 0))
        if obs:
            m[key] = Measurement(val, se, f"{int(np.sum(f == 0))} of {obs} (particle, run) pairs reaching x = {x} "
                                 f"recover all, {runs} runs of {c.iso_times[-1]:g} tau")
    for key, row in (("failed", "s1-peaks"), ("never", "s1-peaks-any-later")):
        hist = info[key]
        if len(hist) < 4 or any(h.sum() < S1_MIN_OBSERVATIONS for h in hist.values()):
            continue
        peaks = [int(np.argmax(hist[x])) for x in range(2, 6)]      # argmax: ties go to the smaller n
        top = "; ".join(f"x = {x}: n = {int(np.argsort(hist[x])[-1])} ({int(np.sort(hist[x])[-1])}), "
                        f"n = {int(np.argsort(hist[x])[-2])} ({int(np.sort(hist[x])[-2])}) of {int(hist[x].sum())}"
                        for x in range(2, 6))
        m[row] = Measurement(", ".join(str(p) for p in peaks), float("nan"), "two highest bins: " + top)
    return m, info


def n4096_rows(index, main_scores, notes):
    from pyglass.analysis.statistics import mean_and_se
    from pyglass.workflow.reproduce.criteria import Measurement
    m, info = {}, {}
    try:
        dyn = Dynamics(index, TAU_ALPHA)
        row = dyn.equilibration_row()
        if row is not None:
            m["eq-fs-n4096"] = row
        info["dynamics"] = dyn
    except (KeyError, ValueError, OSError) as exc:
        notes.append(f"N = 4096: tau_alpha blocks could not be measured ({exc}).")
    confs = configurations(index, "iso")
    if not confs:
        return m, info
    n = confs[0].n
    thr = mode_threshold(n)
    res = [_overlap(c, c.maps[MAP_MODES], thr, 0, seed=k) for k, c in enumerate(confs) if MAP_MODES in c.maps]
    s = np.array([r.score for r in res])
    ch = np.array([r.chance_level for r in res])
    info.update(configurations=confs, scores=s, chance=ch)
    ok = np.isfinite(s)
    if not ok.any():
        return m, info
    main = np.asarray(main_scores, float)
    main = main[np.isfinite(main)]
    if ok.sum() >= 2:
        m["n4096-overlap"] = Measurement(*mean_and_se(s[ok]), f"{int(ok.sum())} configurations, threshold {thr:.4g}")
        m["n4096-overlap-vs-chance"] = Measurement(*mean_and_se((s - ch)[ok]), f"threshold {thr:.4g}")
    else:
        se = float(np.std(main, ddof=1)) if len(main) >= 2 else float("nan")
        why = (f"one configuration; se = the sample sd of the {len(main)} N = 1024 overlaps; threshold {thr:.4g}, "
               f"chance level {ch[ok][0]:.1f} %")
        m["n4096-overlap"] = Measurement(float(s[ok][0]), se, why)
        m["n4096-overlap-vs-chance"] = Measurement(float((s - ch)[ok][0]), se, why)
    return m, info


def three_d_rows(index, notes):
    m, info = {}, {}
    try:
        dyn = Dynamics(index, TAU_ALPHA_3D)
        info["dynamics"] = dyn
        for key, row in (("tau-alpha-3d", dyn.tau_row()), ("alpha2-peak-3d", dyn.peak_row()),
                         ("eq-fs-3d", dyn.equilibration_row())):
            if row is not None:
                m[key] = row
    except (KeyError, ValueError, OSError) as exc:
        notes.append(f"3D: tau_alpha and the alpha2 peak could not be measured ({exc}).")
    confs = configurations(index, "iso", (45, 60, 150))
    info["configurations"] = confs
    for key, nm in (("dw-modes-3d", 60), ("dw-modes-3d-45", 45), ("dw-modes-3d-150", 150)):
        vals = []
        for k, c in enumerate(confs):
            if nm in c.maps:
                o, b = _dw_minus_random(c, c.maps[nm], 5, seed=2000 + k)
                vals.append(o - b)
        if vals:
            m[key] = _mean_row(vals, f"O(DW, {nm} modes) minus random 10 % selections, n* = 5")
            info[key] = vals
    return {k: v for k, v in m.items() if v is not None}, info


# ---------------------------------------------------------------------------------------------- figures
def _figures(out, figures, main, rec, big, three):
    from pyglass.analysis.figures import pyplot, save_png
    plt = pyplot()
    if "scores" in main:
        fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
        s, ch, rd = main["scores"], main["chance"], main["random"]
        x = np.arange(len(s))
        ax[0].bar(x, np.nan_to_num(s), color="C0", label="IR clusters in mode clusters")
        ax[0].plot(x, ch, "k_", ms=22, mew=2, label="chance (particles in mode clusters)")
        ax[0].plot(x, rd, "b_", ms=22, mew=2, label="random maps (paper)")
        if "worst" in main and np.isfinite(main["renormalised"].score):
            ax[0].plot([main["worst"]], [main["renormalised"].score], "rx", ms=10, mew=2, label="renormalised map")
        ax[0].axhline(50, color="r", ls="--", lw=0.8, label="paper ~50 %")
        ax[0].set_xlabel("configuration")
        ax[0].set_ylabel("SI §5 overlap (%)")
        ax[0].legend(fontsize=7)
        ax[0].set_title("Fig. S8", fontsize=9)
        if "rate" in main:
            ax[1].bar(x[:len(main["keep"])] - 0.2, main["keep"], 0.4, label="mode clusters kept after 10 tau")
            ax[1].bar(x[:len(main["rate"])] + 0.2, main["rate"], 0.4, label="1 tau intervals with an IS change")
            ax[1].axhline(0.5, color="k", lw=0.6)
            ax[1].set_xlabel("configuration")
            ax[1].legend(fontsize=7)
            ax[1].set_title("persistence (SI §3)", fontsize=9)
        save_png(fig, os.path.join(out, "widmercooper2008_overlap_persistence.png"), figures)
    if rec:
        fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
        for a, key, words in ((ax[0], "failed", "simultaneous (claim)"), (ax[1], "never", "any later time (check)")):
            for x, h in rec.get(key, {}).items():
                if h.sum():
                    a.plot(np.arange(len(h)), h / h.sum(), "o-", ms=3, label=f"x = {x}")
            a.set_xlabel("n (lost neighbours not recovered)")
            a.set_ylabel("P(n | x)")
            a.set_title(f"Fig. S1, {words}", fontsize=9)
            a.legend(fontsize=7)
        save_png(fig, os.path.join(out, "widmercooper2008_fig_s1.png"), figures)
    dyns = [(lab, d["dynamics"]) for lab, d in (("2D", main), ("N = 4096", big), ("3D", three)) if "dynamics" in d]
    if dyns or main.get("configurations"):
        fig, ax = plt.subplots(1, 3, figsize=(14, 3.6))
        for lab, d in dyns:
            ax[0].plot(d.q, d.sq, "-", label=f"{lab}: q* = {d.q_star:.2f}")
            ax[1].semilogx(d.dyn.t, d.dyn.fs, "-", label=f"{lab}: tau_alpha = {d.dyn.tau_alpha:.3g}")
            ax[2].semilogx(d.dyn.t, d.dyn.alpha2, "-", label=f"{lab}: t* = {d.dyn.peak:.3g}")
        ax[1].axhline(np.exp(-1), color="k", lw=0.6)
        for a, tau in ((ax[1], TAU_ALPHA), (ax[2], 200.0)):
            a.axvline(tau, color="r", ls="--", lw=0.8)
        ax[0].set_xlabel("q")
        ax[0].set_ylabel("S(q)")
        ax[1].set_xlabel("t")
        ax[1].set_ylabel("F_s(q*, t)")
        ax[2].set_xlabel("t")
        ax[2].set_ylabel("alpha2(t)")
        confs = main.get("configurations") or []
        times = np.concatenate([c.first_loss[np.isfinite(c.first_loss)] for c in confs]) if confs else []
        for a in ax:
            a.legend(fontsize=7)
        save_png(fig, os.path.join(out, "widmercooper2008_dynamics.png"), figures)
        if len(times):
            fig, a = plt.subplots(figsize=(5, 3.4))
            a.hist(times, bins=20, range=(0, 200))
            a.set_xlabel("time of the first loss of the 4th neighbour")
            a.set_ylabel("(particle, run) pairs")
            a.set_title("Fig. S2", fontsize=9)
            save_png(fig, os.path.join(out, "widmercooper2008_fig_s2.png"), figures)
    if "worst" in main:
        from pyglass.analysis.maps import draw_field_map
        c = main["configurations"][main["worst"]]
        r0 = _overlap(c, c.maps[MAP_MODES], mode_threshold(c.n))
        for name, field, words in (("initial", c.maps[MAP_MODES], "initial 30-mode map"),
                                   ("renormalised", main["renormalised_map"], "renormalised map (max over 5 x 10 tau)")):
            p = os.path.join(out, f"widmercooper2008_map_{name}.png")
            draw_field_map(c.positions, c.box, field, p, title=f"configuration {c.sample}: {words}; IR clusters circled",
                           highlight=r0.ir_clusters, label="p_i")
            figures.append(p)


# ---------------------------------------------------------------------------------------------- notes
WHY = {
    "tau-alpha-2d": "tau_alpha is a prediction here: the density is fixed by P = 13.5 (the pressure pilot), so a miss "
                    "measures how far our NVT liquid with its smooth cutoff at that pressure is from the paper's NPT "
                    "state; tau_alpha depends steeply on density (the density scan of the earlier reports: 104 tau "
                    "at rho = 0.74, 425 tau at 0.76).",
    "alpha2-peak-2d": "the alpha2 peak moves with tau_alpha (same state point as tau-alpha-2d).",
    "ir-mode-overlap": "fewer iso-configurational runs than the paper's 100 leave P >= 0.01 particles undetected, and "
                       "few configurations scatter the mean (the paper: three of ten near 40 %).",
    "renorm-overlap": "our worst configuration is not the paper's; the renormalised map covers more of the box, "
                      "compare renorm-vs-chance.",
    "s1-peaks": "the simultaneous reading needs all lost neighbours back at the same check; compare the secondary "
                "reading s1-peaks-any-later.",
    "n4096-overlap": "one configuration and fewer runs than the paper's 100.",
    "n4096-overlap-vs-chance": "one configuration with 10 runs (the paper's: 100): the standard error (about 9 "
                               "points) is about twice the difference, so this run cannot tell; more runs are the "
                               "next test.",
    "is-change-rate": "what counts as a changed inherent structure (the criteria's estimator) is not stated in the "
                      "paper and ours may be stricter; the 1 tau check interval can also miss a change that "
                      "returns to the same minimum within it. Not investigated.",
    "alpha2-peak-3d": "the alpha2 peak moves with tau_alpha (same state point as tau-alpha-3d).",
    "tau-alpha-3d": "the 3D cutoff (sqrt(3) sigma_ab, A + B r^2) is not stated in the paper, and our configurations "
                    "were equilibrated here, not by the paper's collaborator.",
}


def _notes(quantities, notes, full, parts_info, deck=None):
    from pyglass.workflow.reproduce.report import miss_note
    for q in quantities:
        if not q.holds:
            notes.append(miss_note(q, WHY.get(q.id, "not measured in this run" if q.ours == "not measured"
                                               else "see the notes below")))
    scale = "full" if full else "reduced"
    main = parts_info.get("", {})
    confs = main.get("configurations") or []
    if confs:
        c = confs[0]
        spacing = "?"
        if deck is not None and deck.is_study:
            names = [st["name"] for st in deck.data["stage"]]
            draw = deck.data["stage"][names.index(deck.study["draw_after"])]
            spacing = f"{deck.study['spacing'] * draw['integrator']['dt']:g}"
        notes.append(f"Scale ({scale}): N = {c.n}, {len(confs)} configurations {spacing} tau apart from one NVT trajectory, "
                     f"{c.n_runs} iso-configurational runs of {c.iso_times[-1]:g} tau each (the paper: 10 "
                     "configurations, 100 runs, NPT). With n runs an IR probability of 0.01 is resolved only as "
                     "1/n; fewer IR particles are found than with 100 runs.")
    d = main.get("dynamics")
    if d is not None and np.isfinite(d.dyn.tau_alpha) and d.dyn.tau_alpha > TAU_ALPHA:
        notes.append(f"Our tau_alpha ({d.dyn.tau_alpha:.3g} tau) exceeds the 673 tau between configurations: "
                     "they are less than one tau_alpha apart.")
    if "scores" in main:
        notes.append("SI §5 per configuration (overlap / chance / random maps, %): " + "; ".join(
            f"{'n/a' if not np.isfinite(s) else f'{s:.0f}'} / {c:.0f} / {r:.1f}"
            for s, c, r in zip(main["scores"], main["chance"], main["random"])) + ".")
    notes.append("Fig. S1: the claim is the literal (simultaneous) reading of the SI's 'minimum number n of lost "
                 "neighbours that failed to be recovered'; the reading in which a neighbour back at any later time "
                 "counts as recovered was added after the literal one missed in an earlier report and is only a "
                 "check (s1-peaks-any-later).")


# ---------------------------------------------------------------------------------------------- entry
def analyse(indexes, decks, out, full):
    from pyglass.workflow.reproduce.criteria import Criteria
    crit = Criteria.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "criteria.toml"))
    measured, figures, notes, info = {}, [], [], {}

    def present(tag):
        return tag in indexes and os.path.exists(indexes[tag])

    if present(""):
        m, info[""] = main_rows(indexes[""], notes)
        measured.update(m)
    if present("recovery"):
        m, info["recovery"] = recovery_rows(indexes["recovery"])
        measured.update(m)
    if present("n4096"):
        m, info["n4096"] = n4096_rows(indexes["n4096"], info.get("", {}).get("scores", []), notes)
        measured.update(m)
    if present("3d"):
        m, info["3d"] = three_d_rows(indexes["3d"], notes)
        measured.update(m)
    quantities = crit.score(measured)
    _figures(out, figures, info.get("", {}), info.get("recovery", {}), info.get("n4096", {}), info.get("3d", {}))
    _notes(quantities, notes, full, info, decks.get(""))
    return quantities, figures, notes
