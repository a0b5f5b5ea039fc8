"""`pyglass reproduce`: the entry point runs a paper's study deck (here papers 3 and 1 at a tiny scale),
continues an interrupted run, and writes summary.json with the agreed keys, report.md and figures; paper
1's pressure pilot."""
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
    """Every part of paper 1 at a tiny scale through `pyglass reproduce`: the summary is under the
    standard (criteria commit, every criteria row once, as claim or check with its place), the report
    opens with the coverage table, and the rows whose inputs every tiny run has are measured."""
    from pyglass.papers.widmer_cooper_2008 import analysis as W
    from pyglass.workflow.reproduce.criteria import Criteria
    traj = [{"type": "trajectory", "every": 20, "velocities": False}]
    md = {"stage.equilibrate.steps": 200, "stage.production.steps": 300, "stage.production.observable": traj,
          "study.spacing": 100, "output.checkpoint": 0, "output.thermo": 20}
    main = dict(md, **{"system.n": 256, "study.samples": 2, "stage.iso.n_runs": 2, "stage.iso.times": [0.5, 1.0],
                       "stage.iso.T": 2.0, "stage.quenched-modes.n_runs": 2, "stage.quenched-modes.steps": 10,
                       "stage.quenched-modes.every": 5})
    big = dict(md, **{"system.n": 256, "stage.iso.n_runs": 2, "stage.iso.times": [1.0], "stage.iso.T": 2.0})
    rec = {"system.n": 256, "stage.equilibrate.steps": 200, "stage.recovery.n_runs": 3,
           "stage.recovery.times": [3.0], "stage.recovery.T": 4.0, "output.checkpoint": 0}
    d3 = dict(md, **{"system.n": 128, "study.samples": 2, "stage.iso.n_runs": 2, "stage.iso.times": [0.5]})
    tags = [p[0] for p in W.PARTS]
    assert tags == ["", "3d", "n4096", "recovery"]                    # the parts criteria.toml names
    monkeypatch.setattr(W, "PARTS", [("", W.DECK, main, W.FULL), ("3d", W.PARTS[1][1], d3, W.PARTS[1][3]),
                                     ("n4096", W.PARTS[2][1], big, W.PARTS[2][3]),
                                     ("recovery", W.PARTS[3][1], rec, W.PARTS[3][3])])
    R.reproduce("widmer-cooper-2008", False, str(tmp_path), stream=Sink())
    base = tmp_path / "widmer-cooper-2008"
    doc = json.loads((base / "summary.json").read_text())                  # strict JSON
    crit = Criteria.load(os.path.join(os.path.dirname(W.__file__), "criteria.toml"))
    assert doc["paper"] == "widmer-cooper-2008" and doc["criteria_commit"]
    assert [r["id"] for r in doc["rows"]] == [r.id for r in crit.rows]
    for r, c in zip(doc["rows"], crit.rows):
        assert r["kind"] == c.kind in ("claim", "check") and r["where"] == c.where
        assert set(r) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"}
    rows = {r["id"]: r for r in doc["rows"]}
    for rid in ("ql-present", "dw-modes-2d", "dw-modes-2d-80", "dw-modes-3d-45", "mode-persist-retention",
                "is-change-rate", "nve-drift", "is-converged", "is-stable", "state-pressure", "s1-recover-x4",
                "s1-recover-x3"):
        assert rows[rid]["ours"] != "not measured", (rid, [k for k, r in rows.items() if r["ours"] == "not measured"])
    assert rows["is-stable"]["ours"] == 0 and rows["is-converged"]["ours"] < 1e-6
    assert rows["state-pressure"]["paper"] == 13.5 and 5 < rows["state-pressure"]["ours"] < 30
    report = (base / "report.md").read_text()
    assert "## Coverage" in report and report.index("## Coverage") < report.index("## Claims") < report.index("## Checks")
    for h in crit.headlines:
        assert h.claim in report
    assert "not attempted" in report            # the 3D-persistence headline
    for f in ("widmercooper2008_overlap_persistence.png", "widmercooper2008_fig_s1.png",
              "widmercooper2008_dynamics.png"):
        assert os.path.getsize(base / f) > 1000


def test_paper1_pilot_reads_each_density_and_its_production_pressure(tmp_path):
    """The pilot study (one unit per density) read through the results API: each unit's density from its
    box and the mean production pressure, against the thermo rows read by hand."""
    import h5py
    import numpy as np

    from pyglass.papers.widmer_cooper_2008 import pilot
    from pyglass.workflow.deck import parse_deck
    from pyglass.workflow.run import run_deck
    with open(os.path.join(os.path.dirname(pilot.__file__), "widmer_cooper_2008_pressure_pilot.toml")) as fh:
        text = fh.read()
    text = (text.replace("n = 1024", "n = 100").replace("steps = 80000", "steps = 100")
            .replace("steps = 120000", "steps = 200").replace("thermo = 100\n", "thermo = 10\n"))
    deck = parse_deck(text, str(tmp_path / "pilot.toml"))
    out = str(tmp_path / "pilot.h5")
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    from pyglass.workflow.run import results
    rho, p = [], []
    for unit in results.open(out).units(status="complete"):
        with h5py.File(unit.path, "r") as f:
            th = f["observables/thermo"]
            rows = th["stage/value"][()] == 2
            p.append(th["pressure/value"][()][rows].mean())
            edges = f["particles/all/box/edges"][()]          # (d,) lengths or (d, d) edge vectors
            volume = np.prod(edges) if edges.ndim == 1 else abs(np.linalg.det(edges))
            rho.append(100 / volume)
    assert np.allclose(sorted(rho), [0.74, 0.745, 0.75, 0.755])
    target = float(np.mean(p))
    fit, se = pilot.pilot_density(out, target=target)
    order = np.argsort(rho)
    np.testing.assert_allclose(fit.densities, np.array(rho)[order], rtol=1e-12)
    np.testing.assert_allclose(fit.pressures, np.array(p)[order], rtol=1e-12)
    assert len(se) == 4 and min(rho) < fit.density < max(rho)
