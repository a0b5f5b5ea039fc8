"""Helpers shared by the file readers and writers."""
from __future__ import annotations

import os

import numpy as np

from pyglass.system import Box


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
    if np.any(lengths <= 0):
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
