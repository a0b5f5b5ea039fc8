"""One unit of a run: build its system, open its output, run its stages in order.

`build_system(deck, seed)` makes the initial configuration (from a file, generated, or a
checkpoint's), `run_unit` decomposes it over the replica's ranks, opens the H5MD output (or reopens
it on restart and drops frames after the checkpoint), builds one instance of each registered stage
and calls `Stage.run(session)` in deck order, checking between stages for a stop signal.
"""
from __future__ import annotations

import os


from pyglass.engine.comm import is_parallel, rank as comm_rank
from pyglass.workflow.deck import DeckError, _format_of
from pyglass.io.checkpoint import RestartError
from pyglass.io.h5md import H5MDWriter, global_count, provenance
from pyglass.io.safe_read import open_h5, read_array
from pyglass.registry import STAGES
from pyglass.workflow.run.seeds import derive_seed

from pyglass.workflow.stages.base import RunInterrupted, is_field


def build_system(deck, seed: int):
    """The initial configuration of `deck` (whole system), velocities drawn if asked."""
    s = deck.data["system"]
    if s.get("file"):
        path = deck.resolve_path(s["file"])
        fmt = s["format"] if s["format"] != "auto" else _format_of(path)
        import pyglass.io as io
        if fmt == "h5":
            from pyglass.io.checkpoint import read_checkpoint
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
        from pyglass.engine import builders
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


def decompose(system, comm):
    """This rank's part of a whole system under the spatial decomposition of `comm`
    (pyglass.engine.comm.distribute; the system itself when serial)."""
    from pyglass.engine.comm import distribute
    return distribute(system, comm)


class NullWriter:
    """Stands in for H5MDWriter where nothing is kept (the draw phase of a study on replicas that
    repeat it only to reach their samples; another replica writes it)."""
    writes = False
    f = None

    def __init__(self, system, comm):
        self.comm, self.n_global = comm, global_count(comm, system.N)
        self.last_frame_step = self.last_thermo_step = None

    def results_path(self, name):
        return H5MDWriter.results_path(self, name)

    def results_group(self, name):
        return None

    def _noop(self, *a, **k):
        return None

    write_frame = append_thermo = write_observables = set_attrs = set_status = truncate_after = _noop
    flush = close = _noop


def run_unit(session, deck, seed, system, path, ckpt_path, seeds, first=0, ck=None, stop=None, writer=None,
             restart_path=None):
    """Run stages [first, stop) of `deck` on `system` (whole), writing `path`: the stage pipeline."""
    data = deck.data
    stages = data["stage"]
    stop = len(stages) if stop is None else stop
    potential = deck.build_potential()
    check_compatible(system, potential, data["potential"]["model"])
    session.start_unit(deck, seed, decompose(system, session.comm), potential, ckpt_path,
                       [STAGES[s["kind"]](s, k) for k, s in enumerate(stages)])
    append = ck is not None and os.path.exists(path)
    single = session.unit is None and writer is None   # a single run: its output holds the run's profile
    with session.phase("io"):
        if single and append:   # the profile goes on from the interrupted invocations'
            session.profile.add_earlier(_stored_profile(session, path))
        session.writer = writer or H5MDWriter(path, session.system, session.comm, append=append,
                                              provenance=provenance(deck.text, seeds, session.n_ranks),
                                              author=data["output"]["author"])
        if append:
            session.writer.truncate_after(session.system.step)
            _reload_fields(session, path, first)
    clean = False   # close the (collective) output only when every rank gets there together
    try:
        if ck and first >= stop and session.unit is None:
            session.print(f"{restart_path}: the run was already complete")
        for k in range(first, stop):
            obj = session.stage_objects[k]
            with session.phase(type(obj).phase):
                obj.run(session.at_stage(k, resume=ck if (ck and k == first) else None))
            if type(obj).leaves != "same":
                session.moved()
            if k + 1 < stop and session.stop_requested():   # between stages: continue with the next
                session.write_checkpoint(k + 1, 0)
                raise session.interrupted(f"{session.stop_signal}: checkpoint after stage {k + 1}")
        if single:
            session.writer.set_attrs("h5md/provenance", {"profile": session.profile_json()})
        session.writer.set_status("complete")
        clean = True
        if stop == len(stages):
            session.print(f"pyglass: done; output {path}")
            if single:
                session.print_profile()
    except RunInterrupted:
        if single:
            session.writer.set_attrs("h5md/provenance", {"profile": session.profile_json()})
        session.writer.set_status("interrupted")
        clean = True
        raise
    finally:
        # an exception on one rank: no collective close (it would hang); the error propagates and
        # the MPI excepthook (pyglass.engine.comm.abort_on_exception) ends every rank with its message
        if writer is None and (clean or not is_parallel(session.comm)):
            with session.phase("io"):
                session.writer.close()


def _stored_profile(session, path):
    """The profile an earlier invocation left in the output's provenance (None: none), read on the
    replica's first rank and broadcast."""
    text = None
    if comm_rank(session.comm) == 0:
        try:
            with open_h5(path, RestartError) as f:
                prov = f.get("h5md/provenance")
                text = None if prov is None else prov.attrs.get("profile")
        except (OSError, RestartError):
            text = None
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
    return session.comm.bcast(text, root=0) if is_parallel(session.comm) else text


def _reload_fields(session, path, first):
    """Per-particle fields of the stages before `first`, read back from the output (restart)."""
    out = {}
    if comm_rank(session.comm) == 0:
        with open_h5(path, RestartError) as f:
            for obj in session.stage_objects[:first]:
                for name, kind in type(obj).fields(obj.params).items():
                    key = f"{session.writer.results_path(obj.name)}/{name}"
                    if is_field(kind) and key in f:
                        out[f"{obj.name}/{name}"] = read_array(f[key], path, RestartError)
    if is_parallel(session.comm):
        out = session.comm.bcast(out, root=0)
    session.fields.update(out)
