"""Files from strangers: each case builds a crafted (or carelessly made) input and checks that pyglass
refuses it with one line naming the file and the element or key, or handles it correctly; nothing is
read from outside the input file, nothing is allocated above the budget, nothing is written where it
should not be. The test ids start with the category: outside, memory, dryrun, loss, ctrlc, counter,
traceback, slow, cosmetic (docs/security.md)."""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tomllib

import h5py
import numpy as np
import pytest

from pyglass import builders
from pyglass.io import FormatError, read_extxyz, read_lammps_data, read_snapshot, write_snapshot
from pyglass.io.checkpoint import RestartError, read_checkpoint
from pyglass.workflow.deck import DeckError, load_deck, parse_deck
from pyglass.workflow.deck import validate as deck_validate
from pyglass.workflow.run import RunInterrupted, run_deck

from helpers import ROOT  # noqa: E402

DECK = """
[system]
generate = "lattice"
n = 64
density = 1.2
composition = [0.8, 0.2]
temperature = 1.0

[potential]
model = "kob-andersen"

[[stage]]
name = "prod"
kind = "production"
steps = 100
thermo = 0
[stage.integrator]
type = "nosehoover"
dt = 0.005
T = 1.0
tau = 0.5

[output]
thermo = 0
checkpoint = 50
"""


def _cli(*args, cwd=ROOT, env=None):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.update(env or {})
    e.pop("PYGLASS_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=e, timeout=120)


def _one_line(exc, *names):
    msg = str(exc)
    assert "\n" not in msg, msg
    for n in names:
        assert n in msg, msg
    return msg


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("snap")
    s = builders.lattice(n=8, density=1.0, dim=3, composition=[1.0], seed=1)
    write_snapshot(s, tmp / "good.h5")
    return tmp / "good.h5"


def _edit(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        edit(f)
    return dst


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ck")
    deck = parse_deck(DECK, str(tmp / "deck.toml"))
    with pytest.raises(RunInterrupted):
        run_deck(deck, output=str(tmp / "out.h5"), stop_at_step=50, stream=io.StringIO(), handle_signals=False)
    return tmp, deck


def _restart(checkpoint, tmp_path, edit):
    src, deck = checkpoint
    path = _edit(src / "out.ckpt.h5", tmp_path / "c.ckpt.h5", edit)
    shutil.copy(src / "out.h5", tmp_path / "c.h5")
    run_deck(deck, output=str(tmp_path / "c.h5"), restart=str(path), stream=io.StringIO(), handle_signals=False)


# ================================================================================ reading outside the file

def _secret(tmp_path):
    path = tmp_path / "secret.bin"
    np.arange(24, dtype=float).tofile(path)   # stands for a system file the reader must never see
    return path


def _external_storage(f, secret):
    del f["particles/all/position"]
    f.create_dataset("particles/all/position", shape=(8, 3), dtype=float, external=[(str(secret), 0, 192)])


def _virtual_over_another_file(f, secret):
    other = secret.parent / "other.h5"
    with h5py.File(other, "w") as g:
        g["v"] = np.fromfile(secret).reshape(8, 3)
    layout = h5py.VirtualLayout(shape=(8, 3), dtype=float)
    layout[:] = h5py.VirtualSource(str(other), "/v", shape=(8, 3))
    del f["particles/all/position"]
    f["particles/all"].create_virtual_dataset("position", layout)


def _virtual_over_external(f, secret):
    # the probe's case: a virtual `position` whose source is a dataset kept in external raw storage
    src = f.create_dataset("hidden", shape=(8, 3), dtype=float, external=[(str(secret), 0, 192)])
    layout = h5py.VirtualLayout(shape=(8, 3), dtype=float)
    layout[:] = h5py.VirtualSource(src)
    del f["particles/all/position"]
    f["particles/all"].create_virtual_dataset("position", layout)


def _external_link(f, secret):
    other = secret.parent / "other.h5"
    with h5py.File(other, "w") as g:
        g["v"] = np.fromfile(secret).reshape(8, 3)
    del f["particles/all/velocity"]
    f["particles/all/velocity"] = h5py.ExternalLink(str(other), "/v")


OUTSIDE = {"external-storage": (_external_storage, "external file"),
           "virtual-dataset": (_virtual_over_another_file, "virtual dataset"),
           "virtual-over-external-storage": (_virtual_over_external, "external file"),
           "external-link": (_external_link, "external link")}


@pytest.mark.parametrize("case", list(OUTSIDE), ids=[f"outside-{c}" for c in OUTSIDE])
def test_snapshot_reader_reads_nothing_outside_the_file(snapshot, tmp_path, case):
    edit, words = OUTSIDE[case]
    secret = _secret(tmp_path)
    path = _edit(snapshot, tmp_path / "crafted.h5", lambda f: edit(f, secret))
    with pytest.raises(FormatError) as info:
        read_snapshot(path)
    _one_line(info.value, str(path), words)


@pytest.mark.parametrize("case", list(OUTSIDE), ids=[f"outside-checkpoint-{c}" for c in OUTSIDE])
def test_checkpoint_reader_reads_nothing_outside_the_file(checkpoint, tmp_path, case):
    edit, words = OUTSIDE[case]
    secret = _secret(tmp_path)
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, lambda f: edit(f, secret))
    _one_line(info.value, "c.ckpt.h5", words)


def test_outside_soft_link_loop_is_one_clear_line(snapshot, tmp_path):
    def loop(f):
        del f["particles/all/velocity"]
        f["particles/all/velocity"] = h5py.SoftLink("/particles/all/v2")
        f["particles/all/v2"] = h5py.SoftLink("/particles/all/velocity")
    with pytest.raises(FormatError) as info:
        read_snapshot(_edit(snapshot, tmp_path / "loop.h5", loop))
    _one_line(info.value, "loop.h5", "/particles/all/v", "soft-link loop")


def test_outside_system_file_and_info_refuse_external_data(snapshot, tmp_path):
    secret = _secret(tmp_path)
    path = _edit(snapshot, tmp_path / "crafted.h5", lambda f: _virtual_over_another_file(f, secret))
    deck = tmp_path / "d.toml"
    deck.write_text(DECK.replace('generate = "lattice"\nn = 64\ndensity = 1.2\ncomposition = [0.8, 0.2]\n',
                                 'file = "crafted.h5"\n'))
    r = _cli("run", str(deck), "-o", str(tmp_path / "o.h5"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "virtual dataset" in r.stderr, r.stderr
    assert not (tmp_path / "o.h5").exists()
    r = _cli("info", str(path))
    assert r.returncode == 2 and "virtual dataset" in r.stderr and "Traceback" not in r.stderr, r.stderr


# ================================================================================ memory bombs

def test_memory_snapshot_declaring_2_to_the_40_rows(snapshot, tmp_path):
    def huge(f):
        del f["particles/all/position"]
        f["particles/all"].create_dataset("position", shape=(2 ** 40, 3), dtype=float, chunks=(1, 3))
    path = _edit(snapshot, tmp_path / "bomb.h5", huge)
    assert os.path.getsize(path) < 100_000
    with pytest.raises(FormatError) as info:
        read_snapshot(path)
    _one_line(info.value, "bomb.h5", "/particles/all/position")


def test_memory_trajectory_frame_within_the_budget_only(snapshot, tmp_path, monkeypatch):
    """A stored frame larger than $PYGLASS_MEMORY_LIMIT_GIB is refused before it is read."""
    def many(f):
        del f["particles/all/position"], f["particles/all/velocity"], f["particles/all/image"]
        del f["particles/all/species"], f["particles/all/mass"], f["particles/all/id"]
        g = f["particles/all"].create_group("position")
        g.create_dataset("value", data=np.random.default_rng(0).random((1, 300_000, 3)), compression="gzip")
        g["step"] = np.array([0])
    path = _edit(snapshot, tmp_path / "big.h5", many)
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", str(20e6 / 2 ** 30))   # 20 MB
    with pytest.raises(FormatError) as info:
        read_snapshot(path)
    _one_line(info.value, "big.h5", "memory budget")
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "1")
    assert read_snapshot(path).N == 300_000


def test_memory_checkpoint_dataset_declared_but_not_stored(checkpoint, tmp_path):
    """An observable accumulator has no shape to compare with N; a chunked dataset that declares far
    more than the file stores is refused (the old guard let up to 2^31 elements, 16 GiB, through)."""
    def huge(f):
        g = f["checkpoint/observables"].require_group("rank0/0")
        g.attrs["label"], g.attrs["type"] = "self-dynamics", "SelfDynamics"
        g.create_dataset("acc/Q", shape=(2 ** 27,), dtype="f8", chunks=(1024,))   # 1 GiB declared, 0 stored
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, huge)
    _one_line(info.value, "c.ckpt.h5", "/checkpoint/observables/rank0/0/acc/Q", "stores")


def test_memory_checkpoint_deck_text_is_bounded(checkpoint, tmp_path):
    def long_deck(f):
        del f["checkpoint/deck"]
        f["checkpoint"].create_dataset("deck", data="#" * (17 << 20), dtype=h5py.string_dtype())
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, long_deck)
    _one_line(info.value, "c.ckpt.h5", "/checkpoint/deck", "characters")


SOFTNESS_DECK = """
[system]
generate = "random"
n = 250
density = 1.2
dim = 3
composition = [0.8, 0.2]
min_distance = 0.7

[potential]
model = "kob-andersen"

[[stage]]
name = "rr"
kind = "rearrangements"
steps = 200
every = 50
window = 0.5
quench = false
[stage.integrator]
type = "nosehoover"
dt = 0.005
T = 0.6
tau = 0.5

[[stage]]
name = "train"
kind = "softness-train"
source = "rr"
positions = "instantaneous"
stable_time = 0.5
angular = false
r_max = 10000.0
mu_step = 0.5
"""


def test_memory_softness_grid_refused_at_validation(tmp_path):
    (tmp_path / "s.toml").write_text(SOFTNESS_DECK)
    with pytest.raises(DeckError) as info:
        load_deck(tmp_path / "s.toml")
    _one_line(info.value, "s.toml", "stage[2].r_max", "GiB", "memory budget")
    r = _cli("run", "--dry-run", str(tmp_path / "s.toml"))
    assert r.returncode == 2 and "memory budget" in r.stderr


# ================================================================================ --dry-run runs no code

def test_dryrun_does_not_import_a_python_observable(tmp_path):
    (tmp_path / "evil_obs.py").write_text("import pathlib\npathlib.Path(__file__).with_name('RAN').touch()\n"
                                          "class Obs:\n    pass\n")
    deck = DECK.replace("[output]", '[[stage.observable]]\ntype = "python"\nclass = "evil_obs:Obs"\n\n[output]')
    (tmp_path / "d.toml").write_text(deck)
    r = _cli("run", "--dry-run", str(tmp_path / "d.toml"), cwd=tmp_path, env={"PYTHONPATH": f"{ROOT}:{tmp_path}"})
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "RAN").exists(), "validating the deck ran the module"
    # the run imports it (the deck runs that code, as docs/deck.md says) and checks the class then
    r = _cli("run", str(tmp_path / "d.toml"), "-o", str(tmp_path / "o.h5"), cwd=tmp_path,
             env={"PYTHONPATH": f"{ROOT}:{tmp_path}"})
    assert (tmp_path / "RAN").exists()
    assert r.returncode == 2 and "lacks due/sample/write" in r.stderr and "observable[1].class" in r.stderr
    assert "Traceback" not in r.stderr


# ================================================================================ silent loss

def _run(tmp_path, output, **kw):
    deck = parse_deck(DECK.replace("steps = 100", "steps = 10"), str(tmp_path / "deck.toml"))
    return run_deck(deck, output=str(output), stream=io.StringIO(), handle_signals=False, **kw)


def test_loss_checkpoint_path_equal_to_the_output(tmp_path):
    deck = parse_deck(DECK + f'checkpoint_path = "{tmp_path / "o.h5"}"\n', str(tmp_path / "d.toml"))
    with pytest.raises(DeckError) as info:
        run_deck(deck, output=str(tmp_path / "o.h5"), stream=io.StringIO(), handle_signals=False)
    _one_line(info.value, "output.path", "o.h5", "checkpoint")
    assert not (tmp_path / "o.h5").exists()


def test_loss_existing_file_needs_overwrite(tmp_path):
    target = tmp_path / "notes.h5"
    target.write_text("two years of lab notes\n")
    with pytest.raises(DeckError) as info:
        _run(tmp_path, target)
    _one_line(info.value, "notes.h5", "--overwrite")
    assert target.read_text() == "two years of lab notes\n"
    _run(tmp_path, target, overwrite=True)
    assert h5py.is_hdf5(target)
    _run(tmp_path, target)   # a pyglass output is replaced by a new run of a deck, as before


def test_loss_symlink_target_is_not_written_through(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (tmp_path / "out.h5").symlink_to(precious)
    with pytest.raises(DeckError) as info:
        _run(tmp_path, tmp_path / "out.h5")
    _one_line(info.value, "out.h5", "symbolic link")
    assert precious.read_text() == "keep me\n"


def test_loss_dev_null_as_output(tmp_path):
    r = _cli("run", "-q", "-o", "/dev/null", str(_deck_file(tmp_path)))
    assert r.returncode == 2 and "/dev/null" in r.stderr and "not a regular file" in r.stderr, r.stderr
    assert not os.path.exists("/dev/null.ckpt.h5") and not os.path.exists("/dev/null.lock")


def _deck_file(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(DECK.replace("steps = 100", "steps = 10"))
    return path


def test_loss_two_runs_on_one_output_without_hdf5_locking(tmp_path):
    """With HDF5's file locking off a second run would open the same output; our lock file stops it."""
    from pyglass.workflow.run.output_guard import OutputLock
    out = tmp_path / "o.h5"
    with OutputLock(out):   # another run of this host holds the output
        r = _cli("run", "-q", "-o", str(out), str(_deck_file(tmp_path)), env={"HDF5_USE_FILE_LOCKING": "FALSE"})
    assert r.returncode == 2 and "in use by another run" in r.stderr and "o.h5.lock" in r.stderr, r.stderr
    assert not out.exists()
    r = _cli("run", "-q", "-o", str(out), str(_deck_file(tmp_path)), env={"HDF5_USE_FILE_LOCKING": "FALSE"})
    assert r.returncode == 0 and not (tmp_path / "o.h5.lock").exists(), r.stderr
    # a lock left by a killed run of this host is taken over
    (tmp_path / "o.h5.lock").write_text(f"{os.uname().nodename} 999999999 2020-01-01T00:00:00+00:00\n")
    r = _cli("run", "-q", "-o", str(out), str(_deck_file(tmp_path)))
    assert r.returncode == 0, r.stderr


# ================================================================================ Ctrl-C

def test_ctrlc_writes_a_checkpoint_and_restarts(tmp_path):
    from test_output import _start, _wait_for_steps
    proc = _start(tmp_path)
    try:
        _wait_for_steps(proc, 5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "SIGINT: checkpoint at step" in out
    ck = read_checkpoint(tmp_path / "long.ckpt.h5")
    with h5py.File(tmp_path / "long.h5", "r") as f:
        assert f["h5md/provenance"].attrs["status"] == b"interrupted"
    r = _cli("run", "long.toml", "--restart", "long.ckpt.h5", "--stop-at", str(ck.system.step + 20), "-q",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ================================================================================ trusted counters

@pytest.mark.parametrize("value", [100, 10 ** 9], ids=["counter-step-at-end", "counter-step-past-end"])
def test_counter_step_in_stage_past_the_stage(checkpoint, tmp_path, value):
    def edit(f):
        f["checkpoint"].attrs["step_in_stage"] = value
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, edit)
    _one_line(info.value, "c.ckpt.h5", "step_in_stage", "100 steps")


def test_counter_stage_name(checkpoint, tmp_path):
    def edit(f):
        f["checkpoint"].attrs["stage_name"] = "elsewhere"
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, edit)
    _one_line(info.value, "stage_name", "elsewhere")


# ================================================================================ one line, not a traceback

def _data_file(tmp_path, atoms="2 atoms", image="0 0 0", mass="1.0"):
    path = tmp_path / "x.data"
    path.write_text(f"title\n\n{atoms}\n1 atom types\n\n0 5 xlo xhi\n0 5 ylo yhi\n0 5 zlo zhi\n\nMasses\n\n1 {mass}\n\n"
                    f"Atoms # atomic\n\n1 1 1.0 1.0 1.0 {image}\n2 1 2.0 2.0 2.0 0 0 0\n")
    return path


@pytest.mark.parametrize("kw,words", [({"atoms": "1e400 atoms"}, "atoms"), ({"image": "1e30 0 0"}, "image flags"),
                                      ({"atoms": "1e15 atoms"}, "atoms"), ({"mass": "nan"}, "mass"),
                                      ({"mass": "inf"}, "mass")],
                         ids=["traceback-1e400-atoms", "traceback-image-1e30", "traceback-atom-count-bomb",
                              "traceback-nan-mass", "traceback-inf-mass"])
def test_traceback_lammps_numbers(tmp_path, kw, words):
    path = _data_file(tmp_path, **kw)
    with pytest.raises(FormatError) as info:
        read_lammps_data(path)
    _one_line(info.value, "x.data", words)


def test_traceback_deeply_nested_toml(tmp_path):
    (tmp_path / "n.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DeckError) as info:
        load_deck(tmp_path / "n.toml")
    _one_line(info.value, "n.toml", "nested")


def test_traceback_deeply_nested_integrator_state(checkpoint, tmp_path):
    def edit(f):
        del f["checkpoint/integrator_state"]
        f["checkpoint"].create_dataset("integrator_state", data=np.array(["[" * 100_000 + "]" * 100_000],
                                                                          dtype=h5py.string_dtype()))
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, edit)
    _one_line(info.value, "integrator_state", "nested")


def test_traceback_missing_integrator_state_key(checkpoint, tmp_path):
    def edit(f):
        st = json.loads(f["checkpoint/integrator_state"].asstr()[0])
        del st["vxi"]
        del f["checkpoint/integrator_state"]
        f["checkpoint"].create_dataset("integrator_state", data=np.array([json.dumps(st)], dtype=h5py.string_dtype()))
    with pytest.raises(RestartError) as info:
        _restart(checkpoint, tmp_path, edit)
    _one_line(info.value, "integrator_state", "vxi")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from pyglass import softness
    tmp = tmp_path_factory.mktemp("model")
    s = builders.lattice(n=64, density=1.2, dim=3, composition=(0.8, 0.2), seed=3, jitter=0.1)
    sf = softness.StructureFunctions(0.1, np.arange(1, 21) * 0.1, 2.0, ())
    X = sf.compute(s)
    rng = np.random.default_rng(0)
    model = softness.train(X[:32] + rng.normal(0, 1, X[:32].shape), X[32:], C=1.0, grid=sf.grid(), cv=2)
    return model.save(tmp / "m.json")


@pytest.mark.parametrize("change,words", [({"sigma": "wide"}, "sigma"), ({"sigma": 1e-200}, "sigma"),
                                          ({"mu": None}, "mu"), ({"angular": [[1.0, 1.0, 10 ** 9]]}, "zeta"),
                                          ({"r_max": -1}, "r_max")],
                         ids=["traceback-grid-string", "traceback-grid-zero-division", "traceback-grid-no-mu",
                              "traceback-grid-huge-zeta", "traceback-grid-negative-cutoff"])
def test_traceback_bad_softness_grid(model_file, tmp_path, change, words):
    meta = json.load(open(model_file))
    meta["grid"].update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(meta))
    deck = SOFTNESS_DECK.split("[[stage]]")[0] + '[[stage]]\nname = "s"\nkind = "softness"\nmodel = "bad.json"\n'
    (tmp_path / "d.toml").write_text(deck)
    with pytest.raises(DeckError) as info:   # at validation, before any output exists
        load_deck(tmp_path / "d.toml")
    _one_line(info.value, "bad.json", "stage[1].model", words)


def test_traceback_nan_box_offset_in_snapshot(snapshot, tmp_path):
    def edit(f):
        f["particles/all/box"].attrs["offset"] = np.array([0.0, np.nan, 0.0])
    with pytest.raises(FormatError) as info:
        read_snapshot(_edit(snapshot, tmp_path / "b.h5", edit))
    _one_line(info.value, "b.h5", "offset")


def test_traceback_inf_velocity_in_extxyz(tmp_path):
    path = tmp_path / "v.xyz"
    path.write_text('1\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3:velo:R:3\nA 1 1 1 inf 0 0\n')
    with pytest.raises(FormatError) as info:
        read_extxyz(path)
    _one_line(info.value, "v.xyz", "velocity")


def test_traceback_reading_errors_exit_2(snapshot, tmp_path):
    path = _edit(snapshot, tmp_path / "crafted.h5", lambda f: f["particles/all/box"].attrs.__setitem__(
        "offset", np.array([0.0, np.inf, 0.0])))
    deck = tmp_path / "d.toml"
    deck.write_text(DECK.replace('generate = "lattice"\nn = 64\ndensity = 1.2\ncomposition = [0.8, 0.2]\n',
                                 'file = "crafted.h5"\n'))
    r = _cli("run", str(deck), "-o", str(tmp_path / "o.h5"), cwd=tmp_path)
    assert r.returncode == 2 and "crafted.h5" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_traceback_info_into_a_closed_pipe(checkpoint, tmp_path):
    src, _ = checkpoint
    path = tmp_path / "many.h5"
    shutil.copy(src / "out.h5", path)
    with h5py.File(path, "a") as f:   # a summary longer than a pipe's buffer: `head` exits before it is written
        g = f.require_group("pyglass/many")
        for k in range(3000):
            g[f"result_{k:05d}"] = np.zeros(3)
    cmd = f"{sys.executable} -m pyglass.workflow.cli info {path} | head -1"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == 0 and "not a readable" not in r.stderr and r.stderr == "", r.stderr
    assert r.stdout.strip().endswith("many.h5")


# ================================================================================ quadratic validation

def test_slow_state_points_are_validated_in_linear_time(tmp_path, monkeypatch):
    """The deck's line index is built once and each state point copies only its own tables: the work
    per state point no longer grows with the number of state points (2000 points took > 20 s)."""
    calls = {"index": 0, "states_copied": 0}
    real_index, real_study = deck_validate._line_index, deck_validate._validate_study

    def counting_index(text):
        calls["index"] += 1
        return real_index(text)

    def counting_study(val, given, stages):
        calls["states_copied"] += len(given.get("state", []))
        return real_study(val, given, stages)
    monkeypatch.setattr(deck_validate, "_line_index", counting_index)
    monkeypatch.setattr(deck_validate, "_validate_study", counting_study)
    n = 60
    states = "".join(f'[[study.state]]\nlabel = "T{j}"\nset = {{"stage.prod.integrator.T" = {0.5 + j / 100}}}\n'
                     for j in range(n))
    deck = parse_deck(DECK.replace("[output]", states + "\n[output]").replace("[[stage]]", "[study]\nsamples = 1\n\n"
                                                                              "[[stage]]", 1), str(tmp_path / "d.toml"))
    assert len(deck.states) == n and deck.states[7][1]["stage"][0]["integrator"]["T"] == pytest.approx(0.57)
    assert deck.states[7][1]["study"]["state"] is deck.data["study"]["state"]
    assert calls["index"] <= 2 and calls["states_copied"] == n, calls


# ================================================================================ cosmetic

def test_cosmetic_dry_run_escapes_control_characters(tmp_path):
    deck = DECK.replace("[output]", '[output]\nauthor = "x\\u001b[31my\\u0000z\\r"')
    (tmp_path / "d.toml").write_text(deck)
    r = _cli("run", "--dry-run", str(tmp_path / "d.toml"))
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x00" not in r.stdout and "\r" not in r.stdout
    assert tomllib.loads(r.stdout)["output"]["author"] == "x\x1b[31my\x00z\r"


def test_cosmetic_negative_extxyz_count_is_reported_at_its_line(tmp_path):
    path = tmp_path / "neg.xyz"
    path.write_text('-3\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3\nA 1 1 1\n')
    with pytest.raises(FormatError) as info:
        read_extxyz(path)
    msg = _one_line(info.value, "neg.xyz:1:", "-3")
    assert ":-" not in msg


def test_cosmetic_vlen_dataset_named_with_its_file(snapshot, tmp_path):
    def edit(f):
        del f["particles/all/velocity"]
        ds = f["particles/all"].create_dataset("velocity", (8, 3), dtype=h5py.vlen_dtype(np.float64))
        for k in range(8):
            ds[k, 0] = np.zeros(2)
    with pytest.raises(FormatError) as info:
        read_snapshot(_edit(snapshot, tmp_path / "vl.h5", edit))
    _one_line(info.value, "vl.h5", "/particles/all/velocity", "variable-length")


def test_outside_study_index_links_are_listed_never_followed(tmp_path):
    """pyglass's own study index links to its sample files: info, plot and the status readers accept
    those links (and only there) without following them."""
    from pyglass.io.h5md import path_status, stored_deck
    from pyglass.workflow.plots import plot_file
    text = DECK.replace("steps = 100", "steps = 10").replace("[[stage]]", "[study]\nsamples = 2\n\n[[stage]]", 1)
    deck = parse_deck(text, str(tmp_path / "d.toml"))
    run_deck(deck, output=str(tmp_path / "idx.h5"), stream=io.StringIO(), handle_signals=False)
    r = _cli("info", str(tmp_path / "idx.h5"))
    assert r.returncode == 0 and "s1 -> idx.s1.h5:/pyglass" in r.stdout, r.stderr
    assert path_status(tmp_path / "idx.h5") == "complete" and stored_deck(tmp_path / "idx.h5") == text
    plot_file(str(tmp_path / "idx.h5"), str(tmp_path / "figs"))
    with h5py.File(tmp_path / "idx.h5", "a") as f:   # a link anywhere else is refused
        del f["h5md/author"]
        f["h5md/author"] = h5py.ExternalLink("idx.s0.h5", "/h5md/author")
    r = _cli("info", str(tmp_path / "idx.h5"))
    assert r.returncode == 2 and "'/h5md/author' is an external link" in r.stderr, r.stderr


def test_traceback_nested_deck_in_a_study_checkpoint(checkpoint):
    """A study restart compares the stored deck with the given one as TOML: a crafted stored deck
    nested beyond Python's recursion limit is refused as another deck, not a RecursionError."""
    src, deck = checkpoint
    ck = read_checkpoint(src / "out.ckpt.h5")
    ck.deck_text = "x = " + "[" * 100_000 + "]" * 100_000
    with pytest.raises(RestartError) as info:
        ck.check_deck(deck.text, more_samples=True)
    _one_line(info.value, "/checkpoint/deck", "another deck")
