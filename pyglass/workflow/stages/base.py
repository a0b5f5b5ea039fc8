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

The run builds one instance per stage and calls `run(ctx)` in deck order, once per sample. `ctx` is
the run's `pyglass.workflow.run.session.Session`, pointed at this stage: the system and potential
(`ctx.system` may be replaced, e.g. by a quench), the replica communicator, the output writer and this
stage's results group (`ctx.group`, `ctx.write_results`), the sample's seed (`ctx.seed_for(...)`),
checkpointing (`ctx.checkpoint`), the stop flags (`ctx.stop_requested()`, `ctx.stop_at_step`), the
restart-canonical form (`ctx.canonical()`), printing (`ctx.print`, `ctx.thermo_line`,
`ctx.progress_bar`), the resume state of an interrupted run (`ctx.resume`), the shared inherent
structure (Hessian and factorisation computed once for every landscape stage on it) and the
per-particle fields written by earlier stages (`ctx.fields`, for `overlap`). Stages import nothing
from `pyglass.workflow.run`. Class methods run at validation, before any work:
`check` (nested tables), `check_pipeline` (names of earlier fields), `check_cost` (memory).
"""
from __future__ import annotations

from pyglass.registry import STAGES


def validate_table(val, path, params, key, catalogue, what):
    """Validate the nested table params[key] (an integrator or minimizer) against its registry."""
    if isinstance(params.get(key), dict):
        from pyglass.workflow.deck.validate import validate_catalogue_table
        params[key] = validate_catalogue_table(val, path + (key,), params[key], catalogue, what)


def is_field(kind: str) -> bool:
    """Whether a dataset of this `writes` kind is kept for later stages (ctx.fields): per-particle
    values and per-frame series (a trajectory's times, frames and p_hop)."""
    return "per-particle" in kind or "per frame" in kind


class RunInterrupted(Exception):
    """The run stopped early (a signal or stop_at_step) after writing a checkpoint."""

    def __init__(self, message, checkpoint):
        super().__init__(message)
        self.checkpoint = checkpoint


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
    phase: str = "analysis"       # the run profile's phase its time counts to (pyglass.workflow.run.profile;
    #                               list builds and minimizations inside it count to their own phases)

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

    @classmethod
    def samples_run(cls, params, samples: int) -> int:
        """In how many of a study's `samples` this stage runs (for the cost of the whole run)."""
        return samples

    @classmethod
    def cost(cls, params, n: int, dim: int):
        """Core-seconds and peak memory of this stage at N particles (`stages.cost.Cost`), or None
        where it is negligible beside MD and landscape work (analysis of stored fields)."""
        return None

    # -- running --------------------------------------------------------------------------
    def run(self, ctx):
        raise NotImplementedError
