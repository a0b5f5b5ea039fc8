"""The `rearrangements` and `softness-train` deck stages on a tiny KA deck: their results equal the
Python API's on the same data (p_hop of the stored frames bitwise, the quenched frames, the saved
model), and the deck validation of both stages (and of `overlap` given a vector field) names the key."""
import json
import os

import numpy as np
import pytest

from pyglass import softness
from pyglass.io.checkpoint import read_checkpoint
from pyglass.workflow.deck import DeckError, parse_deck
from pyglass.workflow.run import run_deck

from decks import deck as deck_text, md, stage, system
from helpers import Sink
from test_stages import results as _results

# N = 250 at T = 0.6: 41 quenched frames 0.25 apart; p_hop above 0.1 on ~0.5 % of the (frame,
# particle) pairs, so both classes of examples exist for species A.
HEAD = (stage("quench", "push-off", minimizer={"type": "fire", "ftol": 1e-2}),
        md("eq", kind="equilibrate", steps=500, dt=0.005, T=0.6, tau=0.5, temperature=0.6))


def rearrangements(name="rr", **keys) -> dict:
    """The `rearrangements` stage the tests start from, with `keys` changed."""
    return stage("rearrangements", name, **{
        "steps": 2000, "every": 50, "window": 1.0, "quench": True, "threshold": 0.1,
        "integrator": {"type": "nosehoover", "dt": 0.005, "T": 0.6, "tau": 0.5},
        "minimizer": {"type": "cg", "ftol": 1e-8}, **keys})


def train(**keys) -> dict:
    """The `softness-train` stage on `rr` the tests start from, with `keys` changed."""
    return stage("softness-train", "train", **{
        "source": "rr", "positions": "inherent", "p_rearranging": 0.1, "p_stable": 0.01, "stable_time": 1.0,
        "species": [0], "frame_stride": 2, "test_fraction": 0.25, "cv": 3, "C": [0.01, 1.0], "mu_step": 0.1,
        "r_max": 3.0, "angular": False, **keys})


def softness_deck(*stages) -> str:
    """250 KA particles placed at random, pushed off and equilibrated at T = 0.6, then `stages`."""
    return deck_text(system(n=250, generate="random", dim=3, min_distance=0.7, temperature=None), *HEAD, *stages,
                     potential={"model": "kob-andersen", "smoothing": "smooth"}, output={"thermo": 0},
                     run={"seed": 7, "progress": False})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run of push-off -> equilibrate -> rearrangements -> softness-train (~10 s)."""
    tmp = tmp_path_factory.mktemp("softness_deck")
    deck = parse_deck(softness_deck(rearrangements(), train()), str(tmp / "deck.toml"))
    out = str(tmp / "out.h5")
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    # the stages leave the deck's system where "eq" left it: the checkpoint is the template (box, types)
    system = read_checkpoint(str(tmp / "out.ckpt.h5")).system
    return deck, out, system


def _at(template, unwrapped):
    """A copy of `template` with these (unwrapped) positions, wrapped into the box."""
    s = template.copy()
    s.images[:] = 0
    s.positions = np.asarray(unwrapped, float)
    s.wrap()
    return s


def test_rearrangements_stage_equals_phop_and_quench_of_its_frames(trained):
    from pyglass.engine.minimizers import ConjugateGradient
    from pyglass.analysis.observables.rearrangements import phop
    from pyglass.workflow.stages.rearrangements import window_frames
    deck, out, system = trained
    r, attrs = _results(out, "rr")
    n_frames = 2000 // 50 + 1
    assert r["times"].shape == (n_frames,)
    np.testing.assert_allclose(np.diff(r["times"]), 50 * 0.005, rtol=1e-9)
    assert r["positions"].shape == r["inherent_positions"].shape == (n_frames, 250, 3)
    assert r["positions"].dtype == r["inherent_positions"].dtype == np.float32
    k = window_frames(1.0, 50, 0.005)
    assert k == 4 and int(attrs["window_frames"]) == k and attrs["phop_on"] == "inherent"
    # p_hop is exactly the observable on the stored (float32) inherent-structure frames
    ref = phop(r["inherent_positions"], k)
    np.testing.assert_array_equal(r["phop"], ref)
    assert np.isnan(r["phop"][:k // 2]).all() and np.isnan(r["phop"][-(k // 2):]).all()
    assert np.isfinite(r["phop"][k // 2:-(k // 2)]).all()
    hop = np.nan_to_num(ref, nan=-np.inf) > 0.1
    defined = ~np.isnan(ref).all(axis=1)
    np.testing.assert_array_equal(r["fraction_rearranging"], np.where(defined, hop.mean(1), np.nan))
    assert float(r["mean_phop"]) == pytest.approx(np.nanmean(ref), rel=1e-12)
    # each inherent frame is the quench of its instantaneous frame (same minimizer), to float32 rounding
    pot = deck.build_potential()
    np.testing.assert_allclose(r["positions"][0], system.unwrapped_positions, rtol=0, atol=2e-6)   # frame 0
    for f in (0, n_frames // 2, n_frames - 1):
        s = _at(system, r["positions"][f])
        res = ConjugateGradient(ftol=1e-8).minimize(s, pot)
        assert res.converged
        np.testing.assert_allclose(s.unwrapped_positions, r["inherent_positions"][f], rtol=0, atol=2e-6)
        assert not np.allclose(r["positions"][f], r["inherent_positions"][f], atol=1e-3)   # it moved


def test_softness_train_stage_model_reproduces_its_outputs(trained):
    deck, out, system = trained
    rr, _ = _results(out, "rr")
    r, attrs = _results(out, "train")
    path = attrs["model"]
    assert path == os.path.join(os.path.dirname(out), "out.train.json") and os.path.exists(path)
    model = softness.load(path)
    # the softness written is the model's on the last stored inherent-structure frame
    last = rr["inherent_positions"][-1]
    np.testing.assert_allclose(r["softness"], model.apply(system, positions=np.asarray(last, float)),
                               rtol=1e-10, atol=1e-12)
    sf = softness.StructureFunctions.from_grid(model.grid)
    np.testing.assert_allclose(r["softness"], model.predict(sf.compute(_at(system, last))), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(sf.mu, 0.1 * np.arange(1, 31), rtol=1e-12)
    assert sf.r_max == 3.0 and len(sf.angular) == 0
    assert r["softness"].shape == (250,)
    # held-out and training accuracy, C, example counts as recorded in the model
    assert 0.0 <= float(r["accuracy"]) <= 1.0 and 0.0 <= float(r["train_accuracy"]) <= 1.0
    assert float(r["accuracy"]) == model.accuracy and float(r["C"]) == model.C and model.C in (0.01, 1.0)
    assert int(r["n_rearranging"]) == model.info["n_rearranging"]
    assert int(r["n_stable"]) == model.info["n_stable"]
    assert sorted(r["cv_accuracy"][:, 0].tolist()) == [0.01, 1.0]
    # the training set is training_examples on the stored p_hop (balanced per species: the counts
    # do not depend on the draw), species A only, examples on even frames only
    stable_frames = int(round(1.0 / (50 * 0.005))) + 1
    rear, stab = softness.training_examples(rr["phop"], 0.1, 0.01, stable_frames, types=system.types, seed=0,
                                            frame_stride=2)
    assert np.all(rear[:, 0] % 2 == 0) and np.all(stab[:, 0] % 2 == 0)
    n_a = int(np.sum(system.types[rear[:, 1]] == 0))
    assert n_a >= 10 and int(r["n_rearranging"]) == int(r["n_stable"]) == n_a
    # the model's info records the stage's thresholds and source
    info = model.info
    assert info["p_rearranging"] == 0.1 and info["p_stable"] == 0.01 and info["stable_time"] == 1.0
    assert info["species"] == [0] and info["source_stage"] == "rr" and info["positions"] == "inherent"
    assert info["frame_time"] == pytest.approx(0.25, rel=1e-12) and info["T"] == 0.6
    assert json.load(open(path))["info"]["p_rearranging"] == 0.1


# ------------------------------------------------------------------------------ deck validation
def _problem(text, key, msg):
    with pytest.raises(DeckError) as info:
        parse_deck(text, "x.toml")
    err = info.value
    hits = [p for p in err.problems if p.key == key]
    assert hits, f"no problem names {key!r}: {err}"
    assert msg in hits[0].message, str(err)
    assert hits[0].line is not None and f"x.toml:{hits[0].line}: {key}:" in str(err), str(err)
    return str(err)


@pytest.mark.parametrize("window", [0.3, 0.2, 0.6])    # 1.5, 1 and 3 frames of every * dt = 0.2
def test_window_not_an_even_number_of_frames(window):
    text = _problem(softness_deck(rearrangements(every=40, window=window)), "stage[3].window", "must be an even number (>= 2) of frames")
    assert "every * dt = 0.2" in text


def test_every_larger_than_steps():
    _problem(softness_deck(rearrangements(every=4000)), "stage[3].every", "must be <= steps = 2000")


def test_steps_too_short_for_one_window():
    _problem(softness_deck(rearrangements(steps=150)), "stage[3].steps",    # 4 frames, window of 5
             "cannot hold one p_hop window")


@pytest.mark.parametrize("source", ["eq", "later", "nope"])
def test_softness_train_source_not_an_earlier_rearrangements_stage(source):
    text = _problem(softness_deck(rearrangements(), train(source=source), rearrangements("later")),
                    "stage[4].source", f"no earlier stage {source!r} writes 'phop'")
    assert "`rearrangements` stages before this one: rr" in text


def test_softness_train_inherent_positions_need_quench():
    _problem(softness_deck(rearrangements(quench=False), train()), "stage[4].source", "set quench = true there")
    parse_deck(softness_deck(rearrangements(quench=False), train(positions="instantaneous")), "x.toml")   # valid


@pytest.mark.parametrize("field", ["rr/positions", "rr/inherent_positions"])
def test_overlap_refuses_per_particle_vector_fields(field):
    text = _problem(softness_deck(rearrangements(), stage("overlap", "cmp", a=field, b="rr/phop")), "stage[4].a",
                    f"{field!r} is not a per-particle field")
    assert "per-particle fields: rr/phop" in text
    parse_deck(softness_deck(rearrangements(), stage("overlap", "cmp", a="rr/phop", b="rr/phop")),   # a field
               "x.toml")


@pytest.mark.parametrize("too_few", ["skip", "error"])
def test_softness_train_with_too_few_examples_skips_or_stops(tmp_path, too_few):
    """p_rearranging above every p_hop: no rearranging example. `skip` writes the counts and NaN
    accuracy and says why (a study's other units go on); `error` stops with the same reason."""
    deck = parse_deck(softness_deck(rearrangements(), train(p_rearranging=50.0, too_few=too_few)),
                      str(tmp_path / "deck.toml"))
    out = str(tmp_path / "out.h5")
    if too_few == "error":
        with pytest.raises(ValueError, match="only 0 rearranging and 0 stable examples"):
            run_deck(deck, output=out, stream=Sink(), handle_signals=False)
        return
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    r, attrs = _results(out, "train")
    assert r["n_rearranging"] == 0 and np.isnan(r["accuracy"]) and "min_examples = 10" in attrs["skipped"]
    assert not os.path.exists(str(tmp_path / "out.train.json"))
