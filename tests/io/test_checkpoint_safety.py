"""Checkpoints hold data, not code: crafted files are refused before anything runs (issue 18).

Each case plants something in a good checkpoint (a serialised-object payload that would create a
file if it were ever loaded, wrong dtypes, negative counts, NaN state, huge shapes, another deck,
an old schema) and checks that the restart refuses it with a one-line error naming the dataset,
and that the payload never ran."""
import io
import json
import os
import pickle
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from pyglass.io.checkpoint import RestartError, read_checkpoint
from pyglass.workflow.deck import parse_deck
from pyglass.workflow.run import RunInterrupted, run_deck

from decks import deck, md, system
from helpers import ROOT  # noqa: E402

DECK = deck(system(n=64), md("prod", observables=[{"type": "self-dynamics", "schedule": "log", "block": 50, "q": 7.0}]),
            output={"thermo": 0, "checkpoint": 50})


class _Payload:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ck")
    deck = parse_deck(DECK, str(tmp / "deck.toml"))
    with pytest.raises(RunInterrupted):
        run_deck(deck, output=str(tmp / "out.h5"), stop_at_step=100, stream=io.StringIO(), handle_signals=False)
    return tmp, deck


def _crafted(good, tmp_path, edit):
    src, deck = good
    path = tmp_path / "crafted.ckpt.h5"
    shutil.copy(src / "out.ckpt.h5", path)
    shutil.copy(src / "out.h5", tmp_path / "crafted.h5")
    with h5py.File(path, "a") as f:
        edit(f, tmp_path)
    return path, deck


def _restart(path, deck, tmp_path):
    run_deck(deck, output=str(tmp_path / "crafted.h5"), restart=str(path), stream=io.StringIO(), handle_signals=False)


def test_the_good_checkpoint_restarts(good, tmp_path):
    path, deck = _crafted(good, tmp_path, lambda f, t: None)
    ck = read_checkpoint(path)
    assert ck.observable_states_by_rank[0][0][1] == "SelfDynamics"
    _restart(path, deck, tmp_path)


def _pickle_in_observable_state(f, t):
    vl = h5py.vlen_dtype(np.uint8)
    ds = f["checkpoint"].create_dataset("observable_state", (1,), dtype=vl)
    ds[0] = np.frombuffer(pickle.dumps(_Payload(t / "PWNED")), np.uint8)


def _pickle_as_observable_dataset(f, t):
    g = f["checkpoint/observables/rank0/0"]
    del g["acc/Q"]
    g.create_dataset("acc/Q", data=np.void(pickle.dumps(_Payload(t / "PWNED"))))


def _pickle_as_integrator_state(f, t):
    del f["checkpoint/integrator_state"]
    f["checkpoint"].create_dataset("integrator_state", data=np.array([pickle.dumps(_Payload(t / "PWNED"), 0)
                                                                        .decode("latin1")], dtype=h5py.string_dtype()))


def _set_attr(name, value):
    def edit(f, t):
        f["checkpoint"].attrs[name] = value
    return edit


def _replace(name, value):
    def edit(f, t):
        del f[name]
        f.create_dataset(name, data=value)
    return edit


def _nan_integrator(f, t):
    txt = f["checkpoint/integrator_state"].asstr()[0]
    st = json.loads(txt)
    st["xi"]["__array__"][0] = float("nan")
    del f["checkpoint/integrator_state"]
    f["checkpoint"].create_dataset("integrator_state", data=np.array([json.dumps(st)], dtype=h5py.string_dtype()))


def _huge(f, t):
    g = f["checkpoint/observables/rank0/0"]
    del g["acc/Q"]
    g.create_dataset("acc/Q", shape=(2 ** 31 + 8,), dtype="f8", chunks=(1024,))   # declared, never stored


def _strings_as_positions(f, t):
    n = f["particles/all/position"].shape
    del f["particles/all/position"]
    f["particles/all"].create_dataset("position", data=np.full(n, "x", dtype="S4"))


def _nan_velocity(f, t):
    v = f["particles/all/velocity"][()]
    v[3, 1] = np.nan
    f["particles/all/velocity"][...] = v


def _other_deck(f, t):
    del f["checkpoint/deck"]
    f["checkpoint"].create_dataset("deck", data=DECK.replace("steps = 200", "steps = 300"), dtype=h5py.string_dtype())


def _strip_version(f, t):
    del f["checkpoint"].attrs["schema_version"]


CASES = {
    "pickle_observable_state": (_pickle_in_observable_state, "observable_state"),
    "pickle_as_observable_dataset": (_pickle_as_observable_dataset, "observables/rank0/0/acc/Q"),
    "pickle_as_integrator_state": (_pickle_as_integrator_state, "integrator_state"),
    "negative_stage_index": (_set_attr("stage_index", -1), "stage_index"),
    "negative_step_in_stage": (_set_attr("step_in_stage", -5), "step_in_stage"),
    "zero_ranks": (_set_attr("n_ranks", 0), "n_ranks"),
    "float_seed": (_set_attr("seed", 1.5), "seed"),
    "nan_integrator_state": (_nan_integrator, "integrator_state"),
    "nan_velocity": (_nan_velocity, "particles/all/velocity"),
    "huge_declared_shape": (_huge, "acc/Q"),
    "strings_as_positions": (_strings_as_positions, "particles/all/position"),
    "wrong_position_shape": (_replace("particles/all/position", np.zeros((3, 3))), "particles/all/position"),
    "float_ids": (_replace("particles/all/id", np.arange(64) + 0.5), "particles/all/id"),
    "another_deck": (_other_deck, "checkpoint/deck"),
    "old_schema": (_strip_version, "schema_version"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_checkpoints_are_refused(good, tmp_path, case):
    edit, names = CASES[case]
    path, deck = _crafted(good, tmp_path, edit)
    with pytest.raises(RestartError) as info:
        _restart(path, deck, tmp_path)
    msg = str(info.value)
    assert names in msg and "\n" not in msg, msg
    assert not (tmp_path / "PWNED").exists(), "a payload ran"


def test_pyglass_source_has_no_pickle():
    hits = subprocess.run(["grep", "-rn", "--include=*.py", "--include=*.pyx", "pickle", os.path.join(ROOT, "pyglass"),
                           os.path.join(ROOT, "extensions")], capture_output=True, text=True).stdout
    assert hits == "", hits


def test_cli_refuses_a_crafted_checkpoint_without_traceback(good, tmp_path):
    path, deck = _crafted(good, tmp_path, _pickle_in_observable_state)
    (tmp_path / "deck.toml").write_text(DECK)
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "run", "deck.toml", "-o", "crafted.h5", "--restart",
                        str(path)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "observable_state" in r.stderr
    assert not (tmp_path / "PWNED").exists()
