"""The session: what a stage sees while it runs, and the only thing it sees.

One `Session` serves a replica group for the whole run; the pipeline (`pyglass.workflow.run.pipeline`) points
it at each stage in turn (`stage`, `index`, `resume`) and calls `Stage.run(session)`. A stage reads
and replaces the system (`session.system`; a quench or MD stage replaces it), reads the potential,
the replica communicator and the output writer, takes seeds (`seed_for`), writes its results
(`write_results`, recorded as `fields` for later stages), checkpoints (`checkpoint`), asks whether to
stop (`stop_requested`, `stop_at_step`), puts the system in its restart-canonical form (`canonical`),
prints (`print`, `thermo_line`, `progress_bar`), shares one inherent structure with the other
landscape stages (`inherent_structure`, built once per configuration) and times its work by phase
(`phase`, the run's `profile`: pyglass.workflow.run.profile).
"""
from __future__ import annotations

import sys

import numpy as np

from pyglass.engine.comm import is_parallel, rank as comm_rank, size as comm_size
from pyglass.workflow.run.profile import Profile
from pyglass.workflow.run.seeds import derive_seed
from pyglass.workflow.stages.base import RunInterrupted, is_field


class Printer:
    """print() on the first rank of a group only, with an optional prefix (a replica tag)."""

    def __init__(self, stream, rank, prefix=""):
        self.stream, self.on, self.prefix = stream, rank == 0, prefix

    def __call__(self, *a, **k):
        if self.on:
            if self.prefix:
                a = (self.prefix + " ".join(map(str, a)),)
            print(*a, file=self.stream, flush=True, **k)


class Session:
    """See the module docstring. Built by `pyglass.workflow.run.Runner` once per replica group."""

    def __init__(self, deck, comm, replica: int, n_replicas: int, printer, stop_at_step=None,
                 progress: bool = False):
        self.deck = deck                      # the deck of the unit being run (a study's state deck)
        self.comm = comm                      # the replica group's communicator (None: serial)
        self.replica, self.n_replicas = replica, n_replicas
        self.rank, self.n_ranks = comm_rank(comm), comm_size(comm)
        self.print = printer
        self.stop_at_step = stop_at_step
        self.progress = progress
        self.signalled = False                # set by the signal handler (SIGTERM, SIGINT)
        self.stop_signal = "SIGTERM"          # the name of the signal that set it
        self.overwrite = False                # --overwrite: files that are not pyglass's may be replaced
        self.system = self.potential = self.writer = None
        self.seed = None                      # the unit's seed
        self.ckpt_path = None
        self.unit = None                      # (state label, sample) of a study unit
        self.stage_objects: list = []
        self.fields: dict = {}
        self._inherent = None
        # the stage being run (set by the pipeline)
        self.stage: dict | None = None
        self.index = 0
        self.resume = None                    # the Checkpoint of an interrupted run of this stage
        self.profile = Profile()              # where this process's wall time goes, by phase

    # -- the profile ----------------------------------------------------------------------------
    def phase(self, name: str):
        """`with ctx.phase("quench"): ...` times a block as that phase (pyglass.workflow.run.profile);
        the pipeline already times each stage as its kind's `phase`."""
        return self.profile.phase(name)

    def profile_json(self) -> str:
        """The profile as JSON, the replica's first rank's on every rank (attribute writes are collective)."""
        text = self.profile.to_json()
        return self.comm.bcast(text, root=0) if is_parallel(self.comm) else text

    def print_profile(self, record: dict | None = None):
        from pyglass.workflow.run.profile import describe
        for line in describe(record or self.profile.as_dict()):
            self.print(line)

    # -- the unit -------------------------------------------------------------------------------
    def start_unit(self, deck, seed, system, potential, ckpt_path, stages):
        """Point the session at a new unit (the pipeline calls this)."""
        self.deck, self.seed, self.ckpt_path = deck, seed, ckpt_path
        self.system, self.potential = system, potential
        self.stage_objects = stages
        self.fields = {}
        self._inherent = None

    def at_stage(self, k: int, resume=None):
        self.stage, self.index, self.resume = self.deck.data["stage"][k], k, resume
        return self

    def moved(self):
        """The configuration changed (MD, a quench): the shared inherent structure is stale."""
        self._inherent = None

    @property
    def group(self) -> str:
        """Path of this stage's results group in the output file."""
        return self.writer.results_path(self.stage["name"])

    def seed_for(self, *keys) -> int:
        """An independent seed for this unit, stage and keys (same on every rank)."""
        return derive_seed(self.seed, 100 + self.index, *keys)

    def whole_system(self):
        """The whole system in particle-id order on every rank of the replica (a copy)."""
        return self.system.gather() if is_parallel(self.comm) else self.system.copy()

    def is_root(self) -> bool:
        return comm_rank(self.comm) == 0

    def on_root(self, fn):
        """fn() on the replica's first rank, its result broadcast to every rank (landscape work on a
        gathered system runs once per replica; errors are raised on every rank)."""
        if not is_parallel(self.comm):
            return fn()
        if type(self.stage_objects[self.index]).needs_inherent(self.stage):
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

    def inherent_structure(self):
        """The shared `landscape.InherentStructure` of the current (quenched) configuration, gathered
        on every rank; built on first use (collective)."""
        if self._inherent is None:
            from pyglass.analysis.landscape.inherent import InherentStructure
            self._inherent = InherentStructure(self.whole_system(), self.deck.build_potential())
        return self._inherent

    # -- output ---------------------------------------------------------------------------------
    def write_results(self, results: dict, attrs: dict | None = None):
        """Datasets (name -> array or scalar, identical on every rank) in this stage's results group
        (collective); per-particle arrays are recorded as fields for later stages."""
        with self.phase("io"):
            grp = self.writer.results_group(self.stage["name"])
            if grp is not None:
                for key, value in results.items():
                    if key in grp:
                        del grp[key]
                    grp.create_dataset(key, data=np.asarray(value))
                for key, value in (attrs or {}).items():
                    grp.attrs[key] = value
            self.writer.flush()
        for name, kind in type(self.stage_objects[self.index]).fields(self.stage).items():
            if name in results and is_field(kind):
                self.fields[f"{self.stage['name']}/{name}"] = np.asarray(results[name])

    def max_over_ranks(self, x) -> float:
        if self.comm is None:
            return float(x)
        from mpi4py import MPI
        return float(self.comm.allreduce(float(x), op=MPI.MAX))

    def thermo_line(self, integrator, system, result):
        """Collective (the values are reductions); rank 0 prints."""
        from pyglass.engine.integrators.base import thermo_line
        self.print(thermo_line(integrator.thermo_values(system, result)))

    def progress_bar(self, steps, done):
        if not (self.progress and self.print.on and sys.stderr.isatty()):
            return None
        try:
            from tqdm import tqdm
        except ImportError:   # cosmetic only
            return None
        return tqdm(total=steps, initial=done, unit="step", file=sys.stderr, mininterval=1.0, leave=False)

    # -- checkpoints and stopping ---------------------------------------------------------------
    def stop_requested(self) -> bool:
        """A signal arrived on any rank of the replica (collective: every rank stops at the same step)."""
        flag = self.signalled
        if self.comm is not None:
            flag = bool(self.comm.allreduce(int(flag)))
        return flag

    def checkpoint(self, step_in_stage: int, integrator=None, observables=(), finished: bool = False):
        """Write this unit's checkpoint: at `step_in_stage` of this stage, or past it (finished)."""
        self.write_checkpoint(self.index + 1 if finished else self.index, step_in_stage, integrator, observables)

    def write_checkpoint(self, stage_index, step_in_stage, integrator=None, observables=()):
        from pyglass.io.checkpoint import write_checkpoint
        stages = self.deck.data["stage"]
        name = stages[min(stage_index, len(stages) - 1)]["name"]
        with self.phase("io"):
            write_checkpoint(self.ckpt_path, self.system, self.comm, stage_index=stage_index, stage_name=name,
                             step_in_stage=step_in_stage, integrator=integrator, observables=observables,
                             deck_text=self.deck_text, seed=self.seed, replica=self.replica, unit=self.unit)

    deck_text = ""    # the text of the whole deck (a study's, not its state's), set by the Runner

    def canonical(self):
        """Put the system in the state a restart from a checkpoint at this step starts from, so that
        straight and restarted runs sum forces in the same order: serially, a neighbour-list rebuild
        at the next force call (touch); decomposed, the whole system gathered and distributed again
        (owners and local row order as `decompose` makes them) with a fresh potential."""
        if is_parallel(self.comm):
            from pyglass.engine.comm import distribute
            self.system = distribute(self.system.gather(), self.comm)
            self.potential = self.deck.build_potential()
        else:
            self.system.touch()
        return self.system, self.potential

    def interrupted(self, why: str):
        """The RunInterrupted a stage raises after writing its checkpoint."""
        return RunInterrupted(f"{why} written to {self.ckpt_path}", self.ckpt_path)
