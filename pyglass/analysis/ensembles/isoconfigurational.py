"""The iso-configurational ensemble (Widmer-Cooper, Harrowell & Fynewever, PRL 93, 135701 (2004);
paper 1): many runs from one configuration, each with momenta drawn afresh from Maxwell–Boltzmann
at T with zero total momentum (`System.thermalize(T, seed)`, one recorded seed per run).

Per-particle results at the requested times: propensity <Δr²>_iso (papers 1, 3) and <|Δr|>_iso
(paper 2's mobility, Sec. III C), the neighbour-relative <|Δr_i − mean_j Δr_j|>_iso over the start's
neighbours j (paper 2's Fig. 2, after its Ref. 64), the Debye–Waller factor (variance of the particle's position over the runs, paper 1 at
t_DW = 10τ), the probability of irreversible reorganisation (>= 4 initial neighbours lost, paper 1),
times of the first loss of the 4th neighbour (Fig. S2) and the recovery statistics (Fig. S1).

Paper 1 ran NPT (Nosé–Poincaré–Andersen); here `integrator` chooses "nve" (default), "nvt"
(Nosé–Hoover chain), "npt" (MTK barostat + Nosé–Hoover chains, pressure P) or a factory returning any
Integrator. Under NPT the box fluctuates per run; displacements still come from unwrapped positions.

`batch` runs up to that many runs of a rank group together as one replica batch
(engine.integrators.ReplicaBatch: one kernel call per half step, ghost refresh and force evaluation
for all of them), on one rank, for "nve" and "nvt" with a pair potential; the results are those of
the runs one at a time, bit for bit. Other integrators, potentials or groups of several ranks run
one at a time, with a warning saying why.
"""
from __future__ import annotations

import warnings

import numpy as np

from pyglass.analysis.ensembles.base import Ensemble
from pyglass.analysis.observables.base import LinearSchedule
from pyglass.analysis.observables.rearrangements import NeighbourLoss, recovery_histogram
from pyglass.analysis.observables.structure import neighbour_cutoffs as _gr_cutoffs, neighbour_pairs


def neighbour_relative_propensity(displacements, pairs) -> np.ndarray:
    """(n_times, N) mean over runs of |Δr_i − mean of Δr_j over i's neighbours j| (`displacements`
    (runs, n_times, N, d), `pairs` (P, 2) the start's neighbour graph, each pair once): the motion of a
    particle relative to its cage, blind to the collective drift that carries a whole neighbourhood.
    A particle without neighbours keeps its own |Δr|."""
    dr = np.asarray(displacements, float)
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    n = dr.shape[2]
    count = np.bincount(pairs.ravel(), minlength=n).astype(float)
    total = np.zeros_like(dr)
    np.add.at(total, (slice(None), slice(None), pairs[:, 0]), dr[:, :, pairs[:, 1]])
    np.add.at(total, (slice(None), slice(None), pairs[:, 1]), dr[:, :, pairs[:, 0]])
    cage = np.divide(total, count[:, None], out=np.zeros_like(total), where=count[:, None] > 0)
    return np.linalg.norm(dr - cage, axis=-1).mean(0)


class IsoconfigurationalResult:
    """Fields over the ensemble; arrays are (n_times, N) in particle order unless noted."""

    def __init__(self, times, seeds, members, threshold, pairs=None, cutoffs=None):
        self.times = np.asarray(times, float)
        self.seeds = np.asarray(seeds, np.int64)
        self.displacements = np.stack([m["dr"] for m in members])          # (runs, n_times, N, d)
        self.reorganised = np.stack([m["reorganised"] for m in members])   # (runs, n_times, N)
        self.first_loss_times = np.stack([m["first_loss_time"] for m in members])  # (runs, max_x, N)
        self.failed = np.stack([m["failed"] for m in members])             # (runs, max_x, N)
        self.never_recovered = np.stack([m["never_recovered"] for m in members])   # (runs, max_x, N)
        # total energy per particle at the start and at each time (runs, 1 + n_times): drift under NVE
        self.energies = np.stack([m["energies"] for m in members])
        self.threshold = threshold
        # the neighbour graph of the start (pairs (P, 2) closer than the species-pair cutoffs): the IR
        # criterion's initial neighbours, and the graph the paper's clusters are connected on
        self.neighbour_pairs = np.zeros((0, 2), np.int64) if pairs is None else np.stack(pairs, 1).astype(np.int64)
        self.cutoffs = np.zeros((0, 0)) if cutoffs is None else np.asarray(cutoffs, float)
        r2 = np.einsum("rtnd,rtnd->rtn", self.displacements, self.displacements)
        self.propensity = r2.mean(0)
        self.propensity_abs = np.sqrt(r2).mean(0)
        self.propensity_relative = neighbour_relative_propensity(self.displacements, self.neighbour_pairs)
        self.debye_waller = self.displacements.var(axis=0).sum(-1)
        self.ir_probability = self.reorganised.mean(0)

    @property
    def n_runs(self):
        return len(self.seeds)

    def debye_waller_over_interval(self, t_dw: float, include_origin: bool = True) -> np.ndarray:
        """Paper 3's Debye–Waller factor (N,): "the variance of its position during a time interval
        t_DW = 10τ [...] averaged over multiple runs originating from X": for each run the variance
        over the recorded times t <= t_dw (and the origin, displacement 0, if include_origin) of the
        particle's position, summed over components, then averaged over runs. The time variance is
        sampled at `times` (record a uniform grid in [0, t_dw], e.g. times=np.linspace(dt_s, 10, 50)).
        `debye_waller` (the variance over runs at one time, paper 1 SI §4) is the other definition."""
        sel = self.times <= t_dw * (1 + 1e-12)
        d = self.displacements[:, sel]                                    # (runs, k, N, d)
        if include_origin:
            d = np.concatenate([np.zeros_like(d[:, :1]), d], axis=1)
        if d.shape[1] < 2:
            raise ValueError(f"debye_waller_over_interval needs at least two samples in [0, {t_dw}]; "
                             f"recorded times {self.times.tolist()}")
        return d.var(axis=1).sum(-1).mean(0)

    @property
    def reorganisation_times(self):
        """(runs, N) time of the first loss of the threshold-th neighbour (inf if never)."""
        return self.first_loss_times[:, self.threshold - 1]

    def recovery_histogram(self):
        """Fig. S1: P(n | x), rows x = 1..max_x, and observation counts."""
        return recovery_histogram(self.failed)

    def write(self, h5group):
        for key in ("times", "seeds", "propensity", "propensity_abs", "propensity_relative", "debye_waller", "ir_probability",
                    "first_loss_times", "failed", "never_recovered", "energies", "neighbour_pairs", "cutoffs"):
            h5group.create_dataset(key, data=getattr(self, key))
        h5group.attrs["threshold"] = self.threshold
        return h5group


class IsoconfigurationalEnsemble(Ensemble):
    """n_runs runs from `system`'s configuration at temperature T.

    Parameters
    ----------
    system, potential : the configuration (not modified) and its interactions
    n_runs, T, dt, seed : ensemble size, temperature, time step, master seed (member seeds derived)
    integrator : "nve" (default), "nvt" (Nosé–Hoover chain, period `tau`), "npt" (MTK barostat at
                 pressure P, periods tau and tau_P; paper 1's choice) or a callable (dt, T) -> Integrator
    cutoffs : (n_types, n_types) neighbour cutoffs (default: first minima of this configuration's
              partial g(r)); check_every : time between neighbour checks (default 0.1)
    threshold, max_x, hysteresis : see `NeighbourLoss`
    comm, n_groups : mpi4py communicator and number of rank groups (default one per rank)
    batch : runs advanced together as one replica batch (default 1: one at a time); see the module
            docstring. `batch_refused` says why a batch > 1 runs one at a time (None if it does not)
    """

    def __init__(self, system, potential, n_runs: int, T: float, dt: float, seed: int = 0, integrator="nve",
                 tau: float = None, cutoffs=None, check_every: float = 0.1, threshold: int = 4, max_x: int = 5,
                 hysteresis: float = 0.0, comm=None, n_groups=None, seeds=None, P: float = None,
                 tau_P: float = None, batch: int = 1):
        super().__init__(n_runs, seed, comm, n_groups, seeds)
        if not T > 0:
            raise ValueError(f"T must be > 0, got {T}")
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        self.system = system.copy()
        self.potential = potential
        self.T, self.dt = float(T), float(dt)
        self.integrator = integrator
        self.tau = 100 * dt if tau is None else float(tau)
        self.P, self.tau_P = P, (1000 * dt if tau_P is None else float(tau_P))
        if integrator not in ("nve", "nvt", "npt") and not callable(integrator):
            raise ValueError("integrator must be 'nve', 'nvt', 'npt' or a callable (dt, T) -> Integrator, "
                             f"got {integrator!r}")
        if integrator == "npt" and P is None:
            raise ValueError("integrator='npt' needs the pressure P (paper 1: P = 13.5 [unverified])")
        self.cutoffs = _gr_cutoffs(system.positions, system.box, system.types) if cutoffs is None \
            else np.asarray(cutoffs, float)
        self.pairs = neighbour_pairs(system.positions, system.box, system.types, self.cutoffs)
        self.check_steps = max(1, int(round(check_every / dt)))
        self.threshold, self.max_x, self.hysteresis = int(threshold), int(max_x), float(hysteresis)
        self.times = None
        if int(batch) < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.batch, self.batch_refused = int(batch), None
        if self.batch > 1:
            from pyglass.engine.integrators import batchable
            self.batch_refused = batchable(self.make_integrator(), potential, self.group_comm)
            if self.batch_refused:
                warnings.warn(f"iso-configurational ensemble: batch = {self.batch} not used, the runs go one at a "
                              f"time: {self.batch_refused}", stacklevel=2)
                self.batch = 1

    def make_integrator(self):
        from pyglass.engine.integrators import NVE, NoseHoover
        if self.integrator == "nve":
            return NVE(self.dt)
        if self.integrator == "nvt":
            return NoseHoover(self.dt, self.T, self.tau)
        if self.integrator == "npt":
            from pyglass.engine.integrators import NPT
            return NPT(self.dt, self.T, self.P, self.tau, self.tau_P)
        return self.integrator(self.dt, self.T)

    def _start(self, seed):
        """One run's start: (system with momenta drawn from seed, unwrapped positions, time, its
        neighbour-loss tracker)."""
        s = self.system.copy()
        s.thermalize(self.T, int(seed))
        tracker = NeighbourLoss(s.positions, s.box, s.types, self.cutoffs,
                                schedule=LinearSchedule(self.check_steps, start=s.step),
                                threshold=self.threshold, max_x=self.max_x, hysteresis=self.hysteresis,
                                pairs=self.pairs)
        return s, s.unwrapped_positions.copy(), s.time, tracker

    def _record(self, runs, advance, potential_energies) -> list:
        """Advance the runs (one, or a replica batch: `advance(steps)`) from time to time of
        `self.times` and record each run's fields there; potential_energies() gives each run's
        potential energy now. Returns one result dict per run."""
        def energies_now():
            return [(e + s.kinetic_energy()) / s.n_global for e, (s, *_) in zip(potential_energies(), runs)]

        energies = [energies_now()]
        steps = np.round(self.times / self.dt).astype(np.int64)
        dr, reorg, done = [[] for _ in runs], [[] for _ in runs], 0
        for target in steps:
            if target > done:
                advance(int(target - done))
                done = int(target)
            for k, (s, x0, _, tracker) in enumerate(runs):
                # a check exactly at the recording step if the schedule did not hit it
                if (s.step - tracker.schedule.start) % tracker.schedule.every:
                    tracker.observe(s.positions, s.box, s.time)
                dr[k].append(s.unwrapped_positions - x0)
                reorg[k].append(tracker.reorganised.copy())
            energies.append(energies_now())
        energies = np.array(energies)
        return [{"dr": np.array(dr[k]), "reorganised": np.array(reorg[k]), "energies": energies[:, k],
                 "first_loss_time": tracker.first_loss_time - t_start, "failed": tracker.failed.copy(),
                 "never_recovered": tracker.never_recovered} for k, (_, _, t_start, tracker) in enumerate(runs)]

    def run_member(self, k, seed, group_comm):
        run = self._start(seed)
        s, tracker = run[0], run[3]
        integ = self.make_integrator()
        return self._record([run], lambda n: integ.run(s, self.potential, n, observables=(tracker,)),
                            lambda: [self.potential.compute(s).energy])[0]

    def run_members(self, ks, seeds, group_comm):
        """Up to `batch` runs as one replica batch (the same numbers as run_member one at a time)."""
        if self.batch == 1 or len(ks) == 1:
            return super().run_members(ks, seeds, group_comm)
        from pyglass.engine.integrators import ReplicaBatch
        runs = [self._start(seed) for seed in seeds]
        batch = ReplicaBatch([run[0] for run in runs], self.potential)
        integrators = [self.make_integrator() for _ in runs]
        observables = [(run[3],) for run in runs]
        return self._record(runs, lambda n: batch.run(integrators, n, observables=observables),
                            lambda: [res.energy for res in batch.evaluate()])

    def run(self, times) -> IsoconfigurationalResult:
        """Run every member to max(times); record the fields at each time (simulation time units
        after the start). Returns an IsoconfigurationalResult (identical on every rank)."""
        times = np.atleast_1d(np.asarray(times, float))
        if np.any(times < 0) or np.any(np.diff(times) <= 0):
            raise ValueError(f"times must be non-negative and increasing, got {times.tolist()}")
        steps = np.round(times / self.dt)
        if np.any(np.abs(steps * self.dt - times) > 1e-9 * np.maximum(1, times)):
            raise ValueError(f"times {times.tolist()} are not multiples of dt={self.dt}")
        self.times = times
        members = self.run_all()
        return IsoconfigurationalResult(times, self.seeds, members, self.threshold, self.pairs, self.cutoffs)
