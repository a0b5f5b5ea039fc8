"""`pyglass reproduce kapteijns-2021` (paper 2): the whole multi-deck study end to end at a tiny scale
(two temperatures per model, 64-100 particles), run part by part as separate jobs would (`--part`),
then reported. At this size the numbers mean nothing: the plumbing and the shape of the report are
checked (its general analysis is tested where it lives: first_block_drift and ballistic_end in
test_observables, mesoelastic_fit in test_landscape, count_new_minima and transition_rate_spread in
test_ensembles, relative_change in test_statistics)."""
import json
import os
import tomllib

import pytest

from pyglass import reproduce as R
from pyglass.papers.kapteijns_2021 import analysis as K
from helpers import Sink


def _tiny(part_deck, n):
    with open(os.path.join(R.PAPERS["kapteijns-2021"].folder, part_deck), "rb") as fh:
        raw = tomllib.load(fh)
    states = []
    for st in raw["study"]["state"][:2]:
        s = dict(st["set"])
        for key in s:
            if key.endswith(".steps") and "is-trajectory" not in key:
                s[key] = 200
        if "stage.is-trajectory.steps" in s or "ss_densities" in part_deck:
            s["stage.is-trajectory.steps"] = 20
        if "stage.production.observable.0.block" in s:
            s["stage.production.observable.0.block"] = 100
        if "study.spacing" in s:
            s["study.spacing"] = 50
        states.append({"label": st["label"], "set": s})
    over = {"system.n": n, "study.state": states, "output.checkpoint": 0}
    if "ss_densities" not in part_deck:
        over.update({"study.samples": 2, "stage.kappa.n_pairs": 20, "stage.equilibrate.thermo": 100,
                     "stage.production.thermo": 100})
    else:
        over["stage.is-trajectory.steps"] = 20
    return over



def test_paper2_reproduction_part_by_part_at_a_tiny_scale(tmp_path, monkeypatch):
    parts = [(tag, deck, _tiny(deck, 64 if tag == "sw" else 100), full) for tag, deck, _, full in K.PARTS]
    monkeypatch.setattr(K, "PARTS", parts)
    with pytest.raises(ValueError, match="no part"):
        R.reproduce("kapteijns-2021", False, str(tmp_path), stream=Sink(), only=["lj"])
    tags = [p[0] for p in parts]
    assert R.reproduce("kapteijns-2021", False, str(tmp_path), stream=Sink(), only=tags[:2]) is None   # parts left
    qs = R.reproduce("kapteijns-2021", False, str(tmp_path), stream=Sink(), only=tags[2:])
    base = tmp_path / "kapteijns-2021"
    rows = json.loads((base / "summary.json").read_text())["rows"]   # strict JSON
    assert len(rows) == len(qs) >= 12
    assert all(set(r) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"} for r in rows)
    assert all(isinstance(r["holds"], bool) for r in rows)
    assert any(r["quantity"].startswith("IPL: Eq. 3") for r in rows)
    for f in ("kapteijns2021_fig4.png", "kapteijns2021_fig5.png", "kapteijns2021_fig9.png"):
        assert (base / f).stat().st_size > 1000
    report = (base / "report.md").read_text()
    assert "kapteijns_2021_sw.toml" in report and "## Notes" in report
    # the decks change after the run: --analyse-only describes the run as it was made (the deck in its
    # index file), says so, and leaves the run's deck.toml alone
    kept = (base / "run" / "ipl" / "deck.toml").read_text()
    monkeypatch.setattr(K, "PARTS", [(t, d, {**o, "output.checkpoint": 5000}, f) for t, d, o, f in parts])
    out = Sink()
    assert R.reproduce("kapteijns-2021", False, str(tmp_path), stream=out, analyse_only=True) is not None
    assert out.text.count("earlier version of its deck") == len(parts)
    assert (base / "run" / "ipl" / "deck.toml").read_text() == kept
    assert json.loads((base / "summary.json").read_text())["rows"] == rows
