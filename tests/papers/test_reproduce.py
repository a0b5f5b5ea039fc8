"""`pyglass reproduce`: the entry point runs a paper's study deck (here paper 3 at a tiny scale),
continues an interrupted run, and writes summary.json with the agreed keys, report.md and figures."""
import json
import os

import pytest

from pyglass import reproduce as R
from pyglass.papers.mosayebi_2014 import analysis as M
from pyglass.workflow.run import RunInterrupted
from helpers import Sink

TINY = {"system.n": 128, "stage.equilibrate.steps": 400, "stage.equilibrate.observable": [], "study.samples": 3,
        "study.spacing": 200, "stage.dw.n_runs": 2, "stage.dw.times": [0.5, 1.0], "stage.dw.dw_interval": 1.0,
        "stage.shear.gammas": [0.0001, 0.05, 0.1, 0.2], "stage.modes.k": 18, "output.checkpoint": 0}



def test_paper3_reproduction_at_a_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "PARTS", [("", M.DECK, TINY, M.FULL),
                                     ("n8000", M.DECK, dict(TINY, **{"system.n": 160, "study.samples": 2}), M.FULL)])
    monkeypatch.setattr(M, "N_MODES", (4, 10, 20))
    with pytest.raises(RunInterrupted):   # interrupted while the samples are being drawn
        R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), stop_at_step=200)
    qs = R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink())
    base = tmp_path / "mosayebi-2014"
    rows = json.loads((base / "summary.json").read_text())["rows"]
    assert len(rows) == len(qs) >= 5
    for row in rows:
        assert set(row) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"}
        assert isinstance(row["holds"], bool)
    gc = rows[0]
    assert gc["paper"] == 0.071 and 0 < gc["ours"] <= 0.2
    quantity = [r["quantity"] for r in rows]
    assert any(q.startswith("gamma_c(N = 160) - gamma_c(N = 128)") for q in quantity)
    assert sum("O_|d|,p" in q for q in quantity) == 2   # Fig. 4 at each N
    report = (base / "report.md").read_text()
    assert "| quantity | where | paper | ours |" in report and "## Notes" in report
    for f in ("mosayebi2014_stress_overlaps.png", "mosayebi2014_map_nonaffine_d.png"):
        assert os.path.getsize(base / f) > 1000


def test_paper1_reproduction_runs_and_reports_at_a_tiny_scale(tmp_path, monkeypatch):
    from pyglass.papers.widmer_cooper_2008 import analysis as W
    tiny = {"system.n": 256, "stage.equilibrate.steps": 400, "stage.production.steps": 400,
            "stage.production.observable": [{"type": "self-dynamics", "schedule": "log", "block": 400, "q": 6.0}],
            "study.samples": 2, "study.spacing": 200, "stage.iso.n_runs": 3, "stage.iso.times": [1.0, 2.0],
            "stage.dw-vs-modes.baseline_samples": 5, "output.checkpoint": 0}
    tiny_3d = dict(tiny, **{"system.n": 128, "stage.iso.times": [1.0], "stage.modes.k": 20})
    monkeypatch.setattr(W, "PARTS", [("", W.DECK, tiny, W.FULL), ("3d", W.PARTS[1][1], tiny_3d, W.PARTS[1][3])])
    R.reproduce("widmer-cooper-2008", False, str(tmp_path), stream=Sink())
    rows = json.loads((tmp_path / "widmer-cooper-2008" / "summary.json").read_text())["rows"]   # strict JSON
    assert [r["paper"] for r in rows][:1] == [50.0]
    assert any(r["quantity"].startswith("SI §4 3D soft spheres") for r in rows)
    assert any(r["quantity"].startswith("Fig. S1") and "any later time" in r["quantity"] for r in rows)
    assert all(set(r) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"} for r in rows)
