"""`pyglass reproduce sharma-2022` (paper 5) end to end at a tiny scale: three temperatures of a
100-particle KA system, a short trajectory, and the analysis (threshold, calibration, local softness,
P(S), P(S|R), P_R(S), Arrhenius crossing, C_S(t)) writing summary.json, report.md and the figures.
Only the plumbing and the shape of the report are checked: at this size the numbers mean nothing."""
import json

from pyglass import reproduce as R
from pyglass.papers.sharma_2022 import analysis as M
from helpers import Sink


def _state(T):
    return {"label": f"T{T:.2f}", "set": {"stage.equilibrate.integrator.T": T, "stage.equilibrate.temperature": T,
                                          "stage.equilibrate.steps": 400, "stage.rearrangements.integrator.T": T,
                                          "stage.caging.T": T}}


TINY = {"system.n": 100, "study.state": [_state(T) for T in (0.8, 0.6, 0.47)],
        "stage.equilibrate.thermo": 200, "stage.rearrangements.steps": 2400, "stage.rearrangements.every": 100,
        "stage.rearrangements.window": 2.5}



def test_paper5_reproduction_at_a_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "REDUCED", TINY)
    monkeypatch.setattr(M, "STRUCTURE_EVERY", 8)
    monkeypatch.setattr(M, "Q_MAX", 12.0)
    monkeypatch.setattr(M, "Q_PER_BIN", ((6.0, 40), (12.0, 20)))
    monkeypatch.setattr(M, "N_BOOT", 20)
    qs = R.reproduce("sharma-2022", False, str(tmp_path), stream=Sink())
    base = tmp_path / "sharma-2022"
    rows = json.loads((base / "summary.json").read_text())["rows"]
    assert len(rows) == len(qs) >= 8
    for row in rows:
        assert set(row) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"}
        assert isinstance(row["holds"], bool)
    names = " ".join(r["quantity"] for r in rows)
    for key in ("p_c", "Fig. 1(b)", "Fig. 3(b)", "Fig. 5(a)", "Fig. 5(c)"):
        assert key in names
    cross = next(r for r in rows if r["quantity"].startswith("Fig. 5(c)"))
    assert cross["paper"] == M.T_ONSET
    report = (base / "report.md").read_text()
    assert "| quantity | where | paper | ours |" in report and "## Notes" in report
    assert len(list(base.glob("sharma2022_*.png"))) == 4
