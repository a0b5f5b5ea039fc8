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


def _tiny(n, T, modes, fig4_modes, fig4_sums):
    """A tiny part of paper 3's study: N = n at a temperature where tau_alpha is a few tau, so that F_s
    per block, DP at tau_alpha and every overlap are measured in seconds."""
    temps = {"stage.equilibrate.temperature": T, "stage.equilibrate.integrator.T": T,
             "stage.production.integrator.T": T, "stage.dw.T": T, "stage.dp.T": T}
    return dict(temps, **{
        "system.n": n, "stage.equilibrate.steps": 400, "stage.production.steps": 600,
        "stage.production.observable.0.every": 10, "study.samples": 3, "study.spacing": 200,
        "stage.dw.n_runs": 2, "stage.dw.times": [0.5, 1.0], "stage.dw.dw_interval": 1.0,
        "stage.dp.n_runs": 2, "stage.dp.times": [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2], "stage.dp.first_samples": 2,
        "stage.shear.gammas": [0.0001, 0.001, 0.02, 0.05, 0.07, 0.1, 0.2], "stage.shear.modes": modes - 2,
        "stage.shear.mode_sums": list(range(3, modes + 1)), "stage.fig4.modes": fig4_modes - 2,
        "stage.fig4.mode_sums": fig4_sums, "output.checkpoint": 0, "output.thermo": 10})


def test_paper3_reproduction_at_a_tiny_scale(tmp_path, monkeypatch):
    """Every part of paper 3 through `pyglass reproduce` (interrupted while drawing, then continued): the
    summary is under the standard (criteria commit, a claim or check with its place for every row of the
    criteria file) and every row is measured; report.md opens with the coverage table."""
    from pyglass.workflow.reproduce.criteria import Criteria
    # N = 250: 1 % of 2N = 5 modes, 3 % = 15; N = 300: 6 and 18 (the criteria's 1 % and 3 % at any N)
    main, t050, n8000 = _tiny(250, 2.0, 10, 15, [5, 15]), _tiny(250, 2.5, 10, 15, [5, 15]), \
        _tiny(300, 2.0, 10, 18, [6, 18])
    monkeypatch.setattr(M, "PARTS", [("", M.DECK, main, M.FULL), ("t050", M.DECK, t050, M.FULL),
                                     ("n8000", M.DECK, dict(n8000, **{"stage.dp.first_samples": 0}), M.FULL)])
    with pytest.raises(RunInterrupted):   # interrupted in the production run of the draw
        R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), stop_at_step=700)
    qs = R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink())
    base = tmp_path / "mosayebi-2014"
    doc = json.loads((base / "summary.json").read_text())
    crit = Criteria.load(os.path.join(os.path.dirname(M.__file__), "criteria.toml"))
    assert doc["paper"] == "mosayebi-2014" and len(doc["criteria_commit"]) == 40
    rows = doc["rows"]
    assert [r["id"] for r in rows] == [r.id for r in crit.rows] and len(qs) == len(rows)
    for row, ref in zip(rows, crit.rows):
        assert set(row) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"}
        assert row["kind"] == ref.kind in ("claim", "check") and row["where"] == ref.where
        assert isinstance(row["holds"], bool)
        assert isinstance(row["ours"], (int, float)), f"{row['id']} not measured: {row['ours']}"
    by = {r["id"]: r for r in rows}
    assert 1e-4 < by["gamma-c"]["ours"] <= 0.2 and by["gamma-c"]["paper"] == 0.071
    assert by["is-converged"]["ours"] <= 1e-10 and by["is-converged"]["holds"]
    assert 0.0 <= by["basin-1e-4"]["ours"] <= 1.0
    report = (base / "report.md").read_text()
    assert "## Coverage" in report and report.index("## Coverage") < report.index("## Claims")
    for h in crit.headlines:
        assert h.claim in report
    assert "## Checks (not counted)" in report and "## Notes" in report
    for f in ("mosayebi2014_fig1.png", "mosayebi2014_fig2.png", "mosayebi2014_fig4.png", "mosayebi2014_fs_blocks.png",
              "mosayebi2014_map_dwf.png"):
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


def test_a_report_of_the_parts_that_ran_names_the_parts_that_did_not(tmp_path, monkeypatch):
    """`--part ''` runs paper 3's main deck only; `--analyse-only` then reports it: the other parts'
    rows are not measured and say which part was not run, summary.json lists every part with its state
    and run commit, and the report says how many claims wait for a part."""
    from pyglass.workflow.reproduce.criteria import Criteria
    main = dict(_tiny(250, 2.0, 10, 15, [5, 15]), **{"study.samples": 2, "stage.dp.first_samples": 1})
    monkeypatch.setattr(M, "PARTS", [("", M.DECK, main, M.FULL), ("t050", M.DECK, main, M.FULL),
                                     ("n8000", M.DECK, main, M.FULL)])
    with pytest.raises(ValueError, match="no part has finished"):
        R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), analyse_only=True)
    assert R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), only=[""]) is None
    R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), analyse_only=True)
    base = tmp_path / "mosayebi-2014"
    doc = json.loads((base / "summary.json").read_text())
    assert doc["parts"][""]["run"] and len(doc["parts"][""]["run_commit"].split("-")[0]) == 40
    assert not doc["parts"]["t050"]["run"] and doc["parts"]["t050"]["run_commit"] is None
    crit = Criteria.load(os.path.join(os.path.dirname(M.__file__), "criteria.toml"))
    part_of = {r.id: r.part for r in crit.rows}
    for row in doc["rows"]:
        if part_of[row["id"]] in ("t050", "n8000"):
            assert row["ours"] == "not measured" and row["note"] == f"part '{part_of[row['id']]}' not run"
        else:                                   # the main part ran: none of its rows says otherwise
            assert "not run" not in row["note"], row["id"]
    report = (base / "report.md").read_text()
    assert "`t050` **not run**" in report and "claims are not measured because their part was not run" in report


def test_run_only_runs_every_part_and_leaves_the_report_to_analyse_only(tmp_path, monkeypatch):
    main = dict(_tiny(250, 2.0, 10, 15, [5, 15]), **{"study.samples": 2, "stage.dp.first_samples": 1})
    monkeypatch.setattr(M, "PARTS", [("", M.DECK, main, M.FULL)])
    with pytest.raises(ValueError, match="exclude each other"):
        R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), analyse_only=True, run_only=True)
    assert R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), run_only=True) is None
    base = tmp_path / "mosayebi-2014"
    assert (base / "run" / "study.h5").exists() and not (base / "report.md").exists()
    assert R.reproduce("mosayebi-2014", False, str(tmp_path), stream=Sink(), analyse_only=True)
    assert (base / "report.md").exists()
