"""`H5MDWriter`: frames, thermo rows and observable results into one H5MD file, serial or parallel
(layout and parallel scheme: `pyglass.io.h5md`)."""
from __future__ import annotations

import inspect
import os
import sys

import h5py
import numpy as np

from pyglass._version import __version__
from pyglass.engine.comm import rank as comm_rank, size as comm_size
from pyglass.io.h5md.layout import RESULTS_ROOT, THERMO_COLUMNS  # noqa: F401
from pyglass.io.h5md.parallel import global_count, parallel_mode, particle_columns, redistribute
from pyglass.io.h5md.provenance import fixed_string, user_name


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
        cr.attrs["version"] = fixed_string(__version__)
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
