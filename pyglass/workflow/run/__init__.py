"""`pyglass run`: a validated deck -> system, potential, a loop over stages, output.

The package, by job:
- `seeds`    every random stream's seed, derived from `run.seed` independently of the rank layout;
- `paths`    the one place a run's file names are made (outputs, checkpoints, study units, draws);
- `session`  `Session`, what a stage sees and the only thing it sees;
- `pipeline` one unit: build the system, open the output, run the stages in order;
- `study`    studies: units dealt to replica groups, draws, the index file and its summaries;
- `plan`     `--dry-run`'s plan of a deck;
- `profile`  where the run's wall time goes, by phase (printed at the end, stored in the output).

A deck without `[study]` is one sample: `Runner` splits the world communicator into replicas
(`run.ranks_per_replica`), derives seeds, builds the system identically on every rank of a replica
(from a file, generated, or a checkpoint), hands it to the spatial decomposition and runs the
pipeline. A study runs the pipeline once per unit (`pyglass.workflow.run.study`). SIGTERM and SIGINT set a
flag that every rank checks together every `run.signal_check` steps; the run then writes a checkpoint
and raises `RunInterrupted`. `--restart` continues a single run from its checkpoint (on any rank
count: see `pyglass.io.checkpoint`) or a study where it stopped.
"""
from __future__ import annotations

import signal
import sys

from pyglass.engine.comm import is_parallel, rank as comm_rank, size as comm_size, split_replicas
from pyglass.io.checkpoint import RestartError, check_counters, read_checkpoint
from pyglass.workflow.run.output_guard import OutputLock, check_targets
from pyglass.workflow.deck import Deck, DeckError
from pyglass.registry import STAGES
from pyglass.workflow.run import paths, seeds
from pyglass.workflow.run.paths import checkpoint_path, draw_path, unit_path  # noqa: F401  (the public names)
from pyglass.workflow.run.pipeline import build_system, run_unit
from pyglass.workflow.run.plan import plan  # noqa: F401
from pyglass.workflow.run.seeds import derive_seed  # noqa: F401
from pyglass.workflow.deck.validate import import_python_observables
from pyglass.workflow.run.session import Printer, Session
from pyglass.workflow.stages.base import RunInterrupted  # noqa: F401  (raised by run_deck)


def replica_layout(comm, ranks_per_replica: int):
    """(replica index, number of replicas, replica communicator or None) of the world communicator."""
    rpr = ranks_per_replica or comm_size(comm)
    if comm_size(comm) % rpr:
        raise DeckError(f"{rpr} does not divide the {comm_size(comm)} MPI ranks", key="run.ranks_per_replica")
    if not is_parallel(comm):
        return 0, 1, None
    if rpr == comm_size(comm):
        return 0, 1, comm
    rcomm, replica, n_rep = split_replicas(comm, rpr)
    return replica, n_rep, (rcomm if rcomm.Get_size() > 1 else None)


class Runner:
    """Runs a validated deck (see the package docstring). Construct on every rank, then `run()`."""

    def __init__(self, deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
                 handle_signals=True, overwrite=False):
        self.deck, self.world = deck, comm
        self.overwrite = overwrite   # replace existing files that are not pyglass's (--overwrite)
        self.restart_path = restart
        self.handle_signals = handle_signals
        run = deck.data["run"]
        self.replica, self.n_rep, comm_rep = replica_layout(comm, run["ranks_per_replica"])
        printer = Printer(stream or sys.stdout, comm_rank(comm) if self.n_rep == 1 else comm_rank(comm_rep),
                          f"[replica {self.replica}] " if self.n_rep > 1 else "")
        self.session = Session(deck, comm_rep, self.replica, self.n_rep, printer, stop_at_step,
                               progress=run["progress"])
        self.session.deck_text = deck.text
        self.session.overwrite = overwrite
        self.seed = run["seed"] if self.n_rep == 1 else seeds.replica_seed(run["seed"], self.replica)
        self.output = output or deck.data["output"]["path"]

    # -- signals --------------------------------------------------------------------------------
    def _install_signals(self):
        """SIGTERM and SIGINT (Ctrl-C) set the stop flag: the run writes a checkpoint at the next check
        and ends as "interrupted", restartable; a second Ctrl-C aborts at once (KeyboardInterrupt)."""
        if not self.handle_signals:
            return {}
        session = self.session

        def handler(signum, frame):
            if signum == signal.SIGINT and session.signalled:
                raise KeyboardInterrupt
            session.signalled = True
            session.stop_signal = signal.Signals(signum).name
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                old[sig] = signal.signal(sig, handler)
            except ValueError:   # not the main thread
                pass
        return old

    # -- main -----------------------------------------------------------------------------------
    def run(self):
        with OutputLock(self.output, self.world):   # one run per output, whatever HDF5's file locking
            check_targets(self.written_paths(), self.read_paths(), self.overwrite, bool(self.restart_path),
                          self.world)
            import_python_observables(self.deck)   # runs their modules' code: at the run, never at validation
            self._initialise_petsc()
            old = self._install_signals()
            try:
                if self.deck.is_study:
                    from pyglass.workflow.run.study import Study
                    Study(self).run()
                else:
                    self._run_single()
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
        return self

    def written_paths(self) -> list:
        """[(path, role)] of the files this run creates or replaces (the output guard)."""
        out = self.output
        if self.deck.is_study:
            from pyglass.workflow.run.study import study_units
            units = [(out, "study index (output.path)")]
            units += [(paths.unit_path(out, u[2], u[4]), "sample output") for u in study_units(self.deck)]
            return units + [(paths.checkpoint_path(p), "checkpoint") for p, _ in units[1:]]
        ck = self.deck.data["output"]["checkpoint_path"] or paths.checkpoint_path(out)
        return [(paths.replica_path(out, r, self.n_rep), "output") for r in range(self.n_rep)] + \
            [(paths.replica_path(ck, r, self.n_rep), "checkpoint") for r in range(self.n_rep)]

    def read_paths(self) -> list:
        """Files this run reads besides its own checkpoints: the [system] file."""
        f = self.deck.data.get("system", {}).get("file")
        return [self.deck.resolve_path(f)] if f else []

    @property
    def system(self):
        return self.session.system

    def _initialise_petsc(self):
        """PETSc initialises MPI, and a singleton MPI_Init starts a helper process that inherits every
        open file descriptor (and so the HDF5 lock of an open output file, until it exits): start
        PETSc before any output is open when a stage will factorise a Hessian."""
        if any(STAGES[s["kind"]].uses_petsc for s in self.deck.data["stage"]):
            from pyglass.analysis.landscape.solvers import have_petsc
            if have_petsc():
                from petsc4py import PETSc  # noqa: F401

    def _run_single(self):
        deck, data = self.deck, self.deck.data
        path = paths.replica_path(self.output, self.replica, self.n_rep)
        ck_path = data["output"]["checkpoint_path"] or paths.checkpoint_path(self.output)
        ck = self.read_restart(self.restart_path, data["stage"]) if self.restart_path else None
        if ck is not None:
            self.seed = ck.seed
            system = ck.system
        else:
            gseed = data["system"].get("seed", data["run"]["seed"])
            if self.n_rep > 1:
                gseed = seeds.replica_seed(gseed, self.replica)
            system = build_system(deck, gseed)
        unit_seeds = {"run": data["run"]["seed"], "replica_seed": self.seed, "replica": self.replica,
                      "n_replicas": self.n_rep}
        run_unit(self.session, deck, self.seed, system, path,
                 paths.replica_path(ck_path, self.replica, self.n_rep), unit_seeds,
                 first=ck.stage_index if ck else 0, ck=ck, restart_path=self.restart_path)

    def read_restart(self, path, stages):
        """The checkpoint at `path` for a deck whose stages are `stages`, checked against it."""
        ck = read_checkpoint(path)
        ck.check_deck(self.deck.text, more_samples=self.deck.is_study)
        if ck.stage_index > len(stages):
            raise RestartError(f"{path} is at stage {ck.stage_index + 1}, the deck has {len(stages)} stage(s)")
        check_counters(ck, stages)   # a crafted step_in_stage must not skip steps
        n_ranks = self.session.n_ranks
        if ck.n_ranks != n_ranks:
            ck.check_rank_change(n_ranks, path)
        return ck.select_rank(self.session.rank, n_ranks)


def run_deck(deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
             handle_signals=True, overwrite=False) -> Runner:
    """Run a validated deck on the ranks of `comm` (None: serial). Raises RunInterrupted after a
    SIGTERM/SIGINT/stop_at_step checkpoint, DeckError/RestartError for user mistakes."""
    return Runner(deck, comm, restart, output, stop_at_step, stream, handle_signals, overwrite).run()
