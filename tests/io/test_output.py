"""H5MD output, checkpoints and restart, kill -9 and SIGTERM behaviour of `pyglass run`."""
import io
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from h5md_check import h5md_problems
from pyglass.io._common import wrap_into_box
from pyglass.io.checkpoint import RestartError, read_checkpoint
from pyglass.workflow.deck import parse_deck
from pyglass.workflow.run import RunInterrupted, run_deck

from helpers import ROOT  # noqa: E402

DECK = """
[system]
generate = "lattice"
n = 108
density = 1.2
composition = [0.8, 0.2]
temperature = 1.0

[potential]
model = "kob-andersen"

[[stage]]
name = "langevin"
kind = "equilibrate"
steps = 600
thermo = 0
[stage.integrator]
type = "langevin"
dt = 0.005
T = 1.0
gamma = 1.0
seed = 7

[[stage]]
name = "prod"
kind = "production"
steps = 1400
thermo = 0
[stage.integrator]
type = "nosehoover"
dt = 0.005
T = 1.0
tau = 0.5
[[stage.observable]]
type = "self-dynamics"
schedule = "log"
block = 200
q = 7.0

[output]
trajectory = 100
thermo = 50
checkpoint = 100
"""


def _run(tmp_path, name, deck_text=DECK, **kw):
    deck = parse_deck(deck_text, str(tmp_path / "deck.toml"))
    out = str(tmp_path / f"{name}.h5")
    try:
        run_deck(deck, output=out, stream=io.StringIO(), handle_signals=False, **kw)
    except RunInterrupted:
        pass
    return out, out[:-3] + ".ckpt.h5"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """2000 steps straight (600 Langevin + 1400 Nose-Hoover)."""
    tmp = tmp_path_factory.mktemp("straight")
    out, ck = _run(tmp, "straight")
    return tmp, out, ck


def test_h5md_layout(straight):
    tmp, out, ck = straight
    assert h5md_problems(out) == []   # tests/h5md_check.py: H5MD 1.1 point by point
    with h5py.File(out, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == b"pyglass"   # H5MD 1.1: fixed-length strings
        prov = f["h5md/provenance"]
        assert prov.attrs["status"] == b"complete" and prov.attrs["n_ranks"] == 1
        assert json.loads(prov.attrs["seeds"])["run"] == 12345
        assert prov["deck"][()].decode() == DECK
        assert "git_commit" in prov.attrs and "date" in prov.attrs
        blas = json.loads(prov.attrs["blas"])
        assert blas and all(b["threads"] >= 1 and b["library"] for b in blas)
        g = f["particles/all"]
        steps = g["position/step"][()]
        assert steps.tolist() == list(range(600, 2001, 100))   # production stage only, from its start
        assert g["position/time"][()].tolist() == [s * 0.005 for s in steps.tolist()]   # no round-off
        for name in ("position", "image", "velocity"):
            assert g[f"{name}/value"].shape == (len(steps), 108, 3)
            assert g[f"{name}/value"].maxshape[0] is None and g[f"{name}/value"].chunks is not None
        assert g["species/value"].shape == (len(steps), 108)
        # shared step/time are hard links to one dataset
        assert g["image/step"] == g["position/step"] and g["box/edges/step"] == g["position/step"]
        side = (108 / 1.2) ** (1 / 3)
        np.testing.assert_allclose(g["box/edges/value"][0], np.eye(3) * side)
        assert [n.decode() if isinstance(n, bytes) else n for n in g.attrs["type_names"]] == ["A", "B"]
        assert np.bincount(g["species/value"][0]).tolist() == [87, 21]
        th = f["observables/thermo"]
        tsteps = th["temperature/step"][()]
        assert tsteps.tolist() == list(range(0, 2001, 50))   # no step written twice at the stage boundary
        assert th["stage/value"][()].tolist() == [0] * 13 + [1] * 28
        assert th["potential_energy/value"].shape == tsteps.shape
        sd = f["pyglass/prod/self-dynamics"]
        assert "prod" not in f["observables"]   # analysis results are not H5MD observables
        assert sd["msd"].shape[1] == 2 and sd.attrs["schedule_kind"] == "block-log"
        # the last frame is the final state (== the stage-end checkpoint, which keeps positions as
        # they were in memory; frames hold them wrapped into the box, images adjusted)
        last = read_checkpoint(ck)
        x, img = wrap_into_box(last.system.box, last.system.positions, last.system.images)
        assert np.array_equal(g["position/value"][-1], x)
        assert np.array_equal(g["image/value"][-1], img)
        assert np.array_equal(g["velocity/value"][-1], last.system.velocities)
        frac = g["position/value"][()] / side
        assert frac.min() >= 0 and frac.max() < 1   # wrapped means inside the box, every frame
        h = side * np.eye(3)
        np.testing.assert_allclose(g["position/value"][-1] + g["image/value"][-1] @ h.T,
                                   last.system.unwrapped_positions, rtol=0, atol=1e-12)
    assert last.stage_index == 2 and last.system.step == 2000


def test_checkpoint_reads_as_a_snapshot(straight):
    """A checkpoint has the snapshot layout: pyglass.io.read_snapshot and `[system] file` read it."""
    from pyglass.io import read_snapshot
    tmp, out, ck = straight
    s = read_snapshot(ck)
    c = read_checkpoint(ck).system
    assert np.array_equal(s.positions, c.positions) and np.array_equal(s.velocities, c.velocities)
    assert s.step == 2000


@pytest.mark.parametrize("stop", [300, 1000])
def test_restart_is_bit_for_bit(straight, tmp_path, stop):
    """2000 steps straight == `stop` steps, restart from the checkpoint, the rest (Langevin RNG and
    Nose-Hoover chain state, observable accumulators and output frames included)."""
    _, out_a, ck_a = straight
    out_b, ck_b = _run(tmp_path, "split", stop_at_step=stop)
    first = read_checkpoint(ck_b)
    assert first.system.step == stop and first.stage_index == (0 if stop < 600 else 1)
    _run(tmp_path, "split", restart=ck_b)
    a, b = read_checkpoint(ck_a).system, read_checkpoint(ck_b).system
    assert np.array_equal(a.positions, b.positions)
    assert np.array_equal(a.velocities, b.velocities)
    assert np.array_equal(a.images, b.images)
    with h5py.File(out_a, "r") as fa, h5py.File(out_b, "r") as fb:
        for name in ("particles/all/position/value", "particles/all/position/step", "particles/all/position/time",
                     "observables/thermo/temperature/value", "observables/thermo/temperature/step",
                     "observables/thermo/temperature/time",
                     "pyglass/prod/self-dynamics/msd", "pyglass/prod/self-dynamics/Q"):
            assert np.array_equal(fa[name][()], fb[name][()]), name
        assert fb["h5md/provenance"].attrs["status"] == b"complete"


def test_restart_errors(straight, tmp_path):
    tmp, out, ck = straight
    with pytest.raises(RestartError, match="not found"):
        read_checkpoint(tmp_path / "missing.h5")
    with pytest.raises(RestartError, match="not a pyglass checkpoint"):
        read_checkpoint(out)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"junk")
    with pytest.raises(RestartError, match="not a readable HDF5"):
        read_checkpoint(bad)


def test_ids_are_written_in_particle_order(tmp_path):
    """Frames are stored by particle id whatever the row order on the rank."""
    from pyglass import builders
    from pyglass.io.h5md import H5MDWriter
    s = builders.lattice(20, 1.0, 2, (0.5, 0.5), seed=3)
    perm = np.random.default_rng(0).permutation(20)
    from pyglass.engine.system import System
    t = System(s.positions[perm], s.box, s.types[perm], s.type_names, s.type_masses, s.velocities[perm],
               s.images[perm], ids=s.ids[perm])
    w = H5MDWriter(tmp_path / "p.h5", t)
    w.write_frame(t)
    w.close()
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert np.array_equal(f["particles/all/position/value"][0], s.positions)
        assert np.array_equal(f["particles/all/species/value"][0], s.types)


# ----------------------------------------------------------------------------- subprocess runs
LONG = """
[system]
generate = "lattice"
n = 64
density = 1.0
temperature = 1.0

[potential]
model = "lennard-jones"
epsilon = 1.0
sigma = 1.0
type_names = ["A"]

[[stage]]
kind = "production"
steps = 100000000
thermo = 20
[stage.integrator]
type = "nve"
dt = 0.002

[output]
path = "long.h5"
trajectory = 20
thermo = 0
"""


def _start(tmp_path):
    (tmp_path / "long.toml").write_text(LONG)
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, "-m", "pyglass.workflow.cli", "run", "long.toml"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_steps(proc, n_lines, timeout=60):
    """Read thermo lines until `n_lines` data lines were printed; returns the last step printed."""
    t0, seen, last = time.time(), 0, None
    while seen < n_lines:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"run ended early: {proc.stderr.read()}")
        parts = line.split()
        if parts and parts[0].isdigit():
            seen += 1
            last = int(parts[0])
        assert time.time() - t0 < timeout
    return last


def test_kill_9_leaves_every_frame_written_before(tmp_path):
    proc = _start(tmp_path)
    try:
        last = _wait_for_steps(proc, 15)
        proc.kill()   # SIGKILL: no handler runs
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with h5py.File(tmp_path / "long.h5", "r") as f:
        steps = f["particles/all/position/step"][()]
        n = len(steps)
        assert n >= last // 20 + 1
        assert steps.tolist() == list(range(0, 20 * n, 20))
        pos = f["particles/all/position/value"]
        assert pos.shape[0] == n and np.all(np.isfinite(pos[n - 1]))
        assert f["particles/all/velocity/value"].shape[0] >= n - 1
        assert f["h5md/provenance"].attrs["status"] == b"running"


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    proc = _start(tmp_path)
    try:
        _wait_for_steps(proc, 5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "SIGTERM: checkpoint at step" in out
    ck = read_checkpoint(tmp_path / "long.ckpt.h5")
    assert ck.stage_index == 0 and ck.step_in_stage == ck.system.step > 0
    with h5py.File(tmp_path / "long.h5", "r") as f:
        assert f["h5md/provenance"].attrs["status"] == b"interrupted"
        assert f["particles/all/position/step"][-1] <= ck.system.step
    # it continues from there
    env = dict(os.environ, PYTHONPATH=ROOT)
    stop = ck.system.step + 40
    r = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "run", "long.toml", "--restart", "long.ckpt.h5",
                        "--stop-at", str(stop), "-q"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert read_checkpoint(tmp_path / "long.ckpt.h5").system.step == stop
    info = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "info", "long.h5"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "N = 64" in info.stdout and "interrupted" in info.stdout
    assert "blas: [{" in info.stdout


def test_file_system_and_quench_stage(tmp_path):
    """`[system] file` goes through pyglass.io's readers; a quench stage records its result."""
    from pyglass import builders
    from pyglass.io import write_extxyz
    s = builders.lattice(64, 1.0, 3, (0.5, 0.5), seed=2, jitter=0.05)
    write_extxyz(s, str(tmp_path / "conf.xyz"))
    text = """
[system]
file = "conf.xyz"
temperature = 0.5

[potential]
model = "lennard-jones"
epsilon = 1.0
sigma = 1.0

[[stage]]
name = "is"
kind = "quench"
[stage.minimizer]
type = "fire"
ftol = 1e-8

[[stage]]
kind = "production"
steps = 20
thermo = 0
[stage.integrator]
type = "nve"
dt = 0.002
"""
    out, ck = _run(tmp_path, "q", text)
    with h5py.File(out, "r") as f:
        a = f["pyglass/is"].attrs
        assert bool(a["quench_converged"]) and a["quench_max_force"] <= 1e-8
        assert f["particles/all/mass"].shape == (64,)
        assert f["observables/thermo/temperature/step"][()].tolist() == [0]
    c = read_checkpoint(ck)
    assert c.stage_index == 2 and c.system.step == 20 and c.system.N == 64
