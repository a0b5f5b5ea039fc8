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
from pyglass.io._common import FormatError, make_system, type_masses_from_particles, wrap_into_box
from pyglass.io.safe_read import check_h5, memory_budget, open_h5, read_array, read_attr
from pyglass.engine.system import Box, System


def _open(target, mode):
    if isinstance(target, (h5py.File, h5py.Group)):
        if mode == "r":
            check_h5(target.file)
        return target, False
    if mode == "r":
        return open_h5(target), True
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


def _counter(el, name, n, dtype):
    """The `step` or `time` of a time-dependent element: (n,) values, or offset + i * interval for a
    scalar (fixed sampling interval); None when absent. Shape and dtype checked before reading."""
    fname = el.file.filename
    ds = el.get(name)
    if ds is None:
        return None
    if isinstance(ds, h5py.Dataset) and ds.shape == ():
        v = read_array(ds, fname, shape=(), kinds="iuf" if dtype is float else "iu")
        off = read_attr(ds, "offset", fname, default=0, numeric=True)
        if np.ndim(off) or not np.isfinite(v) or not np.isfinite(off):
            raise FormatError(fname, f"'{ds.name}' (fixed interval) or its offset is not a finite number")
        if dtype is float:
            return float(off) + float(v) * np.arange(n)
        return int(off) + int(v) * np.arange(n, dtype=np.int64)
    v = read_array(ds, fname, shape=(n,), kinds="iuf" if dtype is float else "iu")
    return np.asarray(v, np.int64 if dtype is int else float)


def element_steps(el, n=None) -> np.ndarray:
    """Steps of the entries of an H5MD time-dependent element: its `step` dataset, or, for a
    fixed sampling interval (scalar `step`, optional `offset` attribute), offset + i * step."""
    n = el["value"].shape[0] if n is None else n
    st = _counter(el, "step", n, int)
    return np.arange(n, dtype=np.int64) if st is None else st


def element_times(el, n=None):
    """Times of the entries of a time-dependent element, or None without a `time` dataset."""
    n = el["value"].shape[0] if n is None else n
    return _counter(el, "time", n, float)


def _is_timed(obj) -> bool:
    return isinstance(obj, h5py.Group) and isinstance(obj.get("value"), h5py.Dataset)


def _particles_group(root, fname):
    if isinstance(root.get("particles/all"), h5py.Group):
        return root["particles/all"]
    parts = root.get("particles")
    groups = [k for k in parts if isinstance(parts.get(k), h5py.Group)] if isinstance(parts, h5py.Group) else []
    if len(groups) == 1:
        return parts[groups[0]]
    if not groups:
        raise FormatError(fname, f"no '{root.name.rstrip('/')}/particles/all' group (not a pyglass/H5MD snapshot)")
    raise FormatError(fname, f"'{parts.name}' holds {len(groups)} particle groups ({', '.join(groups)}) and no 'all': "
                             "pyglass reads one (write the one to start from as /particles/all)")


class _Selector:
    """Picks one entry of every time-dependent element: the position entry `frame` (negative from
    the end) and, in the other elements, the entry with the same step. Every element's declared
    shape is checked against the particle count before any of it is read."""

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
            if self.time is not None and not np.isfinite(self.time):
                raise FormatError(fname, f"'{pos.name}/time' holds a non-finite time at frame {k}")
            self.pos_index = k
        elif frame not in (None, 0, -1) and isinstance(pos, h5py.Dataset):
            raise FormatError(fname, f"frame {frame} requested (system.frame) but '{pos.name}' holds one "
                                     "configuration (frame 0 or -1)")

    def _index(self, el, frame):
        n = el["value"].shape[0] if el["value"].ndim else 0
        if n == 0:
            raise FormatError(self.fname, f"'{el.name}/value' holds no frames")
        if not -n <= frame < n:
            raise FormatError(self.fname, f"frame {frame} requested (system.frame) but '{el.name}/value' holds "
                                          f"{n} frame(s): 0..{n - 1}, or -1..-{n} from the end")
        return frame % n

    def shape(self, el):
        """Declared shape of one entry of element `el` (a dataset, or a time-dependent group)."""
        if isinstance(el, h5py.Group) and not _is_timed(el):
            raise FormatError(self.fname, f"'{el.name}' is a group without a 'value' dataset (neither a "
                                          "time-independent nor a time-dependent H5MD element)")
        if not isinstance(el, (h5py.Group, h5py.Dataset)):
            raise FormatError(self.fname, f"'{getattr(el, 'name', el)}' is not an H5MD element")
        value = el["value"] if _is_timed(el) else el
        return value.shape[1:] if _is_timed(el) else value.shape

    def read(self, el, dtype, shape=None, budget=None):
        """The value of element `el` (dataset, or time-dependent group) at the selected frame; its
        declared shape must match `shape` (None entries: any) and its dtype be numeric."""
        kinds = "iu" if np.dtype(dtype).kind in "iu" else "iuf"
        self.shape(el)
        if not _is_timed(el):
            return np.asarray(read_array(el, self.fname, shape=shape, kinds=kinds, budget=budget), dtype)
        value = el["value"]
        full = None if shape is None else (None,) + tuple(shape)
        if value.ndim == 0:
            raise FormatError(self.fname, f"'{value.name}' is a scalar, frames were expected")
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
        return np.asarray(read_array(value, self.fname, shape=full, kinds=kinds, budget=budget, index=k), dtype)


def _finite(fname, what, arr):
    arr = np.asarray(arr, float)
    if not np.all(np.isfinite(arr)):
        raise FormatError(fname, f"'{what}' holds non-finite values")
    return arr


def read_snapshot(target, frame: int | None = None) -> System:
    """Read one configuration from a pyglass/H5MD file (path or h5py Group/File): a snapshot or a
    checkpoint (time-independent elements), or a trajectory (pyglass output, files written by
    pyh5md, MDAnalysis or other H5MD writers), whose time-dependent elements are read at position
    frame `frame` (default the last; negative counts from the end) and the other elements at the
    same step. The file is checked first (`io.safe_read`: nothing outside it is followed) and every
    element's declared shape against the particle count and the memory budget before it is read.
    Raises FormatError naming the file and the missing/inconsistent element."""
    root, owned = _open(target, "r")
    fname = root.file.filename
    try:
        return _read_snapshot(root, fname, frame)
    except (KeyError, TypeError, ValueError, OverflowError, RuntimeError) as exc:
        if isinstance(exc, FormatError):
            raise
        first = (str(exc).splitlines() or [""])[0]
        raise FormatError(fname, f"damaged H5MD data ({type(exc).__name__}: {first})") from None
    finally:
        if owned:
            root.close()


def _read_snapshot(root, fname, frame):
    g = _particles_group(root, fname)
    for key in ("box", "position"):
        if key not in g:
            raise FormatError(fname, f"'{g.name}/{key}' is missing")
    sel = _Selector(fname, g, frame)
    box = g["box"]
    if not isinstance(box, h5py.Group) or "dimension" not in box.attrs or "edges" not in box:
        raise FormatError(fname, f"'{box.name}' needs the 'dimension' attribute and the 'edges' element")
    d = read_attr(box, "dimension", fname, numeric=True)
    if np.ndim(d) or d not in (2, 3):
        raise FormatError(fname, f"'{box.name}' dimension must be 2 or 3, got {d!r}")
    d = int(d)
    boundary = _names(np.atleast_1d(read_attr(box, "boundary", fname, ["periodic"] * d)))
    if any(b != "periodic" for b in boundary):
        raise FormatError(fname, f"'{box.name}' boundary {boundary}: pyglass boxes are periodic")
    edges = _finite(fname, f"{box.name}/edges", sel.read(box["edges"], float, budget=1 << 20))
    if edges.shape == (d,):
        lengths, tilt = edges, float(read_attr(box, "tilt_xy", fname, 0.0, numeric=True))
    elif edges.shape == (d, d):
        h = edges.T
        if np.any(np.abs(h - np.triu(h)) > 0) or (d == 3 and (h[0, 2] or h[1, 2])):
            raise FormatError(fname, f"'{box.name}/edges' is not orthorhombic plus an xy tilt")
        lengths, tilt = np.diag(h).copy(), float(h[0, 1])
    else:
        raise FormatError(fname, f"'{box.name}/edges' has shape {edges.shape}, expected ({d},) or ({d}, {d})")
    if not np.all(lengths > 0) or not np.isfinite(tilt):
        raise FormatError(fname, f"'{box.name}/edges' has non-positive lengths {lengths.tolist()} or a non-finite tilt")
    lo = None
    if "offset" in box.attrs:
        lo = _finite(fname, f"{box.name} offset", read_attr(box, "offset", fname, numeric=True))
        if lo.shape != (d,):
            raise FormatError(fname, f"'{box.name}' offset has shape {lo.shape}, expected ({d},)")
    # the particle count comes from position's declared shape; every other element must agree, and
    # everything read must fit the memory budget together (positions, velocities, images, ids...)
    pshape = sel.shape(g["position"])
    if len(pshape) != 2 or pshape[1] != d:
        raise FormatError(fname, f"'{g['position'].name}' has entries of shape {pshape}, expected (N, {d})")
    n = int(pshape[0])
    per_particle = 8 * (4 * d + 4)
    if n * per_particle > memory_budget():
        raise FormatError(fname, f"'{g['position'].name}' declares N = {n} particles ({n * per_particle / 2**30:.3g} "
                                 "GiB to read), more than the memory budget (80 % of the memory available, or "
                                 "$PYGLASS_MEMORY_LIMIT_GIB)")
    for key, tail in (("species", (n,)), ("velocity", (n, d)), ("image", (n, d)), ("id", (n,))):
        got = sel.shape(g[key]) if key in g else tail
        if got != tail:
            if len(got) and got[0] != n:
                raise FormatError(fname, f"'{g[key].name}' has {got[0]} rows, position has {n}")
            raise FormatError(fname, f"'{g[key].name}' has entries of shape {got}, expected {tail}")
    pos = _finite(fname, g["position"].name, sel.read(g["position"], float, (n, d)))
    if "species" in g:
        types = sel.read(g["species"], np.int64, (n,))
    else:
        types = np.zeros(n, np.int64)
    if "species" in g and "type_names" in g["species"].attrs:
        names = _names(np.atleast_1d(read_attr(g["species"], "type_names", fname)))
    elif "type_names" in g.attrs:
        names = _names(np.atleast_1d(read_attr(g, "type_names", fname)))
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
        masses = np.atleast_1d(_finite(fname, f"{g.name} type_masses", read_attr(g, "type_masses", fname,
                                                                               numeric=True)))
        if masses.shape != (n_types,) or not np.all(masses > 0):
            raise FormatError(fname, f"'{g.name}' type_masses must be {n_types} positive numbers, got "
                                     f"{masses.tolist()[:8]}")
    elif "mass" in g:
        mshape = sel.shape(g["mass"])
        if mshape not in ((), (n,)):
            raise FormatError(fname, f"'{g['mass'].name}' has entries of shape {mshape}, expected () or ({n},)")
        m = _finite(fname, g["mass"].name, sel.read(g["mass"], float, mshape))
        if m.shape == ():
            m = np.full(n, float(m))
        if n and not np.all(m > 0):
            raise FormatError(fname, f"'{g['mass'].name}' holds non-positive masses")
        masses = type_masses_from_particles(fname, types, m, n_types)
    else:
        masses = None

    def opt(key, dtype, shape):
        if key not in g:
            return None
        arr = sel.read(g[key], dtype, shape)
        return _finite(fname, g[key].name, arr) if dtype is float else arr

    s = make_system(fname, pos, Box(lengths, tilt, lo), types, names, masses, opt("velocity", float, (n, d)),
                    opt("image", np.int64, (n, d)), ids=opt("id", np.int64, (n,)))
    if sel.step is not None:
        s.step = sel.step
        s.time = float(sel.time) if sel.time is not None else 0.0
    else:
        step = read_attr(g, "step", fname, 0, numeric=True)
        time = read_attr(g, "time", fname, 0.0, numeric=True)
        if np.ndim(step) or np.ndim(time) or not np.isfinite(time) or not np.isfinite(step):
            raise FormatError(fname, f"'{g.name}' step/time attributes must be finite numbers")
        s.step, s.time = int(step), float(time)
    return s
