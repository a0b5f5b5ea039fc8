"""The stage protocol: what a stage kind declares and what it gets when it runs.

A stage kind is a `Stage` subclass registered under its deck name where it is defined:

    @register
    class ShearModulus(Stage):
        kind = "shear-modulus"
        doc = "athermal shear modulus G of the inherent structure"
        keys = {}                              # its own deck keys (pyglass.registry.Key)
        needs_inherent_structure = True        # validation: a quench must come before it
        writes = {"G": "scalar"}               # datasets it writes (overlap/summary check names)

        def run(self, ctx):
            G = ctx.inherent_structure().shear_modulus()
            ctx.write_results({"G": G})

The runner builds one instance per stage and calls `run(ctx)` in deck order, once per sample.
`ctx` (a `StageContext`) gives the system and potential (`ctx.system` may be replaced, e.g. by a
quench), the replica communicator, the output writer and this stage's results group, the sample's
seed (`ctx.seed_for(...)`), checkpointing (`ctx.checkpoint`), the stop flag (`ctx.stop_requested`),
the resume state of an interrupted run (`ctx.resume`), the shared inherent structure (Hessian and
factorisation computed once for every landscape stage on it) and the per-particle fields written
by earlier stages (`ctx.fields`, for `overlap`). Class methods run at validation, before any work:
`check` (nested tables), `check_pipeline` (names of earlier fields), `check_cost` (memory).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyglass.registry import STAGES


def validate_table(val, path, params, key, catalogue, what):
    """Validate the nested table params[key] (an integrator or minimizer) against its registry."""
    if isinstance(params.get(key), dict):
        from pyglass.io.deck.validate import validate_catalogue_table
        params[key] = validate_catalogue_table(val, path + (key,), params[key], catalogue, what)


def is_field(kind: str) -> bool:
    """Whether a dataset of this `writes` kind is kept for later stages (ctx.fields): per-particle
    values and per-frame series (a trajectory's times, frames and p_hop)."""
    return "per-particle" in kind or "per frame" in kind


def register(cls):
    """Register a Stage subclass under `cls.kind` and its `aliases`."""
    for name in (cls.kind, *cls.aliases):
        STAGES.register(name, cls)
    return cls


class Stage:
    kind: str = ""
    aliases: tuple = ()
    doc: str = ""
    keys: dict = {}
    needs_inherent_structure: bool = False
    leaves: str = "same"          # the system afterwards: "same", "inherent" (quenched) or "moved" (MD)
    per_sample: bool = True       # False: a summary stage, run once after every sample
    writes: dict = {}             # dataset name -> "scalar" | "per-particle" | "array" | "time,per-particle"
    uses_petsc: bool = False      # factorises the Hessian (PETSc initialises MPI: done before files open)

    def __init__(self, params: dict, index: int):
        self.params, self.index, self.name = params, index, params["name"]

    # -- validation (class methods: no work, no system) ------------------------------------
    @classmethod
    def applicable(cls, given: dict):
        """`applicable(key)` -> None or why the key does not apply given the other keys."""
        return None

    @classmethod
    def needs_inherent(cls, params) -> bool:
        """Whether this stage (with these keys) must run on a quenched configuration."""
        return cls.needs_inherent_structure

    @classmethod
    def check(cls, val, path, params):
        """Validate nested tables / cross-key rules; report with val.error(path + (key,), msg)."""

    @classmethod
    def check_pipeline(cls, val, path, params, fields: dict):
        """Check against the fields written by earlier stages ({"stage/dataset": shape})."""

    @classmethod
    def check_cost(cls, val, path, params, n: int, dim: int):
        """Refuse before any work what cannot fit (memory of a direct factorisation)."""

    @classmethod
    def fields(cls, params) -> dict:
        """Datasets this stage writes (name -> shape kind); per-particle ones can be compared."""
        return dict(cls.writes)

    @classmethod
    def documented_fields(cls) -> list:
        return list(cls.writes)

    @classmethod
    def estimate(cls, params, n: int, dim: int) -> str:
        """One line for `pyglass run --dry-run`: the cost of this stage at N particles."""
        return ""

    # -- running --------------------------------------------------------------------------
    def run(self, ctx: "StageContext"):
        raise NotImplementedError


@dataclass
class StageContext:
    """What a stage sees while it runs; see the module docstring."""
    runner: object
    deck: object
    stage: dict
    index: int
    seed: int
    resume: object = None                    # Checkpoint of an interrupted run of this stage, or None
    fields: dict = field(default_factory=dict)

    # -- the system ------------------------------------------------------------------------
    @property
    def system(self):
        return self.runner.system

    @system.setter
    def system(self, value):
        self.runner.system = value

    @property
    def potential(self):
        return self.runner.potential

    @property
    def comm(self):
        return self.runner.comm

    @property
    def writer(self):
        return self.runner.writer

    @property
    def group(self) -> str:
        """Path of this stage's results group in the output file."""
        return self.writer.results_path(self.stage["name"])

    def print(self, *args, **kw):
        self.runner.print(*args, **kw)

    def seed_for(self, *keys) -> int:
        """An independent seed for this sample, stage and keys (same on every rank)."""
        from pyglass.runner import derive_seed
        return derive_seed(self.seed, 100 + self.index, *keys)

    def whole_system(self):
        """The whole system in particle-id order on every rank of the replica (a copy)."""
        from pyglass.comm import is_parallel
        return self.system.gather() if is_parallel(self.comm) else self.system.copy()

    def inherent_structure(self):
        """The shared `landscape.InherentStructure` of the current (quenched) configuration. Built
        collectively (the system is gathered) on first use; `on_root` builds it before its function
        runs for stages that need an inherent structure."""
        return self.runner.inherent_structure()

    def is_root(self) -> bool:
        from pyglass.comm import rank
        return rank(self.comm) == 0

    def on_root(self, fn):
        """fn() on the replica's first rank, its result broadcast to every rank (landscape work on a
        gathered system runs once per replica; errors are raised on every rank)."""
        from pyglass.comm import is_parallel
        if not is_parallel(self.comm):
            return fn()
        stage_cls = type(self.runner.stage_objects[self.index])
        if stage_cls.needs_inherent(self.stage):
            self.inherent_structure()   # gathering the system is collective: every rank, before fn
        out, err = None, None
        if self.comm.Get_rank() == 0:
            try:
                out = fn()
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank
                err = exc
        err = self.comm.bcast(err, root=0)
        if err is not None:
            raise err
        return self.comm.bcast(out, root=0)

    # -- output -----------------------------------------------------------------------------
    def write_results(self, results: dict, attrs: dict | None = None):
        """Datasets (name -> array or scalar, identical on every rank) in this stage's results group;
        per-particle arrays are recorded as fields for later stages."""
        self.runner.write_results(self.stage["name"], results, attrs or {})
        for name, kind in type(self.runner.stage_objects[self.index]).fields(self.stage).items():
            if name in results and is_field(kind):
                self.fields[f"{self.stage['name']}/{name}"] = np.asarray(results[name])

    # -- checkpoints and stopping -------------------------------------------------------------
    def stop_requested(self) -> bool:
        return self.runner.stop_requested()

    def checkpoint(self, step_in_stage: int, integrator=None, observables=(), finished: bool = False):
        """Write this sample's checkpoint: at `step_in_stage` of this stage, or past it (finished)."""
        self.runner.checkpoint(self.index + 1 if finished else self.index, step_in_stage, integrator, observables)
