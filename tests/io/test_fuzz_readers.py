"""Property-based fuzzing of every reader (decks, LAMMPS data and dump, extended XYZ, H5MD snapshots,
checkpoints, softness models) with hypothesis: structured mutations of valid files (tokens replaced by
hostile values, lines dropped, repeated or cut; HDF5 elements deleted, reshaped, retyped, turned into
links, virtual or external datasets; JSON values replaced). For every case the reader either returns
a result or raises its documented error class with one line per problem naming the file; no other
exception, nothing written outside the case's folder, and the process's peak memory stays far below
what the declared sizes would need (the memory budget is set to 256 MiB here).

Examples are drawn deterministically (derandomize), so a failure reproduces; the case count per
reader is FUZZ_CASES (`PYGLASS_FUZZ_SCALE` multiplies it for a longer local run)."""
import io
import json
import os
import resource
import shutil
import tempfile
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from pyglass import builders
from pyglass.engine.integrators import NoseHoover
from pyglass.io import (FormatError, read_extxyz, read_lammps_data, read_lammps_dump, read_snapshot, write_extxyz,
                        write_lammps_data, write_lammps_dump, write_snapshot)
from pyglass.io.checkpoint import RestartError, check_counters, load_integrator_state, read_checkpoint
from pyglass.workflow.deck import DeckError, parse_deck
from pyglass.workflow.run import RunInterrupted, run_deck

SCALE = float(os.environ.get("PYGLASS_FUZZ_SCALE", "1"))
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="pyglass-hypothesis-"))   # its caches stay out of the tree
FUZZ_CASES = {"deck": 500, "lammps-data": 450, "lammps-dump": 400, "extxyz": 500, "h5md": 450, "checkpoint": 300,
              "softness-model": 400}
BUDGET_GIB = 0.25
PEAK_GROWTH = 1.5 * 2 ** 30   # bytes of resident memory a whole fuzz test may add (kB from getrusage)


def _settings(kind):
    return settings(max_examples=int(FUZZ_CASES[kind] * SCALE), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=False)


# hostile values a token or a JSON/HDF5 value is replaced by
NASTY = ["", "0", "-1", "1", "2", "3", "-0", "1.5", "1e400", "-1e400", "nan", "inf", "-inf", "1e30", "-1e30",
         "2147483648", "9223372036854775808", "9" * 40, "1e-320", "abc", "A", "#", "[", "]", "{", "\"", "'", "=",
         "ITEM:", "Atoms", "Masses", "Velocities", "\x00", "\x1b[31m", "\u2603", "x" * 300, "1 2 3", "T", "F",
         "xlo xhi", "Properties=species:S:1", 'Lattice="1 0 0 0 1 0 0 0 1"', "[[stage]]", "true", "[1, 2]",
         "{a = 1}", "1e15", "-2147483649", "0x10", "1_000"]


@pytest.fixture(scope="module")
def budget():
    old = os.environ.get("PYGLASS_MEMORY_LIMIT_GIB")
    os.environ["PYGLASS_MEMORY_LIMIT_GIB"] = str(BUDGET_GIB)
    yield
    if old is None:
        os.environ.pop("PYGLASS_MEMORY_LIMIT_GIB")
    else:
        os.environ["PYGLASS_MEMORY_LIMIT_GIB"] = old


class _Watch:
    """Peak memory and the folder's contents around a whole fuzz test."""

    def __init__(self, folder):
        self.folder = folder
        self.peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.cwd = set(os.listdir(os.getcwd()))

    def check_folder(self, allowed):
        extra = set(os.listdir(self.folder)) - set(allowed)
        assert not extra, f"a reader wrote {sorted(extra)}"
        assert set(os.listdir(os.getcwd())) == self.cwd, "a reader wrote into the working folder"

    def check_memory(self):
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.peak0
        assert grown < PEAK_GROWTH, f"peak memory grew by {grown / 2**20:.0f} MiB"


def _expect_clean_error(exc, error, path):
    assert isinstance(exc, error), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert text.strip(), "empty message"
    for line in text.splitlines():
        assert os.path.basename(path) in line, f"a line that does not name the file: {line!r}"
        assert "Traceback" not in line


def _run_reader(fn, error, path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(path)
    except error as exc:   # noqa: PERF203 - the documented failure
        _expect_clean_error(exc, error, path)
        return None
    except Exception as exc:   # anything else is a bug the fuzzer found
        raise AssertionError(f"{type(exc).__name__} from {fn.__name__} on {path}: {exc}") from exc


# ================================================================================ text mutations

@st.composite
def text_mutation(draw, lines):
    """A valid file's lines with 1..4 structured edits."""
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "token", "drop", "repeat", "cut", "insert", "swap"]))
        if not out:
            out = [draw(st.sampled_from(NASTY))]
            continue
        k = draw(st.integers(0, len(out) - 1))
        if op == "token":
            tok = out[k].split(" ")
            j = draw(st.integers(0, len(tok) - 1))
            tok[j] = draw(st.sampled_from(NASTY) | st.text(max_size=8))
            out[k] = " ".join(tok)
        elif op == "drop":
            del out[k]
        elif op == "repeat":
            out[k:k] = [out[k]] * draw(st.integers(1, 3))
        elif op == "cut":
            out = out[:k] + ([out[k][:draw(st.integers(0, len(out[k])))]] if out[k] else [])
        elif op == "insert":
            out.insert(k, draw(st.sampled_from(NASTY) | st.text(max_size=20)))
        else:
            j = draw(st.integers(0, len(out) - 1))
            out[k], out[j] = out[j], out[k]
    return "\n".join(out) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _system(n=12, dim=3, seed=2):
    s = builders.lattice(n=n, density=1.1, dim=dim, composition=(0.5, 0.5), seed=seed, jitter=0.05)
    s.thermalize(1.0, seed)
    return s


def _lines_of(writer, name, tmp):
    path = tmp / name
    writer(path)
    return path.read_text().splitlines()


@pytest.fixture(scope="module")
def valid_texts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("valid")
    s3, s2 = _system(), _system(9, 2, 3)
    s3.images[0] = (1, -2, 0)

    def dump(p):
        write_lammps_dump(s3, p, append=False)
        write_lammps_dump(s3, p, step=10)
    return {"lammps-data": [_lines_of(lambda p: write_lammps_data(s3, p), "a.data", tmp),
                            _lines_of(lambda p: write_lammps_data(s2, p, type_labels=True), "b.data", tmp)],
            "lammps-dump": [_lines_of(dump, "a.dump", tmp)],
            "extxyz": [_lines_of(lambda p: write_extxyz(s3, p), "a.xyz", tmp),
                       _lines_of(lambda p: write_extxyz(s2, p, ase=False, elements={"A": "Ar", "B": "Kr"},
                                                        momenta=True), "b.xyz", tmp)]}


def _fuzz_text(tmp_path_factory, valid_texts, kind, reader, suffix):
    folder = tmp_path_factory.mktemp(kind)
    watch = _Watch(folder)
    counter = [0]

    @_settings(kind)
    @given(data=st.data())
    def case(data):
        lines = data.draw(st.sampled_from(valid_texts[kind]))
        text = data.draw(text_mutation(lines))
        counter[0] += 1
        path = folder / f"case{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _run_reader(reader, FormatError, path)

    case()
    watch.check_folder({f"case{suffix}"})
    watch.check_memory()
    return counter[0]


def test_fuzz_lammps_data(tmp_path_factory, valid_texts, budget):
    assert _fuzz_text(tmp_path_factory, valid_texts, "lammps-data", read_lammps_data, ".data") > 0


def test_fuzz_lammps_dump(tmp_path_factory, valid_texts, budget):
    def read_all(path):
        return [frame for _, frame in read_lammps_dump(path)]
    assert _fuzz_text(tmp_path_factory, valid_texts, "lammps-dump", read_all, ".dump") > 0


def test_fuzz_extxyz(tmp_path_factory, valid_texts, budget):
    assert _fuzz_text(tmp_path_factory, valid_texts, "extxyz", read_extxyz, ".xyz") > 0


# ================================================================================ decks

DECK = """[system]
generate = "lattice"
n = 27
density = 1.2
composition = [0.8, 0.2]
temperature = 1.0

[potential]
model = "kob-andersen"
cutoff = 2.5

[[stage]]
name = "eq"
kind = "equilibrate"
steps = 10
[stage.integrator]
type = "nosehoover"
dt = 0.005
T = 1.0
tau = 0.5
[[stage.observable]]
type = "self-dynamics"
schedule = "log"
block = 4
q = 7.0

[[stage]]
name = "q"
kind = "quench"
[stage.minimizer]
type = "fire"

[study]
samples = 2
[[study.state]]
label = "hot"
set = {"stage.eq.integrator.T" = 2.0}

[output]
path = "out.h5"
thermo = 5
"""


def test_fuzz_decks(tmp_path_factory, budget):
    """Validation only (what --dry-run does): DeckError, one line per problem, each naming the deck."""
    folder = tmp_path_factory.mktemp("deck")
    watch = _Watch(folder)
    lines = DECK.splitlines()

    @_settings("deck")
    @given(text=text_mutation(lines))
    def case(text):
        path = folder / "case.toml"
        _run_reader(lambda p: parse_deck(text, str(p)), DeckError, path)

    case()
    watch.check_folder(set())
    watch.check_memory()


# ================================================================================ HDF5 mutations

def _shapes():
    big = st.sampled_from([0, 1, 2, 3, 7, 12, 2 ** 20, 2 ** 31, 2 ** 40])
    return st.lists(big, min_size=0, max_size=3).map(tuple)


DTYPES = ["f8", "f4", "i8", "i4", "u1", "S4", "bool", "str", "vlen-f8", "compound"]


def _dtype(name):
    return {"str": h5py.string_dtype(), "vlen-f8": h5py.vlen_dtype(np.float64),
            "compound": np.dtype([("a", "f8"), ("b", "i4")])}.get(name, name)


@st.composite
def h5_edit(draw, names):
    """One edit of an HDF5 file, as (description, function of the open file and the case folder)."""
    target = draw(st.sampled_from(names))
    op = draw(st.sampled_from(["delete", "reshape", "reshape", "attr", "attr", "external-link", "soft-link",
                               "soft-loop", "virtual", "external-storage", "group", "values"]))
    shape = draw(_shapes())
    dtype = draw(st.sampled_from(DTYPES))
    value = draw(st.sampled_from([0, -1, 1, 2, 3, 2 ** 62, -2 ** 40, 1.5, np.nan, np.inf, -np.inf, 1e308, "x", "",
                                  b"periodic", [1.0, 2.0], [np.nan] * 3, ["A", "B"], [0, 0, 0], True]))
    attr = draw(st.sampled_from(["dimension", "boundary", "offset", "tilt_xy", "step", "time", "type_names",
                                 "type_masses", "stage_index", "step_in_stage", "n_ranks", "seed", "replica",
                                 "schema_version", "stage_name", "unit_sample", "label", "type"]))

    def apply(f, folder):
        parent, _, leaf = target.rpartition("/")
        g = f.get(parent) if parent else f["/"]
        if not isinstance(g, h5py.Group):   # an earlier edit replaced or removed the parent
            return
        if op == "attr":
            obj = f[target] if target in f else g
            obj.attrs[attr] = np.array(value) if isinstance(value, list) else value
            return
        if leaf in g:
            del g[leaf]
        if op == "delete":
            return
        if op == "reshape":
            chunked = any(x > 2 ** 16 for x in shape)
            if chunked and not shape:
                return
            g.create_dataset(leaf, shape=shape, dtype=_dtype(dtype),
                             chunks=tuple(1 for _ in shape) if chunked else None)
        elif op == "values":
            g[leaf] = np.full(shape if all(x < 64 for x in shape) else (3,), value if not isinstance(value, list)
                              else 0.0, dtype=float if not isinstance(value, str) else "S4")
        elif op == "external-link":
            g[leaf] = h5py.ExternalLink(str(folder / "other.h5"), "/x")
        elif op == "soft-link":
            g[leaf] = h5py.SoftLink("/" + draw_target)
        elif op == "soft-loop":
            g[leaf] = h5py.SoftLink(f"/{target}_b")
            f[f"{target}_b"] = h5py.SoftLink("/" + target)
        elif op == "virtual":
            layout = h5py.VirtualLayout(shape=(3,), dtype=float)
            layout[:] = h5py.VirtualSource(str(folder / "other.h5"), "/x", shape=(3,))
            g.create_virtual_dataset(leaf, layout)
        elif op == "external-storage":
            g.create_dataset(leaf, shape=(3,), dtype=float, external=[(str(folder / "raw.bin"), 0, 24)])
        elif op == "group":
            g.create_group(leaf)
    draw_target = draw(st.sampled_from(names))
    return f"{op} {target} {shape} {dtype} {attr}={value!r}", apply


def _h5_names(path):
    names = []
    with h5py.File(path, "r") as f:
        f.visit(names.append)
    return names


def _fuzz_h5(folder, good, kind, reader, error):
    watch = _Watch(folder)
    raw = good.read_bytes()
    names = _h5_names(good)
    (folder / "raw.bin").write_bytes(np.arange(3.0).tobytes())   # the "other files" a reader must never read
    with h5py.File(folder / "other.h5", "w") as f:
        f["x"] = np.arange(3.0)
    seen_other = []

    @_settings(kind)
    @given(edits=st.lists(h5_edit(names), min_size=1, max_size=3))
    def case(edits):
        path = folder / "case.h5"
        path.write_bytes(raw)
        try:
            with h5py.File(path, "a") as f:
                for _, apply in edits:
                    apply(f, folder)
        except (ValueError, TypeError, KeyError, OSError, RuntimeError, AttributeError):
            return   # an edit h5py itself refuses to write (or one on a group an earlier edit replaced)
        result = _run_reader(reader, error, path)
        if result is not None:
            seen_other.append(result)

    case()
    watch.check_folder({"case.h5", "raw.bin", "other.h5"})
    watch.check_memory()
    return seen_other


def test_fuzz_h5md_snapshots(tmp_path_factory, budget):
    folder = tmp_path_factory.mktemp("h5md")
    good = folder / "good.h5"
    s = _system()
    write_snapshot(s, good)
    shutil.move(good, folder.parent / "h5md-good.h5")
    good = folder.parent / "h5md-good.h5"
    read = _fuzz_h5(folder, good, "h5md", read_snapshot, FormatError)
    for system in read:   # whatever was accepted is a valid configuration
        assert np.all(np.isfinite(system.positions)) and np.all(system.type_masses > 0)
        assert np.all(np.isfinite(system.velocities)) and np.all(np.isfinite(system.box.lo))


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ckpt-good")
    text = DECK.split("[[stage]]\nname = \"q\"")[0] + "\n[output]\nthermo = 0\ncheckpoint = 5\n"
    deck = parse_deck(text, str(tmp / "deck.toml"))
    with pytest.raises(RunInterrupted):
        run_deck(deck, output=str(tmp / "out.h5"), stop_at_step=5, stream=io.StringIO(), handle_signals=False)
    return tmp / "out.ckpt.h5", deck


def test_fuzz_checkpoints(tmp_path_factory, good_checkpoint, budget):
    """read_checkpoint, then the checks a restart makes (counters, integrator state) before using it."""
    folder = tmp_path_factory.mktemp("ckpt")
    good, deck = good_checkpoint

    def restart_checks(path):
        ck = read_checkpoint(path)
        check_counters(ck, deck.data["stage"])
        ck.select_rank(0, 1)
        load_integrator_state(NoseHoover(dt=0.005, T=1.0, tau=0.5), ck.integrator_state, ck.path)
        return ck.system
    _fuzz_h5(folder, good, "checkpoint", restart_checks, RestartError)


# ================================================================================ softness models

@pytest.fixture(scope="module")
def model_json(tmp_path_factory):
    from pyglass import softness
    tmp = tmp_path_factory.mktemp("model")
    s = builders.lattice(n=64, density=1.2, dim=3, composition=(0.8, 0.2), seed=3, jitter=0.1)
    sf = softness.StructureFunctions(0.1, np.arange(1, 11) * 0.2, 2.0, [(1.0, 1.0, 1), (1.0, -1.0, 2)])
    X = sf.compute(s)
    rng = np.random.default_rng(0)
    model = softness.train(X[:32] + rng.normal(0, 1, X[:32].shape), X[32:], C=1.0, grid=sf.grid(), cv=2)
    return json.loads(open(model.save(tmp / "m.json")).read())


def _json_paths(obj, prefix=()):
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _json_paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            out += _json_paths(v, prefix + (i,))
    return out


JSON_NASTY = [None, True, 0, -1, 1, 2, 10 ** 30, 1e308, -1e308, 1e-320, float("nan"), float("inf"), "", "x",
              [], [[]], {}, [1.0] * 5, [0.0], [[1.0, 1.0, 1]], {"a": 1}, "pyglass-linear-softness", [1, "a"]]


def test_fuzz_softness_models(tmp_path_factory, model_json, budget):
    from pyglass.analysis.softness import load
    folder = tmp_path_factory.mktemp("models")
    watch = _Watch(folder)
    paths = _json_paths(model_json)

    @_settings("softness-model")
    @given(edits=st.lists(st.tuples(st.sampled_from(paths), st.sampled_from(JSON_NASTY) | st.integers() |
                                    st.floats()), min_size=1, max_size=3),
           deep=st.booleans())
    def case(edits, deep):
        meta = json.loads(json.dumps(model_json))
        for where, value in edits:
            if not where:
                meta = value
                continue
            node = meta
            try:
                for k in where[:-1]:
                    node = node[k]
                node[where[-1]] = value
            except (KeyError, IndexError, TypeError):
                pass
        text = json.dumps(meta)
        if deep:
            text = text[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}" if text.endswith("}") else text
        path = folder / "case.json"
        path.write_text(text)
        _run_reader(load, ValueError, path)

    case()
    watch.check_folder({"case.json"})
    watch.check_memory()
