"""Minimizer base: tolerances, stop reasons, the result record, and the evaluation helpers.

Every minimizer works on the flat (N d) vector of the local rows of the coordinate buffer and
needs only `potential.compute(system)`, so it works for any Potential (pair or many-body).
Positions are moved in place by small increments (x += delta), as an integrator does; the
domain notices the displacement and re-wraps / rebuilds neighbour lists when needed, and the
image counters stay consistent. At the end `system.touch()` is called.

Stop reasons (`MinimizeResult.reason`, members of `StopReason`, which compare equal to their
string values):

  'ftol'              largest force component max_i,a |F_ia| <= ftol          (converged)
  'etol'              relative energy change of one iteration <= etol        (converged)
  'max_iterations'    the iteration limit was reached                         (not converged)
  'linesearch_failed' no step along the steepest-descent direction lowers    (not converged)
                      the energy (or FIRE: more than N_neg_max uphill steps)
  'non_finite'        non-finite energy/forces, at the start or during FIRE   (not converged)

There is never a silent non-convergence: `converged` is False with the reason, and
`raise_on_failure=True` turns that into a `MinimizationError` carrying the result.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allmax, allsum
from pyglass.engine.domain import domain_of
from pyglass.engine.potentials.base import NeighbourList


class StopReason(str, enum.Enum):
    FTOL = "ftol"
    ETOL = "etol"
    MAX_ITERATIONS = "max_iterations"
    LINESEARCH_FAILED = "linesearch_failed"
    NON_FINITE = "non_finite"

    def __str__(self):
        return self.value


CONVERGED_REASONS = (StopReason.FTOL, StopReason.ETOL)


@dataclass
class MinimizeResult:
    """Outcome of one minimization. energy/max_force are those of the final configuration
    (the one left in the system); max_force is the largest |force component|."""
    converged: bool
    reason: StopReason
    energy: float
    max_force: float
    iterations: int
    force_evaluations: int

    def __bool__(self):
        return self.converged


class MinimizationError(RuntimeError):
    """Raised by `minimize` when `raise_on_failure=True` and the minimizer did not converge."""

    def __init__(self, result: MinimizeResult, name: str = "minimizer"):
        self.result = result
        super().__init__(f"{name} did not converge: reason '{result.reason}' after {result.iterations} "
                         f"iterations (energy {result.energy:.12g}, max |F| {result.max_force:.3e})")


class _Evaluator:
    """Moves the system along increments and evaluates the potential, counting evaluations.

    Non-finite results (or the potential's own FloatingPointError on overlaps) are reported as
    energy = inf instead of raising, so line searches can back off."""

    def __init__(self, system, potential):
        self.system, self.potential = system, potential
        self.n, self.d = system.N, system.dim
        self.count = 0
        self.iteration = 0               # kept current by the minimizer loops
        self.last = (np.inf, np.inf)     # energy, max|F| of the last finite evaluation
        self.inv_mass = np.repeat(1.0 / system.masses, self.d)
        self.recent = []                 # (forces, global max|F|) of the last few evaluations

    def move(self, delta):
        """x += delta (flat (N d) vector); the coordinate buffer may be reallocated by a
        rebuild, so it is fetched each time. A non-finite step is refused (FloatingPointError)
        before it can destroy the positions."""
        self.move_along(np.ascontiguousarray(delta, dtype=float), 1.0)

    def move_along(self, direction, a: float):
        """x += a direction (flat (N d) vector) in one kernel pass, refused as `move` is."""
        if not _int.move_along(self.system._x, direction, a, self.n, self.d):
            raise FloatingPointError("non-finite minimization step")

    def dot(self, a, b) -> float:
        """a . b over the whole system (all ranks)."""
        return float(allsum(self.system.comm, float(a @ b)))

    def evaluate(self):
        """(energy, flat forces copy); energy = inf when the evaluation is not finite."""
        self.count += 1
        try:
            res = self.potential.compute(self.system)
        except FloatingPointError:
            return np.inf, None
        f3 = getattr(res, "forces3", None)     # the kernels' (M, 3) rows: copy, test and norm in one pass
        if f3 is not None:
            f = np.empty(self.n * self.d)
            fmax = _int.flat_forces(f3, self.n, self.d, f) if self.n else 0.0
        else:
            f = np.array(res.forces, dtype=float).reshape(-1)
            fmax = float(np.max(np.abs(f))) if f.size else 0.0
            if not np.all(np.isfinite(f)):
                fmax = np.inf
        # one reduction decides on every rank alike (a rank-local verdict would desynchronise
        # the reductions that follow): a non-finite component anywhere makes the maximum inf
        fmax = float(allmax(self.system.comm, fmax))
        if not (math.isfinite(res.energy) and math.isfinite(fmax)):
            return np.inf, None
        self.last = (float(res.energy), fmax)
        self.recent = [(f, fmax)] + self.recent[:3]
        return float(res.energy), f

    def known_fmax(self, f):
        """max|F| of forces returned by a recent evaluation (None if f is not one of them)."""
        for g, fmax in self.recent:
            if g is f:
                return fmax
        return None


def energy_noise(e: float) -> float:
    """Energy differences below this cannot be resolved in double precision for a total energy
    e summed over many terms; below it the minimizers judge descent from forces instead."""
    return 1e-12 * max(abs(e), 1.0)


class Minimizer:
    """Base class. Parameters shared by all minimizers:

    ftol : stop when the largest force component max_{i,a} |F_ia| <= ftol (default 1e-10, the
        inherent-structure standard of the landscape code; reachable in double precision for
        systems of 10^3-10^5 particles).
    etol : stop when |E_new - E_old| <= etol * (|E_new| + |E_old|) / 2 over one iteration
        (default 0: disabled; as LAMMPS `minimize etol`).
    max_iterations : iteration limit (reason 'max_iterations').
    max_step : largest displacement of any coordinate in one step or line-search trial
        (as LAMMPS `min_modify dmax`, default 0.1).
    raise_on_failure : raise MinimizationError instead of returning a non-converged result.
    """

    name = "minimizer"

    #: wall seconds this process has spent in minimize(), list builds excluded (they are counted by
    #: NeighbourList.seconds_building); process-wide, read by run profiles
    #: (pyglass.workflow.run.profile), one clock read at each end of a minimization
    seconds_minimising = 0.0

    def __init__(self, ftol: float = 1e-10, etol: float = 0.0, max_iterations: int = 100_000,
                 max_step: float = 0.1, raise_on_failure: bool = False):
        if not ftol >= 0 or not np.isfinite(ftol):
            raise ValueError(f"{self.name}: ftol must be >= 0 and finite, got {ftol}")
        if not etol >= 0 or not np.isfinite(etol):
            raise ValueError(f"{self.name}: etol must be >= 0 and finite, got {etol}")
        if ftol == 0 and etol == 0:
            raise ValueError(f"{self.name}: at least one of ftol and etol must be > 0")
        if int(max_iterations) != max_iterations or max_iterations < 0:
            raise ValueError(f"{self.name}: max_iterations must be a non-negative integer, got {max_iterations}")
        if not max_step > 0 or not np.isfinite(max_step):
            raise ValueError(f"{self.name}: max_step must be > 0 and finite, got {max_step}")
        self.ftol, self.etol = float(ftol), float(etol)
        self.max_iterations = int(max_iterations)
        self.max_step = float(max_step)
        self.raise_on_failure = bool(raise_on_failure)

    def minimize(self, system, potential) -> MinimizeResult:
        """Minimize the potential energy in place; returns a MinimizeResult."""
        t0, built0 = perf_counter(), NeighbourList.seconds_building
        self._comm = system.comm
        ev = self._ev = _Evaluator(system, potential)
        # Particles keep their owner rank during a minimization (the flat vectors stay aligned);
        # the domain widens its ghost exchange by how far particles stray from their domains.
        domain = domain_of(system)
        domain.freeze_ownership = True
        try:
            e, f = ev.evaluate()
            if f is None:
                res = self._result(StopReason.NON_FINITE, np.inf, np.inf, 0, ev)
            elif self._fmax(f) <= self.ftol:
                res = self._result(StopReason.FTOL, e, self._fmax(f), 0, ev)
            else:
                try:
                    res = self._run(ev, e, f)
                except FloatingPointError:     # a non-finite step was refused by ev.move
                    res = self._result(StopReason.NON_FINITE, *ev.last, ev.iteration, ev)
        finally:
            domain.freeze_ownership = False
            system.touch()
            self._ev = None
            Minimizer.seconds_minimising += perf_counter() - t0 - (NeighbourList.seconds_building - built0)
        if self.raise_on_failure and not res.converged:
            raise MinimizationError(res, type(self).__name__)
        return res

    # -- helpers for subclasses ---------------------------------------------------------
    def _run(self, ev: _Evaluator, e: float, f: np.ndarray) -> MinimizeResult:
        raise NotImplementedError

    # Reductions over the whole system: under MPI the flat vectors hold this rank's particles.
    _comm = None

    def _dot(self, a, b) -> float:
        return float(allsum(self._comm, float(a @ b)))

    def _amax(self, a) -> float:
        return float(allmax(self._comm, float(np.max(np.abs(a))) if a.size else 0.0))

    _ev = None

    def _fmax(self, f) -> float:
        known = self._ev.known_fmax(f) if self._ev is not None else None
        return self._amax(f) if known is None else known

    def _converged(self, e_old, e, f, iteration, ev):
        """The result if the ftol or etol criterion is met after an iteration, else None."""
        fmax = self._fmax(f)
        if fmax <= self.ftol:
            return self._result(StopReason.FTOL, e, fmax, iteration, ev)
        if self._etol_met(e_old, e):
            return self._result(StopReason.ETOL, e, fmax, iteration, ev)
        return None

    def _etol_met(self, e_old, e_new) -> bool:
        return self.etol > 0 and abs(e_new - e_old) <= self.etol * 0.5 * (abs(e_new) + abs(e_old) + 1e-300)

    @staticmethod
    def _result(reason, e, fmax, iterations, ev) -> MinimizeResult:
        reason = StopReason(reason)
        return MinimizeResult(reason in CONVERGED_REASONS, reason, float(e), float(fmax), int(iterations), ev.count)
