"""Checkpoints: everything a run needs to continue exactly where it stopped.

File layout (HDF5; the configuration part is the pyglass snapshot layout, so a checkpoint can also
be read as a `[system] file` by `pyglass.io.read_snapshot`):

    /h5md                       version, author, creator (pyglass + version); fixed-length strings
    /particles/all              attrs step, time, type_names, type_masses
        box                     attrs dimension, boundary, tilt_xy, offset; dataset edges
        position image velocity species mass id     in particle-id order
    /checkpoint                 attrs stage_index, stage_name, step_in_stage, step, time, n_ranks,
                                seed, replica, pyglass_version, date; dataset deck (text)
        integrator_state        (n_ranks,) pickled `integrator.state()` of each rank
        observable_state        (n_ranks,) pickled list of the stage's stateful observables

Rank 0 gathers the particles and writes the file to `<path>.tmp`, then renames it over `<path>`,
so a checkpoint on disk is always complete (a kill during the write leaves the previous one).
The pickled parts hold thermostat/RNG state and observable accumulators: only restart from
checkpoint files you trust.
"""
from __future__ import annotations

import datetime
import os
import pickle
from dataclasses import dataclass, field

import h5py
import numpy as np

import pyglass
from pyglass.io.h5md import (comm_rank, comm_size, fixed_string, global_count, particle_columns, redistribute,
                             user_name)
from pyglass.system import Box, System


class RestartError(ValueError):
    """A checkpoint that cannot continue this run (wrong deck, rank count, damaged file)."""


@dataclass
class Checkpoint:
    system: System                       # the whole system, particle-id order
    stage_index: int                     # stage to continue (== number of stages: run complete)
    step_in_stage: int
    n_ranks: int
    seed: int
    replica: int
    deck_text: str
    integrator_states: list = field(default_factory=list)   # one per rank (unpickled)
    observable_states: list = field(default_factory=list)   # one list per rank (unpickled)
    stage_name: str = ""


def write_checkpoint(path, system, comm=None, *, stage_index, stage_name="", step_in_stage, integrator=None,
                     observables=(), deck_text="", seed=0, replica=0):
    """Collective: every rank of `comm` calls it; rank 0 writes `path` atomically."""
    path = os.fspath(path)
    n = global_count(comm, system.N)
    _, rows, rid = redistribute(comm, *particle_columns(system, True), n, to_root=True)
    _, mass, _ = redistribute(comm, system.ids, system.masses[:, None], n, to_root=True)
    state = pickle.dumps(integrator.state() if integrator is not None else {})
    obs_state = pickle.dumps([o for o in observables if not getattr(o, "_stateless", False)])
    if comm_size(comm) > 1:
        states = comm.gather(state, root=0)
        obs_states = comm.gather(obs_state, root=0)
    else:
        states, obs_states = [state], [obs_state]
    if comm_rank(comm) == 0:
        d = system.dim
        tmp = path + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with h5py.File(tmp, "w") as f:
            h5 = f.create_group("h5md")
            h5.attrs["version"] = np.array([1, 1], np.int32)
            h5.create_group("author").attrs["name"] = fixed_string(user_name())   # H5MD: fixed-length
            cr = h5.create_group("creator")
            cr.attrs["name"] = fixed_string("pyglass")
            cr.attrs["version"] = fixed_string(pyglass.__version__)
            g = f.create_group("particles/all")
            names = np.array(system.type_names, dtype=h5py.string_dtype())
            g.attrs["step"] = int(system.step)
            g.attrs["time"] = float(system.time)
            g.attrs["type_names"] = names
            g.attrs["type_masses"] = system.type_masses
            box = g.create_group("box")
            box.attrs["dimension"] = np.int32(d)
            box.attrs["boundary"] = fixed_string(["periodic"] * d)
            box.attrs["tilt_xy"] = float(system.box.tilt_xy)
            box.attrs["offset"] = system.box.lo
            if system.box.tilt_xy != 0:
                box.create_dataset("edges", data=system.box.h[:d, :d].T)
            else:
                box.create_dataset("edges", data=system.box.lengths)
            g.create_dataset("position", data=rows[:, :d])
            g.create_dataset("image", data=rows[:, d:2 * d].astype(np.int64))
            sp = g.create_dataset("species", data=rows[:, 2 * d].astype(np.int32))
            sp.attrs["type_names"] = names
            g.create_dataset("velocity", data=rows[:, 2 * d + 1:])
            g.create_dataset("mass", data=mass[:, 0])
            g.create_dataset("id", data=rid)
            c = f.create_group("checkpoint")
            c.attrs.update({"stage_index": int(stage_index), "stage_name": str(stage_name),
                            "step_in_stage": int(step_in_stage), "step": int(system.step),
                            "time": float(system.time), "n_ranks": comm_size(comm), "seed": int(seed),
                            "replica": int(replica), "pyglass_version": pyglass.__version__,
                            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
            c.create_dataset("deck", data=deck_text, dtype=h5py.string_dtype())
            vl = h5py.vlen_dtype(np.uint8)
            for name, blobs in (("integrator_state", states), ("observable_state", obs_states)):
                ds = c.create_dataset(name, (len(blobs),), dtype=vl)
                for k, b in enumerate(blobs):
                    ds[k] = np.frombuffer(b, np.uint8)
            f.flush()
        os.replace(tmp, path)
    if comm_size(comm) > 1:
        comm.Barrier()


def read_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by write_checkpoint; RestartError names what is wrong."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RestartError(f"{path}: checkpoint file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RestartError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if "checkpoint" not in f or "particles/all" not in f:
            raise RestartError(f"{path}: not a pyglass checkpoint (no /checkpoint group)")
        g, c = f["particles/all"], f["checkpoint"]
        try:
            d = int(g["box"].attrs["dimension"])
            edges = np.asarray(g["box/edges"][()], float)
            if edges.shape == (d, d):
                h = edges.T
                lengths, tilt = np.diag(h).copy(), float(h[0, 1])
            else:
                lengths, tilt = edges, float(g["box"].attrs.get("tilt_xy", 0.0))
            box = Box(lengths, tilt, np.asarray(g["box"].attrs["offset"], float))
            names = [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs["type_names"]]
            s = System(g["position"][()], box, g["species"][()], names, np.asarray(g.attrs["type_masses"]),
                       g["velocity"][()], g["image"][()], ids=g["id"][()])
            s.step = int(g.attrs["step"])
            s.time = float(g.attrs["time"])
            a = c.attrs
            deck = c["deck"][()]
            ck = Checkpoint(s, int(a["stage_index"]), int(a["step_in_stage"]), int(a["n_ranks"]), int(a["seed"]),
                            int(a["replica"]), deck.decode() if isinstance(deck, bytes) else str(deck),
                            [pickle.loads(bytes(b)) for b in c["integrator_state"][()]],
                            [pickle.loads(bytes(b)) for b in c["observable_state"][()]],
                            str(a.get("stage_name", "")))
        except (KeyError, ValueError, pickle.UnpicklingError, EOFError) as exc:
            raise RestartError(f"{path}: damaged checkpoint ({exc})") from None
    return ck
