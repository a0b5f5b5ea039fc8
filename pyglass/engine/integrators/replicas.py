"""R independent replicas of one small system advanced together (issue 32, item 3).

Iso-configurational ensembles run hundreds of short runs of one system of N = 250-2000 particles;
one at a time each step pays the run loop's Python and a handful of kernel calls, which at that size
is a large part of the step. A `ReplicaBatch` holds R systems with the same particles (same N, types
and masses; different velocities, and so different trajectories), each with its own domain, ghosts
and neighbour list (`PairPotential.replica()`), and advances them together: each half step, the
ghost refresh with its rebuild test, and the force evaluation are one kernel call that walks a
replica table (`extensions/replicas.pxd`: one row of buffer addresses per replica, rewritten by
`pair.set_replica_row` after every rebuild), so the fixed cost of a step is paid once for R
replicas. A replica whose particles moved more than skin/2 rebuilds on its own, through the
ordinary path (`NeighbourList.update`).

The kernels are the one-system kernels' own code (`extensions/integrate.pyx`, `pair.pyx`,
`neighbours.pyx` share one C function for each update), and a batched run starts, samples and ends
like `Integrator.run` (forces evaluated at the start, the thermostat's setup, observables primed and
sampled when due), so replica r of a batch follows the trajectory of its system run alone with the
same integrator: same seeds, same numbers (tests/engine/test_replicas.py).

Supported: `NVE` and `NoseHoover` with a `PairPotential`, on one rank. Other integrators
(Langevin, NPT), many-body potentials and decomposed systems run one replica at a time
(`batchable` says why not).
"""
from __future__ import annotations

import contextlib
import math
import time as _time

import numpy as np

from pyglass._ext import integrate as _int
from pyglass._ext import neighbours as _nb
from pyglass._ext import pair as _pair
from pyglass.engine.comm import is_parallel
from pyglass.engine.domain import domain_of
from pyglass.engine.integrators.base import RunStats
from pyglass.engine.integrators.nosehoover import NoseHoover
from pyglass.engine.integrators.nve import NVE
from pyglass.engine.potentials.base import ForceResult, check_finite
from pyglass.engine.potentials.pair import PairPotential

#: the integrators a batch advances in its kernels (exact types: a subclass may change a half step)
BATCHED_INTEGRATORS = (NVE, NoseHoover)


def batchable(integrator, potential, comm=None) -> str | None:
    """None if replicas with this integrator and potential can run as a ReplicaBatch, else the
    reason (for the message of a caller that falls back to one replica at a time)."""
    if type(integrator) not in BATCHED_INTEGRATORS:
        return (f"{type(integrator).__name__} has no batched kernels (replica batches run "
                f"{', '.join(c.__name__ for c in BATCHED_INTEGRATORS)})")
    if not isinstance(potential, PairPotential):
        return f"{type(potential).__name__} is not a pair potential (replica batches run pair potentials)"
    if is_parallel(comm):
        return "a replica batch runs on one rank, and this group has several"
    return None


@contextlib.contextmanager
def _naming_replica(r):
    """A diverged replica's error (a non-finite force, a particle launched away at a rebuild) says
    which replica it was."""
    try:
        yield
    except FloatingPointError as exc:
        raise FloatingPointError(f"replica {r}: {exc}") from exc


class ReplicaBatch:
    """R systems with the same particles advanced together under one pair potential.

    Parameters
    ----------
    systems : R distinct Systems on one rank, same N, types, masses, step and time (copies of one
              configuration, typically with velocities drawn from different seeds)
    potential : the PairPotential; each replica gets `potential.replica()` (own neighbour list)
    """

    def __init__(self, systems, potential):
        systems = list(systems)
        if not systems:
            raise ValueError("a replica batch needs at least one system")
        if not isinstance(potential, PairPotential):
            raise TypeError(f"a replica batch runs pair potentials, got {type(potential).__name__}")
        if len({id(s) for s in systems}) != len(systems):
            raise ValueError("the replicas of a batch must be distinct System objects (copies)")
        first = systems[0]
        for r, s in enumerate(systems):
            if is_parallel(s.comm):
                raise ValueError(f"replica {r} is decomposed over several ranks; a replica batch runs on one rank")
            if s.N != first.N or s.dim != first.dim or not np.array_equal(s.types, first.types) \
                    or not np.array_equal(s.type_masses, first.type_masses):
                raise ValueError(f"replica {r} has other particles than replica 0 (N, dimension, types and "
                                 "masses must be the same)")
            if s.step != first.step or s.time != first.time:
                raise ValueError(f"replica {r} is at step {s.step} (time {s.time}) and replica 0 at step "
                                 f"{first.step} (time {first.time}); a batch keeps one clock")
        if first.N < 1:
            raise ValueError("a replica batch needs particles")
        self.systems = systems
        self.potential = potential
        self.potentials = [potential.replica() for _ in systems]
        n = len(systems)
        self.table = np.zeros((n, _pair.REPLICA_COLUMNS), np.intp)
        self.energies = np.zeros(n)
        self.virials = np.zeros((n, 9))
        self._forces = [None] * n
        self._within = np.zeros(n, np.uint8)
        self._params = potential.params.reshape(-1)

    def __len__(self):
        return len(self.systems)

    # -- the replica table ----------------------------------------------------------------------
    def _set_row(self, r):
        """Replica r's buffers into the table (after its forces were evaluated or it rebuilt)."""
        s, pot = self.systems[r], self.potentials[r]
        nl, m = pot.neighbour_list, s.N + s.n_ghost
        f = self._forces[r]
        if f is None or f.shape[0] != m:
            f = self._forces[r] = np.zeros((m, 3))
        scratch = pot.ensure_scratch(m)
        _pair.set_replica_row(self.table, r, s.N, s._x, s._v, f, domain_of(s)._x0, s.ghost_source, s.ghost_shift,
                              nl.sorted_types, nl.order, nl.active, nl.segments, nl.neighbours, scratch[0],
                              scratch[1], nl.row_position)

    def _rebuild(self, r):
        """Replica r's ghosts and list brought up to date by the ordinary path (a rebuild when its
        particles moved more than skin/2 or were moved from outside), then its table row."""
        with _naming_replica(r):
            self.potentials[r].neighbour_list.update(self.systems[r])
        self._set_row(r)

    def _result(self, r) -> ForceResult:
        """Replica r's last evaluation as a ForceResult of its own arrays (the batch's buffers are
        overwritten at the next step)."""
        s, d = self.systems[r], self.systems[r].dim
        f = self._forces[r].copy()
        res = ForceResult(float(self.energies[r]), f[: s.N, :d], self.virials[r].reshape(3, 3)[:d, :d].copy())
        res.forces3 = f
        return res

    def _check_finite(self, step):
        for r, e in enumerate(self.energies):
            if not math.isfinite(e) or e > 1e250:
                check_finite(ForceResult(math.inf, self._forces[r][: self.systems[r].N, : self.systems[r].dim],
                                         np.zeros((3, 3))), self.systems[r], f" in replica {r}")
                raise FloatingPointError(f"non-finite energy at step {step} in replica {r}")

    def evaluate(self) -> list:
        """Every replica's forces, energy and virial in one kernel call, after bringing each
        replica's ghosts and list up to date through the ordinary path (positions may have been set
        from outside): a list of ForceResults, one per replica."""
        for r, (s, pot) in enumerate(zip(self.systems, self.potentials)):
            pot.check_system(s)
            self._rebuild(r)
        total = _pair.compute_pair_forces_replicas(self.table, self.systems[0].N, self._params, self.potential.n_types,
                                                   self.potential._model_code, self.energies, self.virials)
        if not math.isfinite(total) or total > 1e250:
            self._check_finite(self.systems[0].step)
        return [self._result(r) for r in range(len(self.systems))]

    # -- the run --------------------------------------------------------------------------------
    def run(self, integrators, steps: int, observables=None) -> RunStats:
        """Advance every replica `steps` steps, replica r with integrators[r] (one instance per
        replica, all NVE or all NoseHoover with the same parameters; each keeps its own thermostat
        state, as in runs one at a time). observables: one sequence per replica, sampled when due
        with that replica's system and force result. Returns RunStats counting replica atom-steps
        (R N per step) and the rebuilds of all replicas."""
        systems, n_rep = self.systems, len(self.systems)
        integrators = list(integrators)
        if len(integrators) != n_rep or len({id(i) for i in integrators}) != n_rep:
            raise ValueError(f"a batch of {n_rep} replicas needs {n_rep} distinct integrators, one per replica")
        reason = batchable(integrators[0], self.potential)
        if reason:
            raise NotImplementedError(reason + "; run the replicas one at a time with Integrator.run")
        kind, first = type(integrators[0]), integrators[0]
        same = ("dt",) if kind is NVE else ("dt", "T", "tau", "chain")
        for r, integ in enumerate(integrators):
            if type(integ) is not kind or any(getattr(integ, a) != getattr(first, a) for a in same):
                raise ValueError(f"integrator {r} differs from integrator 0 ({', '.join(same)} and the type "
                                 "must be the same in a batch)")
        observables = [()] * n_rep if observables is None else [tuple(o) for o in observables]
        if len(observables) != n_rep:
            raise ValueError(f"observables: one sequence per replica ({n_rep}), got {len(observables)}")
        steps = int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")

        # as Integrator.run: forces at the start through the ordinary path (ghosts and lists brought
        # up to date whatever happened since the last run), the integrator's setup, observables primed
        builds0 = []
        for r, (s, pot, integ) in enumerate(zip(systems, self.potentials, integrators)):
            with _naming_replica(r):
                res = pot.compute(s)
                check_finite(res, s, " (initial configuration)")
            self._forces[r] = res.forces3
            self.energies[r] = res.energy
            self.virials[r] = 0.0
            self.virials[r].reshape(3, 3)[: s.dim, : s.dim] = res.virial
            self._set_row(r)
            integ.setup(s, pot)
            for obs in observables[r]:
                if hasattr(obs, "prime"):
                    obs.prime(s)
            builds0.append(pot.neighbour_list.n_builds)
        sampled = [(r, s, obs) for r, s in enumerate(systems) for obs in observables[r]]

        s0 = systems[0]
        n, dt, h = s0.N, first.dt, 0.5 * first.dt
        mass, inv_mass = s0._mass, s0._inv_mass
        mass3, inv_mass3 = first._component_masses(s0)
        table, energies, virials, within = self.table, self.energies, self.virials, self._within
        skins = {domain_of(s).skin for s in systems}
        limit2 = (0.5 * min(skins)) ** 2    # a replica flagged here rebuilds only if its own domain agrees
        params, ntypes, model = self._params, self.potential.n_types, self.potential._model_code
        refresh, forces = _nb.refresh_ghosts_replicas, _pair.compute_pair_forces_replicas
        if kind is NoseHoover:
            xi = np.array([i.xi for i in integrators], float)
            vxi = np.array([i.vxi for i in integrators], float)
            Q, T, g = first.Q, first.T, float(s0.dof)
            ke2 = np.zeros(n_rep)
            first_half = _int.nhc_first_half_replicas
            second_half = _int.nhc_second_half_replicas
        else:
            kick_drift, kick = _int.kick_drift_replicas, _int.kick_replicas
        step0, time0 = s0.step, s0.time
        isfinite = math.isfinite
        t0 = _time.perf_counter()
        done = 0
        try:
            for k in range(steps):
                if kind is NoseHoover:
                    # the kinetic energy the last rescaling left is reused after the first step
                    first_half(table, mass, inv_mass3, h, dt, n, xi, vxi, Q, T, g, ke2, k > 0)
                else:
                    kick_drift(table, inv_mass3, h, dt, n)
                if refresh(table, n, limit2, within):
                    for r in np.flatnonzero(within == 0):
                        self._rebuild(r)
                total = forces(table, n, params, ntypes, model, energies, virials)
                if kind is NoseHoover:
                    second_half(table, inv_mass3, mass3, h, dt, n, xi, vxi, Q, T, g, ke2)
                else:
                    kick(table, inv_mass, h, n)
                done = k + 1
                step = step0 + done
                if not isfinite(total) or total > 1e250:
                    self._check_finite(step)
                for r, s, obs in sampled:
                    if obs.due(step):
                        s.step, s.time = step, time0 + done * dt
                        obs.sample(s, step, self._result(r))
        finally:
            wall = _time.perf_counter() - t0
            for r, (s, integ) in enumerate(zip(systems, integrators)):
                s.step, s.time = step0 + done, time0 + done * dt
                integ.last_result = self._result(r)
                if kind is NoseHoover:
                    integ.xi[:], integ.vxi[:] = xi[r], vxi[r]
                    integ._ke2_after_step = float(ke2[r]) if done else None
        rebuilds = sum(p.neighbour_list.n_builds - b for p, b in zip(self.potentials, builds0))
        return RunStats(done, wall, n_rep * n, rebuilds, {})
