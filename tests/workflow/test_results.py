"""The results API (pyglass.workflow.run.results): a tiny single run and a tiny study whose samples are
drawn from one trajectory per state point, read back by name (units and their status, stage datasets
and attributes, an observable's group inside a stage, the final system, draw trajectories and their
frames, summaries) and checked against the raw HDF5 file and against the physics they encode; and an
observable re-run offline over the stored frames (`Observable.run`) equal to the same observable
sampled during the run."""
import os

import h5py
import numpy as np
import pytest

from pyglass.analysis.observables import LogSchedule, SelfDynamics
from pyglass.io.checkpoint import read_checkpoint
from pyglass.io.h5md import RESULTS_ROOT
from pyglass.workflow.deck import parse_deck
from pyglass.workflow.run import results, run_deck
from pyglass.workflow.run.paths import checkpoint_path, draw_path, unit_path
from decks import deck, md, stage, system
from helpers import Sink

# KA on a jittered lattice; equilibrate, production with self dynamics on a log schedule, quench
STAGES = (md("eq", kind="equilibrate", steps=40, dt=0.004, T=0.8, tau=0.4, temperature=0.8),
          md("prod", steps=32, integrator="nve", dt=0.004, T=None, tau=None, thermo=None,
             observables=[{"type": "self-dynamics", "schedule": "log", "block": 16, "q": 7.25}]),
          stage("quench", "is", minimizer={"type": "fire", "ftol": 1e-11}))


def _deck(*extra, output, study=None) -> str:
    return deck(system(n=64, jitter=0.02, temperature=None), *STAGES, *extra,
                potential={"model": "kob-andersen", "smoothing": "smooth"}, run={"seed": 7, "progress": False},
                output=output, study=study)


SINGLE = _deck(output={"trajectory": 1, "thermo": 8})
# samples drawn from one trajectory per state point, two state points
STUDY = _deck(stage("shear-modulus", "G"), stage("summary", "sum", fields=["G/G"]),
              output={"trajectory": 4, "thermo": 8},
              study={"samples": 2, "source": "trajectory", "draw_after": "prod", "spacing": 10, "state": [
                  {"label": "T0.8", "set": {"stage.eq.integrator.T": 0.8}},
                  {"label": "T1.0", "set": {"stage.eq.integrator.T": 1.0, "stage.eq.temperature": 1.0}}]})


def _run(folder, text, name):
    deck = parse_deck(text, str(folder / f"{name}.toml"))
    out = str(folder / f"{name}.h5")
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    return deck, out


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("single"), SINGLE, "run")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("study"), STUDY, "study")


def test_a_single_run_by_name(single):
    deck, out = single
    run = results.open(out)
    assert type(run) is results.Run and run.status == "complete" and run.complete
    assert run.deck == deck.text and run.provenance["status"] == "complete"
    assert sorted(run.stages()) == ["eq", "is", "prod"] and run.has_stage("is") and not run.has_stage("G")
    prod = run.stage("prod")
    sd = prod["self-dynamics"]                       # an observable's group inside the stage
    assert isinstance(sd, results.StageResult) and prod.groups() == ["self-dynamics"]
    assert [name for name, _ in prod.walk()] == ["self-dynamics"]
    assert "self-dynamics/fs" in prod and "nonsense" not in prod
    with h5py.File(out, "r") as f:                   # the same numbers as the raw file
        raw = f[f"{RESULTS_ROOT}/prod/self-dynamics"]
        assert sorted(sd) == sorted(raw)
        for key in raw:
            np.testing.assert_array_equal(sd[key], raw[key][()])
        assert sd.attrs["schedule_start"] == raw.attrs["schedule_start"] == 40   # eq's 40 steps come first
        qe = f[f"{RESULTS_ROOT}/is"].attrs["quench_energy"]
    assert run.stage("is").attrs["quench_energy"] == qe
    with pytest.raises(KeyError, match="no results of stage 'G'"):
        run.stage("G")
    with pytest.raises(KeyError, match="has no 'nonsense'"):
        prod["nonsense"]
    # thermo columns every 8 steps, the stage index alongside
    th = run.thermo()
    np.testing.assert_array_equal(th["step"], np.arange(0, 73, 8))
    assert set(th["stage"]) == {0, 1} and len(th["potential_energy"]) == len(th["step"])


def test_the_final_system_is_the_checkpoint_and_the_inherent_structure(single):
    deck, out = single
    run = results.open(out)
    final = run.final_system()
    ck = read_checkpoint(checkpoint_path(out)).system
    assert run.checkpoint_path == checkpoint_path(out)
    np.testing.assert_array_equal(final.positions, ck.positions)
    np.testing.assert_array_equal(final.types, ck.types)
    # the deck ends with a quench: the final system is a minimum, at the energy the quench stage recorded
    pot = deck.build_potential()
    res = pot.compute(final)
    assert res.energy == pytest.approx(run.stage("is").attrs["quench_energy"], rel=1e-12)
    assert np.abs(res.forces).max() < 1e-9


def test_frames_of_the_trajectory(single):
    _, out = single
    run = results.open(out)
    assert run.n_frames == 33                        # every production step, 40..72
    steps = [s.step for s in run.frames()]
    assert steps == list(range(40, 73))
    assert [s.step for s in run.frames(2, 9, 3)] == [42, 45, 48]
    last = run.frame(-1)
    assert last.step == 72 and last.N == 64
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(run.frame(5).positions, f["particles/all/position/value"][5])


def test_observable_run_offline_equals_the_observable_sampled_during_the_run(single):
    """SelfDynamics on the stored frames (the same schedule, q shell and dt as the deck's) gives the
    run's own result: positions travel through the file as wrapped coordinates with image counters, so
    the unwrapped displacements agree to round-off."""
    _, out = single
    run = results.open(out)
    sd = run.stage("prod")["self-dynamics"]
    a = sd.attrs
    frames = list(run.frames())
    offline = SelfDynamics(LogSchedule(int(a["schedule_block"]), float(a["schedule_factor"]),
                                       int(a["schedule_start"])), dt=0.004, q=7.25, box=frames[0].box)
    got = offline.run(frames)
    assert sorted(got) == sorted(sd)
    for key in sd:
        np.testing.assert_allclose(got[key], sd[key], rtol=1e-10, atol=1e-13, err_msg=key)
    # frames at steps the schedule never has due give nothing to average: said, not silently empty
    late = SelfDynamics(LogSchedule(16, 2.0, 1000), dt=0.004, q=7.25, box=frames[0].box)
    with pytest.raises(ValueError, match="no frame at a step its schedule has due"):
        late.run(frames)


def test_a_study_its_units_and_their_status(study):
    deck, index = study
    s = results.open(index)
    assert type(s) is results.Study and s.status == "complete"
    assert s.states == ["T0.8", "T1.0"] and s.samples == 2 and s.source == "trajectory"
    units = s.units()
    assert [(u.state, u.sample, u.status) for u in units] == [
        ("T0.8", 0, "complete"), ("T0.8", 1, "complete"), ("T1.0", 0, "complete"), ("T1.0", 1, "complete")]
    assert [u.path for u in units] == [unit_path(index, lab, k) for lab in ("T0.8", "T1.0") for k in (0, 1)]
    assert len({u.seed for u in units}) == 4
    assert [u.sample for u in s.units(state="T1.0")] == [0, 1]
    one = s.unit("T1.0", 1)
    assert one.path == unit_path(index, "T1.0", 1) and one.run.status == "complete"
    with pytest.raises(KeyError, match="no unit of state 'T2.0' and sample 0"):
        s.unit("T2.0", 0)
    # stage results of a unit, as the raw file holds them
    with h5py.File(one.path, "r") as f:
        assert one.run.stage("G")["G"] == f[f"{RESULTS_ROOT}/G/G"][()]
    # a unit whose file is gone is 'missing', and left out of the complete ones
    os.rename(one.path, one.path + ".away")
    try:
        assert [u.status for u in s.units()] == ["complete"] * 3 + ["missing"]
        assert [(u.state, u.sample) for u in s.units(status="complete")] == [("T0.8", 0), ("T0.8", 1), ("T1.0", 0)]
    finally:
        os.rename(one.path + ".away", one.path)


def test_a_study_summary_is_the_mean_over_its_units(study):
    _, index = study
    s = results.open(index)
    summary = s.summary("sum")
    assert sorted(summary) == ["T0.8", "T1.0"]
    for state in ("T0.8", "T1.0"):
        g = [float(u.run.stage("G")["G"]) for u in s.units(state=state)]
        row = summary[state]["G/G"]
        np.testing.assert_array_equal(row["values"], g)
        assert row["mean"] == pytest.approx(np.mean(g), rel=1e-12) and row["n"] == 2
        assert row["low"] <= row["mean"] <= row["high"]
    assert s.stage("sum")["T0.8"].attrs["confidence"] == pytest.approx(0.9)


def test_draw_trajectories_and_their_frames(study):
    _, index = study
    s = results.open(index)
    draw = s.draw("T1.0")
    assert draw.path == draw_path(index, "T1.0") and draw.status == "complete"
    assert sorted(draw.stages()) == ["eq", "prod"]     # the stages up to draw_after
    fs = draw.stage("prod")["self-dynamics"]["fs"]
    assert fs.shape == (4,) and fs[0] > fs[-1]
    assert [f.step for f in draw.frames()] == list(range(40, 73, 4))
    assert draw.frame(-1).step == 72
    # the two state points' draws are different trajectories
    other = s.draw("T0.8")
    assert not np.array_equal(other.frame(-1).positions, draw.frame(-1).positions)
    with pytest.raises(FileNotFoundError):
        s.draw("T2.0")


def test_open_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such output file"):
        results.open(tmp_path / "absent.h5")
