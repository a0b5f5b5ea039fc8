"""Trajectory and observable output in an H5MD-style HDF5 file, serial or parallel.

Layout (H5MD 1.1, de Buyl, Colberg & Hoefling, Comput. Phys. Commun. 185, 1546 (2014)):

    /h5md                        attrs version = [1, 1] (int32)
        author                   attrs name
        creator                  attrs name = "pyglass", version
        provenance               attrs date, n_ranks, seeds (JSON), git_commit, command, host, status,
                                 blas (JSON: loaded BLAS libraries and their threads);
                                 dataset deck (the deck text as written)
                                 (every string attribute under /h5md is a fixed-length string)
    /particles/all               attrs type_names, type_masses, n_particles
        box                      attrs dimension, boundary = ["periodic", ...], offset
            edges/{value,step,time}    value (frames, d, d): cell vectors as rows
                                       (a plain (d, d) dataset, the starting box, until the first frame)
        position/{value,step,time}     value (frames, N, d) positions wrapped into the cell, in particle-id order
        image/{value,step,time}        value (frames, N, d) integer image counters (unwrapped = position + image h)
        species/{value,step,time}      value (frames, N) type ids (attr type_names)
        velocity/{value,step,time}     value (frames, N, d) (own step/time: optional per frame)
        mass                     (N,) per-particle masses
    /observables/thermo/<column>/{value,step,time}   temperature, energies, pressure, conserved energy,
                                 stage index: H5MD observables (value (rows,)) sharing one step/time
    /pyglass/<stage>[/<label>/...]                    analysis results (RESULTS_ROOT): library
                                 observables, quench results, stage timings; not H5MD elements, so
                                 they live outside /observables (H5MD readers such as MDAnalysis read
                                 every group under /observables as an observable)

position, image, species and box/edges share one step and one time dataset (hard links, as H5MD
allows). Every time-dependent dataset is chunked and extendible along the frame axis; the file
is flushed after each frame, so a run killed at any moment leaves a file holding every frame
written before. An element is created when first written: a run without frames, velocities or
thermo rows has no empty position, velocity or thermo element. Thermo rows carry their own steps:
match them to frames by step, not by row number. Quantities are in the reduced (Lennard-Jones)
units of the deck, so no H5MD `unit` attribute is written (readers treat the values as
dimensionless; MDAnalysis needs `convert_units=False`, see `mdanalysis_universe`).

Parallel output. Under a communicator of size > 1 with an MPI-enabled h5py (Debian's h5py loads
its MPI build under mpirun or with H5PY_ALWAYS_USE_MPI=1; `h5py.get_config().mpi` says), the file
is opened with driver='mpio'. Particles are first redistributed by id (one Alltoallv) so rank r
holds the contiguous id block [r N / P, (r + 1) N / P), then every rank writes its block with a
collective write; a rank with nothing to write still takes part (an empty selection through the
low-level API, since h5py's high-level write skips empty selections and would hang the others).
Without MPI h5py, everything is gathered to rank 0, which writes serially.
"""
from __future__ import annotations

import datetime
import getpass
import inspect
import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np

import pyglass
from pyglass.io._common import wrap_into_box
from pyglass.observables.base import StreamingObservable
from pyglass.registry import OBSERVABLES, Key, ObservableType

# root group of analysis results (stage and observable outputs), see H5MDWriter.results_path
RESULTS_ROOT = "pyglass"

THERMO_COLUMNS = {"temperature": "Temp", "potential_energy": "PotEng", "kinetic_energy": "KinEng",
                  "total_energy": "TotEng", "pressure": "Press"}


# ================================================================================ MPI helpers

def comm_size(comm) -> int:
    from pyglass.comm import size
    return size(comm)


def comm_rank(comm) -> int:
    from pyglass.comm import rank
    return rank(comm)


def parallel_mode(comm) -> str:
    """'serial' (one rank), 'mpio' (collective parallel HDF5) or 'gather' (rank 0 writes)."""
    if comm_size(comm) == 1:
        return "serial"
    return "mpio" if h5py.get_config().mpi else "gather"


def global_count(comm, n: int) -> int:
    return int(n) if comm_size(comm) == 1 else int(comm.allreduce(int(n)))


def redistribute(comm, ids, columns, n_global: int, to_root: bool):
    """Send per-particle rows to where they are written: rank 0 (to_root) or the rank owning the
    id block [r n / P, (r + 1) n / P). Returns (first id of this rank's block, rows sorted by id);
    `columns` is a float64 (n_local, k) array (integers up to 2^53 travel exactly)."""
    ids = np.asarray(ids, np.int64)
    columns = np.ascontiguousarray(columns, dtype=np.float64)
    k = columns.shape[1]
    size, rank = comm_size(comm), comm_rank(comm)
    if size == 1:
        order = np.argsort(ids, kind="stable")
        return 0, columns[order], ids[order]
    from mpi4py import MPI
    # the block of rank r starts at floor(r n / P): id i belongs to the last r with floor(r n / P) <= i
    n = max(n_global, 1)
    dest = np.zeros(len(ids), np.int64) if to_root else np.minimum((size * (ids + 1) + n - 1) // n - 1, size - 1)
    order = np.argsort(dest, kind="stable")
    send = np.ascontiguousarray(np.column_stack([ids[order].astype(np.float64), columns[order]]))
    counts = np.bincount(dest, minlength=size).astype(np.int64)
    recv_counts = np.empty(size, np.int64)
    comm.Alltoall(counts, recv_counts)
    recv = np.empty((int(recv_counts.sum()), k + 1))
    sdispl = np.concatenate([[0], np.cumsum(counts)[:-1]]) * (k + 1)
    rdispl = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]) * (k + 1)
    comm.Alltoallv([send, counts * (k + 1), sdispl, MPI.DOUBLE], [recv, recv_counts * (k + 1), rdispl, MPI.DOUBLE])
    rid = recv[:, 0].astype(np.int64)
    o = np.argsort(rid, kind="stable")
    first = 0 if to_root else rank * n_global // size
    return first, recv[o, 1:], rid[o]


def particle_columns(system, velocities=True, wrap=False):
    """(ids, float64 columns [position d | image d | species | velocity d]) of the local particles.
    wrap: positions moved into the cell, images adjusted (io._common.wrap_into_box); checkpoints
    keep the positions as they are in memory (bit-for-bit restarts)."""
    d = system.dim
    x, img = system.positions, system.images
    if wrap:
        x, img = wrap_into_box(system.box, x, img)
    cols = [x, img.astype(np.float64), system.types[:, None].astype(np.float64)]
    if velocities:
        cols.append(system.velocities)
    return system.ids, np.column_stack(cols) if system.N else np.zeros((0, 2 * d + 1 + (d if velocities else 0)))


# ================================================================================ strings

def fixed_string(value):
    """A fixed-length string for an HDF5 attribute (H5MD 1.1 asks for fixed-length strings in
    /h5md); UTF-8 bytes. Sequences give an array of fixed-length strings."""
    if isinstance(value, (list, tuple, np.ndarray)):
        enc = [str(v).encode("utf-8") for v in value]
        return np.array(enc, dtype=f"S{max([len(e) for e in enc] + [1])}")
    return np.bytes_(str(value).encode("utf-8"))


# ================================================================================ provenance

def git_commit() -> str:
    """The git commit of the pyglass source tree, '+dirty' if modified, or 'unknown'."""
    here = os.path.dirname(os.path.abspath(pyglass.__file__))
    try:
        out = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty", "--abbrev=40"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(deck_text: str = "", seeds: dict | None = None, n_ranks: int = 1, **extra) -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "n_ranks": int(n_ranks), "seeds": json.dumps(seeds or {}), "git_commit": git_commit(),
            "command": " ".join(sys.argv), "host": socket.gethostname(), "deck": deck_text,
            "python": sys.version.split()[0], "blas": json.dumps(_blas_summary()), **extra}


def _blas_summary() -> list:
    """BLAS libraries loaded and their threads (results of BLAS reductions can depend on them)."""
    from pyglass.threads import blas_info
    return [{"library": os.path.basename(b["filepath"] or ""), "threads": b["num_threads"]} for b in blas_info()]


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no user name in some containers
        return "unknown"


# ================================================================================ writer

class H5MDWriter:
    """Writes frames, thermo rows and observable results to one H5MD file. Every rank of `comm`
    constructs it and calls every method (collective under 'mpio'; rank 0 writes under 'gather').

    Parameters
    ----------
    path : output file
    system : the (possibly decomposed) system; sets N, dim, species names and masses
    comm : mpi4py communicator of the ranks sharing this system, or None
    append : reopen an existing file (restart) instead of creating it
    mode : force 'mpio' or 'gather' (default: parallel_mode(comm))
    provenance : dict for /h5md/provenance (see `provenance()`); `author`: /h5md/author name
    """

    def __init__(self, path, system, comm=None, append=False, provenance=None, author=None, mode=None):
        self.path = os.fspath(path)
        self.comm = comm
        self.mode = mode or parallel_mode(comm)
        if self.mode == "mpio" and not h5py.get_config().mpi:
            raise ValueError("mode='mpio' needs an MPI-enabled h5py (run under mpirun or set H5PY_ALWAYS_USE_MPI=1)")
        if comm_size(comm) == 1:
            self.mode = "serial"
        self.rank = comm_rank(comm)
        self.writes = self.mode != "gather" or self.rank == 0   # this rank holds the file
        self.dim = system.dim
        self.n_global = global_count(comm, system.N)
        self._dxpl = None
        self.f = None
        self.last_frame_step = self.last_thermo_step = None   # built-ins never write a step twice
        if self.rank == 0:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if comm_size(comm) > 1:
            comm.Barrier()
        fmode = "a" if append else "w"
        if append:   # a restart reopens the output: nothing in it may point outside it
            from pyglass.io.safe_read import open_h5
            open_h5(self.path, ValueError).close()
        if self.mode == "mpio":
            self.f = h5py.File(self.path, fmode, driver="mpio", comm=comm)
            self._dxpl = h5py.h5p.create(h5py.h5p.DATASET_XFER)
            self._dxpl.set_dxpl_mpio(h5py.h5fd.MPIO_COLLECTIVE)
        elif self.writes:
            self.f = h5py.File(self.path, fmode)
        fresh = self._bcast(self.f is not None and "h5md" not in self.f)
        if fresh:
            # rank 0's provenance on every rank: collective attribute writes need identical values
            # (each rank's date or BLAS threads could differ)
            prov = self.comm.bcast(provenance or {}, root=0) if comm_size(self.comm) > 1 else (provenance or {})
            self._create(system, prov, author)
        else:
            n = self._bcast(self.f["particles/all"].attrs.get("n_particles", -1) if self.f is not None else None)
            if n != self.n_global:
                raise ValueError(f"{self.path} holds {n} particles per frame, the system has {self.n_global}; "
                                 "write to a new output file (-o)")
            if provenance and self.f is not None:
                self.set_status("running")
        self.flush()

    # -- helpers ----------------------------------------------------------------------
    def _bcast(self, value):
        if self.mode == "gather":
            return self.comm.bcast(value, root=0)
        return value

    def _put(self, dset, start, data):
        """Write `data` (or nothing, if None) at `start` (tuple) of `dset`; collective under mpio."""
        if self.mode != "mpio":
            if data is not None and np.size(data):
                data = np.asarray(data)
                sl = tuple(slice(s, s + c) for s, c in zip(start, data.shape))
                dset[sl] = data
            return
        fspace = dset.id.get_space()
        if data is not None and np.size(data):
            arr = np.ascontiguousarray(data, dtype=dset.dtype)
            fspace.select_hyperslab(tuple(start), arr.shape)
            mspace = h5py.h5s.create_simple(arr.shape)
        else:
            fspace.select_none()
            arr = np.zeros(1, dtype=dset.dtype)
            mspace = h5py.h5s.create_simple((1,))
            mspace.select_none()
        dset.id.write(mspace, fspace, arr, dxpl=self._dxpl)

    def _timed(self, group, name, shape, dtype, step_from=None):
        """Create an H5MD time-dependent element group/name with value (0, *shape) and step/time
        (own, or hard links to those of `step_from`)."""
        g = group.create_group(name)
        if shape:
            row = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
            chunks = (1, max(1, min(shape[0], (4 << 20) // max(row, 1)))) + tuple(shape[1:])
        else:
            chunks = (1024,)
        g.create_dataset("value", shape=(0,) + tuple(shape), maxshape=(None,) + tuple(shape), dtype=dtype,
                         chunks=chunks)
        if step_from is None:
            g.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
            g.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(1024,))
        else:
            g["step"] = step_from["step"]
            g["time"] = step_from["time"]
        return g

    def _create(self, system, prov, author):
        d, n = self.dim, self.n_global
        first, rows, _ = redistribute(self.comm, system.ids, system.masses[:, None], n, self.mode == "gather")
        if self.f is None:
            return
        f = self.f
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1], np.int32)
        h5.create_group("author").attrs["name"] = fixed_string(author or user_name())
        cr = h5.create_group("creator")
        cr.attrs["name"] = fixed_string("pyglass")
        cr.attrs["version"] = fixed_string(pyglass.__version__)
        pg = h5.create_group("provenance")
        for k, v in prov.items():
            if k == "deck":
                # fixed-length UTF-8 bytes: parallel HDF5 cannot write variable-length strings
                pg.create_dataset("deck", data=np.array(str(v).encode("utf-8") or b" "))
            else:
                pg.attrs[k] = fixed_string(v) if isinstance(v, str) else v
        pg.attrs["status"] = fixed_string("running")
        g = f.create_group("particles/all")
        names = np.array(system.type_names, dtype=h5py.string_dtype())
        g.attrs["type_names"] = names
        g.attrs["type_masses"] = system.type_masses
        g.attrs["n_particles"] = self.n_global
        box = g.create_group("box")
        box.attrs["dimension"] = np.int32(d)
        box.attrs["boundary"] = fixed_string(["periodic"] * d)
        box.attrs["offset"] = system.box.lo
        # the starting box, until the first frame replaces it with a time-dependent element
        # (elements are created when first written: a run without frames has no empty position)
        box.create_dataset("edges", data=system.box.h[:d, :d].T)
        mass = g.create_dataset("mass", shape=(n,), dtype=np.float64)
        self._put(mass, (first,), rows[:, 0] if len(rows) else None)

    def _create_frame_elements(self, g):
        """position, image, species and box/edges (one shared step/time): at the first frame."""
        d, n = self.dim, self.n_global
        if "edges" in g["box"]:
            del g["box/edges"]
        pos = self._timed(g, "position", (n, d), np.float64)
        self._timed(g["box"], "edges", (d, d), np.float64, step_from=pos)
        self._timed(g, "image", (n, d), np.int64, step_from=pos)
        sp = self._timed(g, "species", (n,), np.int32, step_from=pos)
        sp.attrs["type_names"] = g.attrs["type_names"]

    def _create_thermo(self):
        """/observables/thermo: an H5MD observable per column sharing one step/time, created with
        the first thermo row (a run with output.thermo = 0 has none)."""
        th = self.f.create_group("observables/thermo")
        th.attrs["stage_column"] = "stage"
        first_col = None
        for col in list(THERMO_COLUMNS) + ["conserved_energy", "stage"]:
            dt = np.int32 if col == "stage" else np.float64
            grp = self._timed(th, col, (), dt, step_from=first_col)
            first_col = first_col or grp
        return th

    # -- frames -------------------------------------------------------------------------
    def write_frame(self, system, velocities=True):
        """Append one frame (positions, images, species, box; velocities if asked) and flush."""
        ids, cols = particle_columns(system, velocities, wrap=True)
        first, rows, rid = redistribute(self.comm, ids, cols, self.n_global, self.mode == "gather")
        if self.writes:
            nmax = int(rid.max()) + 1 if len(rid) else 0
            if nmax > self.n_global or (len(rid) and rid.min() < 0):
                raise ValueError(f"particle ids must be 0..{self.n_global - 1}, found {int(rid.min())}..{nmax - 1}")
            if len(rid) and not np.array_equal(rid, np.arange(first, first + len(rid))):
                raise ValueError("particle ids are not a permutation of 0..N-1")
        if not self.writes:
            return
        d = self.dim
        g = self.f["particles/all"]
        if "position" not in g:
            self._create_frame_elements(g)
        frame = g["position/step"].shape[0]
        root = self.rank == 0
        for name in ("position", "image", "species"):
            g[f"{name}/value"].resize(frame + 1, axis=0)
        for name in ("step", "time"):
            g[f"position/{name}"].resize(frame + 1, axis=0)
        g["box/edges/value"].resize(frame + 1, axis=0)
        k = len(rows)
        self._put(g["position/value"], (frame, first, 0), rows[None, :, :d] if k else None)
        self._put(g["image/value"], (frame, first, 0), rows[None, :, d:2 * d].astype(np.int64) if k else None)
        self._put(g["species/value"], (frame, first), rows[None, :, 2 * d].astype(np.int32) if k else None)
        self._put(g["position/step"], (frame,), np.array([system.step], np.int64) if root else None)
        self._put(g["position/time"], (frame,), np.array([system.time]) if root else None)
        self._put(g["box/edges/value"], (frame, 0, 0), system.box.h[: d, : d].T[None] if root else None)
        if velocities:
            if "velocity" not in g:
                self._timed(g, "velocity", (self.n_global, d), np.float64)
            v = g["velocity"]
            vf = v["step"].shape[0]
            for name in ("value", "step", "time"):
                v[name].resize(vf + 1, axis=0)
            self._put(v["value"], (vf, first, 0), rows[None, :, 2 * d + 1:] if k else None)
            self._put(v["step"], (vf,), np.array([system.step], np.int64) if root else None)
            self._put(v["time"], (vf,), np.array([system.time]) if root else None)
        self.flush()

    def append_thermo(self, step, time, values: dict, stage: int):
        """Append one thermo row (values keyed by THERMO_COLUMNS and 'conserved_energy') and flush."""
        if not self.writes:
            return
        th = self.f["observables/thermo"] if "observables/thermo" in self.f else self._create_thermo()
        n = th["temperature/step"].shape[0]
        root = self.rank == 0
        th["temperature/step"].resize(n + 1, axis=0)
        th["temperature/time"].resize(n + 1, axis=0)
        self._put(th["temperature/step"], (n,), np.array([step], np.int64) if root else None)
        self._put(th["temperature/time"], (n,), np.array([time]) if root else None)
        for col in list(THERMO_COLUMNS) + ["conserved_energy", "stage"]:
            ds = th[f"{col}/value"]
            ds.resize(n + 1, axis=0)
            val = stage if col == "stage" else values[col]
            self._put(ds, (n,), np.array([val], dtype=ds.dtype) if root else None)
        self.flush()

    # -- observables and attributes ------------------------------------------------------
    def results_path(self, group_name: str) -> str:
        """Path of the group holding a stage's (or observable group's) analysis results. The one
        place that decides where results live in the file (RESULTS_ROOT)."""
        return f"{RESULTS_ROOT}/{group_name}"

    def results_group(self, group_name: str):
        """The results group of `group_name` (created if missing) on the ranks that hold the file,
        None elsewhere."""
        return self.f.require_group(self.results_path(group_name)) if self.writes else None

    def write_observables(self, group_name: str, observables):
        """Store `write(h5group)` of each observable under the results group of `group_name`.
        Observables with a `result(comm)` reduction take part in it on every rank."""
        grp = self.results_group(group_name)
        for obs in observables:
            if getattr(obs, "_stateless", False):
                continue
            try:
                if self.writes:
                    _call_with_comm(obs.write, grp, self.comm)
                elif hasattr(obs, "result"):
                    _call_with_comm(obs.result, None, self.comm, positional=False)
            except ValueError as exc:   # e.g. no samples yet
                if self.rank == 0:
                    print(f"pyglass: warning: observable {getattr(obs, 'label', type(obs).__name__)}: {exc}",
                          file=sys.stderr)
        self.flush()

    def set_attrs(self, group_name: str, attrs: dict):
        """Attributes on /group_name (created if missing); values must agree on every rank."""
        if not self.writes:
            return
        g = self.f.require_group(group_name)
        in_h5md = g.name.startswith("/h5md")
        for k, v in attrs.items():
            g.attrs[k] = fixed_string(v) if in_h5md and isinstance(v, str) else v
        self.flush()

    def set_status(self, status: str):
        self.set_attrs("h5md/provenance", {"status": status})

    # -- restart ----------------------------------------------------------------------------
    def truncate_after(self, step: int):
        """Drop every time-dependent entry with step > `step` (frames written after a checkpoint
        by a run that was then killed)."""
        if not self.writes:
            return
        groups = []

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "value" in obj and "step" in obj:
                groups.append(obj)
        self.f.visititems(visit)
        sizes = {}
        for g in groups:
            steps = g["step"][()]
            sizes[g.name] = int(np.searchsorted(steps, step, side="right"))
        for g in groups:
            n = sizes[g.name]
            for name in ("value", "step", "time"):
                if g[name].shape[0] != n:
                    g[name].resize(n, axis=0)
        self.flush()

    def flush(self):
        if self.f is not None:
            self.f.flush()

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


def _call_with_comm(method, arg, comm, positional=True):
    """method(arg, comm=comm) if it accepts a comm, else method(arg) (Observable protocol)."""
    try:
        accepts = "comm" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        accepts = False
    args = (arg,) if positional else ()
    return method(*args, comm=comm) if accepts else method(*args)


# ================================================================================ observables

class ThermoObservable(StreamingObservable):
    """Built-in 'thermo' observable: appends T, energies per particle, pressure and the conserved
    energy (with the thermostat's share) to /observables/thermo at each due step."""

    label = "thermo"

    def __init__(self, schedule, writer: H5MDWriter, integrator, stage_index: int):
        super().__init__(schedule)
        self.writer, self.integrator, self.stage_index = writer, integrator, stage_index

    def sample(self, system, step, result=None):
        if self.writer.last_thermo_step == step:   # the previous stage ended on this step
            return
        self.writer.last_thermo_step = step
        v = self.integrator.thermo_values(system, result)
        values = {col: float(v[key]) for col, key in THERMO_COLUMNS.items()}
        values["conserved_energy"] = values["total_energy"] + self.integrator.extra_energy(system) / self.writer.n_global
        self.writer.append_thermo(step, system.time, values, self.stage_index)



class TrajectoryObservable(StreamingObservable):
    """Built-in 'trajectory' observable: one H5MD frame per due step."""

    label = "trajectory"

    def __init__(self, schedule, writer: H5MDWriter, velocities=True):
        super().__init__(schedule)
        self.writer, self.velocities = writer, velocities

    def sample(self, system, step, result=None):
        if self.writer.last_frame_step == step:
            return
        self.writer.last_frame_step = step
        self.writer.write_frame(system, self.velocities)


# ================================================================================ MDAnalysis

def mdanalysis_universe(path, **kwargs):
    """An MDAnalysis Universe over a pyglass H5MD output file (MDAnalysis >= 2.0 installed).

    What it does that `Universe.empty(N).load_new(path, format="H5MD")` does not: atom types,
    names and masses from /particles/all; `convert_units=False` (pyglass values are in reduced
    units, for which H5MD has no unit string MDAnalysis knows, so no `unit` attribute is
    written); and `ts.data` from /observables (thermo) matched to each frame *by step* (NaN where
    no row has the frame's step), where MDAnalysis's own reader takes row i for frame i, which is
    wrong whenever the thermo and trajectory schedules differ and fails with an IndexError when
    there are fewer thermo rows than frames. Extra keyword arguments go to `load_new`."""
    import MDAnalysis as mda
    path = os.fspath(path)
    from pyglass.io.safe_read import open_h5
    with open_h5(path) as f:
        g = f["particles/all"]
        if "position" not in g:
            raise ValueError(f"{path}: '/particles/all' has no position frames (output.trajectory = 0?)")
        n = g["position/value"].shape[1]
        names = [_s(x) for x in g.attrs["type_names"]]
        species = g["species/value"][0] if g["species/value"].shape[0] else np.zeros(n, np.int32)
        masses = g["mass"][()] if "mass" in g else np.ones(n)
    u = mda.Universe.empty(n, trajectory=False)
    types = np.array(names, dtype=object)[species]
    u.add_TopologyAttr("types", types)
    u.add_TopologyAttr("names", types)
    u.add_TopologyAttr("masses", masses)
    kwargs.setdefault("convert_units", False)
    u.load_new(path, format=_mda_reader(), **kwargs)
    return u


_MDA_READER = None


def _mda_reader():
    """MDAnalysis's H5MDReader with observables matched to frames by step (class made once, not
    registered under a format name)."""
    global _MDA_READER
    if _MDA_READER is not None:
        return _MDA_READER
    from MDAnalysis.coordinates.H5MD import H5MDReader
    from pyglass.io.snapshot import element_steps, element_times

    class PyglassH5MDReader(H5MDReader):
        def _copy_to_data(self):
            cache = self.__dict__.setdefault("_pyglass_steps", {})
            g = self._particle_group
            el = next(g[name] for name, has in self._has.items() if has)
            if el.name not in cache:
                cache[el.name] = (element_steps(el), element_times(el))
            steps, times = cache[el.name]
            step = int(steps[self._frame])
            self.ts.data["step"] = step
            if times is not None:
                self.ts.time = float(times[self._frame])
            obs = self._file.get("observables")
            if not isinstance(obs, h5py.Group):
                return

            def walk(grp, prefix):
                for key in grp:
                    item = grp.get(key)
                    if not isinstance(item, h5py.Group):
                        continue
                    if isinstance(item.get("value"), h5py.Dataset):
                        if item.name not in cache:
                            cache[item.name] = (element_steps(item), None)
                        hit = np.flatnonzero(cache[item.name][0] == step)
                        self.ts.data[prefix + key] = item["value"][int(hit[-1])] if hit.size else np.nan
                    else:
                        walk(item, prefix + key + "/")
            walk(obs, "")

    PyglassH5MDReader.__module__ = __name__   # picklable (parallel analysis): module __getattr__ below
    PyglassH5MDReader.__qualname__ = "PyglassH5MDReader"
    _MDA_READER = PyglassH5MDReader
    return _MDA_READER


def __getattr__(name):
    if name == "PyglassH5MDReader":   # made on first use: importing pyglass never imports MDAnalysis
        return _mda_reader()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ================================================================================ info

def info(path) -> str:
    """A human summary of a pyglass HDF5 file (output, checkpoint or snapshot), or of any H5MD
    file: provenance, every particles group, observables and the analysis results under
    /RESULTS_ROOT with their datasets' shapes."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory; give an HDF5 file (output, checkpoint or snapshot)")
    lines = [path]
    from pyglass.io.safe_read import STUDY_LINKS, open_h5
    # a study index links to its sample files: listed, never followed
    with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
        if "h5md/creator" in f:
            cr = f["h5md/creator"].attrs
            lines.append(f"  creator: {_s(cr.get('name'))} {_s(cr.get('version'))}")
        if "h5md/author" in f:
            lines.append(f"  author: {_s(f['h5md/author'].attrs.get('name'))}")
        if "h5md/provenance" in f:
            p = f["h5md/provenance"].attrs
            lines.append(f"  status: {_s(p.get('status'))}, date {_s(p.get('date'))}, ranks {p.get('n_ranks')}, "
                         f"git {_s(p.get('git_commit'))}")
            lines.append(f"  seeds: {_s(p.get('seeds'))}")
            if "blas" in p:   # files from before it was recorded lack it
                lines.append(f"  blas: {_s(p.get('blas'))}")
        if "checkpoint" in f:
            lines.append(_checkpoint_line(f["checkpoint"]))
        for name, g in (f["particles"].items() if isinstance(f.get("particles"), h5py.Group) else []):
            if isinstance(g, h5py.Group):
                lines.extend(_particles_lines(name, g))
        for root in ("observables", RESULTS_ROOT):
            if isinstance(f.get(root), h5py.Group):
                lines.append(f"  /{root}:")
                lines.extend(_tree_lines(f[root], with_attrs=root == RESULTS_ROOT))
    return "\n".join(lines)


def _checkpoint_line(c) -> str:
    a = c.attrs
    k = int(a["stage_index"])
    n_stages = None
    if "deck" in c:
        try:
            import tomllib
            from pyglass.io.safe_read import nested_depth, read_text
            deck = read_text(c["deck"], c.file.filename)
            n_stages = len(tomllib.loads(deck).get("stage", [])) if nested_depth(deck) <= 64 else None
        except Exception:   # a deck that no longer parses: say less, never fail
            n_stages = None
    tail = (f"global step {int(a['step'])}, time {float(a['time']):g}, written on {int(a['n_ranks'])} rank(s)")
    if n_stages is not None and k >= n_stages:
        return f"  checkpoint: run complete (all {n_stages} stage(s) done), {tail}"
    of = f" of {n_stages}" if n_stages is not None else ""
    return (f"  checkpoint: stage {k + 1}{of} ({_s(a.get('stage_name'))}), step {int(a['step_in_stage'])} in stage, "
            + tail)


def _particles_lines(name, g) -> list:
    names = [_s(x) for x in g.attrs.get("type_names", [])]
    if not names and "species" in g and "type_names" in g["species"].attrs:
        names = [_s(x) for x in g["species"].attrs["type_names"]]
    species = f", species {names}" if names else ""
    pos = g.get("position")
    if isinstance(pos, h5py.Group) and "value" in pos:
        pv = pos["value"]
        steps = _steps(pos, pv.shape[0])
        span = f", steps {int(steps[0])}..{int(steps[-1])}" if len(steps) else ""
        head = f"  /particles/{name}: N = {pv.shape[1]}, d = {pv.shape[2]}{species}; {pv.shape[0]} frame(s){span}"
    elif isinstance(pos, h5py.Dataset):
        head = (f"  /particles/{name}: N = {pos.shape[0]}, d = {pos.shape[1]}{species} (one configuration"
                + (f", step {int(g.attrs['step'])}" if "step" in g.attrs else "") + ")")
    else:
        n = g.attrs.get("n_particles")
        head = f"  /particles/{name}:" + (f" N = {int(n)}" if n is not None else "") + f"{species}; no frames"
    return [head] + _tree_lines(g, indent="    ")


def _steps(el, n):
    """The step of each of the n entries of a time-dependent element (explicit or fixed interval),
    shapes checked before reading (snapshot.element_steps)."""
    if el.get("step") is None:
        return np.zeros(0, np.int64)
    from pyglass.io.snapshot import element_steps
    return element_steps(el, n)


def _tree_lines(group, indent="    ", with_attrs=False) -> list:
    """One line per element or dataset under `group`: time-dependent elements as
    `name: F entries, value (shape) dtype`, plain datasets as `name (shape) dtype`."""
    out = []

    def walk(g, prefix):
        for key in g:
            name = f"{prefix}{key}"
            link = g.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):   # a study's samples: name the file, do not expand
                out.append(f"{indent}{name} -> {link.filename}:{link.path}")
                continue
            obj = g.get(key)
            if isinstance(obj, h5py.Group):
                if "value" in obj and isinstance(obj["value"], h5py.Dataset):
                    v = obj["value"]
                    st = _steps(obj, v.shape[0] if v.shape else 0)
                    span = f", steps {int(st[0])}..{int(st[-1])}" if len(st) else ""
                    out.append(f"{indent}{name}: value {v.shape} {v.dtype}{span}")
                else:
                    if with_attrs and len(obj.attrs):
                        out.append(f"{indent}{name}/ attrs {', '.join(sorted(obj.attrs))}")
                    walk(obj, name + "/")
            elif isinstance(obj, h5py.Dataset):
                out.append(f"{indent}{name} {obj.shape} {obj.dtype}")
    walk(group, "")
    return out


def file_status(f) -> str:
    """The run status in /h5md/provenance of an open file ('complete', 'interrupted', 'running'),
    '' when there is none. Decodes the fixed-length (bytes) strings H5MD 1.1 asks for."""
    prov = f.get("h5md/provenance")
    return _s(prov.attrs.get("status")) if prov is not None else ""


def stored_deck(path) -> str | None:
    """The deck text a run wrote into /h5md/provenance/deck of its file at `path` (None when the file
    cannot be read or holds none)."""
    from pyglass.io._common import FormatError
    from pyglass.io.safe_read import STUDY_LINKS, open_h5, read_text
    try:
        with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
            d = f.get("h5md/provenance/deck")
            return None if d is None else read_text(d, path)
    except (OSError, FormatError):
        return None


def path_status(path) -> str | None:
    """file_status of the file at `path`; None when it cannot be read (absent, or being written)."""
    from pyglass.io._common import FormatError
    from pyglass.io.safe_read import STUDY_LINKS, open_h5
    try:
        with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
            return file_status(f)
    except (OSError, FormatError):
        return None


def _s(v):
    if isinstance(v, bytes):
        return v.decode()
    return "" if v is None else str(v)


# ================================================================================ deck registrations

def _make_thermo(params, ctx):
    return ThermoObservable(ctx.schedule, ctx.writer, ctx.integrator, ctx.stage_index)


def _make_trajectory(params, ctx):
    return TrajectoryObservable(ctx.schedule, ctx.writer, velocities=params["velocities"])


OBSERVABLES.register("thermo", ObservableType(
    _make_thermo, {}, "temperature, potential/kinetic/total energy per particle, pressure and the conserved "
    "energy, written to /observables/thermo at each sample"))
OBSERVABLES.register("trajectory", ObservableType(
    _make_trajectory, {"velocities": Key((bool,), True, "also write velocities")},
    "frames of positions, images, velocities and species in /particles/all (H5MD)"))
