"""Extended XYZ (https://github.com/libAtoms/extxyz): the format of ASE, OVITO, QUIP.

Each frame: a line with N, a comment line of key=value pairs, N atom lines. pyglass writes
    Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3[:Z:I:1][:velo:R:3 | :masses:R:1:momenta:R:3]
    [:image:I:3][:id:I:1][...] pbc="T T T" type_names="A B" masses="1.0 1.0" Step=0 Time=0.0
    [type_elements="Ar Kr"] [Origin="x y z"]
with cell vectors a = (Lx, 0, 0), b = (xy, Ly, 0), c = (0, 0, Lz), positions wrapped into the
cell. A 2D system is stored with z = 0, c = (0, 0, 0) and pbc="T T F". `type_names` and `masses`
are pyglass keys (other readers ignore them) that make the round trip exact; without them species
are mapped to type ids in sorted order and masses default to 1. Floats are written with repr
(exact round trip).

ASE (https://wiki.fysik.dtu.dk/ase/ase/io/formatoptions.html#extxyz) needs chemical elements and
keeps velocities as momenta: `write_extxyz(..., elements={"A": "Ar", "B": "Kr"}, momenta=True)` (or
`ase=True`) adds a `Z` column and the `type_elements` key and writes `masses`/`momenta` columns
instead of `velo`. `read_extxyz` reads ASE's files: species, `masses`, `momenta` (v = p / m), and
warns about columns it does not understand.
"""
from __future__ import annotations

import os
import shlex
import warnings

import numpy as np

from pyglass.io._common import FormatError, make_system, type_masses_from_particles, wrap_into_box
from pyglass.io.safe_read import read_text_file
from pyglass.engine.system import Box, System

_TYPES = {"R": float, "I": np.int64, "S": str, "L": bool}
MAX_TYPES = 1 << 16

# chemical symbols by atomic number (index 0: "X", ASE's dummy atom)
ELEMENTS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
            "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho "
            "Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm "
            "Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og").split()
_Z = {s: z for z, s in enumerate(ELEMENTS)}

# per-particle columns read_extxyz interprets (others are returned with with_properties=True, or
# ignored with a warning)
KNOWN_COLUMNS = ("species", "type", "pos", "velo", "vel", "velocities", "momenta", "masses", "mass", "image",
                 "id", "Z")


def _element_map(type_names, elements):
    """Chemical symbol of each type: `elements` is a dict {type name: symbol} or a sequence in type
    order; None maps names that already are chemical symbols to themselves."""
    if elements is None:
        symbols = list(type_names)
    elif isinstance(elements, dict):
        missing = [t for t in type_names if t not in elements]
        if missing:
            raise ValueError(f"elements has no symbol for type(s) {missing}")
        symbols = [str(elements[t]) for t in type_names]
    else:
        symbols = [str(e) for e in elements]
        if len(symbols) != len(type_names):
            raise ValueError(f"elements has {len(symbols)} symbols for {len(type_names)} types {list(type_names)}")
    bad = [s for s in symbols if s not in _Z]
    if bad:
        raise ValueError(f"{bad} are not chemical symbols: pass elements={{type name: symbol}} (e.g. "
                         f"{dict(zip(type_names, ['Ar', 'Kr', 'Xe', 'Ne'][:len(type_names)]))}) so that ASE and other "
                         "readers that need elements can read the file")
    return symbols


def _props_string(props):
    return ":".join(f"{name}:{kind}:{count}" for name, kind, count, _ in props)


def write_extxyz(system: System, path, append: bool = False, properties: dict | None = None,
                 elements=None, momenta: bool = False, ase: bool = False):
    """Write one frame. Positions are wrapped into the box (image counters adjusted). Velocities
    are written when any is nonzero, image counters when any is nonzero, ids when they differ from
    0..N-1. `properties` adds per-particle columns: {name: array of shape (N,) or (N, k)}, float
    or integer.

    For readers that need chemical elements (ASE maps `species` to elements and fails on "A"):
    `elements` = {type name: chemical symbol} (or symbols in type order) adds a `Z` column
    (atomic numbers, which ASE reads in preference to species) and a `type_elements` key, so
    pyglass still reads the file, and a file ASE wrote back, with the pyglass type names.
    `momenta=True` writes ASE's convention, `momenta` (m v) and per-atom `masses` columns, instead
    of `velo` (ASE's get_velocities() is then v). `ase=True` is both: elements (default: the type
    names, which must then be chemical symbols) and momenta."""
    s = system.gather()
    n, d = s.N, s.dim
    if ase:
        momenta = True
        elements = _element_map(s.type_names, elements)
    elif elements is not None:
        elements = _element_map(s.type_names, elements)
    x, images = wrap_into_box(s.box, s.positions, s.images)
    pos = np.zeros((n, 3))
    pos[:, :d] = x
    props = [("species", "S", 1, np.array(s.type_names)[s.types].reshape(n, 1)), ("pos", "R", 3, pos)]
    if elements is not None:
        z = np.array([_Z[e] for e in elements], np.int64)
        props.append(("Z", "I", 1, z[s.types].reshape(n, 1)))
    if momenta:
        m = s.masses
        p = np.zeros((n, 3))
        p[:, :d] = s.velocities * m[:, None]
        props.append(("masses", "R", 1, m.reshape(n, 1)))
        props.append(("momenta", "R", 3, p))
    elif np.any(s.velocities):
        v = np.zeros((n, 3))
        v[:, :d] = s.velocities
        props.append(("velo", "R", 3, v))
    if np.any(images):
        props.append(("image", "I", d, images))
    if not np.array_equal(s.ids, np.arange(n)):
        props.append(("id", "I", 1, s.ids.reshape(n, 1)))
    for name, arr in (properties or {}).items():
        arr = np.asarray(arr)
        if arr.shape[0] != n or arr.ndim > 2:
            raise ValueError(f"property {name!r} must have shape ({n},) or ({n}, k), got {arr.shape}")
        if name in {p[0] for p in props} or not name.isidentifier():
            raise ValueError(f"property name {name!r} is reserved or not a valid identifier")
        arr = arr.reshape(n, -1)
        kind = "I" if np.issubdtype(arr.dtype, np.integer) else "R"
        props.append((name, kind, arr.shape[1], arr))
    h = s.box.h
    cell = h.T.copy()          # rows = cell vectors
    if d == 2:
        cell[2] = 0.0
    lattice = " ".join(repr(float(c)) for c in cell.ravel())
    pbc = "T T T" if d == 3 else "T T F"
    names = " ".join(s.type_names)
    if any(" " in t or not t for t in s.type_names):
        raise ValueError(f"type names must be non-empty without spaces for extended XYZ, got {s.type_names}")
    comment = (f'Lattice="{lattice}" Properties={_props_string(props)} pbc="{pbc}" type_names="{names}" '
               f'masses="{" ".join(map(repr, s.type_masses.tolist()))}" Step={s.step} Time={s.time!r}')
    if elements is not None:
        comment += f' type_elements="{" ".join(elements)}"'
    if np.any(s.box.lo):
        lo = np.zeros(3)
        lo[:d] = s.box.lo
        comment += f' Origin="{" ".join(map(repr, lo.tolist()))}"'
    cols = []
    for name, kind, count, arr in props:
        arr = np.asarray(arr).reshape(n, count)
        if kind == "R":
            cols.append(np.array([" ".join(map(repr, r)) for r in arr.astype(float).tolist()]))
        else:
            cols.append(np.array([" ".join(map(str, r)) for r in arr.tolist()]))
    lines = [str(n), comment] + [" ".join(row) for row in zip(*cols)] if n else [str(n), comment]
    with open(path, "a" if append else "w") as fh:
        fh.write("\n".join(lines) + "\n")


def _parse_comment(path, lineno, text):
    try:
        tokens = shlex.split(text)
    except ValueError as err:
        raise FormatError(path, f"comment line cannot be parsed ({err})", lineno) from None
    info = {}
    for tok in tokens:
        if "=" not in tok:
            info[tok.lower()] = "T"
            continue
        k, v = tok.split("=", 1)
        info[k.lower()] = v
    return info


def _parse_properties(path, lineno, spec):
    parts = spec.split(":")
    if len(parts) % 3:
        raise FormatError(path, f"Properties={spec!r} is not name:type:count triples", lineno)
    out = []
    for k in range(0, len(parts), 3):
        name, kind, count = parts[k:k + 3]
        if kind not in _TYPES or not count.isdigit() or int(count) < 1:
            raise FormatError(path, f"Properties entry {name}:{kind}:{count} has a bad type (R, I, S, L) or count",
                              lineno)
        out.append((name, kind, int(count)))
    return out


def read_extxyz(path, dim: int | None = None, with_properties: bool = False) -> list:
    """Read every frame of an extended XYZ file: list of System (or of (System, extra) where
    `extra` holds the per-particle columns pyglass does not interpret, when with_properties).

    Required: Lattice (periodic cell: a along x, b in the xy plane, c along z), Properties with
    species (or type, or Z) and pos. Understood columns: `velo`/`vel`/`velocities`, ASE's
    `momenta` (v = p / m) and per-atom `masses` (or `mass`; equal within each type), `image`,
    `id`, `Z`. Other columns are returned with with_properties=True, otherwise ignored with a
    warning naming them. Species are mapped to types by the `type_names` key (pyglass), or by
    `type_elements` (a file written with elements= and rewritten by ASE), else in sorted order.
    dim=None: 2D when pbc="T T F" and every z is 0, else 3D (which needs pbc T T T)."""
    path = os.fspath(path)
    frames = []
    lines = read_text_file(path).splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = i + 1
        try:
            n = int(lines[i].split()[0])
        except (ValueError, IndexError):
            raise FormatError(path, f"expected the number of atoms, got {lines[i][:60]!r}", head) from None
        if n < 0:
            raise FormatError(path, f"the number of atoms must be >= 0, got {n}", head)
        if i + 1 >= len(lines):
            raise FormatError(path, "file ends before the comment line", head + 1)
        info = _parse_comment(path, head + 1, lines[i + 1])
        if len(lines) < i + 2 + n:
            raise FormatError(path, f"frame declares {n} atoms but only {len(lines) - i - 2} lines follow", head)
        body = lines[i + 2:i + 2 + n]
        try:
            frames.append(_frame(path, head + 2, info, body, n, dim, True))
        except FormatError:
            raise
        except (ValueError, TypeError, IndexError, OverflowError) as exc:   # a value of the comment line
            raise FormatError(path, f"frame: {(str(exc).splitlines() or [type(exc).__name__])[0][:200]}",
                              head + 1) from None
        i += 2 + n
    if with_properties:
        return frames
    ignored = sorted({k for _, extra in frames for k in extra})
    if ignored:
        warnings.warn(f"{path}: extended XYZ column(s) {', '.join(ignored)} not understood by pyglass and ignored "
                      "(read_extxyz(..., with_properties=True) returns them)", stacklevel=2)
    return [s for s, _ in frames]


def _frame(path, first_line, info, body, n, dim, with_properties):
    comment_line = first_line - 1
    if "lattice" not in info:
        raise FormatError(path, "comment line has no Lattice=\"...\" key (pyglass needs a periodic cell)",
                          comment_line)
    if "properties" not in info:
        raise FormatError(path, "comment line has no Properties= key", comment_line)
    try:
        cell = np.array(info["lattice"].split(), float)
    except ValueError:
        raise FormatError(path, f"Lattice={info['lattice']!r} is not 9 numbers", comment_line) from None
    if cell.size != 9:
        raise FormatError(path, f"Lattice has {cell.size} numbers, expected 9", comment_line)
    cell = cell.reshape(3, 3)
    pbc = info.get("pbc", "T T T").split()
    pbc = [p.upper() in ("T", "TRUE", "1") for p in pbc]
    props = _parse_properties(path, comment_line, info["properties"])
    ncol = sum(c for _, _, c in props)
    tok = [line.split() for line in body]
    for k, t in enumerate(tok):
        if len(t) != ncol:
            raise FormatError(path, f"atom line has {len(t)} columns, Properties declares {ncol}", first_line + k)
    table = np.array(tok, dtype=object).reshape(n, ncol)
    cols = {}
    c0 = 0
    for name, kind, count in props:
        raw = table[:, c0:c0 + count]
        c0 += count
        try:
            if kind == "S":
                arr = raw.astype(str)
            elif kind == "L":
                arr = np.isin(raw.astype(str), ["T", "True", "true", "1"])
            else:
                arr = raw.astype(float)
                if kind == "I":
                    if np.any(arr != np.round(arr)) or np.any(np.abs(arr) >= 2.0 ** 62):
                        raise ValueError
                    arr = arr.astype(np.int64)
        except ValueError:
            for k, row in enumerate(raw):
                try:
                    [float(x) for x in row]
                except ValueError:
                    raise FormatError(path, f"property {name!r}: expected numbers, got {' '.join(row)!r}",
                                      first_line + k) from None
            raise FormatError(path, f"property {name!r} of type I has values that are not integers below 2^62",
                              first_line)
        cols[name] = arr
    if "pos" not in cols:
        raise FormatError(path, "Properties has no 'pos' column", comment_line)
    pos = cols.pop("pos")
    if pos.shape[1] != 3:
        raise FormatError(path, f"'pos' must have 3 components, got {pos.shape[1]}", comment_line)
    if dim not in (None, 2, 3):
        raise ValueError(f"dim must be None, 2 or 3, got {dim!r}")
    if dim is None:
        dim = 2 if (len(pbc) == 3 and pbc[:2] == [True, True] and not pbc[2] and np.all(pos[:, 2] == 0)) else 3
    if dim == 3 and not all(pbc):
        raise FormatError(path, f"pbc={info.get('pbc')!r}: pyglass systems are periodic in every direction",
                          comment_line)
    if dim == 2 and np.any(pos[:, 2] != 0):
        raise FormatError(path, "2D frame (pbc T T F) with nonzero z coordinates", comment_line)
    # cell rows a, b, c must be a = (Lx, 0, 0), b = (xy, Ly, 0), c = (0, 0, Lz)
    off = [cell[0, 1], cell[0, 2], cell[1, 2]] + ([cell[2, 0], cell[2, 1]] if dim == 3 else [])
    if any(v != 0 for v in off):
        raise FormatError(path, "Lattice must be a = (Lx,0,0), b = (xy,Ly,0), c = (0,0,Lz): pyglass boxes are "
                                "orthorhombic plus an xy tilt", comment_line)
    lengths = [cell[0, 0], cell[1, 1]] + ([cell[2, 2]] if dim == 3 else [])
    if any(not v > 0 for v in lengths):
        raise FormatError(path, f"Lattice has non-positive box lengths {lengths}", comment_line)
    lo = None
    if "origin" in info:
        lo = np.array(info["origin"].split(), float)
        if lo.size != 3 or not np.all(np.isfinite(lo)):
            raise FormatError(path, f"Origin={info['origin']!r} is not 3 finite numbers", comment_line)
        lo = lo[:dim]
    if not np.all(np.isfinite(cell)):
        raise FormatError(path, "Lattice holds non-finite numbers", comment_line)
    box = Box(lengths, tilt_xy=cell[1, 0], lo=lo)
    # species -> type ids
    zcol = cols.pop("Z")[:, 0] if "Z" in cols else None
    if "species" in cols or zcol is not None:
        species = cols.pop("species")[:, 0] if "species" in cols else \
            np.array([ELEMENTS[z] if 0 <= z < len(ELEMENTS) else str(z) for z in zcol.tolist()])
        if "type_names" in info:
            names = info["type_names"].split()
        else:
            names = sorted(set(species.tolist()))
        lookup = {nm: k for k, nm in enumerate(names)}
        if "type_elements" in info:   # written with elements=, perhaps rewritten by ASE (species = elements)
            elems = info["type_elements"].split()
            if len(elems) == len(names) and any(sp not in lookup for sp in set(species.tolist())):
                lookup = {nm: k for k, nm in enumerate(elems)}
        unknown = [sp for sp in set(species.tolist()) if sp not in lookup]
        if unknown:
            k = int(np.flatnonzero(species == unknown[0])[0])
            raise FormatError(path, f"species {unknown[0]!r} is not in type_names {names}", first_line + k)
        types = np.array([lookup[sp] for sp in species.tolist()], np.int32)
    elif "type" in cols:
        t = cols.pop("type")[:, 0]
        if n and (t.min() < 0 or t.max() >= MAX_TYPES):
            raise FormatError(path, f"type ids must be 0..{MAX_TYPES - 1}, got {int(t.min())}..{int(t.max())}",
                              comment_line)
        types = t.astype(np.int32)
        names = info["type_names"].split() if "type_names" in info else None
    else:
        raise FormatError(path, "Properties has neither 'species' nor 'type'", comment_line)
    n_types = len(names) if names is not None else (int(types.max()) + 1 if n else 1)
    masses = None
    if "masses" in info:
        masses = np.array(info["masses"].split(), float)
        if masses.size != n_types:
            raise FormatError(path, f"masses has {masses.size} values for {n_types} types", comment_line)
    for key in ("masses", "mass"):
        if key in cols:
            masses = type_masses_from_particles(path, types, cols.pop(key)[:, 0], n_types, what=key)
    vel = None
    for key in ("velo", "vel", "velocities"):
        if key in cols:
            vel = cols.pop(key)[:, :dim]
    if "momenta" in cols:
        p = cols.pop("momenta")[:, :dim]
        if vel is None:
            if masses is None:
                masses = _element_masses(path, comment_line, names, types, n_types)
            vel = p / np.asarray(masses, float)[types][:, None]
    images = cols.pop("image")[:, :dim] if "image" in cols else None
    ids = cols.pop("id")[:, 0] if "id" in cols else None
    s = make_system(path, pos[:, :dim], box, types, names, masses, vel, images, ids=ids)
    if "step" in info:
        s.step = int(info["step"])
    if "time" in info:
        s.time = float(info["time"])
        if not np.isfinite(s.time):
            raise FormatError(path, f"Time={info['time']!r} is not finite", comment_line)
    return (s, cols) if with_properties else s


def _element_masses(path, line, names, types, n_types):
    """Masses for a `momenta` column without masses: those of the chemical elements the species
    name (ASE's default), which needs ASE; otherwise the file must carry masses."""
    names = names if names is not None else [str(k) for k in range(n_types)]
    try:
        from ase.data import atomic_masses, atomic_numbers
    except ImportError:
        atomic_masses = atomic_numbers = None
    if atomic_numbers is None or any(nm not in atomic_numbers for nm in names):
        raise FormatError(path, "a 'momenta' column needs masses to give velocities: add a per-atom 'masses' "
                                "column or a masses=\"m1 m2 ...\" key (element masses are used only when "
                                "every species is a chemical symbol and ASE is installed)", line)
    return np.array([atomic_masses[atomic_numbers[nm]] for nm in names])
