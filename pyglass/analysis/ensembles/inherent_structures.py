"""Inherent structures: ensembles of quenched samples from equilibrium runs at a parent
temperature T_p (paper 2: "regularly performed instantaneous quenches ... labelled by T_p"),
and inherent-structure trajectories (paper 2, Fig. 5: quench every k MD steps, U_IS(t),
transitions ΔU_IS > ε = 1e-5, rate Γ reported as Γ t_ballistic N0/N with N0 = 1000,
t_ballistic = 0.1 t0).

Quenches use a `pyglass.engine.minimizers` minimizer (`minimizers.DEFAULT_QUENCH`, CG to 1e-10, by default); any object with
`minimize(system, potential) -> result(converged, reason, energy, max_force, iterations)` works.
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.ensembles.base import Ensemble
from pyglass.analysis.observables.dynamics import reduced_units


def default_minimizer():
    from pyglass.engine.minimizers import default_quench_minimizer
    return default_quench_minimizer()


def quench(system, potential, minimizer=None):
    """A quenched copy of `system` and the minimizer's result; raises if it did not converge."""
    minimizer = minimizer or default_minimizer()
    q = system.copy()
    res = minimizer.minimize(q, potential)
    if not res.converged:
        raise RuntimeError(f"quench did not converge at step {system.step}: {res.reason} "
                           f"(max force {res.max_force:.3g} after {res.iterations} iterations)")
    return q, res


class InherentStructureResult:
    def __init__(self, template, members):
        self.template = template
        self.positions = np.concatenate([m["positions"] for m in members])    # (samples, N, d)
        self.images = np.concatenate([m["images"] for m in members])
        self.energies = np.concatenate([m["energies"] for m in members])      # total U_IS
        self.parent_times = np.concatenate([m["times"] for m in members])
        self.chain = np.concatenate([np.full(len(m["energies"]), k) for k, m in enumerate(members)])

    def __len__(self):
        return len(self.energies)

    @property
    def samples(self):
        """The inherent structures as Systems (zero velocities), ready for the landscape code."""
        out = []
        for x, img in zip(self.positions, self.images):
            s = self.template.copy()
            s.positions = x
            s.images = img.copy()
            s.velocities = 0.0
            out.append(s)
        return out


class InherentStructureEnsemble(Ensemble):
    """Quenched samples at parent temperature T_p: `n_chains` independent equilibrium chains
    (Nosé–Hoover at T_p, each thermalised with its own recorded seed, run over rank groups), each
    equilibrated for `equilibration` time and then quenched every `interval` time, `per_chain`
    samples per chain."""

    def __init__(self, system, potential, T_p: float, dt: float, per_chain: int, interval: float,
                 n_chains: int = 1, equilibration: float = 0.0, tau: float = None, minimizer=None, seed: int = 0,
                 comm=None, n_groups=None):
        super().__init__(n_chains, seed, comm, n_groups)
        if not T_p > 0 or not dt > 0 or not interval > 0 or int(per_chain) < 1:
            raise ValueError(f"need T_p > 0, dt > 0, interval > 0, per_chain >= 1 "
                             f"(got {T_p}, {dt}, {interval}, {per_chain})")
        self.system, self.potential = system.copy(), potential
        self.T_p, self.dt, self.per_chain = float(T_p), float(dt), int(per_chain)
        self.interval_steps = max(1, int(round(interval / dt)))
        self.equilibration_steps = int(round(equilibration / dt))
        self.tau = 100 * dt if tau is None else float(tau)
        self.minimizer = minimizer

    def run_member(self, k, seed, group_comm):
        from pyglass.engine.integrators import NoseHoover
        s = self.system.copy()
        s.thermalize(self.T_p, int(seed))
        integ = NoseHoover(self.dt, self.T_p, self.tau)
        if self.equilibration_steps:
            integ.run(s, self.potential, self.equilibration_steps)
        xs, imgs, es, ts = [], [], [], []
        for _ in range(self.per_chain):
            integ.run(s, self.potential, self.interval_steps)
            q, res = quench(s, self.potential, self.minimizer)
            xs.append(q.positions.copy())
            imgs.append(q.images.copy())
            es.append(res.energy)
            ts.append(s.time)
        return {"positions": np.array(xs), "images": np.array(imgs), "energies": np.array(es), "times": np.array(ts)}

    def run(self) -> InherentStructureResult:
        return InherentStructureResult(self.system, self.run_all())


class ISTrajectory:
    """Result of `inherent_structure_trajectory`: times, U_IS (total), IS positions (optional), the
    segment of each quench, transitions (|ΔU_IS| > epsilon between consecutive quenches of one
    segment; False across a gap between segments) and their rate."""

    def __init__(self, times, energies, epsilon, n, volume, T, dim, positions=None, segment=None):
        self.times, self.energies = np.asarray(times), np.asarray(energies)
        self.segment = np.zeros(len(self.energies), np.int64) if segment is None else np.asarray(segment, np.int64)
        self.epsilon = epsilon
        same = self.segment[1:] == self.segment[:-1]
        self.transitions = (np.abs(np.diff(self.energies)) > epsilon) & same
        self.positions = positions
        self.n, self.volume, self.T, self.dim = n, volume, T, dim

    @property
    def n_transitions(self) -> int:
        return int(self.transitions.sum())

    @property
    def span(self) -> float:
        """Time covered by quenches: the sum of the segments' spans (the gaps between them excluded)."""
        return float(sum(np.ptp(self.times[self.segment == k]) for k in np.unique(self.segment)))

    @property
    def rate(self) -> float:
        """Γ = transitions per unit time."""
        span = self.span
        return self.n_transitions / span if span > 0 else float("nan")

    def reduced_rate(self, n0: int = 1000, ballistic: float = 0.1) -> float:
        """Γ t_ballistic N0 / N with t_ballistic = `ballistic` t0 (paper 2, Fig. 5b)."""
        _, t0 = reduced_units(self.volume, self.n, self.T, self.dim)
        return self.rate * ballistic * t0 * n0 / self.n


def inherent_structure_trajectory(system, potential, integrator, steps: int, every: int = 1, minimizer=None,
                                  epsilon: float = 1e-5, T: float = None, keep_positions: bool = False,
                                  segments: int = 1, gap: int = 0):
    """Run `steps` MD steps with `integrator` (the system advances) and quench a copy every `every`
    steps (and at the start); with `segments` > 1, that many such stretches separated by `gap`
    unquenched MD steps (transitions are counted within a segment: paper 2 averages the rate over
    ten trajectories, and IS transitions come in bursts). Returns an ISTrajectory. T (for reduced
    units) defaults to the integrator's target or the mean kinetic temperature."""
    if int(every) < 1 or int(steps) < int(every):
        raise ValueError(f"need 1 <= every <= steps, got every={every}, steps={steps}")
    if int(segments) < 1 or int(gap) < 0:
        raise ValueError(f"need segments >= 1 and gap >= 0, got segments={segments}, gap={gap}")
    k = getattr(potential, "cutoff_continuity", None)
    if k is not None and k < 2:
        import warnings
        warnings.warn(f"inherent_structure_trajectory: only phi..phi^({k}) of {getattr(potential, 'name', potential)} "
                      "vanish at its cutoff (cutoff_continuity < 2); a force or curvature jump there splits basins "
                      "into near-degenerate minima "
                      "that count as transitions. Use a smooth variant (smoothing='smooth', IPL10, StickySpheres, "
                      "StillingerWeber).", stacklevel=2)
    minimizer = minimizer or default_minimizer()
    times, energies, pos, temps, segment = [], [], [], [], []

    def record(s, k):
        q, res = quench(s, potential, minimizer)
        times.append(s.time)
        energies.append(res.energy)
        temps.append(s.temperature())
        segment.append(k)
        if keep_positions:
            pos.append(q.unwrapped_positions)

    for k in range(int(segments)):
        if k and int(gap):
            integrator.run(system, potential, int(gap))
        record(system, k)
        for _ in range(int(steps) // int(every)):
            integrator.run(system, potential, int(every))
            record(system, k)
    if T is None:
        T = getattr(integrator, "T", None) or float(np.mean(temps))
    return ISTrajectory(times, energies, epsilon, system.N, system.box.volume, T, system.dim,
                        np.array(pos) if keep_positions else None, segment)


def count_new_minima(energies, transitions, epsilon: float = 1e-5) -> int:
    """Of the transitions of an inherent-structure trajectory (ISTrajectory.transitions: one flag per
    quench interval), those into a minimum whose U_IS differs by more than `epsilon` from every minimum
    the trajectory visited before (first visits); the others return to one (flickering between nearby
    minima)."""
    e = np.asarray(energies, float)
    transitions = np.asarray(transitions, bool)
    if len(transitions) != max(len(e) - 1, 0):
        raise ValueError(f"count_new_minima: {len(e)} energies need {max(len(e) - 1, 0)} transition flags, "
                         f"got {len(transitions)}")
    seen = np.sort(e[:1])
    n = 0
    for k in range(1, len(e)):
        if transitions[k - 1]:
            i = np.searchsorted(seen, e[k])
            near = seen[max(i - 1, 0):i + 1]
            n += bool(np.all(np.abs(near - e[k]) > epsilon))
        seen = np.insert(seen, np.searchsorted(seen, e[k]), e[k])
    return n


def transition_rate_spread(rate: float, transitions, segment) -> tuple:
    """(spread, fraction) of a transition rate measured on an inherent-structure trajectory in segments
    (ISTrajectory.transitions and .segment): the rate's standard error over the segments (taken of
    equal length) where there are at least three, which exceeds the Poisson one since transitions come
    in bursts; else Poisson's, rate / sqrt(transitions). `fraction`: the share of the quench intervals
    within segments that hold a transition (near 1 the quenches are too sparse to resolve the rate)."""
    tr = np.asarray(transitions, bool)
    seg = np.asarray(segment)
    if len(tr) != max(len(seg) - 1, 0):
        raise ValueError(f"transition_rate_spread: {len(seg)} quenches need {max(len(seg) - 1, 0)} transition "
                         f"flags, got {len(tr)}")
    n = int(tr.sum())
    labels = np.unique(seg)
    fraction = n / max(len(seg) - len(labels), 1)
    if len(labels) > 2 and n:
        per = np.array([tr[seg[1:] == k].sum() for k in labels], float)
        return float(rate * per.std(ddof=1) / (per.mean() * np.sqrt(len(per)))), fraction
    return float(rate / np.sqrt(max(n, 1))), fraction
