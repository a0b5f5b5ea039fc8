"""Deck validation: the whole deck is checked before any work starts.

`load_deck(path)` returns a `Deck` whose `data` is the resolved deck (every default filled in) and
whose `states` are the resolved decks of the study's state points. Every mistake raises
`DeckError`, one line per problem: `file:line: key.path: message` (stages and observables numbered
from 1), with a "did you mean" suggestion for unknown keys. Potential, integrator and minimizer
parameters are those of the registered constructors, which are called once here so that their own
range checks report before any work. The pipeline is checked as a whole: a stage that needs an
inherent structure must follow a quench, fields named by `overlap`/`summary` must be written by an
earlier stage, summary stages come last, a direct factorisation must fit in memory.
"""
from __future__ import annotations

import copy
import difflib
import importlib
import math
import os
import re
import tomllib

import numpy as np

from pyglass.workflow.deck.errors import DeckError
from pyglass.workflow.deck.schema import (_GENERATE_ONLY, _SKIP, OBSERVABLE_COMMON, OUTPUT, POTENTIAL,  # noqa: F401
                                    REQUIRED, REQUIRED_SECTIONS, RUN, SCHEMA, STAGE_COMMON, STATE, STUDY, SYSTEM,
                                    Key, signature_schema)
from pyglass.workflow.deck.toml import comment_text, dump_toml
from pyglass.io.safe_read import MAX_NESTING, nested_depth, read_text_file
from pyglass.registry import INTEGRATORS, MINIMIZERS, OBSERVABLES, POTENTIALS, STAGES

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
    def __init__(self, text, file, lines=None):
        self.text, self.file = text, file
        self.lines = _line_index(text) if lines is None else lines
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

    def __init__(self, data, text, path, states=None):
        self.data, self.text, self.path = data, text, path
        self.states = states if states is not None else [("", data)]   # [(label, resolved deck)]

    def with_data(self, data) -> "Deck":
        """The same deck file resolved differently (one state point of a study)."""
        return Deck(data, self.text, self.path, self.states)

    @property
    def study(self) -> dict:
        return self.data.get("study") or {"samples": 1, "source": "seeds", "state": [], "confidence": 0.9,
                                          "spacing": 1000, "draw_after": None}

    @property
    def is_study(self) -> bool:
        """More than one (state point, sample) unit: per-unit files plus an index file."""
        return len(self.states) * int(self.study["samples"]) > 1 or bool(self.study["state"])

    @property
    def folder(self):
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def resolve_path(self, p):
        return p if os.path.isabs(p) else os.path.join(self.folder, p)

    def to_toml(self) -> str:
        return dump_toml(self.data, header=f"# resolved deck: {comment_text(self.path)} (every default filled in)\n")

    # -- object builders (validated already) ---------------------------------------
    def build_potential(self):
        params = dict(self.data["potential"])
        cls = POTENTIALS[params.pop("model")]
        return cls(**_clean(params))

    def build_integrator(self, stage):
        params = dict(stage["integrator"])
        cls = INTEGRATORS[params.pop("type")]
        return cls(**_clean(params))

    def build_minimizer(self, stage):
        params = dict(stage["minimizer"])
        cls = MINIMIZERS[params.pop("type")]
        return cls(**_clean(params))


def _clean(params):
    """Constructor kwargs: drop keys left unset (None), turn nested lists to what they were."""
    return {k: v for k, v in params.items() if v is not None}


def load_deck(path) -> Deck:
    """Read and validate a deck file. Raises DeckError (all problems, one per line)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DeckError("deck file not found", file=path)
    if os.path.isdir(path):
        raise DeckError("is a directory, not a deck file", file=path)
    try:
        text = read_text_file(path, _DeckFileError, MAX_DECK_BYTES, "deck file")
    except _DeckFileError as exc:
        raise DeckError(exc.message, file=path) from None
    return parse_deck(text, path)


MAX_DECK_BYTES = 16 << 20


class _DeckFileError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message.split(": ", 1)[-1]


def parse_deck(text: str, path: str | None = None) -> Deck:
    """Validate deck text (see load_deck); `path` is used in messages and to resolve file paths."""
    depth = nested_depth(text)
    if depth > MAX_NESTING:
        raise DeckError(f"arrays or inline tables nested deeper than {MAX_NESTING} levels", file=path)
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise DeckError(f"arrays or inline tables nested too deeply", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        if m:
            msg += f" (column {m.group(2)})"
        raise DeckError(f"TOML syntax error: {msg}", file=path, line=line) from None
    val = _Validator(text, path)
    folder = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
    data = validate(raw, val, folder=folder)
    if val.problems:
        raise DeckError(val.problems[0].message, val.problems[0].key, path, val.problems[0].line,
                        problems=val.problems)
    return Deck(data, text, path, resolve_states(raw, data, path, text, folder))


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
    if "study" in raw:
        data["study"] = _validate_study(val, raw["study"], data["stage"])
        if data["study"].get("source") == "frames" and not (data.get("system") or {}).get("file"):
            val.error(("study", "source"), 'source = "frames" re-analyses the frames of [system] file: give file')
    if not val.problems:
        _check_pipeline(val, data)
    return data


def _validate_study(val, given, stages):
    path = ("study",)
    source = given.get("source", "seeds") if isinstance(given, dict) else "seeds"

    def applicable(k):
        if k in ("draw_after", "spacing") and source != "trajectory":
            return 'only applies with source = "trajectory"'
        return None

    out = val.table(path, given, STUDY, applicable)
    if source == "trajectory":
        name = out.get("draw_after")
        md = [s["name"] for s in stages if s.get("kind") in MD_KINDS]
        if name is None:
            val.error(path + ("draw_after",), "missing required key (the MD stage the samples are drawn from: "
                      + (", ".join(repr(m) for m in md) or "the deck has no MD stage") + ")")
        elif name not in md:
            val.error(path + ("draw_after",), f"must name an MD stage of this deck ({', '.join(map(repr, md))}), "
                      f"got {name!r}")
    labels = set()
    for j, st in enumerate(out.get("state") or []):
        res = val.table(path + ("state", j), st, STATE)
        lab = res.get("label")
        if lab is not None:
            if not re.fullmatch(r"[A-Za-z0-9_.+\-]+", lab):
                val.error(path + ("state", j, "label"), f"must be letters, digits, '_', '.', '+' or '-' "
                          f"(it names files and groups), got {lab!r}")
            elif lab in labels:
                val.error(path + ("state", j, "label"), f"duplicate state label {lab!r}")
            labels.add(lab)
        out["state"][j] = res
    return out


def set_path(raw: dict, dotted: str, any_section: bool = False):
    """(container, key) of a `study.state.set` path in a raw deck: section.key..., with stages named
    `stage.<name>.key...` and arrays of tables indexed (`stage.<name>.observable.0.q`); other sections only with any_section
    (whole-deck overrides such as pyglass.workflow.reproduce's); raises KeyError with the reason."""
    parts = dotted.split(".")
    if not any_section and parts[0] not in ("system", "potential", "stage", "output") and dotted != "study.spacing":
        raise KeyError(f"must start with system., potential., stage.<name>. or output. (or be study.spacing), "
                       f"got {dotted!r}")
    if parts[0] == "stage":
        if len(parts) < 3:
            raise KeyError(f"must be stage.<name>.<key>..., got {dotted!r}")
        stages = raw.get("stage", [])
        names = [s.get("name", f"stage{k + 1}") for k, s in enumerate(stages)]
        if parts[1] not in names:
            raise KeyError(f"names no stage of this deck ({', '.join(names)}): {parts[1]!r}")
        node, rest = stages[names.index(parts[1])], parts[2:]
    else:
        node, rest = raw.setdefault(parts[0], {}), parts[1:]
    for k, p in enumerate(rest[:-1]):
        if isinstance(node, list):   # an array of tables, addressed by index: stage.<name>.observable.0.q
            if not p.isdigit() or int(p) >= len(node):
                raise KeyError(f"{p!r} in {dotted!r} must index the {len(node)} table(s) of {rest[k - 1]!r}")
            node = node[int(p)]
        elif isinstance(node.get(p, {}), (dict, list)):
            node = node.setdefault(p, {})
        else:
            raise KeyError(f"{p!r} in {dotted!r} is not a table")
        if isinstance(node, list) and k == len(rest) - 2:
            raise KeyError(f"{dotted!r} names the array {p!r}: add the index of one of its tables")
    return node, rest[-1]


def resolve_states(raw: dict, data: dict, file, text, folder) -> list:
    """[(label, resolved deck)] for the study's state points ([("", data)] without any): each is the
    deck with the state's `set` paths applied, validated like the deck itself; problems are reported
    on the `study.state[j].set` key that caused them."""
    states = (data.get("study") or {}).get("state") or []
    if not states:
        return [("", data)]
    out, problems = [], []
    lines = _line_index(text)   # once: each state's validation reuses it (a study may have thousands)
    # each state validates the deck without the other states' tables (copying and re-validating them
    # for every state made validation quadratic in their number); all states share the resolved list
    rest = {k: v for k, v in raw.items() if k != "study"}
    study = {k: v for k, v in raw["study"].items() if k != "state"}
    for j, st in enumerate(states):
        mod = copy.deepcopy(rest)
        mod["study"] = copy.deepcopy(study)
        key = ("study", "state", j, "set")
        for dotted, value in st["set"].items():
            try:
                node, k = set_path(mod, dotted)
            except KeyError as exc:
                problems.append(DeckError(str(exc.args[0]), _path_str(key + (dotted,)), file,
                                          lines.get(key[:3] + ("set",))))
                continue
            node[k] = value
        if problems:
            continue
        sub = _Validator(text, file, lines)
        resolved = validate(mod, sub, folder)
        if "study" in resolved:
            resolved["study"]["state"] = data["study"]["state"]
        for p in sub.problems:
            problems.append(DeckError(f"state {st['label']!r}: {p.key}: {p.message}", _path_str(key), file,
                                      lines.get(key[:3]) or p.line))
        out.append((st["label"], resolved))
    if problems:
        raise DeckError(problems[0].message, problems[0].key, file, problems[0].line, problems=problems)
    return out


def _check_pipeline(val, data):
    """Whole-pipeline rules: stages needing an inherent structure follow a quench (with no MD in
    between), fields named by later stages exist, summary stages come last, estimates fit."""
    at_is = False
    fields: dict = {}
    summary_seen = None
    n, dim = _system_size(data.get("system", {}))
    val.system = data.get("system", {})   # density and species for estimates (softness grids)
    for k, st in enumerate(data["stage"]):
        cls = STAGES.get(st.get("kind"))
        if cls is None:
            continue
        path = ("stage", k)
        if cls.per_sample and summary_seen is not None:
            val.error(path + ("kind",), f"a {st['kind']} stage cannot follow the summary stage "
                      f"{summary_seen!r}: summary stages run once after every sample, so they come last")
        if not cls.per_sample:
            summary_seen = st["name"]
        if cls.needs_inherent(st) and not at_is:
            val.error(path + ("kind",), f"stage {st['name']!r} ({st['kind']}) needs an inherent structure: place "
                      "a quench stage before it (with no MD stage in between)")
        cls.check_pipeline(val, path, st, fields)
        if n is not None:
            cls.check_cost(val, path, st, n, dim)
        if cls.leaves == "inherent":
            at_is = True
        elif cls.leaves == "moved":
            at_is = False
        for f, shape in cls.fields(st).items():
            fields[f"{st['name']}/{f}"] = shape


def _system_size(system):
    """(N, dim) of a generated system, (None, None) when it comes from a file (known at run time)."""
    if system.get("generate") is not None and system.get("n") is not None:
        return int(system["n"]), int(system.get("dim") or 3)
    return None, None

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
                      "format = \"lammps-data\" | \"lammps-dump\" | \"extxyz\" | \"h5\"")
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
            ".dump": "lammps-dump", ".lammpstrj": "lammps-dump",
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
    if model not in POTENTIALS:
        close = difflib.get_close_matches(model, POTENTIALS.names(), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        val.error(path + ("model",), f"must be one of {', '.join(POTENTIALS)}, got {model!r}{hint}")
        return {}
    cls = POTENTIALS[model]
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
    """A generated system against the potential (Potential.incompatibility), before any work."""
    if not system or system.get("generate") is None or not hasattr(pot, "incompatibility"):
        return
    comp = system.get("composition")
    bad = pot.incompatibility(system.get("dim"), None if comp is None else len(comp))
    if bad:
        key = "dim" if bad[0] == "dim" else "composition"
        val.error(("system", key), f"{bad[1]} (model {model!r})")


MD_KINDS = ("md", "equilibrate", "production")


def _a(word):
    return "an" if word[:1] in "aeiou" else "a"


def _validate_stage(val, k, given):
    path = ("stage", k)
    kind = given.get("kind")
    if "kind" not in given:
        val.error(path + ("kind",), "missing required key (the stage kind: one of " + ", ".join(STAGES) + ")")
        return {"name": given.get("name") or f"stage{k + 1}"}
    if not isinstance(kind, str) or kind not in STAGES:
        close = difflib.get_close_matches(str(kind), STAGES.names(), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        val.error(path + ("kind",), f"must be one of {', '.join(STAGES)}, got {kind!r}{hint}")
        return {"name": given.get("name") or f"stage{k + 1}"}
    cls = STAGES[kind]
    schema = {**STAGE_COMMON, **cls.keys}
    out = {}
    for key in list(given):
        if key not in schema:
            owners = [n for n, c in STAGES.items() if key in c.keys and c is not cls]
            owners = list(dict.fromkeys(owners))
            if owners:
                also = f" (also {', '.join(owners[1:])})" if owners[1:] else ""
                val.error(path + (key,), f"does not apply to {_a(kind)} {kind} stage (kind = \"{kind}\"); it only "
                          f"applies to {_a(owners[0])} {owners[0]} stage{also}")
                given = {g: v for g, v in given.items() if g != key}
    out = val.table(path, given, schema, cls.applicable(given), context=f" for a {kind} stage")
    out["kind"] = kind
    if out.get("name") is None:
        out["name"] = f"stage{k + 1}"
    elif not re.fullmatch(r"[A-Za-z0-9_.+\-]+", out["name"]):
        val.error(path + ("name",), f"must be letters, digits, '_', '.', '+' or '-' (it names output groups), "
                  f"got {out['name']!r}")
    cls.check(val, path, out)
    return {"name": out.pop("name"), "kind": out.pop("kind"), **out}

def validate_catalogue_table(val, path, given, catalogue, what):
    if "type" not in given:
        val.error(path + ("type",), f"missing required key (the {what}: one of {', '.join(catalogue)})")
        return given
    name = given["type"]
    if not isinstance(name, str) or name not in catalogue:
        close = difflib.get_close_matches(str(name), list(catalogue), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        val.error(path + ("type",), f"must be one of {', '.join(catalogue)}, got {name!r}{hint}")
        return given
    cls = catalogue[name]
    schema = {"type": Key((str,), REQUIRED, f"the {what}", tuple(catalogue)), **signature_schema(cls)}
    n0 = len(val.problems)
    out = val.table(path, given, schema, context=f" for {what} {name!r}")
    if len(val.problems) == n0:
        try:
            cls(**_clean({k: v for k, v in out.items() if k != "type"}))
        except (ValueError, TypeError) as exc:
            _constructor_error(val, path, exc, out)
    return out


def validate_observable(val, path, given):
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
    if otype == "python" and isinstance(out.get("class"), str) and not _PYTHON_CLASS.fullmatch(out["class"]):
        # only the syntax here: importing runs the module's code, which checking a deck must not do
        val.error(path + ("class",), f"must be 'module:Class' (Python names, e.g. 'mypkg.obs:Density'), "
                  f"got {out['class']!r}")
    return out


_PYTHON_CLASS = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def import_python_observables(deck):
    """Import the class of every `python` observable of `deck` (all state points) and check that it
    has due/sample/write: this runs the module's code, so it is done when the run starts, never by
    validation or --dry-run. DeckError on the observable's `class` key."""
    val = _Validator(deck.text, deck.path)
    seen = set()
    for _, data in deck.states:
        for k, st in enumerate(data.get("stage", [])):
            for j, o in enumerate(st.get("observable") or []):
                if o.get("type") != "python" or o["class"] in seen:
                    continue
                seen.add(o["class"])
                mod, _, attr = o["class"].partition(":")
                try:
                    cls = getattr(importlib.import_module(mod), attr)
                except (ImportError, AttributeError) as exc:
                    val.error(("stage", k, "observable", j, "class"), f"cannot import {o['class']!r}: {exc}")
                    continue
                if not all(callable(getattr(cls, m, None)) for m in ("due", "sample", "write")):
                    val.error(("stage", k, "observable", j, "class"), f"{o['class']!r} lacks due/sample/write methods")
    if val.problems:
        p = val.problems[0]
        raise DeckError(p.message, p.key, p.file, p.line, problems=val.problems)


def make_schedule(obs: dict, stage_start: int):
    """The Schedule of a resolved observable table; `start` counts from the stage's first step."""
    from pyglass.analysis.observables.base import LinearSchedule, LogSchedule
    start = stage_start + int(obs.get("start", 0))
    if obs["schedule"] == "log":
        return LogSchedule(obs["block"], obs["factor"], start=start)
    return LinearSchedule(obs["every"], start=start)

