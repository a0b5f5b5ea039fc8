"""Integrator base: the run loop shared by every thermodynamic ensemble.

Run-loop order for each step n -> n + 1 (all integrators):
  1. `_first_half`   thermostat/barostat half step, half kick, drift  (positions at n + 1)
  2. forces          potential.compute (ghost refresh / neighbour rebuild happen inside)
  3. `_second_half`  half kick, thermostat/barostat half step           (velocities at n + 1)
  4. step and time advance (time = time at run start + steps * dt, no accumulated round-off);
     non-finite energy stops the run naming the step
  5. observables whose schedule is due sample (system, step, force result); before the first
     step, observables with `prime` sample the starting configuration if due
  6. thermo line every `thermo` steps (LAMMPS-like columns), progress bar on long runs
"""
from __future__ import annotations

import math
import sys
import time as _time

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allsum, rank
from pyglass.engine.potentials.base import check_finite

THERMO_COLUMNS = ("Step", "Time", "Temp", "PotEng", "KinEng", "TotEng", "Press")


def thermo_header() -> str:
    """The column line above thermo lines (LAMMPS-like names)."""
    return " ".join(f"{c:>14s}" for c in THERMO_COLUMNS)


def thermo_line(values: dict) -> str:
    """One thermo line from `Integrator.thermo_values` (the one format, for runs and decks)."""
    return f"{values['Step']:>14d} " + " ".join(f"{values[c]:>14.8g}" for c in THERMO_COLUMNS[1:])


class RunStats:
    """What a run did: steps, wall time, throughput, neighbour rebuilds, last thermo values."""

    def __init__(self, steps, wall, n_atoms, rebuilds, thermo):
        self.steps, self.wall, self.rebuilds, self.thermo = steps, wall, rebuilds, thermo
        self.atom_steps_per_second = steps * n_atoms / wall if wall > 0 else float("inf")

    def __repr__(self):
        return (f"RunStats(steps={self.steps}, wall={self.wall:.3f}s, "
                f"atom_steps/s={self.atom_steps_per_second:.4g}, rebuilds={self.rebuilds})")


class Integrator:
    """Base class. Subclasses implement `_first_half` and `_second_half` (and `conserved_energy`)."""

    name = "integrator"

    def __init__(self, dt: float):
        if not dt > 0 or not np.isfinite(dt):
            raise ValueError(f"time step dt must be positive and finite, got {dt}")
        self.dt = float(dt)
        self.last_result = None

    # -- hooks --------------------------------------------------------------------------
    def setup(self, system, potential):
        """Called once at the start of run()."""

    def _first_half(self, system, result):
        raise NotImplementedError

    def _second_half(self, system, result):
        raise NotImplementedError

    def extra_energy(self, system) -> float:
        """Thermostat/barostat energy, so that PE + KE + extra is conserved."""
        return 0.0

    def state(self) -> dict:
        """Thermostat/barostat/RNG state for checkpoints."""
        return {}

    def load_state(self, state: dict):
        pass

    # -- shared kernels -------------------------------------------------------------------
    _masses3 = None

    def _component_masses(self, system):
        """(m, 1/m) per component of the (N, 3) rows, 3 N each (the flat kernels' masses), cached
        per system and types array."""
        c = self._masses3
        if c is None or c[0] is not system.types or c[1] != system.serial or len(c[2]) != 3 * system.N:
            m = np.repeat(system._mass, 3)
            c = self._masses3 = (system.types, system.serial, m, 1.0 / m)
        return c[2], c[3]

    @staticmethod
    def _kick(system, result, h):
        _int.kick(system._v, result.forces3, system._inv_mass, h, system.N)

    @staticmethod
    def _drift(system, dt):
        _int.drift(system._x, system._v, dt, system.N)

    @staticmethod
    def _twice_kinetic(system):
        return allsum(system.comm, _int.twice_kinetic(system._v, system._mass, system.N))

    # -- run loop -------------------------------------------------------------------------
    def run(self, system, potential, steps: int, observables=(), thermo: int = 0, progress=None,
            stream=None, callback=None):
        """Advance `steps` steps. thermo > 0 prints a thermo line every `thermo` steps (to
        `stream`, default stdout); progress=True/False forces the progress bar (default: on for
        runs over 10^4 steps when stderr is a terminal). callback(system, result) runs after the
        observables each step and may return True to stop the run early."""
        steps = int(steps)
        observables = tuple(observables)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        stream = stream or sys.stdout
        # Thermo values are global reductions: every rank computes them, only rank 0 prints.
        root = rank(system.comm) == 0
        thermo_stream = stream if root else None
        progress = progress if root else False
        result = potential.compute(system)
        check_finite(result, system, " (initial configuration)")
        self.setup(system, potential)
        for obs in observables:   # the starting configuration is a time origin when due
            if hasattr(obs, "prime"):
                obs.prime(system)
        bar = _progress_bar(steps, progress)
        if thermo:
            if root:
                print(thermo_header(), file=stream)
            self._thermo_line(system, result, thermo_stream)
        rebuilds0 = getattr(potential, "neighbour_list", None)
        rebuilds0 = rebuilds0.n_builds if rebuilds0 is not None else 0
        t0 = _time.perf_counter()
        # time = time at the start of this run + steps * dt, never `time += dt` (which drifts: step
        # 600 at dt 0.005 read 2.9999999999999583). The runner starts a run at every checkpoint
        # step, and a restart starts from the checkpoint's stored time, so straight and restarted
        # runs compute the same times.
        step0, time0 = system.step, system.time
        # the loop body is all the Python a step costs: bound methods, no per-step lookups
        first_half, second_half, compute, dt = self._first_half, self._second_half, potential.compute, self.dt
        isfinite = math.isfinite
        for n in range(steps):
            first_half(system, result)
            result = compute(system)
            second_half(system, result)
            step = system.step = system.step + 1
            system.time = time0 + (step - step0) * dt
            if not isfinite(result.energy):
                check_finite(result, system)
                raise FloatingPointError(f"non-finite energy at step {step}")
            for obs in observables:
                if obs.due(step):
                    obs.sample(system, step, result)
            if thermo and step % thermo == 0:
                self._thermo_line(system, result, thermo_stream)
            if bar is not None:
                bar.update(1)
            if callback is not None and callback(system, result):
                break
        wall = _time.perf_counter() - t0
        if bar is not None:
            bar.close()
        self.last_result = result
        nl = getattr(potential, "neighbour_list", None)
        rebuilds = (nl.n_builds - rebuilds0) if nl is not None else 0
        return RunStats(n + 1 if steps else 0, wall, system.n_global, rebuilds, self.thermo_values(system, result))

    def thermo_values(self, system, result) -> dict:
        ke = system.kinetic_energy()
        return {"Step": system.step, "Time": system.time, "Temp": system.temperature(),
                "PotEng": result.energy / system.n_global, "KinEng": ke / system.n_global,
                "TotEng": (result.energy + ke) / system.n_global, "Press": result.pressure(system)}

    def _thermo_line(self, system, result, stream):
        """Collective (thermo values are reductions over ranks); printed where stream is given."""
        v = self.thermo_values(system, result)
        if stream is None:
            return
        print(thermo_line(v), file=stream, flush=True)


def _progress_bar(steps, progress):
    if progress is None:
        progress = steps >= 10_000 and sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is cosmetic; never fail a run for it
        return None
    return tqdm(total=steps, unit="step", file=sys.stderr, mininterval=1.0)
