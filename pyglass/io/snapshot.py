"""One configuration in HDF5, laid out after H5MD 1.1 (de Buyl, Colberg & Hoefling, Comput. Phys.
Commun. 185, 1546 (2014); https://www.nongnu.org/h5md/h5md.html):

    /h5md                 attrs version = [1, 1]; groups author (name), creator (name = "pyglass", version)
    /particles/all        attrs step, time, type_names, type_masses (pyglass)
        box               attrs dimension, boundary = ["periodic", ...], tilt_xy, offset (pyglass)
            edges         (d,) lengths, or (d, d) edge vectors as rows when tilted (H5MD rule)
        position (N, d)   wrapped positions        image    (N, d) integer image counters
        velocity (N, d)   species (N,) type ids (attr type_names)   mass (N,)   id (N,)

Time-independent H5MD elements (plain datasets), one snapshot per group. Serial h5py here;
parallel collective writes come with the MPI runtime.
"""
from __future__ import annotations

import getpass
import os

import h5py
import numpy as np

import pyglass
from pyglass.io._common import FormatError, type_masses_from_particles
from pyglass.system import Box, System


def _open(target, mode):
    if isinstance(target, (h5py.File, h5py.Group)):
        return target, False
    return h5py.File(os.fspath(target), mode), True


def write_snapshot(system: System, target, overwrite: bool = False):
    """Write `system` to an HDF5 file path (created/overwritten with mode 'w') or into an open
    h5py Group/File (which must not already hold /h5md or /particles/all unless overwrite)."""
    s = system.gather()
    root, owned = _open(target, "w")
    try:
        for name in ("h5md", "particles/all"):
            if name in root:
                if not overwrite:
                    raise ValueError(f"{root.name}/{name} already exists in {root.file.filename}; pass overwrite=True")
                del root[name]
        h5 = root.require_group("h5md")
        h5.attrs["version"] = np.array([1, 1], np.int32)
        h5.create_group("author").attrs["name"] = _author()
        cr = h5.create_group("creator")
        cr.attrs["name"] = "pyglass"
        cr.attrs["version"] = pyglass.__version__
        g = root.require_group("particles").create_group("all")
        order = np.argsort(s.ids, kind="stable")
        g.attrs["step"] = int(s.step)
        g.attrs["time"] = float(s.time)
        g.attrs["type_names"] = np.array(s.type_names, dtype=h5py.string_dtype())
        g.attrs["type_masses"] = s.type_masses
        box = g.create_group("box")
        box.attrs["dimension"] = np.int32(s.dim)
        box.attrs["boundary"] = np.array(["periodic"] * s.dim, dtype=h5py.string_dtype())
        box.attrs["tilt_xy"] = float(s.box.tilt_xy)
        box.attrs["offset"] = s.box.lo
        if s.box.tilt_xy != 0:
            box.create_dataset("edges", data=s.box.h[: s.dim, : s.dim].T)
        else:
            box.create_dataset("edges", data=s.box.lengths)
        g.create_dataset("position", data=s.positions[order])
        g.create_dataset("image", data=s.images[order])
        g.create_dataset("velocity", data=s.velocities[order])
        sp = g.create_dataset("species", data=s.types[order])
        sp.attrs["type_names"] = np.array(s.type_names, dtype=h5py.string_dtype())
        g.create_dataset("mass", data=s.masses[order])
        g.create_dataset("id", data=s.ids[order])
    finally:
        if owned:
            root.close()


def _author():
    try:
        return getpass.getuser()
    except Exception:   # no user name in some containers
        return "unknown"


def _names(attr):
    return [a.decode() if isinstance(a, bytes) else str(a) for a in attr]


def read_snapshot(target) -> System:
    """Read a snapshot written by write_snapshot (path or h5py Group/File). Raises FormatError
    naming the file and the missing/inconsistent element."""
    root, owned = _open(target, "r")
    fname = root.file.filename
    try:
        if "particles/all" not in root:
            raise FormatError(fname, f"no '{root.name.rstrip('/')}/particles/all' group (not a pyglass/H5MD snapshot)")
        g = root["particles/all"]
        for key in ("box", "position", "species"):
            if key not in g:
                raise FormatError(fname, f"'{g.name}/{key}' is missing")
        box = g["box"]
        if "dimension" not in box.attrs or "edges" not in box:
            raise FormatError(fname, f"'{box.name}' needs the 'dimension' attribute and the 'edges' dataset")
        d = int(box.attrs["dimension"])
        boundary = _names(box.attrs.get("boundary", ["periodic"] * d))
        if any(b != "periodic" for b in boundary):
            raise FormatError(fname, f"'{box.name}' boundary {boundary}: pyglass boxes are periodic")
        edges = np.asarray(box["edges"][()], float)
        if edges.shape == (d,):
            lengths, tilt = edges, float(box.attrs.get("tilt_xy", 0.0))
        elif edges.shape == (d, d):
            h = edges.T
            if np.any(np.abs(h - np.triu(h)) > 0) or (d == 3 and (h[0, 2] or h[1, 2])):
                raise FormatError(fname, f"'{box.name}/edges' is not orthorhombic plus an xy tilt")
            lengths, tilt = np.diag(h).copy(), float(h[0, 1])
        else:
            raise FormatError(fname, f"'{box.name}/edges' has shape {edges.shape}, expected ({d},) or ({d}, {d})")
        lo = np.asarray(box.attrs["offset"], float) if "offset" in box.attrs else None
        pos = np.asarray(g["position"][()], float)
        n = len(pos)
        if pos.shape != (n, d):
            raise FormatError(fname, f"'{g.name}/position' has shape {pos.shape}, expected (N, {d})")
        types = np.asarray(g["species"][()], np.int32)
        if "type_names" in g["species"].attrs:
            names = _names(g["species"].attrs["type_names"])
        elif "type_names" in g.attrs:
            names = _names(g.attrs["type_names"])
        else:
            names = None
        n_types = len(names) if names else (int(types.max()) + 1 if n else 1)
        if n and (types.min() < 0 or types.max() >= n_types):
            raise FormatError(fname, f"'{g.name}/species' has type ids outside 0..{n_types - 1}")
        if "type_masses" in g.attrs:
            masses = np.asarray(g.attrs["type_masses"], float)
        elif "mass" in g:
            masses = type_masses_from_particles(fname, types, np.asarray(g["mass"][()], float), n_types)
        else:
            masses = None

        def opt(key, dtype):
            if key not in g:
                return None
            arr = np.asarray(g[key][()], dtype)
            if arr.shape[0] != n:
                raise FormatError(fname, f"'{g.name}/{key}' has {arr.shape[0]} rows, position has {n}")
            return arr

        s = System(pos, Box(lengths, tilt, lo), types, names, masses, opt("velocity", float),
                   opt("image", np.int64), ids=opt("id", np.int64))
        s.step = int(g.attrs.get("step", 0))
        s.time = float(g.attrs.get("time", 0.0))
        return s
    finally:
        if owned:
            root.close()
