"""LAMMPS data files (atom_style atomic) and `dump custom` trajectories.

Conventions (https://docs.lammps.org/read_data.html, https://docs.lammps.org/dump.html):
  * LAMMPS atom types 1..n become pyglass type ids 0..n-1; atom ids 1.. become `system.ids`
    0..; particles are stored in id order.
  * Numbers are written with Python's `repr`, so a write -> read round trip is exact.
  * Dimension rule (`dim=None`): a file is read as 2D when every atom has z == 0 exactly (and
    iz == 0, vz == 0 where present) and the z extent straddles 0 (zlo < 0 < zhi, what LAMMPS
    writes for `dimension 2`: -0.5 0.5), or the zlo zhi line is absent; otherwise 3D. Pass
    `dim=2` or `dim=3` to decide explicitly (`dim=2` with a nonzero z is an error).
  * Only the xy tilt is supported (simple shear); nonzero xz or yz is an error.
  * Type names: written as comments in the Masses section (`1 1.0 # A`, as LAMMPS write_data
    does), and read back from there; the `Atom Type Labels` section (LAMMPS >= 15Sep2022) only
    with `write_lammps_data(..., type_labels=True)`, since older LAMMPS versions reject it and
    some readers (chemfiles) stall on it. Both are read.
  * Positions are written wrapped into the box (image flags adjusted, unwrapped unchanged).
"""
from __future__ import annotations

import math
import os
from typing import Iterator

import numpy as np

from pyglass._version import __version__
from pyglass.io._common import FormatError, box_from_lammps, float_columns, fmt_float, make_system, wrap_into_box
from pyglass.io.safe_read import read_text_file
from pyglass.engine.system import Box, System

# header keywords whose counts must be zero for atom_style atomic
_ZERO_COUNTS = ("bonds", "angles", "dihedrals", "impropers", "bond types", "angle types", "dihedral types",
                "improper types", "ellipsoids", "lines", "triangles", "bodies")
_SECTIONS_READ = ("Atoms", "Velocities", "Masses", "Atom Type Labels")
_SECTIONS_SKIPPED = ("Pair Coeffs", "PairIJ Coeffs")   # written by LAMMPS write_data; parameters are pyglass's
_SECTIONS_UNSUPPORTED = ("Bonds", "Angles", "Dihedrals", "Impropers", "Bond Coeffs", "Angle Coeffs",
                         "Dihedral Coeffs", "Improper Coeffs", "Ellipsoids", "Lines", "Triangles", "Bodies",
                         "BondBond Coeffs", "BondAngle Coeffs", "Bond Type Labels", "Angle Type Labels",
                         "Dihedral Type Labels", "Improper Type Labels")
_ALL_SECTIONS = _SECTIONS_READ + _SECTIONS_SKIPPED + _SECTIONS_UNSUPPORTED


def _strip(line: str) -> tuple[str, str]:
    """(content, comment) of one line."""
    if "#" in line:
        i = line.index("#")
        return line[:i].strip(), line[i + 1:].strip()
    return line.strip(), ""


def _floats(path, lineno, tokens, what):
    try:
        return [float(t) for t in tokens]
    except ValueError:
        raise FormatError(path, f"{what}: expected numbers, got {' '.join(tokens)[:80]!r}", lineno) from None


INT_LIMIT = 2 ** 62   # counts, ids, types and image flags must fit int64 arithmetic with room to spare


def _ints(path, lineno, tokens, what):
    out = []
    for t in tokens:
        try:
            v = int(t)
        except ValueError:
            try:
                f = float(t)
            except ValueError:
                f = None
            if f is None or not math.isfinite(f) or f != int(f):
                raise FormatError(path, f"{what}: expected an integer, got {t[:40]!r}", lineno) from None
            v = int(f)
        if abs(v) >= INT_LIMIT:
            raise FormatError(path, f"{what}: {t[:40]} is out of range (|value| < 2^62)", lineno)
        out.append(v)
    return out


MAX_TYPES = 1 << 16   # species; pair tables hold n^2 entries


def _one(parse, path, lineno, line, what):
    """The one number a dump item line holds."""
    tok = line.split()
    if len(tok) != 1:
        raise FormatError(path, f"{what}: expected one number, got {line[:60]!r}", lineno)
    return parse(path, lineno, tok, what)[0]


def _decide_dim(path, dim, z, iz, vz, zlohi):
    if dim not in (None, 2, 3):
        raise ValueError(f"dim must be None, 2 or 3, got {dim!r}")
    flat = bool(np.all(z == 0) and (iz is None or np.all(iz == 0)) and (vz is None or np.all(vz == 0)))
    if dim is None:
        straddles = zlohi is None or (zlohi[0] < 0 < zlohi[1])
        return 2 if (flat and straddles and len(z) > 0) else 3
    if dim == 2 and not flat:
        bad = int(np.flatnonzero((z != 0) | (iz != 0 if iz is not None else False)
                                 | (vz != 0 if vz is not None else False))[0])
        raise FormatError(path, f"dim=2 requested but atom with index {bad} (in id order) has a nonzero z, iz or vz")
    return dim


# ============================================================================ data files

def read_lammps_data(path, dim: int | None = None, type_names=None) -> System:
    """Read a LAMMPS data file (atom_style atomic) into a System.

    Sections read: Atoms (id type x y z [ix iy iz]), Velocities, Masses (a one-word comment
    after a mass is the type name), Atom Type Labels (type names, preferred over the Masses
    comments); Pair Coeffs / PairIJ Coeffs are skipped (the potential is pyglass's). Raises
    `FormatError` (a ValueError) naming the file and line for malformed input."""
    path = os.fspath(path)
    lines = read_text_file(path).splitlines()
    counts: dict[str, int] = {}
    bounds: dict[str, tuple[float, float]] = {}
    tilt = None
    i = 1  # line 0 is the title
    # ---------------------------------------------------------------- header
    while i < len(lines):
        content, _ = _strip(lines[i])
        if not content:
            i += 1
            continue
        if content in _ALL_SECTIONS or content.split()[0][0].isalpha():
            break
        tok = content.split()
        lineno = i + 1
        key = " ".join(tok[1:]) if not tok[-1].endswith(("hi", "yz")) else None
        if len(tok) == 4 and tok[2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
            lo, hi = _floats(path, lineno, tok[:2], f"{tok[2]} {tok[3]}")
            if not hi > lo:
                raise FormatError(path, f"{tok[2]} {tok[3]}: hi ({hi}) must exceed lo ({lo})", lineno)
            bounds[tok[2][0]] = (lo, hi)
        elif len(tok) == 6 and tok[3:] == ["xy", "xz", "yz"]:
            tilt = _floats(path, lineno, tok[:3], "xy xz yz")
            if tilt[1] != 0 or tilt[2] != 0:
                raise FormatError(path, f"xz = {tilt[1]}, yz = {tilt[2]}: only an xy tilt is supported "
                                        "(pyglass boxes are orthorhombic plus simple shear)", lineno)
        elif key in ("atoms", "atom types") + _ZERO_COUNTS:
            (n,) = _ints(path, lineno, tok[:1], key)
            if n < 0:
                raise FormatError(path, f"'{key}' count must be >= 0, got {n}", lineno)
            if key in _ZERO_COUNTS and n:
                raise FormatError(path, f"{n} {key}: only atom_style atomic is supported", lineno)
            counts[key] = n
        else:
            raise FormatError(path, f"unknown header line {content!r} (expected counts, 'xlo xhi', "
                                    "'ylo yhi', 'zlo zhi' or 'xy xz yz')", lineno)
        i += 1
    for key in ("atoms", "atom types"):
        if key not in counts:
            raise FormatError(path, f"header has no '{key}' count")
    n_atoms, n_types = counts["atoms"], counts["atom types"]
    if not 1 <= n_types <= MAX_TYPES:
        raise FormatError(path, f"'atom types' must be 1..{MAX_TYPES}, got {n_types}")
    if n_atoms > len(lines):   # each atom takes a line: refuse before allocating for them
        raise FormatError(path, f"header declares {n_atoms} atoms but the file has {len(lines)} lines")
    for ax in "xy":
        if ax not in bounds:
            raise FormatError(path, f"header has no '{ax}lo {ax}hi' line")
    # ---------------------------------------------------------------- sections
    sections: dict[str, tuple[int, list[tuple[int, list[str]]]]] = {}
    mass_notes: dict[int, str] = {}   # Masses row -> its comment (type name)
    expected = {"Atoms": n_atoms, "Velocities": n_atoms, "Masses": n_types, "Atom Type Labels": n_types,
                "Pair Coeffs": n_types, "PairIJ Coeffs": n_types * (n_types + 1) // 2}
    while i < len(lines):
        content, comment = _strip(lines[i])
        if not content:
            i += 1
            continue
        lineno = i + 1
        if content in _SECTIONS_UNSUPPORTED:
            raise FormatError(path, f"section '{content}' is not supported (atom_style atomic only)", lineno)
        if content not in _SECTIONS_READ + _SECTIONS_SKIPPED:
            what = "section" if sections else "header line or section"
            raise FormatError(path, f"unknown {what} {content!r} (expected one of {', '.join(_SECTIONS_READ)})",
                              lineno)
        if content in sections:
            raise FormatError(path, f"section '{content}' appears twice", lineno)
        if content == "Atoms" and comment and comment.split()[0] != "atomic":
            raise FormatError(path, f"Atoms section is atom_style '{comment.split()[0]}'; only 'atomic' is "
                                    "supported", lineno)
        count = expected[content]
        rows = []
        i += 1
        while i < len(lines) and len(rows) < count:
            c, note = _strip(lines[i])
            if c:
                if c in _ALL_SECTIONS:
                    break
                rows.append((i + 1, c.split()))
                if content == "Masses":
                    mass_notes[len(rows) - 1] = note
            i += 1
        if len(rows) < count:
            raise FormatError(path, f"section '{content}' has {len(rows)} lines but the header declares "
                                    f"{count} ({'atoms' if count == n_atoms and content in ('Atoms', 'Velocities') else 'entries'})",
                              lineno)
        # anything else before the next section is an extra line
        while i < len(lines):
            c, _ = _strip(lines[i])
            if c:
                if c in _ALL_SECTIONS or c.split()[0][0].isalpha():
                    break
                raise FormatError(path, f"section '{content}' has more than the {count} lines the header "
                                        "declares", i + 1)
            i += 1
        sections[content] = (lineno, rows)
    if "Atoms" not in sections and n_atoms:
        raise FormatError(path, "no Atoms section")

    # ---------------------------------------------------------------- Atoms
    rows = sections.get("Atoms", (0, []))[1]
    ids = np.empty(n_atoms, np.int64)
    types = np.empty(n_atoms, np.int64)
    x = np.empty((n_atoms, 3))
    images = np.zeros((n_atoms, 3), np.int64)
    ncol = len(rows[0][1]) if rows else 5
    for k, (ln, tok) in enumerate(rows):
        if len(tok) != ncol or ncol not in (5, 8):
            raise FormatError(path, f"Atoms line has {len(tok)} columns; atom_style atomic needs 5 "
                                    "(id type x y z) or 8 (with ix iy iz), the same on every line", ln)
        ids[k], types[k] = _ints(path, ln, tok[:2], "atom id and type")
        x[k] = _floats(path, ln, tok[2:5], "coordinates")
        if ncol == 8:
            images[k] = _ints(path, ln, tok[5:8], "image flags")
        if not 1 <= types[k] <= n_types:
            raise FormatError(path, f"atom {ids[k]} has type {types[k]}, outside 1..{n_types} ('atom types')", ln)
    if not np.all(np.isfinite(x)):
        k = int(np.flatnonzero(~np.all(np.isfinite(x), axis=1))[0])
        raise FormatError(path, f"atom {ids[k]} has a non-finite coordinate", rows[k][0])
    uniq, first = np.unique(ids, return_index=True)
    if uniq.size != n_atoms:
        dup = np.setdiff1d(np.arange(n_atoms), first)[0]
        raise FormatError(path, f"atom id {ids[dup]} appears more than once", rows[dup][0])
    if n_atoms and ids.min() < 1:
        k = int(np.argmin(ids))
        raise FormatError(path, f"atom id {ids[k]} must be >= 1", rows[k][0])
    order = np.argsort(ids, kind="stable")
    # ---------------------------------------------------------------- Velocities
    vel = None
    if "Velocities" in sections:
        vrows = sections["Velocities"][1]
        vid = np.empty(n_atoms, np.int64)
        v = np.empty((n_atoms, 3))
        for k, (ln, tok) in enumerate(vrows):
            if len(tok) != 4:
                raise FormatError(path, f"Velocities line has {len(tok)} columns, expected 4 (id vx vy vz)", ln)
            (vid[k],) = _ints(path, ln, tok[:1], "atom id")
            v[k] = _floats(path, ln, tok[1:], "velocities")
        pos = np.searchsorted(uniq, vid)
        bad = (pos >= n_atoms) | (uniq[np.minimum(pos, n_atoms - 1)] != vid)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise FormatError(path, f"Velocities line for atom id {vid[k]}, which is not in the Atoms section",
                              vrows[k][0])
        if np.unique(vid).size != n_atoms:
            raise FormatError(path, "Velocities section lists an atom id twice", sections["Velocities"][0])
        vel = np.empty((n_atoms, 3))
        vel[pos] = v
    # ---------------------------------------------------------------- Masses, labels
    masses = np.ones(n_types)
    names = [chr(ord("A") + k) if k < 26 else f"T{k + 1}" for k in range(n_types)]
    if "Masses" in sections:
        seen = set()
        for row, (ln, tok) in enumerate(sections["Masses"][1]):
            if len(tok) != 2:
                raise FormatError(path, f"Masses line has {len(tok)} columns, expected 2 (type mass)", ln)
            (t,) = _ints(path, ln, tok[:1], "Masses type")
            (m,) = _floats(path, ln, tok[1:], "mass")
            if not 1 <= t <= n_types:
                raise FormatError(path, f"Masses entry for type {t}, outside 1..{n_types}", ln)
            if not m > 0:
                raise FormatError(path, f"mass of type {t} must be positive, got {m}", ln)
            masses[t - 1] = m
            seen.add(t)
            note = mass_notes.get(row, "").split()
            if len(note) == 1 and _valid_label(note[0]):
                names[t - 1] = note[0]
    if "Atom Type Labels" in sections:
        for ln, tok in sections["Atom Type Labels"][1]:
            if len(tok) != 2:
                raise FormatError(path, f"Atom Type Labels line has {len(tok)} columns, expected 2", ln)
            (t,) = _ints(path, ln, tok[:1], "type label")
            if not 1 <= t <= n_types:
                raise FormatError(path, f"type label for type {t}, outside 1..{n_types}", ln)
            names[t - 1] = tok[1]
    if type_names is not None:
        names = [str(n) for n in type_names]
        if len(names) != n_types:
            raise ValueError(f"type_names has {len(names)} entries but {path} declares {n_types} atom types")

    # ---------------------------------------------------------------- assemble
    x, images, types, ids = x[order], images[order], types[order], ids[order]
    zlohi = bounds.get("z")
    d = _decide_dim(path, dim, x[:, 2], images[:, 2], None if vel is None else vel[:, 2], zlohi)
    lo = [bounds["x"][0], bounds["y"][0], (zlohi or (-0.5, 0.5))[0]]
    hi = [bounds["x"][1], bounds["y"][1], (zlohi or (-0.5, 0.5))[1]]
    if d == 3 and zlohi is None:
        raise FormatError(path, "3D data needs a 'zlo zhi' header line")
    box = box_from_lammps(path, lo, hi, 0.0 if tilt is None else tilt[0], d)
    return make_system(path, x[:, :d], box, (types - 1).astype(np.int32), names, masses,
                       None if vel is None else vel[:, :d], images[:, :d], ids=ids - 1)


def _box_lines(box: Box) -> tuple[list[float], list[float]]:
    lo = np.zeros(3)
    hi = np.zeros(3)
    lo[: box.dim] = box.lo
    hi[: box.dim] = box.lo + box.lengths
    if box.dim == 2:
        lo[2], hi[2] = -0.5, 0.5
    return lo, hi


def _valid_label(name: str) -> bool:
    return bool(name) and not name[0].isdigit() and not any(c.isspace() or c in "#*" for c in name)


def write_lammps_data(system: System, path, title: str | None = None, velocities: bool = True,
                      type_labels: bool = False):
    """Write a LAMMPS data file (atom_style atomic) with image flags, Masses (type names as
    comments, `1 1.0 # A`), and Velocities; positions wrapped into the box. type_labels=True adds
    the `Atom Type Labels` section (LAMMPS >= 15Sep2022; older versions reject it) when every name
    is a valid LAMMPS label. Exact round trip with read_lammps_data. A 2D system gets
    `zlo zhi` = -0.5 0.5 and z = 0 (LAMMPS `dimension 2`)."""
    s = system.gather()
    order = np.argsort(s.ids, kind="stable")
    n, d = s.N, s.dim
    lo, hi = _box_lines(s.box)
    out = [title or f"LAMMPS data file written by pyglass {__version__} (atom_style atomic, {d}D)", "",
           f"{n} atoms", f"{s.n_types} atom types", ""]
    for k, ax in enumerate("xyz"):
        out.append(f"{fmt_float(lo[k])} {fmt_float(hi[k])} {ax}lo {ax}hi")
    if s.box.tilt_xy != 0:
        out.append(f"{fmt_float(s.box.tilt_xy)} 0.0 0.0 xy xz yz")
    labels = all(_valid_label(t) for t in s.type_names)
    if type_labels and labels:
        out += ["", "Atom Type Labels", ""] + [f"{k + 1} {t}" for k, t in enumerate(s.type_names)]
    out += ["", "Masses", ""] + [f"{k + 1} {fmt_float(m)}" + (f" # {s.type_names[k]}" if labels else "")
                                 for k, m in enumerate(s.type_masses)]
    xw, iw = wrap_into_box(s.box, s.positions, s.images)
    x = np.zeros((n, 3))
    x[:, :d] = xw
    img = np.zeros((n, 3), np.int64)
    img[:, :d] = iw
    ids = s.ids[order] + 1
    xs = float_columns(x[order])
    out += ["", "Atoms # atomic", ""]
    out += [f"{a} {t} {c} {i[0]} {i[1]} {i[2]}" for a, t, c, i in
            zip(ids.tolist(), (s.types[order] + 1).tolist(), xs, img[order].tolist())]
    if velocities:
        v = np.zeros((n, 3))
        v[:, :d] = s.velocities
        out += ["", "Velocities", ""]
        out += [f"{a} {c}" for a, c in zip(ids.tolist(), float_columns(v[order]))]
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


# ============================================================================ dump files

_POSITION_SETS = {("x", "y", "z"): "wrapped", ("xu", "yu", "zu"): "unwrapped",
                  ("xs", "ys", "zs"): "scaled", ("xsu", "ysu", "zsu"): "scaled-unwrapped"}


def read_lammps_dump(path, dim: int | None = None, type_names=None, masses=None) -> Iterator[tuple[int, System]]:
    """Iterate over the frames of a LAMMPS `dump custom` file: yields (step, System).

    Columns: `id type` and one position set (x y z, xu yu zu, xs ys zs or xsu ysu zsu), optional
    `ix iy iz` and `vx vy vz`; other columns are ignored. Atoms are sorted by id. Orthorhombic
    and xy-tilted boxes ('ITEM: BOX BOUNDS xy xz yz ...' with xz = yz = 0). The dimension is
    decided on the first frame (module rule) and kept. Dump files carry no masses or names:
    pass `type_names`/`masses` (per type) or get defaults."""
    path = os.fspath(path)
    with open(path) as fh:
        lineno = 0

        def nextline(expect=None):
            nonlocal lineno
            line = fh.readline()
            lineno += 1
            if not line:
                raise FormatError(path, f"file ends inside a frame (expected {expect})", lineno)
            return line.rstrip("\n")

        frame_dim = None
        while True:
            line = fh.readline()
            lineno += 1
            if not line:
                return
            if not line.strip():
                continue
            step = time = n = None
            lohi = tilts = None
            while True:
                item = line.strip()
                if not item.startswith("ITEM:"):
                    raise FormatError(path, f"expected an 'ITEM:' line, got {item[:60]!r}", lineno)
                key = item[5:].strip()
                if key == "TIMESTEP":
                    step = _one(_ints, path, lineno + 1, nextline("the timestep"), "TIMESTEP")
                elif key == "TIME":
                    time = _one(_floats, path, lineno + 1, nextline("the time"), "TIME")
                elif key == "UNITS":
                    nextline("the units")
                elif key == "NUMBER OF ATOMS":
                    n = _one(_ints, path, lineno + 1, nextline("the number of atoms"), "NUMBER OF ATOMS")
                elif key.startswith("BOX BOUNDS"):
                    flags = key.split()[2:]
                    if flags and flags[0] == "abc":
                        raise FormatError(path, "general triclinic boxes (BOX BOUNDS abc origin) are not supported",
                                          lineno)
                    triclinic = flags[:3] == ["xy", "xz", "yz"]
                    rows = []
                    for _ in range(3):
                        tok = nextline("box bounds").split()
                        if len(tok) != (3 if triclinic else 2):
                            raise FormatError(path, f"box bounds line has {len(tok)} numbers, expected "
                                                    f"{3 if triclinic else 2}", lineno)
                        rows.append(_floats(path, lineno, tok, "box bounds"))
                    rows = np.array(rows)
                    tilts = rows[:, 2] if triclinic else np.zeros(3)
                    if tilts[1] != 0 or tilts[2] != 0:
                        raise FormatError(path, f"xz = {tilts[1]}, yz = {tilts[2]}: only an xy tilt is supported",
                                          lineno - 2)
                    xy = tilts[0]
                    lohi = rows[:, :2].copy()
                    # bounding box -> box (https://docs.lammps.org/Howto_triclinic.html)
                    lohi[0, 0] -= min(0.0, xy)
                    lohi[0, 1] -= max(0.0, xy)
                elif key.startswith("ATOMS"):
                    cols = key.split()[1:]
                    break
                else:
                    raise FormatError(path, f"unknown dump item {key!r}", lineno)
                line = nextline("an ITEM line")
            for what, val in (("TIMESTEP", step), ("NUMBER OF ATOMS", n), ("BOX BOUNDS", lohi)):
                if val is None:
                    raise FormatError(path, f"frame has no 'ITEM: {what}' before 'ITEM: ATOMS'", lineno)
            if n < 0:
                raise FormatError(path, f"NUMBER OF ATOMS must be >= 0, got {n}", lineno)
            header_line = lineno
            rows = []
            for _ in range(n):
                tok = fh.readline().split()
                lineno += 1
                if len(tok) != len(cols):
                    if not tok or tok[0] == "ITEM:":
                        raise FormatError(path, f"frame at step {step} has fewer atom lines than "
                                                f"NUMBER OF ATOMS = {n}", lineno)
                    raise FormatError(path, f"atom line has {len(tok)} columns, the ATOMS header names "
                                            f"{len(cols)} ({' '.join(cols)})", lineno)
                rows.append(tok)
            try:
                data = np.array(rows, dtype=float).reshape(n, len(cols))
            except ValueError:
                for k, tok in enumerate(rows):
                    _floats(path, header_line + 1 + k, tok, "atom line")
                raise
            system = _dump_frame(path, header_line, cols, data, lohi, xy, dim if frame_dim is None else frame_dim,
                                 type_names, masses, step, time)
            frame_dim = system.dim
            yield step, system


def _dump_frame(path, lineno, cols, data, lohi, xy, dim, type_names, masses, step, time):
    col = {c: k for k, c in enumerate(cols)}
    for need in ("id", "type"):
        if need not in col:
            raise FormatError(path, f"ATOMS columns must include '{need}', got {' '.join(cols)}", lineno)
    kind = next((k for names, k in _POSITION_SETS.items() if all(c in col for c in names)), None)
    if kind is None:
        raise FormatError(path, "ATOMS columns need one full position set: x y z, xu yu zu, xs ys zs or xsu ysu zsu",
                          lineno)
    pos_names = next(names for names, k in _POSITION_SETS.items() if k == kind)
    for c in ("id", "type", "ix", "iy", "iz"):
        if c in col:
            v = data[:, col[c]]
            bad = np.flatnonzero(~np.isfinite(v) | (v != np.round(v)) | (np.abs(v) >= 2.0 ** 62))
            if bad.size:
                raise FormatError(path, f"frame at step {step}: column '{c}' holds {v[bad[0]]!r}, not an integer "
                                        "below 2^62", lineno)
    order = np.argsort(data[:, col["id"]], kind="stable")
    data = data[order]
    ids = data[:, col["id"]].astype(np.int64)
    types = data[:, col["type"]].astype(np.int64)
    if np.unique(ids).size != len(ids):
        raise FormatError(path, f"frame at step {step} lists an atom id twice", lineno)
    n_types = len(type_names) if type_names is not None else (int(types.max()) if len(types) else 1)
    if len(types) and (types.min() < 1 or types.max() > n_types):
        raise FormatError(path, f"frame at step {step}: atom type {int(types.max() if types.max() > n_types else types.min())} "
                                f"outside 1..{n_types}", lineno)
    r = np.stack([data[:, col[c]] for c in pos_names], 1)
    img = np.stack([data[:, col[c]] for c in ("ix", "iy", "iz")], 1).astype(np.int64) \
        if all(c in col for c in ("ix", "iy", "iz")) else np.zeros((len(ids), 3), np.int64)
    v = np.stack([data[:, col[c]] for c in ("vx", "vy", "vz")], 1) \
        if all(c in col for c in ("vx", "vy", "vz")) else None
    lo, hi = lohi[:, 0], lohi[:, 1]
    h = np.diag(hi - lo)
    h[0, 1] = xy
    if kind.startswith("scaled"):
        r = lo + r @ h.T
    if kind.endswith("unwrapped"):
        s = (r - lo) @ np.linalg.inv(h).T
        img = np.floor(s).astype(np.int64)
        r = r - img @ h.T
    d = _decide_dim(path, dim, r[:, 2], img[:, 2], None if v is None else v[:, 2], (lo[2], hi[2]))
    box = box_from_lammps(path, lo, hi, xy, d, lineno)
    sysm = make_system(path, r[:, :d], box, (types - 1).astype(np.int32), type_names, masses,
                       None if v is None else v[:, :d], img[:, :d], ids=ids - 1)
    sysm.step = step
    if time is not None:
        sysm.time = time
    return sysm


def write_lammps_dump(system: System, path, step: int | None = None, append: bool = True):
    """Append (or write) one frame in LAMMPS `dump custom` format with columns
    id type x y z ix iy iz vx vy vz (positions wrapped into the box, image flags adjusted; exact
    doubles). `step` defaults to
    system.step. An xy-tilted box is written as 'BOX BOUNDS xy xz yz pp pp pp' with the
    bounding-box convention of LAMMPS."""
    s = system.gather()
    order = np.argsort(s.ids, kind="stable")
    n, d = s.N, s.dim
    lo, hi = _box_lines(s.box)
    xy = s.box.tilt_xy
    step = s.step if step is None else int(step)
    out = ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(n)]
    if xy != 0:
        out.append("ITEM: BOX BOUNDS xy xz yz pp pp pp")
        out.append(f"{fmt_float(lo[0] + min(0.0, xy))} {fmt_float(hi[0] + max(0.0, xy))} {fmt_float(xy)}")
        out += [f"{fmt_float(lo[k])} {fmt_float(hi[k])} 0.0" for k in (1, 2)]
    else:
        out.append("ITEM: BOX BOUNDS pp pp pp")
        out += [f"{fmt_float(lo[k])} {fmt_float(hi[k])}" for k in range(3)]
    out.append("ITEM: ATOMS id type x y z ix iy iz vx vy vz")
    xw, iw = wrap_into_box(s.box, s.positions, s.images)
    x = np.zeros((n, 3))
    x[:, :d] = xw
    img = np.zeros((n, 3), np.int64)
    img[:, :d] = iw
    v = np.zeros((n, 3))
    v[:, :d] = s.velocities
    out += [f"{a} {t} {c} {i[0]} {i[1]} {i[2]} {w}" for a, t, c, i, w in
            zip((s.ids[order] + 1).tolist(), (s.types[order] + 1).tolist(), float_columns(x[order]),
                img[order].tolist(), float_columns(v[order]))]
    with open(path, "a" if append else "w") as fh:
        fh.write("\n".join(out) + "\n")
