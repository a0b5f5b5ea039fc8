"""Observable base class and sampling schedules.

An `Observable` is one measured quantity. It declares what it needs from the simulation
(`needs`: a subset of NEEDS), whether its result is per particle or global, and when it samples
(its `Schedule`). The integrator's run loop calls `due(step)` and `sample(system, step, result)`;
the base class gathers the declared quantities into a `Frame` and hands it to `update(frame)`,
which is the only method a subclass must write. Accumulators live in `self.acc` (a dict of numpy
arrays that are *sums*), so `result(comm)` can reduce them across ranks with one Allreduce each
before `finalize(acc)` turns sums into the reported quantities; `write(h5group)` stores the result.

A worked subclass, `MeanKinetic` at the end of this module (the mean kinetic energy per
particle), shows the shape every observable has; tests/analysis/test_observables.py runs it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyglass.registry import OBSERVABLES, REQUIRED, Key, ObservableType

NEEDS = ("positions", "unwrapped", "velocities", "is_positions", "reference")


# ------------------------------------------------------------------------------ schedules
class Schedule:
    """When an observable samples. `due(step)` -> bool; `origin(step)` -> the step of the time
    origin a sample at `step` belongs to (multiple-origin schedules)."""

    def due(self, step: int) -> bool:
        raise NotImplementedError

    def origin(self, step: int) -> int:
        return 0

    def describe(self) -> dict:
        return {"kind": type(self).__name__}


class LinearSchedule(Schedule):
    """Every `every` steps from `start` (inclusive)."""

    def __init__(self, every: int, start: int = 0):
        if int(every) < 1:
            raise ValueError(f"LinearSchedule: every must be >= 1, got {every}")
        if int(start) < 0:
            raise ValueError(f"LinearSchedule: start must be >= 0, got {start}")
        self.every, self.start = int(every), int(start)

    def due(self, step):
        return step >= self.start and (step - self.start) % self.every == 0

    def origin(self, step):
        return self.start

    def describe(self):
        return {"kind": "linear", "every": self.every, "start": self.start}


class LogSchedule(Schedule):
    """Block-logarithmic schedule with multiple time origins.

    Time is cut into blocks of `block` steps; every block start is a new time origin, and inside a
    block samples are taken at lags 0, 1, r, r^2, ... (rounded to distinct integers, `factor` r)
    below `block`. Observables that measure correlations against the origin (MSD, F_s, Q) average
    over the origins, so long lags get as many origins as blocks and short lags are resolved.
    """

    def __init__(self, block: int, factor: float = 2.0, start: int = 0):
        if int(block) < 1:
            raise ValueError(f"LogSchedule: block must be >= 1 step, got {block}")
        if not factor > 1:
            raise ValueError(f"LogSchedule: factor must be > 1, got {factor}")
        self.block, self.factor, self.start = int(block), float(factor), int(start)
        lags, x = {0}, 1.0
        while x < self.block:
            lags.add(int(round(x)))
            x *= self.factor
        self.lags = np.array(sorted(lag for lag in lags if lag < self.block), dtype=np.int64)
        self._lagset = set(self.lags.tolist())

    def due(self, step):
        return step >= self.start and ((step - self.start) % self.block) in self._lagset

    def origin(self, step):
        return step - (step - self.start) % self.block

    def lag_index(self, step) -> int:
        return int(np.searchsorted(self.lags, (step - self.start) % self.block))

    def describe(self):
        return {"kind": "block-log", "block": self.block, "factor": self.factor, "start": self.start}


# ------------------------------------------------------------------------------ frames
@dataclass
class Frame:
    """What an observable receives at a sample: only the quantities it declared (others None)."""
    step: int
    time: float
    box: object
    types: np.ndarray
    masses: np.ndarray
    positions: np.ndarray | None = None
    unwrapped: np.ndarray | None = None
    velocities: np.ndarray | None = None
    is_positions: np.ndarray | None = None
    reference: np.ndarray | None = None
    result: object = None
    ids: np.ndarray | None = None        # global particle ids of these rows (rows move between ranks)
    comm: object = None                  # the system's communicator (None or one rank: serial)


class Observable:
    """Base class; see the module docstring for the worked example.

    Parameters
    ----------
    schedule : Schedule or int (every n steps; default every step)
    minimizer : quench used when `needs` contains "is_positions" (minimizers.DEFAULT_QUENCH, CG to 1e-10, by default)
    potential : the potential the quench uses (needed for "is_positions")
    reference : (N, d) reference configuration (unwrapped); default: the first sample's
    """

    needs: tuple = ("positions",)
    per_particle: bool = False
    name: str | None = None

    def __init__(self, schedule=None, minimizer=None, potential=None, reference=None):
        if schedule is None:
            schedule = LinearSchedule(1)
        elif isinstance(schedule, (int, np.integer)):
            schedule = LinearSchedule(int(schedule))
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be a Schedule or an int, got {type(schedule).__name__}")
        bad = [n for n in self.needs if n not in NEEDS]
        if bad:
            raise ValueError(f"{type(self).__name__}.needs has unknown entries {bad}; allowed {NEEDS}")
        self.schedule = schedule
        self.minimizer = minimizer
        self.potential = potential
        self.reference = None if reference is None else np.array(reference, float)
        self.acc: dict = {}
        self.n_particles = None
        self.n_samples = 0

    @property
    def label(self) -> str:
        return self.name or type(self).__name__

    # -- run-loop interface ---------------------------------------------------------
    def due(self, step: int) -> bool:
        return self.schedule.due(step)

    def prime(self, system):
        """Sample the configuration a run starts from if the schedule is due there and it was not
        sampled already (Integrator.run calls this before its first step, so a run continued in
        segments does not sample a boundary step twice)."""
        if self.due(system.step) and getattr(self, "_last_sampled_step", None) != system.step:
            self.sample(system, system.step)
        return self

    def sample(self, system, step: int, result=None):
        """Collect what `needs` declares and call `update(frame)`."""
        self._last_sampled_step = step
        frame = Frame(step=step, time=system.time, box=system.box, types=system.types,
                      masses=system.masses, result=result, ids=system.ids, comm=system.comm)
        needs = self.needs
        if "positions" in needs:
            frame.positions = system.positions.copy()
        if "unwrapped" in needs or "reference" in needs:
            frame.unwrapped = system.unwrapped_positions
        if "velocities" in needs:
            frame.velocities = system.velocities.copy()
        if "is_positions" in needs:
            frame.is_positions = self._quench(system)
        if "reference" in needs:
            if self.reference is None:
                self.reference = frame.unwrapped.copy()
            frame.reference = self.reference
        self.n_particles = system.N
        self.n_samples += 1
        self.update(frame)

    def run(self, frames, comm=None) -> dict:
        """Offline analysis: sample every frame (Systems, e.g. `pyglass.workflow.run.results.Run.frames()` or a
        LAMMPS dump's) whose step the schedule has due, in order, and return `result(comm)`; as
        MDAnalysis' AnalysisBase.run. Frames must carry the steps the schedule expects (a log
        schedule's lags)."""
        for system in frames:
            if self.due(system.step):
                self.sample(system, system.step)
        if not self.n_samples:
            raise ValueError(f"{self.label}: no frame at a step its schedule has due "
                             f"({self.schedule.describe()})")
        return self.result(comm)

    def _quench(self, system):
        if self.potential is None:
            raise ValueError(f"{self.label} needs inherent-structure positions: pass potential=")
        if self.minimizer is None:
            from pyglass.engine.minimizers import default_quench_minimizer
            self.minimizer = default_quench_minimizer()
        q = system.copy()
        self.minimizer.minimize(q, self.potential)
        return q.unwrapped_positions

    # -- subclass interface ---------------------------------------------------------
    def update(self, frame: Frame):
        raise NotImplementedError

    def finalize(self, acc: dict) -> dict:
        """Turn (reduced) accumulator sums into results; default: the sums themselves."""
        return dict(acc)

    def add(self, key, value):
        """acc[key] += value (creating it on first use)."""
        value = np.asarray(value, float)
        if key in self.acc:
            self.acc[key] = self.acc[key] + value
        else:
            self.acc[key] = value.copy()

    # -- checkpoint state -----------------------------------------------------------------
    state_attributes: tuple = ()   # a subclass's own attributes that carry over a restart

    def get_state(self) -> dict:
        """Everything a restart needs, as numbers and numeric arrays keyed by name (stored as typed
        HDF5 datasets by pyglass.io.checkpoint; never serialised as Python objects): the accumulators, the sample
        bookkeeping, the reference and the subclass's `state_attributes`. None values are omitted."""
        out = {f"acc/{k}": np.asarray(v) for k, v in self.acc.items()}
        for name in ("n_samples", "n_particles", "reference", "_last_sampled_step") + tuple(self.state_attributes):
            v = getattr(self, name, None)
            if v is not None:
                out[f"attr/{name}"] = np.asarray(v)
        return out

    def set_state(self, state: dict):
        """Restore what get_state returned (values already validated as numeric by the reader)."""
        self.acc = {k[4:]: np.array(v, float) for k, v in state.items() if k.startswith("acc/")}
        for k, v in state.items():
            if k.startswith("attr/"):
                v = np.asarray(v)
                setattr(self, k[5:], v.item() if v.ndim == 0 else v.copy())
        return self

    # -- results --------------------------------------------------------------------
    def result(self, comm=None) -> dict:
        """Reduced results. With an mpi4py communicator the accumulator sums are summed over its
        ranks first (every rank must call this, in the same order of keys)."""
        acc = self.acc
        if comm is not None and comm.Get_size() > 1:
            from mpi4py import MPI
            red = {}
            for key in sorted(acc):
                a = np.ascontiguousarray(acc[key], dtype=float)
                out = np.empty_like(a)
                comm.Allreduce(a, out, op=MPI.SUM)
                red[key] = out
            acc = red
        if not acc:
            raise ValueError(f"{self.label} has no samples: result() needs at least one sample")
        return self.finalize(acc)

    def write(self, h5group, comm=None):
        """Store result() as datasets in `h5group` (an h5py Group), with the schedule as attributes."""
        res = self.result(comm)
        grp = h5group.require_group(self.label)
        for key, value in res.items():
            if key in grp:
                del grp[key]
            grp.create_dataset(key, data=np.asarray(value))
        for k, v in self.schedule.describe().items():
            grp.attrs[f"schedule_{k}"] = v
        grp.attrs["per_particle"] = self.per_particle
        grp.attrs["n_samples"] = self.n_samples
        return grp



class StreamingObservable(Observable):
    """An observable that writes each sample to the output as it is taken (the built-in thermo rows
    and trajectory frames, pyglass.io.h5md): nothing accumulates, so there is nothing to reduce,
    checkpoint or write at the end. Subclasses override `sample`."""

    _stateless = True

    def prime(self, system):
        """No implicit starting sample: the MD stage samples the configuration a stage starts from
        (with its force result), and a restarted run does not write that step again."""
        return self

    def update(self, frame):
        pass

    def result(self, comm=None) -> dict:
        return {}

    def write(self, h5group=None, comm=None):
        return None

    def get_state(self) -> dict:
        return {}


class MeanKinetic(Observable):
    """Worked example: the mean kinetic energy per particle over the sampled steps. Declare what
    is needed, add sums in `update`, turn sums into results in `finalize`."""
    needs = ("velocities",)

    def update(self, frame):
        self.add("ke", 0.5 * np.sum(frame.masses[:, None] * frame.velocities ** 2))
        self.add("n", 1.0)

    def finalize(self, acc):
        return {"ke_per_particle": acc["ke"] / (acc["n"] * self.n_particles)}


# ================================================================================ deck registration

def _make_python(params, ctx):
    """Class(schedule=..., **args); the stage's potential is passed as `potential` when the
    constructor takes one and args do not set it (observables needing inherent-structure
    positions quench with it)."""
    import importlib
    import inspect
    mod, _, attr = params["class"].partition(":")
    cls = getattr(importlib.import_module(mod), attr)
    kwargs = dict(params["args"])
    try:
        accepts = "potential" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        accepts = False
    if accepts and "potential" not in kwargs:
        kwargs["potential"] = ctx.potential
    return cls(schedule=ctx.schedule, **kwargs)


OBSERVABLES.register("python", ObservableType(_make_python, {
    "class": Key((str,), REQUIRED, "module:Class of an Observable subclass on the Python path (imported when "
                 "the run starts: validation and --dry-run check the name only)"),
    "args": Key((dict,), {}, "keyword arguments of its constructor (schedule, and potential when the "
                "constructor takes it, are passed for you)"),
}, "any Observable subclass, constructed as Class(schedule=..., potential=<the deck's potential>, **args). "
   "**A deck with a `python` observable runs code**: `pyglass run` imports the module it names from the Python "
   "path (`PYTHONPATH`, installed packages), so run such a deck only if you trust that module; "
   "`pyglass run --dry-run` checks the name without importing it (docs/security.md)"))
