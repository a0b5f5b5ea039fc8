"""The stage runner behind `pyglass run`: a validated deck -> system, potential, stages, output.

Order of work (`run_deck`):
  1. split the world communicator into replicas (`run.ranks_per_replica`), derive seeds;
  2. build the system (from a file, generated, or from a checkpoint) identically on every rank of
     a replica, then hand it to the spatial decomposition (`pyglass.domain.decompose`) when the
     replica has more than one rank;
  3. open the H5MD output (collective), or reopen it on restart and drop frames after the checkpoint;
  4. run the stages in order. MD stages run the integrator in segments that end at checkpoint
     steps, at `stop_at_step` and at the stage end; at every segment end the system is touched
     (neighbour lists/ghosts rebuilt at the next force call), so an uninterrupted run and a run
     restarted from any of those checkpoints sum forces in the same order and agree bit for bit.
     Quench stages call the minimizer. Library observables write their results at checkpoints
     and at the stage end.
SIGTERM sets a flag that every rank checks together every `run.signal_check` steps; the run then
writes a checkpoint and raises `RunInterrupted`.
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

import numpy as np

from pyglass.io.checkpoint import RestartError, read_checkpoint, write_checkpoint
from pyglass.io.deck import OBSERVABLES, Deck, DeckError, _format_of, make_schedule
from pyglass.io.h5md import H5MDWriter, comm_rank, comm_size, provenance


class RunInterrupted(Exception):
    """The run stopped early (SIGTERM or stop_at_step) after writing a checkpoint."""

    def __init__(self, message, checkpoint):
        super().__init__(message)
        self.checkpoint = checkpoint


@dataclass
class StageContext:
    """What an observable factory sees (pyglass.io.deck.OBSERVABLES)."""
    system: object
    potential: object
    integrator: object
    writer: H5MDWriter
    schedule: object
    comm: object
    stage: dict
    stage_index: int


def _mpi_max():
    from mpi4py import MPI
    return MPI.MAX


def derive_seed(seed: int, *keys: int) -> int:
    """An independent 32-bit seed for (seed, keys...) (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


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


def build_system(deck: Deck, seed: int):
    """The initial configuration of `deck` (whole system), velocities drawn if asked."""
    s = deck.data["system"]
    if s.get("file"):
        path = deck.resolve_path(s["file"])
        fmt = s["format"] if s["format"] != "auto" else _format_of(path)
        import pyglass.io as io
        if fmt == "h5":
            import h5py
            with h5py.File(path, "r") as f:
                is_ckpt = "checkpoint" in f
            system = read_checkpoint(path).system if is_ckpt else io.read_snapshot(path, frame=s["frame"])
        else:
            reader = {"lammps-data": "read_lammps_data", "extxyz": "read_extxyz"}[fmt]
            fn = getattr(io, reader, None)
            if fn is None:
                raise DeckError(f"reading {fmt} needs pyglass.io.{reader}, which this build lacks", key="system.file")
            system = fn(path)
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
    pdim = getattr(potential, "dim", None)
    if pdim is not None and pdim != system.dim:
        raise DeckError(f"the system is {system.dim}-dimensional but potential {model!r} is {pdim}-dimensional",
                        key="potential.model")
    cut = getattr(potential, "cutoffs", None)
    if cut is not None and system.n_types > np.shape(cut)[0]:
        raise DeckError(f"the system has {system.n_types} species but potential {model!r} defines "
                        f"{np.shape(cut)[0]}", key="potential.model")


class _Printer:
    def __init__(self, stream, rank):
        self.stream, self.on = stream, rank == 0

    def __call__(self, *a, **k):
        if self.on:
            print(*a, file=self.stream, flush=True, **k)


class Runner:
    """Runs a validated deck (see module docstring). Construct on every rank, then `run()`."""

    def __init__(self, deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
                 handle_signals=True):
        self.deck, self.world = deck, comm
        self.restart_path, self.stop_at_step = restart, stop_at_step
        self.stream = stream or sys.stdout
        self.handle_signals = handle_signals
        run = deck.data["run"]
        self.replica, self.n_rep, self.comm = replica_layout(comm, run["ranks_per_replica"])
        self.rank = comm_rank(self.comm)
        self.print = _Printer(self.stream, comm_rank(comm) if self.n_rep == 1 else self.rank)
        self.seed = run["seed"] if self.n_rep == 1 else derive_seed(run["seed"], 1000 + self.replica)
        out = deck.data["output"]
        self.path = _replica_path(output or out["path"], self.replica, self.n_rep)
        ck = out["checkpoint_path"] or (os.path.splitext(output or out["path"])[0] + ".ckpt.h5")
        self.ckpt_path = _replica_path(ck, self.replica, self.n_rep)
        self._sigterm = False
        self.writer = None

    # -- signals ------------------------------------------------------------------------
    def _install_signals(self):
        if not self.handle_signals:
            return None

        def handler(signum, frame):
            self._sigterm = True
        try:
            return signal.signal(signal.SIGTERM, handler)
        except ValueError:   # not the main thread
            return None

    def _stop_requested(self) -> bool:
        flag = self._sigterm
        if self.comm is not None:
            flag = bool(self.comm.allreduce(int(flag)))   # every rank of the replica stops at the same step
        return flag

    # -- main ------------------------------------------------------------------------------
    def run(self):
        deck, data = self.deck, self.deck.data
        stages = data["stage"]
        ck = None
        if self.restart_path:
            ck = read_checkpoint(self.restart_path)
            if ck.n_ranks != comm_size(self.comm):
                raise RestartError(f"{self.restart_path} was written on {ck.n_ranks} rank(s) per replica; "
                                   f"this run has {comm_size(self.comm)}: restart on the same number")
            if ck.stage_index > len(stages):
                raise RestartError(f"{self.restart_path} is at stage {ck.stage_index + 1}, the deck has "
                                   f"{len(stages)} stage(s)")
            if ck.deck_text.strip() != deck.text.strip():
                self.print(f"pyglass: warning: the deck differs from the one stored in {self.restart_path}")
            self.seed = ck.seed
            system = ck.system
        else:
            gseed = data["system"].get("seed", data["run"]["seed"])
            if self.n_rep > 1:
                gseed = derive_seed(gseed, 1000 + self.replica)
            system = build_system(deck, gseed)
        self.potential = deck.build_potential()
        check_compatible(system, self.potential, data["potential"]["model"])
        system = decompose(system, self.comm)
        self.system = system
        seeds = {"run": data["run"]["seed"], "replica_seed": self.seed, "replica": self.replica,
                 "n_replicas": self.n_rep}
        append = ck is not None and os.path.exists(self.path)
        self.writer = H5MDWriter(self.path, system, self.comm, append=append,
                                 provenance=provenance(deck.text, seeds, comm_size(self.comm)),
                                 author=data["output"]["author"])
        if append:
            self.writer.truncate_after(system.step)
        old = self._install_signals()
        try:
            first = ck.stage_index if ck else 0
            if ck and first >= len(stages):
                self.print(f"{self.restart_path}: the run was already complete")
            for k in range(first, len(stages)):
                resume = ck if (ck and k == first) else None
                if stages[k]["kind"] == "quench":
                    self._quench(k, stages[k])
                else:
                    self._md(k, stages[k], resume)
            self.writer.set_status("complete")
            self.print(f"pyglass: done; output {self.path}")
        except RunInterrupted:
            self.writer.set_status("interrupted")
            raise
        finally:
            self.writer.close()
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return self

    # -- stages ------------------------------------------------------------------------------
    def _checkpoint(self, k, stage, step_in_stage, integrator=None, observables=()):
        write_checkpoint(self.ckpt_path, self.system, self.comm, stage_index=k, stage_name=stage["name"],
                         step_in_stage=step_in_stage, integrator=integrator, observables=observables,
                         deck_text=self.deck.text, seed=self.seed, replica=self.replica)

    def _observables(self, k, stage, integrator, stage_start):
        out = self.deck.data["output"]
        specs = list(stage["observable"])
        types = {o["type"] for o in specs}
        if out["thermo"] and "thermo" not in types:
            specs.append({"type": "thermo", "label": "thermo", "schedule": "linear", "every": out["thermo"],
                          "start": 0})
        if out["trajectory"] and stage["kind"] == "production" and "trajectory" not in types:
            specs.append({"type": "trajectory", "label": "trajectory", "schedule": "linear",
                          "every": out["trajectory"], "start": 0, "velocities": True})
        result = []
        for o in specs:
            reg = OBSERVABLES[o["type"]]
            params = {key: o.get(key, spec.default) for key, spec in reg.params.items()}
            ctx = StageContext(self.system, self.potential, integrator, self.writer, make_schedule(o, stage_start),
                               self.comm, stage, k)
            obs = reg.factory(params, ctx)
            if not getattr(obs, "_stateless", False):
                try:
                    obs.name = o["label"]   # its output group
                except AttributeError:
                    pass
            result.append(obs)
        return result

    def _md(self, k, stage, resume):
        system, pot = self.system, self.potential
        integ = self.deck.build_integrator(stage)
        steps, thermo = stage["steps"], stage["thermo"]
        run = self.deck.data["run"]
        if resume is not None:
            done = resume.step_in_stage
            integ.load_state(resume.integrator_states[self.rank])
        else:
            done = 0
            if stage.get("temperature") is not None:
                system.thermalize(stage["temperature"], derive_seed(self.seed, 2, k))
        stage_start = system.step - done
        observables = self._observables(k, stage, integ, stage_start)
        if resume is not None and resume.observable_states:
            saved = list(resume.observable_states[self.rank])
            observables = [saved.pop(0) if not getattr(o, "_stateless", False) and saved else o
                           for o in observables]
        self.print(f"stage {k + 1} ({stage['name']}): {stage['kind']}, {integ.name}, {steps} steps"
                   + (f", resuming at step {done}" if done else ""))
        result = pot.compute(system)
        if resume is None:
            for obs in observables:   # the configuration the stage starts from
                if obs.due(system.step):
                    obs.sample(system, system.step, result)
        if thermo:
            from pyglass.integrators.base import THERMO_COLUMNS
            self.print(" ".join(f"{c:>14s}" for c in THERMO_COLUMNS))
            self._thermo_line(integ, system, result)
        bar = self._progress(steps, done)
        ckpt_every = self.deck.data["output"]["checkpoint"]
        check = run["signal_check"]

        def callback(sys_, res):
            if thermo and sys_.step % thermo == 0:
                self._thermo_line(integ, sys_, res)
            if bar is not None:
                bar.update(1)
            return (sys_.step - stage_start) % check == 0 and self._stop_requested()

        wall = 0.0
        try:
            while done < steps:
                seg = steps - done
                if ckpt_every:
                    seg = min(seg, ckpt_every - system.step % ckpt_every)
                if self.stop_at_step is not None:
                    seg = min(seg, self.stop_at_step - system.step)
                if seg > 0:
                    step0 = system.step
                    stats = integ.run(system, pot, seg, observables, thermo=0, progress=False, callback=callback)
                    wall += stats.wall
                    done += system.step - step0
                stop = self.stop_at_step is not None and system.step >= self.stop_at_step
                signalled = self._stop_requested()
                if stop or signalled or (ckpt_every and system.step % ckpt_every == 0) or done >= steps:
                    self.writer.write_observables(stage["name"], observables)
                    if done >= steps:   # wall time of this process's stepping (scaling studies)
                        timed = steps - (resume.step_in_stage if resume else 0)
                        self.writer.set_attrs(self.writer.results_path(stage['name']), {
                            "wall_seconds": self._max(wall), "steps_timed": int(timed),
                            "n_ranks": comm_size(self.comm), "n_particles": self.writer.n_global})
                    nxt, at = (k + 1, 0) if done >= steps else (k, done)
                    self._checkpoint(nxt, self.deck.data["stage"][nxt] if nxt < len(self.deck.data["stage"])
                                     else stage, at, integ, observables)
                system, pot = self._canonical()   # same state as a run restarted here
                if stop or signalled:
                    why = "SIGTERM" if signalled else f"stop at step {self.stop_at_step}"
                    raise RunInterrupted(f"{why}: checkpoint at step {system.step} (stage {k + 1}, "
                                         f"{done}/{steps} steps) written to {self.ckpt_path}", self.ckpt_path)
        finally:
            if bar is not None:
                bar.close()

    def _max(self, x):
        return float(x) if self.comm is None else float(self.comm.allreduce(float(x), op=_mpi_max()))

    def _canonical(self):
        """Put the system in the state a restart from a checkpoint at this step starts from, so that
        straight and restarted runs sum forces in the same order: serially, a neighbour-list rebuild
        at the next force call (touch); decomposed, the whole system gathered and distributed again
        (owners and local row order as `decompose` makes them) with a fresh potential."""
        from pyglass.comm import is_parallel
        if is_parallel(self.comm):
            self.system = decompose(self.system.gather(), self.comm)
            self.potential = self.deck.build_potential()
        else:
            self.system.touch()
        return self.system, self.potential

    def _quench(self, k, stage):
        minimizer = self.deck.build_minimizer(stage)
        self.print(f"stage {k + 1} ({stage['name']}): quench with {stage['minimizer']['type']}")
        res = minimizer.minimize(self.system, self.potential)
        attrs = {}
        for key in ("converged", "reason", "energy", "max_force", "iterations"):
            v = getattr(res, key, None)
            if v is not None:
                if isinstance(v, (bool, np.bool_)):
                    v = bool(v)
                elif not isinstance(v, (int, float, np.number)):
                    v = str(getattr(v, "value", v))   # e.g. a StopReason enum
                attrs[key] = v
        self.writer.set_attrs(self.writer.results_path(stage['name']), {f"quench_{a}": v for a, v in attrs.items()})
        n = self.writer.n_global
        e = attrs.get("energy")
        self.print(f"  {'converged' if attrs.get('converged') else 'NOT converged'}"
                   + (f" ({attrs['reason']})" if "reason" in attrs else "")
                   + (f", energy/N = {e / n:.10g}" if e is not None else "")
                   + (f", max force = {attrs['max_force']:.3g}" if "max_force" in attrs else "")
                   + (f", {attrs['iterations']} iterations" if "iterations" in attrs else ""))
        nxt = k + 1
        stages = self.deck.data["stage"]
        self._checkpoint(nxt, stages[nxt] if nxt < len(stages) else stage, 0)
        self._canonical()
        if self._stop_requested():
            raise RunInterrupted(f"SIGTERM: checkpoint after stage {k + 1} written to {self.ckpt_path}",
                                 self.ckpt_path)

    # -- screen ------------------------------------------------------------------------------
    def _thermo_line(self, integ, system, result):
        from pyglass.integrators.base import THERMO_COLUMNS
        v = integ.thermo_values(system, result)
        self.print(f"{v['Step']:>14d} " + " ".join(f"{v[c]:>14.8g}" for c in THERMO_COLUMNS[1:]))

    def _progress(self, steps, done):
        if not (self.deck.data["run"]["progress"] and self.print.on and sys.stderr.isatty()):
            return None
        try:
            from tqdm import tqdm
        except ImportError:   # cosmetic only
            return None
        return tqdm(total=steps, initial=done, unit="step", file=sys.stderr, mininterval=1.0, leave=False)


def run_deck(deck: Deck, comm=None, restart=None, output=None, stop_at_step=None, stream=None,
             handle_signals=True) -> Runner:
    """Run a validated deck on the ranks of `comm` (None: serial). Raises RunInterrupted after a
    SIGTERM/stop_at_step checkpoint, DeckError/RestartError for user mistakes."""
    return Runner(deck, comm, restart, output, stop_at_step, stream, handle_signals).run()
