"""TOML input decks: schema, complete validation, resolved defaults, documentation.

A deck describes one run: the `[system]` (read from a file or generated), the `[potential]`
(a catalogue model and its constructor arguments), one or more `[[stage]]` tables run in order
(equilibrate / production with an integrator, or quench with a minimizer, each with optional
`[[stage.observable]]` entries), `[output]` and `[run]`. Every key, its type, its range and its
default are written down once, in `SCHEMA` below; `schema_markdown()` turns that table into
`docs/deck.md` (`python -m pyglass.io.deck --docs > docs/deck.md`).

`load_deck(path)` validates the whole deck before any work starts and returns a `Deck` whose
`data` is the resolved deck (every default filled in). Every mistake raises `DeckError`, whose
message names the file, the line where it can be found, and the key path (`stage[2].integrator.T`;
stages and observables are numbered from 1), with a "did you mean" suggestion for unknown keys.
Potential, integrator and minimizer parameters are those of the Python constructors (looked up by
name, so models and integrators merged later appear automatically); the constructors are called
once during validation so that their own range checks also report before any work starts.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import math
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field

import numpy as np

# ================================================================================ errors


class DeckError(ValueError):
    """A user mistake in a deck (or on the command line that names one). `str()` is one line per
    problem: `file:line: key.path: message`."""

    def __init__(self, message, key=None, file=None, line=None, problems=None):
        self.key, self.file, self.line, self.message = key, file, line, message
        self.problems = problems or [self]
        super().__init__(str(self) if problems is None else "\n".join(_fmt(p) for p in problems))

    def __str__(self):
        if len(self.problems) > 1 or self.problems[0] is not self:
            return "\n".join(_fmt(p) for p in self.problems)
        return _fmt(self)


def _fmt(p: DeckError) -> str:
    where = ""
    if p.file:
        where = f"{p.file}" + (f":{p.line}" if p.line else "") + ": "
    key = f"{p.key}: " if p.key else ""
    return f"{where}{key}{p.message}"


# ================================================================================ catalogues
# deck name -> (module, attribute); looked up lazily, so a class merged later appears by itself.
POTENTIALS = {
    "kob-andersen": ("pyglass.potentials", "KobAndersen"),
    "lennard-jones": ("pyglass.potentials", "LennardJones"),
    "mblj": ("pyglass.potentials", "MBLJ"),
    "soft-disks-2d": ("pyglass.potentials", "SoftDisks2D"),
    "soft-spheres-3d": ("pyglass.potentials", "SoftSpheres3D"),
    "ipl10": ("pyglass.potentials", "IPL10"),
    "sticky-spheres": ("pyglass.potentials", "StickySpheres"),
    "inverse-power": ("pyglass.potentials", "InversePower"),
    "stillinger-weber": ("pyglass.potentials", "StillingerWeber"),
}
INTEGRATORS = {
    "nve": ("pyglass.integrators", "NVE"),
    "nosehoover": ("pyglass.integrators", "NoseHoover"),
    "langevin": ("pyglass.integrators", "Langevin"),
    "npt": ("pyglass.integrators", "NPT"),
}
MINIMIZERS = {
    "fire": ("pyglass.minimizers", "FIRE"),
    "cg": ("pyglass.minimizers", "ConjugateGradient"),
    "sd": ("pyglass.minimizers", "SteepestDescent"),
}
# constructor arguments a deck never sets (filled by the runtime or purely internal)
_HIDDEN_ARGS = {"self", "name", "comm", "args", "kwargs"}


def lookup(catalogue: dict, name: str):
    """The class/function registered under `name`, or None if this build lacks it."""
    module, attr = catalogue[name]
    try:
        return getattr(importlib.import_module(module), attr, None)
    except ImportError:
        return None


# ================================================================================ schema
REQUIRED = object()
_SKIP = "skip"   # applicability verdict: ignore silently (an earlier error explains it)


@dataclass
class Key:
    """One deck key: accepted types, default (REQUIRED if none), documentation and checks."""
    types: tuple
    default: object = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    lo: float | None = None          # lower bound
    lo_open: bool = False            # True: value must be > lo
    hi: float | None = None          # upper bound (inclusive)
    items: type | None = None        # element type of a list
    when: str = ""                   # documentation: the condition under which it applies

    def describe_type(self) -> str:
        names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                 dict: "table"}
        types = [t for t in self.types if not (t is int and float in self.types)]   # int is a number
        t = " or ".join(names.get(t, t.__name__) for t in types)
        if self.items is not None:
            t += f" of {names.get(self.items, self.items.__name__)}"
        return t

    def describe_range(self) -> str:
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in self.choices))
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"<= {self.hi:g}")
        return "; ".join(parts)


NUM = (int, float)
SCHEDULE_KINDS = ("linear", "log")

SYSTEM = {
    "file": Key((str,), None, "read the initial configuration from this file (path relative to the deck)",
                when="instead of generate"),
    "format": Key((str,), "auto", "file format; auto = from the extension (.data/.lmp = lammps-data, "
                  ".xyz/.extxyz = extxyz, .h5/.hdf5 = h5)", ("auto", "lammps-data", "extxyz", "h5"), when="file"),
    "frame": Key((int,), -1, "frame of a multi-frame file (extended XYZ, H5MD trajectory); -1 = the last", when="file"),
    "generate": Key((str,), None, "build the configuration: random non-overlapping packing or simple "
                    "cubic/square lattice", ("random", "lattice"), when="instead of file"),
    "n": Key((int,), REQUIRED, "number of particles", lo=1, when="generate"),
    "density": Key(NUM, REQUIRED, "number density N/V", lo=0, lo_open=True, when="generate"),
    "dim": Key((int,), 3, "dimension", (2, 3), when="generate"),
    "composition": Key((list,), [1.0], "fractions of each species (sum 1)", items=float, when="generate"),
    "type_names": Key((list,), None, "species names (default A, B, ...)", items=str, when="generate"),
    "masses": Key((list,), None, "per-species masses (default 1)", items=float, when="generate"),
    "seed": Key((int,), None, "seed of the generator (default: run.seed)", lo=0, when="generate"),
    "min_distance": Key(NUM, 0.8, "smallest distance between two particles", lo=0, lo_open=True,
                        when='generate = "random"'),
    "jitter": Key(NUM, 0.0, "Gaussian displacement in lattice spacings", lo=0, when='generate = "lattice"'),
    "temperature": Key(NUM, None, "draw Maxwell-Boltzmann velocities at this temperature (zero momentum)",
                       lo=0),
}
_GENERATE_ONLY = ("n", "density", "dim", "composition", "type_names", "masses", "seed", "min_distance", "jitter")

POTENTIAL = {
    "model": Key((str,), REQUIRED, "catalogue model; its other keys are the arguments of the Python "
                 "constructor (ARCHITECTURE.md, potential catalogue)", tuple(POTENTIALS)),
}

STAGE = {
    "name": Key((str,), None, "label used in messages and output groups (default stage<k>)"),
    "kind": Key((str,), REQUIRED, "what the stage does", ("equilibrate", "production", "quench")),
    "steps": Key((int,), REQUIRED, "number of MD steps", lo=0, when="equilibrate, production"),
    "thermo": Key((int,), 1000, "print a thermo line every this many steps (0: none)", lo=0,
                  when="equilibrate, production"),
    "temperature": Key(NUM, None, "redraw Maxwell-Boltzmann velocities at this temperature when the "
                       "stage starts", lo=0),
    "integrator": Key((dict,), REQUIRED, "table: type = " + " | ".join(INTEGRATORS) +
                      ", plus the integrator constructor's arguments (dt, T, tau, ...)",
                      when="equilibrate, production"),
    "minimizer": Key((dict,), REQUIRED, "table: type = " + " | ".join(MINIMIZERS) +
                     ", plus the minimizer constructor's arguments (ftol, ...)", when="quench"),
    "observable": Key((list,), [], "array of tables [[stage.observable]]: type (registered name), "
                      "schedule and the observable's own keys", items=dict, when="equilibrate, production"),
}
_MD_ONLY = ("steps", "thermo", "integrator", "observable")

OBSERVABLE_COMMON = {
    "type": Key((str,), REQUIRED, "registered observable name (see the observable table)"),
    "label": Key((str,), None, "name of its output group (default: the type)"),
    "schedule": Key((str,), "linear", "linear: every `every` steps; log: block-logarithmic with "
                    "multiple time origins", SCHEDULE_KINDS),
    "every": Key((int,), 100, "sampling interval", lo=1, when='schedule = "linear"'),
    "block": Key((int,), 1000, "steps per block; each block start is a time origin", lo=1,
                 when='schedule = "log"'),
    "factor": Key(NUM, 2.0, "ratio of successive lags inside a block", lo=1, lo_open=True,
                  when='schedule = "log"'),
    "start": Key((int,), 0, "first sampled step, counted from the stage start", lo=0),
}

OUTPUT = {
    "path": Key((str,), "out.h5", "H5MD output file (relative to the working directory)"),
    "trajectory": Key((int,), 0, "write a trajectory frame every this many steps of every production "
                      "stage (0: none; a stage's own trajectory observable overrides it)", lo=0),
    "thermo": Key((int,), 100, "store thermo values (T, energies, P) every this many steps of every MD "
                  "stage in /observables/thermo (0: none)", lo=0),
    "checkpoint": Key((int,), 0, "write a checkpoint every this many steps (and at each stage end; "
                      "0: only at stage ends and on SIGTERM)", lo=0),
    "checkpoint_path": Key((str,), None, "checkpoint file (default: the output path with .ckpt.h5)"),
    "author": Key((str,), None, "recorded in /h5md/author (default: the user name)"),
}

RUN = {
    "seed": Key((int,), 12345, "master seed; generator, velocity and replica seeds derive from it", lo=0),
    "ranks_per_replica": Key((int,), 0, "MPI ranks per replica (0: all ranks run one replica; "
                             "P / ranks_per_replica replicas run side by side, replica k with its own "
                             "seed and output file <path>.rep<k>.h5)", lo=0),
    "progress": Key((bool,), True, "progress bar on rank 0 when stderr is a terminal"),
    "signal_check": Key((int,), 10, "check for SIGTERM every this many steps (a collective under MPI)", lo=1),
}

SCHEMA = {"system": SYSTEM, "potential": POTENTIAL, "stage": STAGE, "output": OUTPUT, "run": RUN}
SECTION_DOC = {
    "system": "the initial configuration: `file` or `generate` (exactly one)",
    "potential": "the interaction; `model` picks a catalogue entry",
    "stage": "`[[stage]]`, one or more, run in order",
    "output": "the H5MD output file and checkpoints",
    "run": "seeds and parallel layout",
}
REQUIRED_SECTIONS = ("system", "potential", "stage")

# ================================================================================ observables


@dataclass
class ObservableType:
    """A registered observable: `factory(params, ctx)` returns an object with `due(step)`,
    `sample(system, step, result)` and `write(h5group)`; `params` are its own deck keys.
    `ctx` is a `StageContext` (system, potential, integrator, writer, schedule, comm, stage)."""
    factory: object
    params: dict = field(default_factory=dict)
    doc: str = ""
    schedules: tuple = SCHEDULE_KINDS


def _make_thermo(params, ctx):
    from pyglass.io.h5md import ThermoObservable
    return ThermoObservable(ctx.schedule, ctx.writer, ctx.integrator, ctx.stage_index)


def _make_trajectory(params, ctx):
    from pyglass.io.h5md import TrajectoryObservable
    return TrajectoryObservable(ctx.schedule, ctx.writer, velocities=params["velocities"])


def _make_self_dynamics(params, ctx):
    from pyglass.observables import SelfDynamics
    return SelfDynamics(ctx.schedule, dt=ctx.integrator.dt, q=params["q"], box=ctx.system.box, a=params["a"],
                        remove_drift=params["remove_drift"], max_vectors=params["max_vectors"],
                        seed=params["seed"])


def _make_python(params, ctx):
    target = params["class"]
    mod, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(mod), attr)
    return cls(schedule=ctx.schedule, **params["args"])


OBSERVABLES = {
    "thermo": ObservableType(_make_thermo, {}, "temperature, potential/kinetic/total energy per particle, "
                             "pressure and the conserved energy, written to /observables/thermo at each sample"),
    "trajectory": ObservableType(_make_trajectory, {
        "velocities": Key((bool,), True, "also write velocities"),
    }, "frames of positions, images, velocities and species in /particles/all (H5MD)"),
    "self-dynamics": ObservableType(_make_self_dynamics, {
        "q": Key(NUM, None, "wavenumber of F_s(q, t) (none: no F_s)", lo=0, lo_open=True),
        "a": Key(NUM, 0.3, "overlap length of Q(t)", lo=0, lo_open=True),
        "remove_drift": Key((bool,), False, "remove the centre-of-mass displacement"),
        "max_vectors": Key((int,), 100, "wavevectors averaged in F_s", lo=1),
        "seed": Key((int,), 0, "seed of the wavevector subset", lo=0),
    }, "MSD per species, alpha2, F_s(q,t), Q(t), chi4 over block-log time origins "
       "(pyglass.observables.SelfDynamics; log schedule)", ("log",)),
    "python": ObservableType(_make_python, {
        "class": Key((str,), REQUIRED, "module:Class of an Observable subclass on the Python path"),
        "args": Key((dict,), {}, "keyword arguments of its constructor (schedule is passed for you)"),
    }, "any Observable subclass, constructed as Class(schedule=..., **args)"),
}

# ================================================================================ TOML lines


def _line_index(text: str) -> dict:
    """Map key paths to the line (1-based) where they appear: ('stage', 0, 'integrator', 'T') -> 12.
    A light scan of table headers and `key =` lines; inline tables map to their parent's line."""
    index: dict = {}
    counters: dict = {}
    current: tuple = ()
    header = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    keyline = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")
    for lineno, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            parts = [p.strip().strip("\"'") for p in m.group(2).split(".")]
            path: list = []
            for k, name in enumerate(parts):
                path.append(name)
                if m.group(1) == "[[" and k == len(parts) - 1:
                    key = tuple(path)
                    counters[key] = counters.get(key, -1) + 1
                    # reset nested array counters under this new element
                    for other in list(counters):
                        if len(other) > len(key) and other[:len(key)] == key:
                            del counters[other]
                    path.append(counters[key])
                elif tuple(path) in counters:
                    path.append(counters[tuple(path)])
            current = tuple(path)
            index.setdefault(current, lineno)
            continue
        m = keyline.match(line)
        if m:
            keys = [k.strip().strip("\"'") for k in m.group(1).split(".")]
            index.setdefault(current + tuple(keys), lineno)
    return index


def _path_str(path) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p + 1}]"
        else:
            out += ("." if out else "") + p
    return out


# ================================================================================ validation


class _Validator:
    def __init__(self, text, file):
        self.text, self.file = text, file
        self.lines = _line_index(text)
        self.problems: list[DeckError] = []

    def line(self, path):
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path, message):
        self.problems.append(DeckError(message, _path_str(path), self.file, self.line(path)))

    # -- generic table check against a schema ---------------------------------------
    def table(self, path, given, schema, applicable=None, context=""):
        """Check the keys of `given` against `schema`; returns the resolved table (defaults filled).
        `applicable(name)` -> None if the key applies, else the reason it does not."""
        if not isinstance(given, dict):
            self.error(path, f"must be a table, got {_tname(given)}")
            return {}
        out = {}
        for k, v in given.items():
            if k not in schema:
                self.unknown(path, k, schema, context)
                continue
            reason = applicable(k) if applicable else None
            if reason is _SKIP:
                continue
            if reason:
                self.error(tuple(path) + (k,), reason)
                continue
            value = self.value(tuple(path) + (k,), v, schema[k])
            out[k] = value
        for k, key in schema.items():
            if k in out or k in given:
                continue
            if applicable and applicable(k):
                continue
            if key.default is REQUIRED:
                self.error(tuple(path) + (k,), f"missing required key{context} ({key.doc})")
            else:
                out[k] = _copy(key.default)
        return {k: out[k] for k in schema if k in out}

    def unknown(self, path, k, schema, context=""):
        close = difflib.get_close_matches(k, list(schema), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(schema)}"
        if path and k in SCHEMA:
            hint = (f"; a [{k}] section cannot follow other keys here: in TOML, keys after a [table] header "
                    f"belong to that table (write [{k}] as its own section)")
        self.error(tuple(path) + (k,), f"unknown key{context}{hint}")

    def value(self, path, v, key: Key):
        if v is None:
            return None
        ok_types = key.types
        if isinstance(v, bool) and bool not in ok_types:
            self.error(path, f"must be {key.describe_type()}, got a boolean")
            return None
        if not isinstance(v, ok_types):
            self.error(path, f"must be {key.describe_type()}, got {_tname(v)} {v!r}")
            return None
        if float in ok_types and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if isinstance(v, float) and not math.isfinite(v):
            self.error(path, f"must be finite, got {v}")
            return None
        if key.items is not None and isinstance(v, list):
            for i, item in enumerate(v):
                t = (int, float) if key.items is float else (key.items,)
                if isinstance(item, bool) or not isinstance(item, t):
                    self.error(path, f"element {i + 1} must be {key.describe_type().split(' of ')[-1]}, "
                                     f"got {_tname(item)} {item!r}")
                    return None
            if key.items is float:
                v = [float(x) for x in v]
        if key.choices is not None and v not in key.choices:
            close = difflib.get_close_matches(str(v), [str(c) for c in key.choices], n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.error(path, f"must be {key.describe_range()}, got {v!r}{hint}")
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if key.lo is not None and (v <= key.lo if key.lo_open else v < key.lo):
                self.error(path, f"must be {'>' if key.lo_open else '>='} {key.lo:g}, got {v}")
                return None
            if key.hi is not None and v > key.hi:
                self.error(path, f"must be <= {key.hi:g}, got {v}")
                return None
        return v


def _tname(v):
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def _copy(v):
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


def signature_schema(fn, hidden=()) -> dict:
    """Deck keys of a constructor: its keyword arguments, types inferred from the defaults
    (numbers accept integers or floats, lists accept arrays or a single number, strings and
    untyped defaults are left to the constructor's own checks)."""
    schema = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name in _HIDDEN_ARGS or name in hidden or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        d = p.default
        if d is inspect.Parameter.empty:
            schema[name] = Key((str, int, float, bool, list, dict), REQUIRED, "required constructor argument")
        elif isinstance(d, bool):
            schema[name] = Key((bool,), d)
        elif isinstance(d, int):
            schema[name] = Key((int,), d)
        elif isinstance(d, float):
            schema[name] = Key(NUM, d)
        elif isinstance(d, (tuple, list)):
            schema[name] = Key((list, int, float), _to_list(d))
        else:   # str, None or other: accept any TOML value, the constructor decides
            schema[name] = Key((str, int, float, bool, list, dict), d)
    return schema


def _to_list(v):
    if isinstance(v, (tuple, list)):
        return [_to_list(x) for x in v]
    return v


def _constructor_error(val, path, exc, params):
    """Turn a constructor's ValueError into a deck error on the parameter it names, if any."""
    msg = str(exc)
    for k in sorted(params, key=len, reverse=True):
        if re.search(rf"\b{re.escape(k)}\b", msg):
            val.error(tuple(path) + (k,), msg)
            return
    val.error(path, msg)


class Deck:
    """A validated deck. `data` is the resolved deck (every default filled in); `text` the file as
    written; `path` its location (relative paths in the deck are resolved against its folder)."""

    def __init__(self, data, text, path):
        self.data, self.text, self.path = data, text, path

    @property
    def folder(self):
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def resolve_path(self, p):
        return p if os.path.isabs(p) else os.path.join(self.folder, p)

    def to_toml(self) -> str:
        return dump_toml(self.data, header=f"# resolved deck: {self.path} (every default filled in)\n")

    # -- object builders (validated already) ---------------------------------------
    def build_potential(self):
        params = dict(self.data["potential"])
        cls = lookup(POTENTIALS, params.pop("model"))
        return cls(**_clean(params))

    def build_integrator(self, stage):
        params = dict(stage["integrator"])
        cls = lookup(INTEGRATORS, params.pop("type"))
        return cls(**_clean(params))

    def build_minimizer(self, stage):
        params = dict(stage["minimizer"])
        cls = lookup(MINIMIZERS, params.pop("type"))
        return cls(**_clean(params))


def _clean(params):
    """Constructor kwargs: drop keys left unset (None), turn nested lists to what they were."""
    return {k: v for k, v in params.items() if v is not None}


def load_deck(path) -> Deck:
    """Read and validate a deck file. Raises DeckError (all problems, one per line)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DeckError("deck file not found", file=path) from None
    except IsADirectoryError:
        raise DeckError("is a directory, not a deck file", file=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeckError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    return parse_deck(text, path)


def parse_deck(text: str, path: str | None = None) -> Deck:
    """Validate deck text (see load_deck); `path` is used in messages and to resolve file paths."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        if m:
            msg += f" (column {m.group(2)})"
        raise DeckError(f"TOML syntax error: {msg}", file=path, line=line) from None
    val = _Validator(text, path)
    data = validate(raw, val, folder=os.path.dirname(os.path.abspath(path)) if path else os.getcwd())
    if val.problems:
        raise DeckError(val.problems[0].message, val.problems[0].key, path, val.problems[0].line,
                        problems=val.problems)
    return Deck(data, text, path)


def validate(raw: dict, val: _Validator, folder: str) -> dict:
    data: dict = {}
    for k in raw:
        if k not in SCHEMA:
            val.unknown((), k, SCHEMA, " (top-level section)")
    for sec in REQUIRED_SECTIONS:
        if sec not in raw:
            val.error((sec,), f"missing required section [{sec}]" if sec != "stage" else
                      "missing: the deck needs at least one [[stage]]")
    data["run"] = val.table(("run",), raw.get("run", {}), RUN)
    data["output"] = val.table(("output",), raw.get("output", {}), OUTPUT)
    if "system" in raw:
        data["system"] = _validate_system(val, raw["system"], data["run"], folder)
    if "potential" in raw:
        data["potential"] = _validate_potential(val, raw["potential"], data.get("system"))
    stages = raw.get("stage", [])
    if "stage" in raw and not (isinstance(stages, list) and all(isinstance(s, dict) for s in stages)):
        val.error(("stage",), "must be an array of tables: write each stage as [[stage]]")
        stages = []
    elif "stage" in raw and not stages:
        val.error(("stage",), "the deck needs at least one [[stage]]")
    data["stage"] = [_validate_stage(val, k, s) for k, s in enumerate(stages)]
    names = [s.get("name") for s in data["stage"]]
    for k, n in enumerate(names):
        if n is not None and names.index(n) != k:
            val.error(("stage", k, "name"), f"duplicate stage name {n!r} (also stage[{names.index(n) + 1}])")
    return data


def _validate_system(val, given, run, folder):
    path = ("system",)
    if not isinstance(given, dict):
        val.error(path, f"must be a table, got {_tname(given)}")
        return {}
    has_file, has_gen = "file" in given, "generate" in given
    if has_file == has_gen:
        val.error(path, "give exactly one of 'file' (read a configuration) or 'generate' (build one)"
                  + (", not both" if has_file else ""))
        return {}

    def applicable(k):
        if has_file and k in _GENERATE_ONLY:
            return "only applies with 'generate' (the configuration comes from 'file')"
        if has_gen and k in ("format", "frame"):
            return "only applies with 'file'"
        gen = given.get("generate")
        if k == "min_distance" and gen == "lattice":
            return "only applies with generate = \"random\""
        if k == "jitter" and gen == "random":
            return "only applies with generate = \"lattice\""
        return None

    out = val.table(path, given, SYSTEM, applicable)
    if has_file and out.get("file"):
        f = out["file"]
        full = f if os.path.isabs(f) else os.path.join(folder, f)
        if not os.path.isfile(full):
            val.error(path + ("file",), f"file not found: {full}")
        elif out.get("format") == "auto" and _format_of(full) is None:
            val.error(path + ("format",), f"cannot tell the format of {f!r} from its extension; set "
                      "format = \"lammps-data\" | \"extxyz\" | \"h5\"")
    if has_gen:
        comp = out.get("composition")
        if comp is not None:
            if any(c < 0 for c in comp) or not math.isclose(sum(comp), 1.0, rel_tol=1e-9, abs_tol=1e-12):
                val.error(path + ("composition",), f"must be non-negative fractions summing to 1, got {comp}")
            nt = len(comp)
            for k in ("type_names", "masses"):
                v = out.get(k)
                if v is not None and len(v) != nt:
                    val.error(path + (k,), f"has {len(v)} entries but composition has {nt} species")
            if out.get("masses") is not None and any(m <= 0 for m in out["masses"]):
                val.error(path + ("masses",), f"must be positive, got {out['masses']}")
        if out.get("seed") is None:
            out["seed"] = run.get("seed", RUN["seed"].default)
    return out


def _format_of(path):
    ext = os.path.splitext(path)[1].lower()
    return {".data": "lammps-data", ".lmp": "lammps-data", ".lammps": "lammps-data", ".xyz": "extxyz",
            ".extxyz": "extxyz", ".h5": "h5", ".hdf5": "h5", ".h5md": "h5"}.get(ext)


def _validate_potential(val, given, system):
    path = ("potential",)
    if not isinstance(given, dict):
        val.error(path, f"must be a table, got {_tname(given)}")
        return {}
    model = val.value(path + ("model",), given.get("model"), POTENTIAL["model"]) if "model" in given else None
    if "model" not in given:
        val.error(path + ("model",), "missing required key (one of " + ", ".join(POTENTIALS) + ")")
        return {}
    if model is None:
        return {}
    cls = lookup(POTENTIALS, model)
    if cls is None:
        val.error(path + ("model",), f"model {model!r} is not available in this build "
                  f"({'.'.join(POTENTIALS[model])} not found)")
        return {}
    schema = {"model": POTENTIAL["model"], **signature_schema(cls)}
    out = val.table(path, given, schema, context=f" for model {model!r}")
    n_before = len(val.problems)
    if n_before == 0 or not any(p.key.startswith("potential") for p in val.problems if p.key):
        try:
            pot = cls(**_clean({k: v for k, v in out.items() if k != "model"}))
        except (ValueError, TypeError) as exc:
            _constructor_error(val, path, exc, out)
        else:
            _check_compatible(val, pot, system, model)
    return out


def _check_compatible(val, pot, system, model):
    """Dimension and species count of a generated system against the potential."""
    if not system or system.get("generate") is None:
        return
    pdim = getattr(pot, "dim", None)
    if pdim is not None and system.get("dim") is not None and pdim != system["dim"]:
        val.error(("system", "dim"), f"is {system['dim']} but potential {model!r} is {pdim}-dimensional")
    cut = getattr(pot, "cutoffs", None)
    comp = system.get("composition")
    if cut is not None and comp is not None and len(comp) > np.shape(cut)[0]:
        val.error(("system", "composition"), f"has {len(comp)} species but potential {model!r} "
                  f"defines {np.shape(cut)[0]}")


def _validate_stage(val, k, given):
    path = ("stage", k)
    kind = given.get("kind")
    md = kind in ("equilibrate", "production")

    def applicable(key):
        if kind == "quench" and key in _MD_ONLY:
            return "does not apply to a quench stage (kind = \"quench\")"
        if md and key == "minimizer":
            return f"only applies to a quench stage (this stage is kind = \"{kind}\")"
        if kind not in ("equilibrate", "production", "quench") and key in _MD_ONLY + ("minimizer",):
            return _SKIP
        return None

    out = val.table(path, given, STAGE, applicable)
    if out.get("name") is None:
        out["name"] = f"stage{k + 1}"
    if md and isinstance(out.get("integrator"), dict):
        out["integrator"] = _validate_catalogue_table(val, path + ("integrator",), out["integrator"],
                                                      INTEGRATORS, "integrator")
    if kind == "quench" and isinstance(out.get("minimizer"), dict):
        out["minimizer"] = _validate_catalogue_table(val, path + ("minimizer",), out["minimizer"],
                                                     MINIMIZERS, "minimizer")
    if md and isinstance(out.get("observable"), list):
        obs = [_validate_observable(val, path + ("observable", j), o) for j, o in enumerate(out["observable"])]
        labels = [o.get("label") for o in obs]
        for j, lab in enumerate(labels):
            if lab is not None and labels.index(lab) != j:
                val.error(path + ("observable", j, "label"),
                          f"duplicate observable label {lab!r} in this stage; set distinct 'label's")
        out["observable"] = obs
    return out


def _validate_catalogue_table(val, path, given, catalogue, what):
    if "type" not in given:
        val.error(path + ("type",), f"missing required key (the {what}: one of {', '.join(catalogue)})")
        return given
    name = given["type"]
    if not isinstance(name, str) or name not in catalogue:
        close = difflib.get_close_matches(str(name), list(catalogue), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        val.error(path + ("type",), f"must be one of {', '.join(catalogue)}, got {name!r}{hint}")
        return given
    cls = lookup(catalogue, name)
    if cls is None:
        module, attr = catalogue[name]
        val.error(path + ("type",), f"{what} {name!r} is not available in this build ({module}.{attr} not found)")
        return given
    schema = {"type": Key((str,), REQUIRED, f"the {what}", tuple(catalogue)), **signature_schema(cls)}
    n0 = len(val.problems)
    out = val.table(path, given, schema, context=f" for {what} {name!r}")
    if len(val.problems) == n0:
        try:
            cls(**_clean({k: v for k, v in out.items() if k != "type"}))
        except (ValueError, TypeError) as exc:
            _constructor_error(val, path, exc, out)
    return out


def _validate_observable(val, path, given):
    if not isinstance(given, dict):
        val.error(path, f"must be a table, got {_tname(given)}")
        return {}
    otype = given.get("type")
    if otype is None:
        val.error(path + ("type",), "missing required key (one of " + ", ".join(OBSERVABLES) + ")")
        return {}
    if otype not in OBSERVABLES:
        close = difflib.get_close_matches(str(otype), list(OBSERVABLES), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        val.error(path + ("type",), f"unknown observable {otype!r}{hint} (registered: {', '.join(OBSERVABLES)})")
        return {}
    reg = OBSERVABLES[otype]
    schema = {**OBSERVABLE_COMMON, **reg.params}
    sched = given.get("schedule", "linear" if "linear" in reg.schedules else reg.schedules[0])

    def applicable(k):
        if k in ("every",) and sched == "log":
            return "only applies with schedule = \"linear\""
        if k in ("block", "factor") and sched == "linear":
            return "only applies with schedule = \"log\""
        return None

    out = val.table(path, given, schema, applicable, context=f" for observable {otype!r}")
    if "schedule" not in given:
        out["schedule"] = sched
    if out.get("schedule") is not None and out["schedule"] not in reg.schedules:
        val.error(path + ("schedule",), f"observable {otype!r} needs schedule = " +
                  " or ".join(f'"{s}"' for s in reg.schedules))
    if out.get("label") is None:
        out["label"] = otype
    if otype == "python" and isinstance(out.get("class"), str):
        mod, sep, attr = out["class"].partition(":")
        if not sep or not mod or not attr:
            val.error(path + ("class",), f"must be 'module:Class', got {out['class']!r}")
        else:
            try:
                cls = getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError) as exc:
                val.error(path + ("class",), f"cannot import {out['class']!r}: {exc}")
            else:
                if not all(callable(getattr(cls, m, None)) for m in ("due", "sample", "write")):
                    val.error(path + ("class",), f"{out['class']!r} lacks due/sample/write methods")
    return out


def make_schedule(obs: dict, stage_start: int):
    """The Schedule of a resolved observable table; `start` counts from the stage's first step."""
    from pyglass.observables.base import LinearSchedule, LogSchedule
    start = stage_start + int(obs.get("start", 0))
    if obs["schedule"] == "log":
        return LogSchedule(obs["block"], obs["factor"], start=start)
    return LinearSchedule(obs["every"], start=start)


# ================================================================================ TOML out


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    if isinstance(v, np.generic):
        return _toml_value(v.item())
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else _toml_value(k)


def dump_toml(data: dict, header: str = "") -> str:
    """TOML text of a resolved deck (tables, arrays of tables, scalars, arrays; None = unset,
    written as a comment). tomllib.loads(dump_toml(d)) gives d back without the unset keys."""
    lines = [header.rstrip("\n")] if header else []

    def emit_table(name, table, array=False):
        lines.append("")
        lines.append(f"[[{name}]]" if array else f"[{name}]")
        subs = []
        for k, v in table.items():
            if isinstance(v, dict) and v and not array_of_tables(v):
                subs.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                subs.append((k, v, True))
            elif v is None:
                lines.append(f"# {_toml_key(k)} = (unset)")
            else:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v, arr in subs:
            if arr:
                for item in v:
                    emit_table(f"{name}.{_toml_key(k)}", item, array=True)
            else:
                emit_table(f"{name}.{_toml_key(k)}", v)

    def array_of_tables(v):
        return False

    for sec in ("system", "potential", "stage", "output", "run"):
        if sec not in data:
            continue
        if sec == "stage":
            for st in data[sec]:
                emit_table("stage", st, array=True)
        else:
            emit_table(sec, data[sec])
    return "\n".join(lines).lstrip("\n") + "\n"


# ================================================================================ docs


def _default_text(key: Key):
    if key.default is REQUIRED:
        return "**required**"
    if key.default is None:
        return "unset"
    return f"`{_toml_value(key.default)}`"


def _table_md(schema: dict) -> list:
    rows = ["| key | type | default | allowed | applies | meaning |", "|---|---|---|---|---|---|"]
    for k, key in schema.items():
        rows.append(f"| `{k}` | {key.describe_type()} | {_default_text(key)} | {key.describe_range()} | "
                    f"{key.when} | {key.doc} |")
    return rows


def _catalogue_md(catalogue: dict, hidden=()) -> list:
    rows = ["| type | constructor | keys (default) |", "|---|---|---|"]
    for name, (module, attr) in catalogue.items():
        fn = lookup(catalogue, name)
        if fn is None:
            rows.append(f"| `{name}` | `{module}.{attr}` | (not in this build) |")
            continue
        keys = ", ".join(f"`{k}` ({'required' if v.default is REQUIRED else _toml_value(v.default) if v.default is not None else 'unset'})"
                         for k, v in signature_schema(fn, hidden).items())
        rows.append(f"| `{name}` | `{module}.{attr}` | {keys} |")
    return rows


def schema_markdown() -> str:
    """docs/deck.md, generated from SCHEMA and the catalogues (one place for every default)."""
    out = ["# Input decks", "",
           "<!-- generated by `python -m pyglass.io.deck --docs > docs/deck.md`; edit pyglass/io/deck.py -->", "",
           "A deck is a TOML file run by `pyglass run deck.toml` (or `mpirun -n P pyglass run deck.toml`).",
           "`pyglass run --dry-run deck.toml` validates it and prints it with every default filled in.",
           "The whole deck is validated before any work starts; every mistake is reported as",
           "`file:line: key.path: message` (stages and observables numbered from 1, e.g.",
           "`stage[2].integrator.T`), unknown keys with a suggestion.", "",
           "Units are reduced (Lennard-Jones) units, k_B = 1. Steps count globally across stages;",
           "observable `start` counts from the start of its stage.", ""]
    for sec, schema in SCHEMA.items():
        title = "[[stage]]" if sec == "stage" else f"[{sec}]"
        out += [f"## `{title}`", "", SECTION_DOC[sec], ""] + _table_md(schema) + [""]
        if sec == "potential":
            out += ["### Potential models", "", "Keys are the arguments of the Python constructor.", ""]
            out += _catalogue_md(POTENTIALS) + [""]
        if sec == "stage":
            out += ["### `[stage.integrator]`", ""] + _catalogue_md(INTEGRATORS) + [""]
            out += ["### `[stage.minimizer]`", ""] + _catalogue_md(MINIMIZERS) + [""]
            out += ["### `[[stage.observable]]`", "", "Keys common to every observable:", ""]
            out += _table_md(OBSERVABLE_COMMON) + ["", "Registered observables (`pyglass.io.deck.OBSERVABLES`):", ""]
            for name, reg in OBSERVABLES.items():
                out += [f"#### `{name}`", "", reg.doc + ". Schedules: " + ", ".join(reg.schedules) + ".", ""]
                if reg.params:
                    out += _table_md(reg.params) + [""]
    out += ["## Output layout", "",
            "H5MD 1.1 style (`pyglass/io/h5md.py`): `/h5md` (version, author, creator, `provenance` with the deck",
            "text, seeds, ranks, date, git commit, status), `/particles/all/{position,image,velocity,species}/"
            "{value,step,time}`,",
            "`/particles/all/box` (`edges/{value,step,time}` as d x d edge vectors), `/observables/thermo/<column>/"
            "{value,step,time}`,",
            "`/pyglass/<stage>/<label>/...` for library observables and stage results (README: reading with "
            "MDAnalysis, ASE). Each frame is flushed when written.", "",
            "## Checkpoints and restart", "",
            "A checkpoint (`output.checkpoint` steps, each stage end, SIGTERM) holds positions, images, velocities,",
            "box, step and time, the stage index and step within it, the integrator (thermostat/RNG) state and",
            "the state of the stage's observables (pickled: restart only from files you trust).",
            "`pyglass run deck.toml --restart file.ckpt.h5` continues bit for bit on the same number of ranks",
            "(neighbour lists are rebuilt at every checkpoint step in every run so both paths sum forces in the",
            "same order). The output file is reopened and frames after the checkpoint step are dropped.", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    if "--docs" in sys.argv:
        sys.stdout.write(schema_markdown())
    else:
        print("usage: python -m pyglass.io.deck --docs", file=sys.stderr)
