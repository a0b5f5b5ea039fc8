"""One configuration in HDF5, laid out after H5MD 1.1 (de Buyl, Colberg & Hoefling, Comput. Phys.
Commun. 185, 1546 (2014); https://www.nongnu.org/h5md/h5md.html):

    /h5md                 attrs version = [1, 1]; groups author (name), creator (name = "pyglass", version)
    /particles/all        attrs step, time, type_names, type_masses (pyglass)
        box               attrs dimension, boundary = ["periodic", ...], tilt_xy, offset (pyglass)
            edges         (d,) lengths, or (d, d) edge vectors as rows when tilted (H5MD rule)
        position (N, d)   wrapped positions        image    (N, d) integer image counters
        velocity (N, d)   species (N,) type ids (attr type_names)   mass (N,)   id (N,)

Time-independent H5MD elements (plain datasets), one snapshot per group; string attributes under
/h5md are fixed-length. Serial h5py here; parallel collective writes come with the MPI runtime.

`read_snapshot` also reads one frame of a trajectory: pyglass output (`[system] file = "out.h5"`,
`frame` = the position frame, default the last, negative from the end), files written by pyh5md,
MDAnalysis or other H5MD writers (time-dependent `value/step/time` elements, explicit or
fixed-interval steps). The other time-dependent elements (box edges, image, species, velocity)
are read at the step of the selected position frame.
"""
from __future__ import annotations

import getpass
import os

import h5py
import numpy as np

from pyglass._version import __version__
from pyglass.io._common import FormatError, type_masses_from_particles, wrap_into_box
from pyglass.engine.system import Box, System


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
        h5.create_group("author").attrs["name"] = _fixed(_author())
        cr = h5.create_group("creator")
        cr.attrs["name"] = _fixed("pyglass")
        cr.attrs["version"] = _fixed(__version__)
        g = root.require_group("particles").create_group("all")
        order = np.argsort(s.ids, kind="stable")
        g.attrs["step"] = int(s.step)
        g.attrs["time"] = float(s.time)
        g.attrs["type_names"] = np.array(s.type_names, dtype=h5py.string_dtype())
        g.attrs["type_masses"] = s.type_masses
        box = g.create_group("box")
        box.attrs["dimension"] = np.int32(s.dim)
        box.attrs["boundary"] = np.array([b"periodic"] * s.dim)
        box.attrs["tilt_xy"] = float(s.box.tilt_xy)
        box.attrs["offset"] = s.box.lo
        if s.box.tilt_xy != 0:
            box.create_dataset("edges", data=s.box.h[: s.dim, : s.dim].T)
        else:
            box.create_dataset("edges", data=s.box.lengths)
        x, img = wrap_into_box(s.box, s.positions, s.images)
        g.create_dataset("position", data=x[order])
        g.create_dataset("image", data=img[order])
        g.create_dataset("velocity", data=s.velocities[order])
        sp = g.create_dataset("species", data=s.types[order])
        sp.attrs["type_names"] = np.array(s.type_names, dtype=h5py.string_dtype())
        g.create_dataset("mass", data=s.masses[order])
        g.create_dataset("id", data=s.ids[order])
    finally:
        if owned:
            root.close()


def _fixed(text):
    """Fixed-length UTF-8 string attribute (H5MD 1.1 asks for fixed-length strings in /h5md)."""
    return np.bytes_(str(text).encode("utf-8"))


def _author():
    try:
        return getpass.getuser()
    except Exception:   # no user name in some containers
        return "unknown"


def _names(attr):
    return [a.decode() if isinstance(a, bytes) else str(a) for a in attr]


def element_steps(el, n=None) -> np.ndarray:
    """Steps of the entries of an H5MD time-dependent element: its `step` dataset, or, for a
    fixed sampling interval (scalar `step`, optional `offset` attribute), offset + i * step."""
    n = el["value"].shape[0] if n is None else n
    st = el.get("step")
    if st is None:
        return np.arange(n, dtype=np.int64)
    if st.shape == ():
        return int(st.attrs.get("offset", 0)) + int(st[()]) * np.arange(n, dtype=np.int64)
    return np.asarray(st[()], np.int64)


def element_times(el, n=None):
    """Times of the entries of a time-dependent element, or None without a `time` dataset."""
    n = el["value"].shape[0] if n is None else n
    tm = el.get("time")
    if tm is None:
        return None
    if tm.shape == ():
        return float(tm.attrs.get("offset", 0.0)) + float(tm[()]) * np.arange(n)
    return np.asarray(tm[()], float)


def _is_timed(obj) -> bool:
    return isinstance(obj, h5py.Group) and isinstance(obj.get("value"), h5py.Dataset)


def _particles_group(root, fname):
    if "particles/all" in root:
        return root["particles/all"]
    parts = root.get("particles")
    groups = [k for k in parts if isinstance(parts[k], h5py.Group)] if isinstance(parts, h5py.Group) else []
    if len(groups) == 1:
        return parts[groups[0]]
    if not groups:
        raise FormatError(fname, f"no '{root.name.rstrip('/')}/particles/all' group (not a pyglass/H5MD snapshot)")
    raise FormatError(fname, f"'{parts.name}' holds {len(groups)} particle groups ({', '.join(groups)}) and no 'all': "
                             "pyglass reads one (write the one to start from as /particles/all)")


class _Selector:
    """Picks one entry of every time-dependent element: the position entry `frame` (negative from
    the end) and, in the other elements, the entry with the same step."""

    def __init__(self, fname, g, frame):
        self.fname, self.g = fname, g
        self.frame = -1 if frame is None else int(frame)
        self.step = self.time = None
        pos = g.get("position")
        if _is_timed(pos):
            k = self._index(pos, self.frame)
            self.step = int(element_steps(pos)[k])
            times = element_times(pos)
            self.time = None if times is None else float(times[k])
            self.pos_index = k
        elif frame not in (None, 0, -1) and isinstance(pos, h5py.Dataset):
            raise FormatError(fname, f"frame {frame} requested (system.frame) but '{pos.name}' holds one "
                                     "configuration (frame 0 or -1)")

    def _index(self, el, frame):
        n = el["value"].shape[0]
        if n == 0:
            raise FormatError(self.fname, f"'{el.name}/value' holds no frames")
        if not -n <= frame < n:
            raise FormatError(self.fname, f"frame {frame} requested (system.frame) but '{el.name}/value' holds "
                                          f"{n} frame(s): 0..{n - 1}, or -1..-{n} from the end")
        return frame % n

    def read(self, el, dtype):
        """The value of element `el` (dataset, or time-dependent group) at the selected frame."""
        if isinstance(el, h5py.Group) and not _is_timed(el):
            raise FormatError(self.fname, f"'{el.name}' is a group without a 'value' dataset (neither a "
                                          "time-independent nor a time-dependent H5MD element)")
        if not _is_timed(el):
            return np.asarray(el[()], dtype)
        if self.step is None:
            k = self._index(el, self.frame)
        else:
            steps = element_steps(el)
            hit = np.flatnonzero(steps == self.step)
            if not hit.size:
                raise FormatError(self.fname, f"'{el.name}' has no entry at step {self.step} (the step of the "
                                              f"selected position frame); it has {len(steps)} entr(ies)"
                                  + (f", steps {int(steps[0])}..{int(steps[-1])}" if len(steps) else ""))
            k = int(hit[-1])
        return np.asarray(el["value"][k], dtype)


def read_snapshot(target, frame: int | None = None) -> System:
    """Read one configuration from a pyglass/H5MD file (path or h5py Group/File): a snapshot or a
    checkpoint (time-independent elements), or a trajectory (pyglass output, files written by
    pyh5md, MDAnalysis or other H5MD writers), whose time-dependent elements are read at position
    frame `frame` (default the last; negative counts from the end) and the other elements at the
    same step. Raises FormatError naming the file and the missing/inconsistent element."""
    root, owned = _open(target, "r")
    fname = root.file.filename
    try:
        g = _particles_group(root, fname)
        for key in ("box", "position"):
            if key not in g:
                raise FormatError(fname, f"'{g.name}/{key}' is missing")
        sel = _Selector(fname, g, frame)
        box = g["box"]
        if "dimension" not in box.attrs or "edges" not in box:
            raise FormatError(fname, f"'{box.name}' needs the 'dimension' attribute and the 'edges' element")
        d = int(box.attrs["dimension"])
        boundary = _names(box.attrs.get("boundary", ["periodic"] * d))
        if any(b != "periodic" for b in boundary):
            raise FormatError(fname, f"'{box.name}' boundary {boundary}: pyglass boxes are periodic")
        edges = sel.read(box["edges"], float)
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
        pos = sel.read(g["position"], float)
        n = len(pos)
        if pos.shape != (n, d):
            raise FormatError(fname, f"'{g['position'].name}' has shape {pos.shape}, expected (N, {d})")
        if "species" in g:
            types = sel.read(g["species"], np.int64)
            if types.shape != (n,):
                raise FormatError(fname, f"'{g['species'].name}' has shape {types.shape}, position has {n} rows")
        else:
            types = np.zeros(n, np.int64)
        if "species" in g and "type_names" in g["species"].attrs:
            names = _names(g["species"].attrs["type_names"])
        elif "type_names" in g.attrs:
            names = _names(g.attrs["type_names"])
        else:
            names = None
            values = np.unique(types)
            if n and not np.array_equal(values, np.arange(len(values))):
                # foreign species values (e.g. atomic numbers): type ids in sorted order, named by value
                names = [str(v) for v in values.tolist()]
                types = np.searchsorted(values, types)
        n_types = len(names) if names else (int(types.max()) + 1 if n else 1)
        if n and (types.min() < 0 or types.max() >= n_types):
            raise FormatError(fname, f"'{g.name}/species' has type ids outside 0..{n_types - 1}")
        if "type_masses" in g.attrs:
            masses = np.asarray(g.attrs["type_masses"], float)
        elif "mass" in g:
            m = sel.read(g["mass"], float)
            if m.shape == ():
                m = np.full(n, float(m))
            masses = type_masses_from_particles(fname, types, m, n_types)
        else:
            masses = None

        def opt(key, dtype):
            if key not in g:
                return None
            arr = sel.read(g[key], dtype)
            if arr.shape[0] != n:
                raise FormatError(fname, f"'{g.name}/{key}' has {arr.shape[0]} rows, position has {n}")
            return arr

        s = System(pos, Box(lengths, tilt, lo), types, names, masses, opt("velocity", float),
                   opt("image", np.int64), ids=opt("id", np.int64))
        if sel.step is not None:
            s.step = sel.step
            s.time = float(sel.time) if sel.time is not None else 0.0
        else:
            s.step = int(g.attrs.get("step", 0))
            s.time = float(g.attrs.get("time", 0.0))
        return s
    finally:
        if owned:
            root.close()
