"""The runner behind `pyglass run`: a validated deck -> system, potential, a loop over stages, output.

A deck without `[study]` is one sample (the pre-study behaviour):
  1. split the world communicator into replicas (`run.ranks_per_replica`), derive seeds;
  2. build the system (from a file, generated, or from a checkpoint) identically on every rank of
     a replica, then hand it to the spatial decomposition (`pyglass.comm.distribute`);
  3. open the H5MD output (collective), or reopen it on restart and drop frames after the checkpoint;
  4. run the stages in order: each is a registered `pyglass.stages.Stage`, called with a
     `StageContext` (system, potential, communicator, its results group, seeds, checkpoints, the stop
     flag, the shared inherent structure, the fields of earlier stages).
A study (`[study]`: several samples and/or state points) runs the stage pipeline once per unit
(state point j, sample s) with seed derive_seed(run.seed, 7000 + j, s), whatever the rank layout;
units are dealt round robin to the replica groups (with samples drawn from one trajectory per state
point, whole state points are, when there are enough of them); each unit writes `<stem>[.<state>].s<k>.h5` and
its own checkpoint; when every unit is done, world rank 0 writes the index file (`output.path`):
provenance, the unit table, external links to every unit's results, and the summary stages.
SIGTERM (and SIGINT, Ctrl-C) sets a flag that every rank checks together every `run.signal_check` steps; the run then
writes a checkpoint and raises `RunInterrupted`. `--restart` continues a single run from its
checkpoint (on any rank count: see `pyglass.io.checkpoint`); for a study it keeps finished units,
continues interrupted ones from their checkpoints and runs the rest; a draw trajectory continues
from its checkpoint, and a finished study restarted with a larger `study.samples` (the deck otherwise
unchanged) is extended with the new samples.
"""
from __future__ import annotations

import os
import signal
import sys

import h5py
import numpy as np

from pyglass.io.checkpoint import RestartError, check_counters, read_checkpoint, write_checkpoint
from pyglass.io.deck import Deck, DeckError, _format_of
from pyglass.io.deck.validate import import_python_observables
from pyglass.io.h5md import H5MDWriter, comm_rank, comm_size, provenance
from pyglass.io.output_guard import OutputLock, check_targets
from pyglass.io.safe_read import open_h5, read_array
from pyglass.registry import STAGES
from pyglass.stages.base import StageContext, is_field
from pyglass.stages.md import RunInterrupted  # noqa: F401  (re-exported: pyglass.runner.RunInterrupted)


def _mpi_max():
    from mpi4py import MPI
    return MPI.MAX


def derive_seed(seed: int, *keys: int) -> int:
    """An independent 32-bit seed for (seed, keys...) (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def deal_units(units, n_groups: int, group: int, by_state: bool = False) -> list:
    """The units [(unit, state index, ...)] replica group `group` of `n_groups` runs: round robin, or,
    with by_state (samples drawn from one trajectory per state point) and at least n_groups state points,
    whole state points round robin, so that each draw trajectory runs once and not on every group that
    holds one of its samples."""
    states = sorted({u[1] for u in units})
    if by_state and len(states) >= n_groups:
        return [u for u in units if states.index(u[1]) % n_groups == group]
    return [u for k, u in enumerate(units) if k % n_groups == group]


def unit_seed(deck: Deck, state: int, sample: int) -> int:
    """The seed of study unit (state point, sample): independent of the rank layout."""
    return derive_seed(deck.data["run"]["seed"], 7000 + state, sample)


def replica_layout(comm, ranks_per_replica: int):
    """(replica index, number of replicas, replica communicator or None) via pyglass.comm."""
    from pyglass.comm import is_parallel, size, split_replicas
    rpr = ranks_per_replica or size(comm)
    if size(comm) % rpr:
        raise DeckError(f"{rpr} does not divide the {size(comm)} MPI ranks", key="run.ranks_per_replica")
    if not is_parallel(comm):
        return 0, 1, None
    if rpr == size(comm):
        return 0, 1, comm
    rcomm, replica, n_rep = split_replicas(comm, rpr)
    return replica, n_rep, (rcomm if rcomm.Get_size() > 1 else None)


def decompose(system, comm):
    """This rank's part of a whole system under the spatial decomposition of `comm`
    (pyglass.comm.distribute; the system itself when serial)."""
    from pyglass.comm import distribute
    return distribute(system, comm)


def _replica_path(path, replica, n_rep):
    if n_rep == 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rep{replica}{ext}"


def unit_path(path: str, label: str, sample: int) -> str:
    """Output file of study unit (state `label`, sample): <stem>[.<label>].s<sample><ext>."""
    stem, ext = os.path.splitext(path)
    return f"{stem}{'.' + label if label else ''}.s{sample}{ext or '.h5'}"


def checkpoint_path(path: str) -> str:
    return os.path.splitext(path)[0] + ".ckpt.h5"


def build_system(deck: Deck, seed: int):
    """The initial configuration of `deck` (whole system), velocities drawn if asked."""
    s = deck.data["system"]
    if s.get("file"):
        path = deck.resolve_path(s["file"])
        fmt = s["format"] if s["format"] != "auto" else _format_of(path)
        import pyglass.io as io
        if fmt == "h5":
            with open_h5(path) as f:   # refuses links and storage outside the file
                is_ckpt = "checkpoint" in f
            system = read_checkpoint(path).system if is_ckpt else io.read_snapshot(path, frame=s["frame"])
        else:
            if fmt == "lammps-dump":
                system = [frame for _, frame in io.read_lammps_dump(path)]
            else:
                reader = {"lammps-data": "read_lammps_data", "extxyz": "read_extxyz"}[fmt]
                system = getattr(io, reader)(path)
            if isinstance(system, list):   # multi-frame formats
                try:
                    system = system[s["frame"]]
                except IndexError:
                    raise DeckError(f"{path} has {len(system)} frame(s), no frame {s['frame']}",
                                    key="system.frame") from None
        system.step, system.time = 0, 0.0
    else:
        from pyglass import builders
        common = dict(n=s["n"], density=s["density"], dim=s["dim"], composition=s["composition"], seed=seed,
                      type_names=s["type_names"], masses=s["masses"])
        if s["generate"] == "random":
            system = builders.random_packing(min_distance=s["min_distance"], **common)
        else:
            system = builders.lattice(jitter=s["jitter"], **common)
    if s.get("temperature") is not None:
        system.thermalize(s["temperature"], derive_seed(seed, 1))
    return system


def check_compatible(system, potential, model):
    """A system read from a file against its potential (Potential.incompatibility)."""
    bad = potential.incompatibility(system.dim, system.n_types) if hasattr(potential, "incompatibility") else None
    if bad:
        raise DeckError(f"the system {bad[1]} (model {model!r})", key="potential.model")


class _Printer:
    def __init__(self, stream, rank, prefix=""):
        self.stream, self.on, self.prefix = stream, rank == 0, prefix

    def __call__(self, *a, **k):
        if self.on:
            if self.prefix:
                a = (self.prefix + " ".join(map(str, a)),)
            print(*a, file=self.stream, flush=True, **k)


class NullWriter:
    """Stands in for H5MDWriter where nothing is kept (the draw phase of a study on replicas that
    repeat it only to reach their samples; another replica writes it)."""
    writes = False
    f = None

    def __init__(self, system, comm):
        from pyglass.io.h5md import global_count
        self.comm, self.n_global = comm, global_count(comm, system.N)
        self.last_frame_step = self.last_thermo_step = None

    def results_path(self, name):
        from pyglass.io.h5md import H5MDWriter
        return H5MDWriter.results_path(self, name)

    def results_group(self, name):
        return None

    def _noop(self, *a, **k):
        return None

    write_frame = append_thermo = write_observables = set_attrs = set_status = truncate_after = _noop
    flush = close = _noop


class Runner:
    """Runs a validated deck (see module docstring). Construct on every rank, then `run()`."""

    def __init__(self, deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
                 handle_signals=True, overwrite=False):
        self.deck, self.world = deck, comm
        self.overwrite = overwrite   # replace existing files that are not pyglass's (--overwrite)
        self.restart_path, self.stop_at_step = restart, stop_at_step
        self.stream = stream or sys.stdout
        self.handle_signals = handle_signals
        run = deck.data["run"]
        self.replica, self.n_rep, self.comm = replica_layout(comm, run["ranks_per_replica"])
        self.rank = comm_rank(self.comm)
        self.n_ranks = comm_size(self.comm)
        self.print = _Printer(self.stream, comm_rank(comm) if self.n_rep == 1 else self.rank,
                              f"[replica {self.replica}] " if self.n_rep > 1 else "")
        self.seed = run["seed"] if self.n_rep == 1 else derive_seed(run["seed"], 1000 + self.replica)
        self.output = output or deck.data["output"]["path"]
        self._sigterm = False
        self.stop_signal = "SIGTERM"
        self.writer = None
        self.system = self.potential = None
        self.ckpt_path = None
        self._inherent = None
        self.fields: dict = {}
        self.stage_objects: list = []
        self.unit = None   # (state label, sample) of a study unit

    # -- signals ------------------------------------------------------------------------
    def _install_signals(self):
        """SIGTERM and SIGINT (Ctrl-C) set the stop flag: the run writes a checkpoint at the next check
        and ends as "interrupted", restartable; a second Ctrl-C aborts at once (KeyboardInterrupt)."""
        if not self.handle_signals:
            return {}

        def handler(signum, frame):
            if signum == signal.SIGINT and self._sigterm:
                raise KeyboardInterrupt
            self._sigterm = True
            self.stop_signal = signal.Signals(signum).name
        old = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                old[sig] = signal.signal(sig, handler)
            except ValueError:   # not the main thread
                pass
        return old

    def stop_requested(self) -> bool:
        flag = self._sigterm
        if self.comm is not None:
            flag = bool(self.comm.allreduce(int(flag)))   # every rank of the replica stops at the same step
        return flag

    # -- main ------------------------------------------------------------------------------
    def run(self):
        with OutputLock(self.output, self.world):   # one run per output, whatever HDF5's file locking
            check_targets(self.written_paths(), self.read_paths(), self.overwrite, bool(self.restart_path),
                          self.world)
            import_python_observables(self.deck)   # runs their modules' code: at the run, never at validation
            self._initialise_petsc()
            old = self._install_signals()
            try:
                if self.deck.is_study:
                    self._run_study()
                else:
                    self._run_single()
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
        return self

    def written_paths(self) -> list:
        """[(path, role)] of the files this run creates or replaces (output guard)."""
        out = self.output
        if self.deck.is_study:
            paths = [(out, "study index (output.path)")]
            paths += [(unit_path(out, u[2], u[4]), "sample output") for u in self.units()]
            return paths + [(checkpoint_path(p), "checkpoint") for p, _ in paths[1:]]
        ck = self.deck.data["output"]["checkpoint_path"] or checkpoint_path(out)
        return [(_replica_path(out, r, self.n_rep), "output") for r in range(self.n_rep)] + \
            [(_replica_path(ck, r, self.n_rep), "checkpoint") for r in range(self.n_rep)]

    def read_paths(self) -> list:
        """Files this run reads besides its own checkpoints: the [system] file."""
        f = self.deck.data.get("system", {}).get("file")
        return [self.deck.resolve_path(f)] if f else []

    def _initialise_petsc(self):
        """PETSc initialises MPI, and a singleton MPI_Init starts a helper process that inherits every
        open file descriptor (and so the HDF5 lock of an open output file, until it exits): start
        PETSc before any output is open when a stage will factorise a Hessian."""
        if any(STAGES[s["kind"]].uses_petsc for s in self.deck.data["stage"]):
            from pyglass.landscape.solvers import have_petsc
            if have_petsc():
                from petsc4py import PETSc  # noqa: F401

    def _run_single(self):
        deck, data = self.deck, self.deck.data
        path = _replica_path(self.output, self.replica, self.n_rep)
        ck_path = data["output"]["checkpoint_path"] or checkpoint_path(self.output)
        ck = self._read_restart(self.restart_path, len(data["stage"])) if self.restart_path else None
        if ck is not None:
            self.seed = ck.seed
            system = ck.system
        else:
            gseed = data["system"].get("seed", data["run"]["seed"])
            if self.n_rep > 1:
                gseed = derive_seed(gseed, 1000 + self.replica)
            system = build_system(deck, gseed)
        seeds = {"run": data["run"]["seed"], "replica_seed": self.seed, "replica": self.replica,
                 "n_replicas": self.n_rep}
        self._run_unit(deck, self.seed, system, path, _replica_path(ck_path, self.replica, self.n_rep), seeds,
                       first=ck.stage_index if ck else 0, ck=ck)

    def _read_restart(self, path, n_stages, stages=None):
        ck = read_checkpoint(path)
        ck.check_deck(self.deck.text, more_samples=self.deck.is_study)
        if ck.stage_index > n_stages:
            raise RestartError(f"{path} is at stage {ck.stage_index + 1}, the deck has {n_stages} stage(s)")
        check_counters(ck, stages or self.deck.data["stage"])   # a crafted step_in_stage must not skip steps
        if ck.n_ranks != self.n_ranks:
            ck.check_rank_change(self.n_ranks, path)
        return ck.select_rank(self.rank, self.n_ranks)

    def _run_unit(self, deck, seed, system, path, ckpt_path, seeds, first=0, ck=None, stop=None, writer=None):
        """Run stages [first, stop) of `deck` on `system` (whole), writing `path`; the stage pipeline."""
        data = deck.data
        stages = data["stage"]
        stop = len(stages) if stop is None else stop
        self.deck_current, self.seed, self.ckpt_path = deck, seed, ckpt_path
        self.potential = deck.build_potential()
        check_compatible(system, self.potential, data["potential"]["model"])
        self.system = decompose(system, self.comm)
        self._inherent = None
        self.fields = {}
        self.stage_objects = [STAGES[s["kind"]](s, k) for k, s in enumerate(stages)]
        append = ck is not None and os.path.exists(path)
        self.writer = writer or H5MDWriter(path, self.system, self.comm, append=append,
                                           provenance=provenance(deck.text, seeds, self.n_ranks),
                                           author=data["output"]["author"])
        if append:
            self.writer.truncate_after(self.system.step)
            self._reload_fields(path, first)
        clean = False   # close the (collective) output only when every rank gets there together
        try:
            if ck and first >= stop and self.unit is None:
                self.print(f"{self.restart_path}: the run was already complete")
            for k in range(first, stop):
                ctx = StageContext(self, deck, stages[k], k, seed, resume=ck if (ck and k == first) else None,
                                   fields=self.fields)
                self.stage_objects[k].run(ctx)
                if type(self.stage_objects[k]).leaves != "same":
                    self._inherent = None
                if k + 1 < stop and self.stop_requested():   # between stages: continue with the next
                    self.checkpoint(k + 1, 0)
                    raise RunInterrupted(f"{self.stop_signal}: checkpoint after stage {k + 1} written to "
                                         f"{self.ckpt_path}", self.ckpt_path)
            self.writer.set_status("complete")
            clean = True
            if stop == len(stages):
                self.print(f"pyglass: done; output {path}")
        except RunInterrupted:
            self.writer.set_status("interrupted")
            clean = True
            raise
        finally:
            from pyglass.comm import is_parallel
            # an exception on one rank: no collective close (it would hang); the error propagates and
            # the MPI excepthook (pyglass.comm.abort_on_exception) ends every rank with its message
            if writer is None and (clean or not is_parallel(self.comm)):
                self.writer.close()

    def _reload_fields(self, path, first):
        """Per-particle fields of the stages before `first`, read back from the output (restart)."""
        from pyglass.comm import is_parallel
        out = {}
        if comm_rank(self.comm) == 0:
            with open_h5(path, RestartError) as f:
                for obj in self.stage_objects[:first]:
                    for name, kind in type(obj).fields(obj.params).items():
                        key = f"{self.writer.results_path(obj.name)}/{name}"
                        if is_field(kind) and key in f:
                            out[f"{obj.name}/{name}"] = read_array(f[key], path, RestartError)
        if is_parallel(self.comm):
            out = self.comm.bcast(out, root=0)
        self.fields.update(out)

    # -- what stages call ------------------------------------------------------------------
    def checkpoint(self, stage_index, step_in_stage, integrator=None, observables=()):
        stages = self.deck_current.data["stage"]
        name = stages[min(stage_index, len(stages) - 1)]["name"]
        write_checkpoint(self.ckpt_path, self.system, self.comm, stage_index=stage_index, stage_name=name,
                         step_in_stage=step_in_stage, integrator=integrator, observables=observables,
                         deck_text=self.deck.text, seed=self.seed, replica=self.replica,
                         unit=self.unit)

    def canonical(self):
        """Put the system in the state a restart from a checkpoint at this step starts from, so that
        straight and restarted runs sum forces in the same order: serially, a neighbour-list rebuild
        at the next force call (touch); decomposed, the whole system gathered and distributed again
        (owners and local row order as `decompose` makes them) with a fresh potential."""
        from pyglass.comm import is_parallel
        if is_parallel(self.comm):
            self.system = decompose(self.system.gather(), self.comm)
            self.potential = self.deck_current.build_potential()
        else:
            self.system.touch()
        return self.system, self.potential

    def inherent_structure(self):
        """The shared InherentStructure of the current configuration (gathered on every rank)."""
        if self._inherent is None:
            from pyglass.comm import is_parallel
            from pyglass.landscape.inherent import InherentStructure
            whole = self.system.gather() if is_parallel(self.comm) else self.system.copy()
            self._inherent = InherentStructure(whole, self.deck_current.build_potential())
        return self._inherent

    def write_results(self, name, results: dict, attrs: dict):
        """Datasets and attributes of a stage's results group (collective; identical values on every rank)."""
        w = self.writer
        grp = w.results_group(name)
        if grp is not None:
            for key, value in results.items():
                if key in grp:
                    del grp[key]
                grp.create_dataset(key, data=np.asarray(value))
            for key, value in attrs.items():
                grp.attrs[key] = value
        w.flush()

    def max_over_ranks(self, x):
        return float(x) if self.comm is None else float(self.comm.allreduce(float(x), op=_mpi_max()))

    def thermo_line(self, integ, system, result):
        """Collective (the values are reductions); rank 0 prints."""
        from pyglass.integrators.base import thermo_line
        self.print(thermo_line(integ.thermo_values(system, result)))

    def progress_bar(self, steps, done):
        if not (self.deck.data["run"]["progress"] and self.print.on and sys.stderr.isatty()):
            return None
        try:
            from tqdm import tqdm
        except ImportError:   # cosmetic only
            return None
        return tqdm(total=steps, initial=done, unit="step", file=sys.stderr, mininterval=1.0, leave=False)

    # -- studies -------------------------------------------------------------------------
    def units(self):
        """[(unit index, state index, state label, state deck, sample)] of the whole study."""
        out, S = [], int(self.deck.study["samples"])
        for j, (label, data) in enumerate(self.deck.states):
            for s in range(S):
                out.append((len(out), j, label, self.deck.with_data(data), s))
        return out

    def _unit_status(self, path):
        """'complete', 'interrupted', 'running' or None (no readable file)."""
        from pyglass.io.h5md import path_status
        return path_status(path) or None

    def _run_study(self):
        study = self.deck.study
        units = self.units()
        todo = units
        if self.restart_path and study["source"] in ("seeds", "frames"):
            # a restart deals out only the units not yet complete, so the replica groups stay busy
            # (every rank reads the same files: the same list everywhere)
            todo = [u for u in units if self._unit_status(unit_path(self.output, u[2], u[4])) != "complete"]
        by_state = study["source"] == "trajectory"
        mine = deal_units(todo, self.n_rep, self.replica, by_state=by_state)
        per_sample = [k for k, s in enumerate(self.deck.data["stage"]) if STAGES[s["kind"]].per_sample]
        n_pipeline = (max(per_sample) + 1) if per_sample else 0
        self.print(f"study: {len(self.deck.states)} state point(s) x {study['samples']} sample(s) = {len(units)} "
                   f"units over {self.n_rep} replica group(s); source = {study['source']}")
        interrupted = None
        try:
            if study["source"] in ("seeds", "frames"):
                for (u, j, label, deck, s) in mine:
                    self._study_unit(u, j, label, deck, s, None, 0, n_pipeline)
            else:
                # the draw file of a state point is written by the first replica group holding its units
                # (state points dealt whole: the only one; split over groups: each repeats the draw)
                writer_of = {}
                for g in reversed(range(self.n_rep)):
                    writer_of.update({u[1]: g for u in deal_units(todo, self.n_rep, g, by_state=by_state)})
                self._study_trajectory(mine, n_pipeline, writer_of)
        except RunInterrupted as exc:
            interrupted = str(exc)
        from pyglass.comm import is_parallel
        if is_parallel(self.world):
            msgs = [m for m in self.world.allgather(interrupted) if m]
            interrupted = msgs[0] if msgs else None
        if interrupted:
            if comm_rank(self.world) == 0:
                self._write_index(units, status="interrupted")
            raise RunInterrupted(f"{interrupted}; restart the study with --restart {self.output}",
                                 checkpoint_path(self.output))
        if comm_rank(self.world) == 0:
            self._write_index(units, status="complete")
            self.print(f"pyglass: study done; index {self.output}")
        if is_parallel(self.world):
            self.world.Barrier()

    def _study_unit(self, u, j, label, deck, s, system, first_stage, n_pipeline):
        """Run one unit's pipeline (stages first_stage..n_pipeline-1); resume or skip on --restart."""
        path = unit_path(self.output, label, s)
        ck_path = checkpoint_path(path)
        seed = unit_seed(self.deck, j, s)
        self.unit = (label, s)
        tag = f"{label + ' ' if label else ''}sample {s}"
        ck = None
        if self.restart_path:
            status = self._unit_status(path)
            if status == "complete":
                self.print(f"{tag}: complete in {path}, kept")
                return
            if os.path.exists(ck_path):
                ck = self._read_restart(ck_path, len(deck.data["stage"]), deck.data["stage"])
                system = ck.system
                first_stage = ck.stage_index
        if system is None:
            if self.deck.study["source"] == "frames":   # re-analysis: sample s is frame s of the file
                data = dict(deck.data, system=dict(deck.data["system"], frame=s))
                system = build_system(deck.with_data(data), seed)
            else:
                system = build_system(deck, seed)
        self.print(f"== {tag} (seed {seed}) -> {path}")
        seeds = {"run": self.deck.data["run"]["seed"], "unit_seed": seed, "state": label, "sample": s,
                 "replica": self.replica, "n_replicas": self.n_rep}
        self._run_unit(deck, seed, system, path, ck_path, seeds, first=first_stage, ck=ck, stop=n_pipeline)
        self.writer = None

    def _study_trajectory(self, mine, n_pipeline, writer_of):
        """Samples drawn from one trajectory per state point: the stages up to `draw_after` run once,
        then sample s is the configuration after s+1 further blocks of `spacing` steps. Every replica
        with units at a state point repeats the draw (deterministic), keeping its own samples; the
        replica writer_of[state index] writes the draw's file."""
        study = self.deck.study
        names = [s["name"] for s in self.deck.data["stage"]]
        draw = names.index(study["draw_after"])
        by_state: dict = {}
        for unit in mine:
            by_state.setdefault(unit[1], []).append(unit)
        for j, units in by_state.items():
            label, deck = units[0][2], units[0][3]
            todo = {u[4]: u for u in units}
            if self.restart_path:
                todo = {s: u for s, u in todo.items() if self._unit_status(unit_path(self.output, label, s)) != "complete"}
                if not todo:
                    continue
            seed = derive_seed(self.deck.data["run"]["seed"], 7000 + j)
            draw_path = os.path.splitext(self.output)[0] + (f".{label}" if label else "") + ".draw.h5"
            system = build_system(deck, seed)
            seeds = {"run": self.deck.data["run"]["seed"], "draw_seed": seed, "state": label}
            self.unit = (label, -1)
            self.potential = deck.build_potential()
            writer = None
            if self.replica != writer_of[j]:
                writer = NullWriter(decompose(system.copy(), self.comm), self.comm)
            ck = None
            if self.restart_path and os.path.exists(checkpoint_path(draw_path)):
                # the draw continues from its checkpoint: mid-way, or from its end when it was complete
                # (e.g. a finished study given more samples)
                ck = self._read_restart(checkpoint_path(draw_path), len(deck.data["stage"]), deck.data["stage"])
                ck = ck if ck.stage_index <= draw + 1 else None
            tag = label + " " if label else ""
            if ck is not None and ck.stage_index == draw + 1:
                self.print(f"== {tag}draw: complete in {draw_path}, continued from its checkpoint")
            elif ck is not None:
                self.print(f"== {tag}draw: stages {ck.stage_index + 1}-{draw + 1} from its checkpoint -> {draw_path}")
            else:
                self.print(f"== {tag}draw: stages 1-{draw + 1} -> {draw_path}")
            self._run_unit(deck, seed, ck.system if ck else system, draw_path, checkpoint_path(draw_path), seeds,
                           first=ck.stage_index if ck else 0, ck=ck, stop=draw + 1, writer=writer)
            integ = deck.build_integrator(deck.data["stage"][draw])
            for s in range(max(todo) + 1):
                integ.run(self.system, self.potential, int(deck.study["spacing"]))   # may differ per state
                if s in todo:
                    u = todo[s]
                    whole = self.system.gather() if self.comm is not None else self.system.copy()
                    keep = (self.system, self.potential)
                    self._study_unit(u[0], j, label, deck, s, whole, draw + 1, n_pipeline)
                    self.system, self.potential = keep

    def _write_index(self, units, status):
        """The study's index file (world rank 0): provenance, unit table, links, summaries."""
        from pyglass.io.h5md import RESULTS_ROOT, fixed_string, provenance as prov, user_name
        path = self.output
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        summaries = [(k, s) for k, s in enumerate(self.deck.data["stage"]) if not STAGES[s["kind"]].per_sample]
        with h5py.File(path, "w") as f:
            h5 = f.create_group("h5md")
            h5.attrs["version"] = np.array([1, 1], np.int32)
            h5.create_group("author").attrs["name"] = fixed_string(self.deck.data["output"]["author"] or user_name())
            cr = h5.create_group("creator")
            import pyglass
            cr.attrs["name"], cr.attrs["version"] = fixed_string("pyglass"), fixed_string(pyglass.__version__)
            p = h5.create_group("provenance")
            for key, value in prov(self.deck.text, {"run": self.deck.data["run"]["seed"]},
                                   comm_size(self.world)).items():
                if key == "deck":
                    p.create_dataset("deck", data=value, dtype=h5py.string_dtype())
                else:   # H5MD 1.1: fixed-length strings in /h5md
                    p.attrs[key] = fixed_string(value) if isinstance(value, str) else value
            p.attrs["status"] = fixed_string(status)
            st = f.require_group(f"{RESULTS_ROOT}/study")
            st.attrs["samples"] = int(self.deck.study["samples"])
            st.attrs["source"] = self.deck.study["source"]
            st.attrs["states"] = np.array([lab for lab, _ in self.deck.states], dtype=h5py.string_dtype())
            files = [unit_path(path, lab, s) for (_, _, lab, _, s) in units]
            st.create_dataset("files", data=np.array([os.path.relpath(x, os.path.dirname(os.path.abspath(path)))
                                                      for x in files], dtype=h5py.string_dtype()))
            st.create_dataset("state_index", data=np.array([u[1] for u in units], np.int64))
            st.create_dataset("sample", data=np.array([u[4] for u in units], np.int64))
            st.create_dataset("seed", data=np.array([unit_seed(self.deck, u[1], u[4]) for u in units], np.int64))
            st.create_dataset("status", data=np.array([self._unit_status(x) or "missing" for x in files],
                                                      dtype=h5py.string_dtype()))
            links = st.require_group("samples")
            for (u, j, lab, _, s), fpath in zip(units, files):
                g = links.require_group(lab or "all")
                g[f"s{s}"] = h5py.ExternalLink(os.path.relpath(fpath, os.path.dirname(os.path.abspath(path))),
                                               f"/{RESULTS_ROOT}")
            if status == "complete":
                for k, stage in summaries:
                    self._summary(f, stage, k, units, files)

    def _summary(self, f, stage, k, units, files):
        from pyglass.io.h5md import RESULTS_ROOT
        obj = STAGES[stage["kind"]](stage, k)
        conf = float(self.deck.study["confidence"])
        self.print(f"summary ({stage['name']}): {', '.join(stage['fields'])} over samples, {conf:.0%} bootstrap")
        for j, (label, _) in enumerate(self.deck.states):
            per = []
            for (u, jj, lab, _, s), fpath in zip(units, files):
                if jj != j:
                    continue
                vals = {}
                with open_h5(fpath) as uf:
                    for name in stage["fields"]:
                        st_name, ds = name.split("/", 1)
                        vals[name] = read_array(uf[f"{RESULTS_ROOT}/{st_name}/{ds}"], fpath)
                per.append(vals)
            agg = obj.aggregate(per, conf, derive_seed(self.deck.data["run"]["seed"], 9000 + k, j))
            g = f.require_group(f"{RESULTS_ROOT}/{stage['name']}/{label or 'all'}")
            g.attrs["confidence"] = conf
            for name, res in agg.items():
                h = g.require_group(name.replace("/", "."))
                h.attrs["field"] = name
                for key, value in res.items():
                    h.create_dataset(key, data=np.asarray(value))
                m = np.asarray(res["mean"])
                if m.ndim == 0:
                    self.print(f"  {label or 'all'} {name}: {float(m):.6g} [{float(res['low']):.6g}, "
                               f"{float(res['high']):.6g}] (n = {res['n']})")


def plan(deck: Deck) -> list:
    """The resolved plan of a deck, one line each (`pyglass run --dry-run` prints them as comments):
    units, and each stage's cost at the deck's N (memory of a direct factorisation included)."""
    study = deck.study
    lines = []
    if deck.is_study:
        lines.append(f"study: {len(deck.states)} state point(s) x {study['samples']} sample(s) = "
                     f"{len(deck.states) * study['samples']} units; source = {study['source']}; output "
                     f"{unit_path(deck.data['output']['path'], deck.states[0][0], 0)} ... and the index "
                     f"{deck.data['output']['path']}")
    for label, data in deck.states:
        sysd = data.get("system", {})
        n, dim = (sysd.get("n"), sysd.get("dim", 3)) if sysd.get("generate") else (None, None)
        if label:
            lines.append(f"state {label}:")
        for k, st in enumerate(data["stage"]):
            cls = STAGES[st["kind"]]
            est = cls.estimate(st, n, dim) if n else "(N known when the file is read)"
            lines.append(f"  stage {k + 1} {st['name']} ({st['kind']}): {est}")
    return lines


def run_deck(deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
             handle_signals=True, overwrite=False) -> Runner:
    """Run a validated deck on the ranks of `comm` (None: serial). Raises RunInterrupted after a
    SIGTERM/SIGINT/stop_at_step checkpoint, DeckError/RestartError for user mistakes."""
    return Runner(deck, comm, restart, output, stop_at_step, stream, handle_signals, overwrite).run()
