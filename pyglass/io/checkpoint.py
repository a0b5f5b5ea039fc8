"""Checkpoints: everything a run needs to continue exactly where it stopped, as data only.

File layout (HDF5, schema version 2; the configuration part is the pyglass snapshot layout, so a
checkpoint can also be read as a `[system] file` by `pyglass.io.read_snapshot`):

    /h5md                       version, author, creator (pyglass + version); fixed-length strings
    /particles/all              attrs step, time, type_names, type_masses
        box                     attrs dimension, boundary, tilt_xy, offset; dataset edges
        position image velocity species mass id     in particle-id order
    /checkpoint                 attrs schema_version, stage_index, stage_name, step_in_stage, step,
                                time, n_ranks, seed, replica, unit_state, unit_sample,
                                deck_sha256, pyglass_version, date; dataset deck (text)
        integrator_state        (n_ranks,) JSON text of `integrator.state()` of each rank: numbers,
                                lists, arrays as {"__array__": [...], "dtype": "float64"}
        observables/rank<r>/<j> the j-th stateful observable of rank r (attrs label, type):
                                one numeric dataset per entry of `Observable.get_state()`
                                (acc/<key>, attr/<name>)

Nothing in a checkpoint is code: no serialised Python objects, no eval, no import of a name read from
the file.
`read_checkpoint` validates before use: the schema version, every dtype (numeric where numbers are
expected), shapes against the particle count, counts (>= 0), finite positions/velocities/state,
every declared size against the memory budget before it is read (`pyglass.io.safe_read`, which also
refuses external links, external storage and virtual datasets); `check_counters` checks the stage
index and the step within the stage against the deck, `load_integrator_state` the integrator state
against a fresh integrator's; `check_deck` compares the deck's SHA-256 with the deck given. Each
problem is a one-line RestartError naming the dataset. Inspect a checkpoint with `pyglass info` or
`h5dump`.

Rank 0 gathers the particles and writes the file to `<path>.tmp`, then renames it over `<path>`,
so a checkpoint on disk is always complete (a kill during the write leaves the previous one).

Rank count. Positions, velocities and images are stored in particle-id order, and the integrator
state of NVE, Nose-Hoover and NPT is the same on every rank, so a checkpoint restarts on any number
of ranks (results agree with the uninterrupted run to round-off: the force sums run in another
order). Per-rank state cannot move to another rank count: a Langevin RNG stream per rank, or
observables holding per-rank accumulators; `Checkpoint.check_rank_change` refuses those with a
message naming what holds the state.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from pyglass._version import __version__
from pyglass.engine.comm import rank as comm_rank, size as comm_size
from pyglass.io.h5md import fixed_string, global_count, particle_columns, redistribute, user_name
from pyglass.io.safe_read import (MAX_NESTING, check_declared, memory_budget, nested_depth, open_h5, read_array,
                                  read_attr, read_text)
from pyglass.engine.system import Box, System

SCHEMA_VERSION = 2
MAX_JSON_CHARS = 1 << 24        # one rank's integrator state
MAX_DECK_CHARS = 1 << 24        # the deck text


class RestartError(ValueError):
    """A checkpoint that cannot continue this run (wrong deck, rank count, damaged or crafted file)."""


def deck_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()


def _more_samples(old: str, new: str) -> bool:
    """True if deck text `new` is `old` with a larger study.samples and nothing else changed."""
    import tomllib
    if nested_depth(old) > MAX_NESTING or nested_depth(new) > MAX_NESTING:
        return False   # a crafted deck text: tomllib would recurse past Python's limit
    try:
        a, b = tomllib.loads(old), tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        return False
    na = a.get("study", {}).pop("samples", 1)
    nb = b.get("study", {}).pop("samples", 1)
    return a == b and nb >= na


@dataclass
class Checkpoint:
    system: System                       # the whole system, particle-id order
    stage_index: int                     # stage to continue (== number of stages: run complete)
    step_in_stage: int
    n_ranks: int
    seed: int
    replica: int
    deck_text: str
    integrator_states: list = field(default_factory=list)          # one dict per rank
    observable_states_by_rank: list = field(default_factory=list)  # per rank: [(label, type, state dict)]
    stage_name: str = ""
    unit: tuple = None                   # (state label, sample) of a study unit
    path: str = ""
    integrator_state: dict = None        # this rank's, after select_rank
    observable_states: list = None       # this rank's [(label, type, state)], after select_rank

    def check_deck(self, text: str, more_samples: bool = False):
        """RestartError unless `text` is the deck this checkpoint was written by; with more_samples (a
        study restart) the deck may also differ in `study.samples` alone, when it asks for more: a
        finished study is extended with further samples."""
        if deck_hash(text) != deck_hash(self.deck_text) and not (more_samples and _more_samples(self.deck_text, text)):
            raise RestartError(f"{self.path}: /checkpoint/deck: written by another deck (SHA-256 "
                               f"{deck_hash(self.deck_text)[:12]}, the deck given has {deck_hash(text)[:12]}); restart "
                               "with the deck stored there (h5dump -d /checkpoint/deck)")

    def check_rank_change(self, n_ranks: int, path: str = ""):
        """Raise RestartError if per-rank state cannot continue on `n_ranks` ranks."""
        states = [json.dumps(_to_json(s), sort_keys=True) for s in self.integrator_states]
        if len(set(states)) > 1:
            raise RestartError(f"{path}: written on {self.n_ranks} rank(s) with an integrator whose state differs "
                               f"per rank (a Langevin RNG stream per rank); restart on {self.n_ranks} rank(s)")
        held = [typ for obs in self.observable_states_by_rank for (_, typ, _) in obs]
        if held:
            raise RestartError(f"{path}: written on {self.n_ranks} rank(s) in the middle of a stage whose "
                               f"observables keep per-rank accumulators ({', '.join(sorted(set(held)))}); restart on "
                               f"{self.n_ranks} rank(s), or from a checkpoint at a stage end")

    def select_rank(self, rank: int, n_ranks: int):
        """Set integrator_state/observable_states for this rank of a run on n_ranks ranks."""
        same = n_ranks == self.n_ranks
        self.integrator_state = self.integrator_states[rank if same else 0] if self.integrator_states else {}
        self.observable_states = list(self.observable_states_by_rank[rank]) if same and \
            self.observable_states_by_rank else []
        return self


def _to_json(value):
    if isinstance(value, np.ndarray):
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"integrator state holds a {type(value).__name__}, which a checkpoint cannot store")


def _from_json(value, where):
    if isinstance(value, dict):
        if set(value) == {"__array__", "dtype"}:
            try:
                dtype = np.dtype(value["dtype"])
            except TypeError:
                raise RestartError(f"{where}: unknown dtype {value['dtype']!r}") from None
            if dtype.kind not in "biuf":
                raise RestartError(f"{where}: array of dtype {dtype} (numbers expected)")
            arr = np.asarray(value["__array__"], dtype=dtype)
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise RestartError(f"{where}: non-finite values")
            return arr
        return {k: _from_json(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v, where) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        raise RestartError(f"{where}: non-finite value {value}")
    return value


def _observable_states(observables):
    out = []
    for o in observables:
        if getattr(o, "_stateless", False):
            continue
        if not hasattr(o, "get_state"):
            raise TypeError(f"observable {type(o).__name__} has no get_state(): it cannot be checkpointed")
        out.append((str(getattr(o, "label", type(o).__name__)), type(o).__name__,
                    {k: np.asarray(v) for k, v in o.get_state().items()}))
    return out


def write_checkpoint(path, system, comm=None, *, stage_index, stage_name="", step_in_stage, integrator=None,
                     observables=(), deck_text="", seed=0, replica=0, unit=None):
    """Collective: every rank of `comm` calls it; rank 0 writes `path` atomically."""
    path = os.fspath(path)
    n = global_count(comm, system.N)
    _, rows, rid = redistribute(comm, *particle_columns(system, True), n, to_root=True)
    _, mass, _ = redistribute(comm, system.ids, system.masses[:, None], n, to_root=True)
    state = json.dumps(_to_json(integrator.state() if integrator is not None else {}))
    obs_state = _observable_states(observables)
    if comm_size(comm) > 1:
        states = comm.gather(state, root=0)
        obs_states = comm.gather(obs_state, root=0)
    else:
        states, obs_states = [state], [obs_state]
    if comm_rank(comm) == 0:
        d = system.dim
        tmp = path + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with h5py.File(tmp, "w") as f:
            h5 = f.create_group("h5md")
            h5.attrs["version"] = np.array([1, 1], np.int32)
            h5.create_group("author").attrs["name"] = fixed_string(user_name())   # H5MD: fixed-length
            cr = h5.create_group("creator")
            cr.attrs["name"] = fixed_string("pyglass")
            cr.attrs["version"] = fixed_string(__version__)
            g = f.create_group("particles/all")
            names = np.array(system.type_names, dtype=h5py.string_dtype())
            g.attrs["step"] = int(system.step)
            g.attrs["time"] = float(system.time)
            g.attrs["type_names"] = names
            g.attrs["type_masses"] = system.type_masses
            box = g.create_group("box")
            box.attrs["dimension"] = np.int32(d)
            box.attrs["boundary"] = fixed_string(["periodic"] * d)
            box.attrs["tilt_xy"] = float(system.box.tilt_xy)
            box.attrs["offset"] = system.box.lo
            if system.box.tilt_xy != 0:
                box.create_dataset("edges", data=system.box.h[:d, :d].T)
            else:
                box.create_dataset("edges", data=system.box.lengths)
            g.create_dataset("position", data=rows[:, :d])
            g.create_dataset("image", data=rows[:, d:2 * d].astype(np.int64))
            sp = g.create_dataset("species", data=rows[:, 2 * d].astype(np.int32))
            sp.attrs["type_names"] = names
            g.create_dataset("velocity", data=rows[:, 2 * d + 1:])
            g.create_dataset("mass", data=mass[:, 0])
            g.create_dataset("id", data=rid)
            c = f.create_group("checkpoint")
            c.attrs.update({"schema_version": SCHEMA_VERSION, "stage_index": int(stage_index),
                            "stage_name": str(stage_name), "step_in_stage": int(step_in_stage),
                            "step": int(system.step), "time": float(system.time), "n_ranks": comm_size(comm),
                            "seed": int(seed), "replica": int(replica), "pyglass_version": __version__,
                            "unit_state": "" if unit is None else str(unit[0]),
                            "unit_sample": -1 if unit is None else int(unit[1]),
                            "deck_sha256": deck_hash(deck_text),
                            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
            c.create_dataset("deck", data=deck_text, dtype=h5py.string_dtype())
            c.create_dataset("integrator_state", data=np.array(states, dtype=h5py.string_dtype()))
            og = c.create_group("observables")
            for r, obs in enumerate(obs_states):
                rg = og.create_group(f"rank{r}")
                for j, (label, typ, st) in enumerate(obs):
                    jg = rg.create_group(str(j))
                    jg.attrs["label"], jg.attrs["type"] = label, typ
                    for key, value in st.items():
                        jg.create_dataset(key, data=value)
            f.flush()
        os.replace(tmp, path)
    if comm_size(comm) > 1:
        comm.Barrier()


# ================================================================================ reading

def _attr_int(c, name, path, lo=0):
    if name not in c.attrs:
        raise RestartError(f"{path}: /checkpoint attribute {name!r} is missing")
    v = read_attr(c, name, path, error=RestartError)
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)):
        raise RestartError(f"{path}: /checkpoint attribute {name!r} must be an integer, got {v!r}")
    if v < lo:
        raise RestartError(f"{path}: /checkpoint attribute {name!r} must be >= {lo}, got {int(v)}")
    return int(v)


def _dataset(f, name, path, kinds="biuf", shape=None, finite=False, budget=None):
    """A validated dataset's value: present, of numeric kind, of the expected shape, within the memory
    budget, all checked before it is read."""
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise RestartError(f"{path}: dataset /{name} is missing")
    v = read_array(ds, path, RestartError, shape=shape, kinds=kinds, budget=budget, what="/" + name)
    if finite and ds.dtype.kind == "f" and not np.all(np.isfinite(v)):
        raise RestartError(f"{path}: dataset /{name} holds non-finite values")
    return v


def _finite_attr(obj, name, path, shape=None):
    v = np.asarray(read_attr(obj, name, path, error=RestartError, numeric=True), float)
    if (shape is not None and v.shape != shape) or not np.all(np.isfinite(v)):
        raise RestartError(f"{path}: attribute {name!r} of {obj.name} must be finite numbers"
                           + (f" of shape {shape}" if shape is not None else "") + f", got {v.tolist()!r}"[:200])
    return v


def read_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint written by write_checkpoint; RestartError names the problem."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise RestartError(f"{path}: checkpoint file not found")
    f = open_h5(path, RestartError)
    with f:
        if not isinstance(f.get("checkpoint"), h5py.Group) or not isinstance(f.get("particles/all"), h5py.Group):
            raise RestartError(f"{path}: not a pyglass checkpoint (no /checkpoint group)")
        g, c = f["particles/all"], f["checkpoint"]
        version = c.attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RestartError(f"{path}: /checkpoint schema_version is {version!r}, this pyglass reads "
                               f"{SCHEMA_VERSION} (older checkpoints held serialised Python objects and are refused)")
        if "observable_state" in c:
            raise RestartError(f"{path}: /checkpoint/observable_state holds serialised Python objects (an old or "
                               "crafted file); refused, never loaded")
        try:
            ck = _read(f, g, c, path)
        except RestartError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, OverflowError, RuntimeError) as exc:
            raise RestartError(f"{path}: damaged checkpoint ({type(exc).__name__}: "
                               f"{(str(exc).splitlines() or [''])[0]})") from None
    return ck


def _read(f, g, c, path):
    budget = memory_budget()
    if not isinstance(g.get("box"), h5py.Group):
        raise RestartError(f"{path}: group /particles/all/box is missing")
    d = read_attr(g["box"], "dimension", path, error=RestartError, numeric=True)
    if np.ndim(d) or d not in (2, 3):
        raise RestartError(f"{path}: /particles/all/box dimension must be 2 or 3, got {d!r}")
    d = int(d)
    ids_ds = f.get("particles/all/id")
    if not isinstance(ids_ds, h5py.Dataset) or ids_ds.ndim != 1:
        raise RestartError(f"{path}: dataset /particles/all/id is missing or not one-dimensional")
    n = ids_ds.shape[0]
    # positions, velocities, images, species, masses and ids together, before any is read
    need = n * (3 * d * 8 + 4 + 8 + 8)
    if need > budget:
        raise RestartError(f"{path}: /particles/all declares N = {n} particles ({need / 2**30:.3g} GiB to read), "
                           "more than the memory budget (80 % of the memory available, or $PYGLASS_MEMORY_LIMIT_GIB)")
    ids = _dataset(f, "particles/all/id", path, "iu", (n,))
    if n and (ids.min() < 0 or np.unique(ids).size != n):
        raise RestartError(f"{path}: dataset /particles/all/id must hold distinct ids >= 0")
    x = _dataset(f, "particles/all/position", path, "f", (n, d), finite=True)
    v = _dataset(f, "particles/all/velocity", path, "f", (n, d), finite=True)
    img = _dataset(f, "particles/all/image", path, "iu", (n, d))
    sp = _dataset(f, "particles/all/species", path, "iu", (n,))
    edges = np.asarray(_dataset(f, "particles/all/box/edges", path, "f", finite=True, budget=1 << 16), float)
    if edges.shape == (d, d):
        h = edges.T
        lengths, tilt = np.diag(h).copy(), float(h[0, 1])
    elif edges.shape == (d,):
        lengths = edges
        tilt = float(_finite_attr(g["box"], "tilt_xy", path, ())) if "tilt_xy" in g["box"].attrs else 0.0
    else:
        raise RestartError(f"{path}: dataset /particles/all/box/edges has shape {edges.shape}")
    box = Box(lengths, tilt, _finite_attr(g["box"], "offset", path, (d,)))
    names = [x_.decode() if isinstance(x_, bytes) else str(x_)
             for x_ in np.atleast_1d(read_attr(g, "type_names", path, error=RestartError))]
    masses = _finite_attr(g, "type_masses", path, (len(names),))
    if np.any(masses <= 0):
        raise RestartError(f"{path}: attribute 'type_masses' of /particles/all must be positive, got {masses.tolist()}")
    if n and (sp.min() < 0 or sp.max() >= len(names)):
        raise RestartError(f"{path}: dataset /particles/all/species has type ids outside 0..{len(names) - 1}")
    s = System(x, box, sp, names, masses, v, img, ids=ids)
    step = read_attr(g, "step", path, error=RestartError, numeric=True)
    time = read_attr(g, "time", path, error=RestartError, numeric=True)
    if np.ndim(step) or np.ndim(time) or not np.isfinite(time) or not 0 <= step < 2 ** 62:
        raise RestartError(f"{path}: /particles/all step {step!r} / time {time!r} is not a valid state")
    s.step, s.time = int(step), float(time)
    stage_index = _attr_int(c, "stage_index", path)
    step_in_stage = _attr_int(c, "step_in_stage", path)
    n_ranks = _attr_int(c, "n_ranks", path, lo=1)
    seed = _attr_int(c, "seed", path)
    replica = _attr_int(c, "replica", path)
    deck = read_text(c.get("deck"), path, RestartError, MAX_DECK_CHARS, "/checkpoint/deck")
    if not isinstance(deck, str):
        raise RestartError(f"{path}: dataset /checkpoint/deck must be one string")
    istates = c.get("integrator_state")
    if not isinstance(istates, h5py.Dataset) or istates.shape != (n_ranks,):
        raise RestartError(f"{path}: dataset /checkpoint/integrator_state has shape "
                           f"{getattr(istates, 'shape', None)}, expected ({n_ranks},) (one per rank)")
    integ = []
    for r, t in enumerate(read_text(istates, path, RestartError, min(MAX_JSON_CHARS * n_ranks, budget / 16),
                                    "/checkpoint/integrator_state")):
        where = f"{path}: /checkpoint/integrator_state[{r}]"
        if len(t) > MAX_JSON_CHARS:
            raise RestartError(f"{where} is too long")
        if nested_depth(t) > MAX_NESTING:
            raise RestartError(f"{where} is nested deeper than {MAX_NESTING} levels")
        try:
            integ.append(_from_json(json.loads(t), where))
        except json.JSONDecodeError as exc:
            raise RestartError(f"{where} is not JSON ({exc})") from None
    obs = []
    og = c.get("observables")
    if og is not None and not isinstance(og, h5py.Group):
        raise RestartError(f"{path}: /checkpoint/observables must be a group")
    left = budget - need
    for r in range(n_ranks):
        rg = og.get(f"rank{r}") if og is not None else None
        if rg is not None and not isinstance(rg, h5py.Group):
            raise RestartError(f"{path}: /checkpoint/observables/rank{r} must be a group")
        mine = []
        for j in range(len(rg) if rg is not None else 0):
            jg = rg.get(str(j))
            if not isinstance(jg, h5py.Group):
                raise RestartError(f"{path}: /checkpoint/observables/rank{r} lacks entry {j}")
            names_ = []

            def collect(name, o, names_=names_):   # visititems stops at the first non-None return
                if isinstance(o, h5py.Dataset):
                    names_.append(name)
            jg.visititems(collect)
            state = {}
            for k in names_:
                ds = jg[k]
                left -= check_declared(ds, path, RestartError, kinds="biuf", budget=max(left, 0),
                                       what=f"/checkpoint/observables/rank{r}/{j}/{k}")
                state[k] = ds[()]
            for k, val in state.items():
                if np.asarray(val).dtype.kind == "f" and not np.all(np.isfinite(val)) and not k.startswith("attr/"):
                    raise RestartError(f"{path}: dataset /checkpoint/observables/rank{r}/{j}/{k} holds "
                                       "non-finite values")
            mine.append((str(read_attr(jg, "label", path, "", RestartError)),
                         str(read_attr(jg, "type", path, "", RestartError)), state))
        obs.append(mine)
    unit_sample = read_attr(c, "unit_sample", path, -1, RestartError, numeric=True)
    return Checkpoint(s, stage_index, step_in_stage, n_ranks, seed, replica, deck, integ, obs,
                      str(read_attr(c, "stage_name", path, "", RestartError)),
                      (str(read_attr(c, "unit_state", path, "", RestartError)), int(unit_sample)), path)


# ================================================================================ checks against the deck

def check_counters(ck: Checkpoint, stages: list):
    """RestartError unless the checkpoint's counters fit the deck's stages: the stage index within
    the pipeline (== its length: the run was complete), its name, and the step within the stage (0
    at a stage start or past the last stage; below the stage's `steps` for an MD stage, where it
    counts the steps done; stages that are not MD restart from their start only)."""
    n = len(stages)
    where = f"{ck.path}: /checkpoint"
    if ck.stage_index > n:
        raise RestartError(f"{where} stage_index {ck.stage_index} is past the deck's {n} stage(s)")
    if ck.stage_index < n:
        st = stages[ck.stage_index]
        if ck.stage_name and ck.stage_name != st.get("name"):
            raise RestartError(f"{where} stage_name {ck.stage_name!r} is not the deck's stage {ck.stage_index + 1} "
                               f"({st.get('name')!r})")
        steps = st.get("steps") if st.get("kind") in ("md", "equilibrate", "production") else 0
        if not 0 <= ck.step_in_stage < max(int(steps or 0), 1):
            limit = f"0..{int(steps) - 1}" if steps else "0 (the stage restarts from its start)"
            raise RestartError(f"{where} step_in_stage {ck.step_in_stage} does not fit stage {ck.stage_index + 1} "
                               f"({st.get('name')!r}: {st.get('kind')}"
                               + (f", {steps} steps" if steps else "") + f"); expected {limit}")
    elif ck.step_in_stage != 0:
        raise RestartError(f"{where} step_in_stage {ck.step_in_stage} after the last stage; expected 0")


def load_integrator_state(integrator, state, path=""):
    """integrator.load_state(state) after checking `state` against the state a fresh integrator of the
    same type holds (`integrator.state()`): the same keys, numbers where numbers are, arrays of the
    same shape, equal strings; RestartError names the first difference."""
    where = f"{path}: /checkpoint/integrator_state"
    _same_layout(integrator.state(), state, where, "")
    try:
        integrator.load_state(state)
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        raise RestartError(f"{where}: does not fit {type(integrator).__name__} ({type(exc).__name__}: {exc})") from None


def _same_layout(template, value, where, key):
    here = f"{where}{key or ''}"
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise RestartError(f"{here}: expected a table, got {type(value).__name__}")
        missing = [k for k in template if k not in value]
        extra = [k for k in value if k not in template]
        if missing or extra:
            raise RestartError(f"{here}: " + (f"missing key(s) {missing}" if missing else "")
                               + ("; " if missing and extra else "") + (f"unknown key(s) {extra}" if extra else ""))
        for k in template:
            _same_layout(template[k], value[k], where, f"{key}.{k}" if key else f" {k}")
    elif isinstance(template, np.ndarray):
        arr = np.asarray(value) if isinstance(value, (np.ndarray, list)) else None
        if arr is None or arr.shape != template.shape or arr.dtype.kind not in "biuf":
            raise RestartError(f"{here}: expected a numeric array of shape {template.shape}, got "
                               f"{getattr(arr, 'shape', type(value).__name__)}")
    elif isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            raise RestartError(f"{here}: expected a list of {len(template)} entries")
        for i, (t, v) in enumerate(zip(template, value)):
            _same_layout(t, v, where, f"{key}[{i}]")
    elif isinstance(template, str):
        if value != template:
            raise RestartError(f"{here}: expected {template!r}, got {value!r}"[:200])
    elif isinstance(template, (bool, np.bool_)):
        if not isinstance(value, bool):
            raise RestartError(f"{here}: expected true or false, got {value!r}"[:200])
    elif isinstance(template, (int, float, np.integer, np.floating)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RestartError(f"{here}: expected a number, got {type(value).__name__}")
        if isinstance(template, (int, np.integer)) and not isinstance(value, int):
            raise RestartError(f"{here}: expected an integer, got {value!r}")
