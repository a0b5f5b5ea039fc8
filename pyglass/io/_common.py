"""Helpers shared by the file readers and writers."""
from __future__ import annotations

import os

import numpy as np

from pyglass.engine.system import Box


class FormatError(ValueError):
    """A malformed input file. The message names the file and, where it applies, the line."""

    def __init__(self, path, message, line=None):
        where = f"{os.fspath(path)}" + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
        self.path = os.fspath(path)
        self.line = line


def fmt_float(x) -> str:
    """Shortest text that reads back as the same double."""
    return repr(float(x))


def float_columns(values: np.ndarray) -> list[str]:
    """Row-wise text for a float array, exact round trip (repr of each double)."""
    return [" ".join(map(repr, row)) for row in np.asarray(values, float).tolist()]


def box_from_lammps(path, lo, hi, xy, dim, line=None) -> Box:
    lengths = np.asarray(hi, float) - np.asarray(lo, float)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.isfinite(xy)):
        raise FormatError(path, f"box bounds (lo {list(lo)}, hi {list(hi)}, xy {xy}) must be finite", line)
    if np.any(lengths <= 0) or not np.all(np.isfinite(lengths)):
        raise FormatError(path, f"box has non-positive extent {lengths.tolist()} (lo {list(lo)}, hi {list(hi)})",
                          line)
    return Box(lengths[:dim], tilt_xy=xy, lo=np.asarray(lo, float)[:dim])


def type_masses_from_particles(path, types, masses, n_types, what="mass"):
    """Per-type masses from per-particle masses; every particle of a type must agree."""
    out = np.ones(n_types)
    for t in range(n_types):
        m = masses[types == t]
        if m.size:
            if np.any(m != m[0]):
                raise FormatError(path, f"particles of type {t} have different {what} values "
                                        f"({float(m.min())} .. {float(m.max())}); pyglass masses are per type")
            out[t] = m[0]
    return out


def wrap_into_box(box: Box, positions, images):
    """(positions, images) with every position inside the cell (fractional coordinates in [0, 1))
    and the image counters adjusted so that positions + images @ h.T (the unwrapped positions) is
    unchanged. The integrator wraps only at neighbour-list rebuilds, so between rebuilds a particle
    can sit up to half the skin outside; writers call this so that files holding "wrapped"
    positions hold wrapped positions. Rows already inside are returned bit for bit; a row outside
    is shifted by whole cell vectors (x - k h, as System.wrap does), so its unwrapped position
    changes only by the round-off of that one subtraction."""
    x = np.array(positions, dtype=float)
    img = np.array(images, dtype=np.int64).reshape(x.shape)
    if not len(x):
        return x, img
    d = box.dim
    h = box.h[:d, :d]
    for _ in range(2):   # a second pass catches x - L landing exactly on the upper face
        s = box.fractional(x)
        shift = np.floor(s)
        out = np.flatnonzero(np.any(shift != 0, axis=1))
        if not out.size:
            return x, img
        x[out] -= shift[out] @ h.T
        img[out] += shift[out].astype(np.int64)
    # still outside by round-off (fractional coordinate 1.0 or -tiny): put it on the lower face
    # (one more image for 1.0); the unwrapped position moves by about one ulp
    s = box.fractional(x)
    bad = np.flatnonzero(np.any((s < 0) | (s >= 1), axis=1))
    if bad.size:
        sb = s[bad]
        img[bad] += (sb >= 1).astype(np.int64)
        sb = np.where((sb < 0) | (sb >= 1), 0.0, sb)
        x[bad] = box.lo + sb @ h.T
    return x, img


def make_system(path, positions, box, types=None, type_names=None, masses=None, velocities=None, images=None,
                ids=None):
    """A System from what a reader found in file `path`, with the checks System itself does not make
    (finite masses, velocities and box offset; ids distinct and >= 0); every problem is a
    FormatError naming the file. `box` is a Box or (lengths, tilt_xy, lo)."""
    from pyglass.engine.system import System
    try:
        if not isinstance(box, Box):
            box = Box(*box)
        if not (np.all(np.isfinite(box.lo)) and np.isfinite(box.tilt_xy)):
            raise FormatError(path, f"box offset {box.lo.tolist()} or tilt {box.tilt_xy} is not finite")
        if masses is not None:
            m = np.asarray(masses, float).ravel()
            if not np.all(np.isfinite(m)) or np.any(m <= 0):
                raise FormatError(path, f"masses must be positive and finite, got {m.tolist()[:8]}")
        if velocities is not None:
            v = np.asarray(velocities, float)
            bad = np.flatnonzero(~np.all(np.isfinite(v.reshape(len(v), -1)), axis=1)) if v.ndim else []
            if len(bad):
                raise FormatError(path, f"particle {int(bad[0])} (in file order) has a non-finite velocity")
        if images is not None:
            img = np.asarray(images)
            if img.dtype.kind == "f" and not (np.all(np.isfinite(img)) and np.all(np.abs(img) < 2.0 ** 62)):
                raise FormatError(path, "image counters must be integers below 2^62")
        if ids is not None:
            i = np.asarray(ids)
            if i.size and (i.min() < 0 or np.unique(i).size != i.size):
                raise FormatError(path, "particle ids must be distinct and >= 0")
        return System(positions, box, types, type_names, masses, velocities, images, ids=ids)
    except FormatError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise FormatError(path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
