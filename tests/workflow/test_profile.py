"""The run profile (pyglass.workflow.run.profile): where a run's wall time goes, by phase. Its
accounting (nested phases exclusive, the engine's clocks moved to their phases), a tiny deck's
profile in the output and the printed run, a study's in its index, restarts adding up, the
reproduction report's section and the dry run's estimate. No time is asserted as a speed."""
import json
import types

import pytest

from pyglass.workflow.deck import parse_deck
from pyglass.workflow.reproduce import reproduction_profile
from pyglass.workflow.reproduce.report import write_report
from pyglass.workflow.run import RunInterrupted, plan, results, run_deck
from pyglass.workflow.run.profile import PHASES, Profile
from decks import deck, md, system
from helpers import Sink


def profile_deck(n=64, study=None) -> str:
    """A tiny KA run that touches every timed phase: MD (with neighbour builds), a FIRE quench and I/O
    (thermo, trajectory, checkpoints)."""
    return deck(system(n=n, jitter=0.02, temperature=None),
                md("prod", steps=60, dt=0.004, T=0.8, tau=0.4, temperature=0.8),
                {"name": "is", "kind": "quench", "minimizer": {"type": "fire", "ftol": 1e-6}},
                potential={"model": "kob-andersen", "smoothing": "smooth"},
                output={"thermo": 20, "trajectory": 20, "checkpoint": 30}, study=study,
                run={"seed": 7, "progress": False})


DECK = profile_deck()


def run(tmp_path, text=DECK, **kw):
    out = str(tmp_path / "out.h5")
    sink = Sink()
    run_deck(parse_deck(text, str(tmp_path / "deck.toml")), output=out, stream=sink, handle_signals=False, **kw)
    return out, sink.text


def check_adds_up(record):
    phases = record["phases"]
    assert set(phases) == set(PHASES)
    assert all(v >= 0 for v in phases.values())
    assert sum(phases.values()) <= record["wall_seconds"] * (1 + 1e-9)
    assert record["other_seconds"] == pytest.approx(record["wall_seconds"] - sum(phases.values()), abs=1e-9)


def test_nested_phases_keep_their_own_time_and_the_engine_clocks_go_to_their_phases(monkeypatch):
    """A fake clock: exact bookkeeping, no timing."""
    from pyglass.workflow.run import profile as prof
    now = {"t": 0.0}
    clocks = {"neighbours": 0.0, "quench": 0.0, "structure": 0.0}
    monkeypatch.setattr(prof, "time", types.SimpleNamespace(perf_counter=lambda: now["t"]))
    monkeypatch.setattr(prof, "engine_clocks", lambda: dict(clocks))

    def spend(seconds, clock=None):
        now["t"] += seconds
        if clock:
            clocks[clock] += seconds

    p = Profile()
    spend(1.0)                                  # setup: "other"
    with p.phase("md"):
        spend(10.0)
        spend(2.0, "neighbours")                # a list build during MD
        with p.phase("io"):
            spend(3.0)
            spend(0.5, "neighbours")            # a build inside the nested phase
        with p.phase("analysis"):
            spend(4.0)
            spend(6.0, "quench")                # a minimization inside analysis
            spend(1.5, "neighbours")
    rec = p.finish().as_dict()
    assert rec["wall_seconds"] == 28.0
    assert rec["phases"] == {"md": 10.0, "neighbours": 4.0, "quench": 6.0, "landscape": 0.0,
                             "structure": 0.0, "analysis": 4.0, "io": 3.0}
    assert rec["other_seconds"] == 1.0
    with pytest.raises(KeyError):
        with p.phase("lunch"):
            pass


def test_a_tiny_run_records_where_its_time_went(tmp_path):
    out, printed = run(tmp_path)
    rec = results.open(out).profile
    check_adds_up(rec)
    assert rec["phases"]["md"] > 0
    assert rec["phases"]["quench"] > 0       # the FIRE stage
    assert rec["phases"]["io"] > 0           # frames, thermo rows, checkpoints
    assert rec["invocations"] == 1
    assert "where the time went" in printed and "MD steps" in printed


def test_a_restarted_run_adds_the_interrupted_invocation(tmp_path):
    with pytest.raises(RunInterrupted):
        run(tmp_path, stop_at_step=30)
    first = results.open(str(tmp_path / "out.h5")).profile
    assert first["invocations"] == 1 and first["phases"]["md"] > 0
    out, _ = run(tmp_path, restart=str(tmp_path / "out.ckpt.h5"))
    rec = results.open(out).profile
    check_adds_up(rec)
    assert rec["invocations"] == 2
    assert rec["wall_seconds"] > first["wall_seconds"]


def test_a_study_index_holds_the_study_profile(tmp_path):
    text = profile_deck(study={"samples": 2})
    out, printed = run(tmp_path, text)
    rec = results.open(out).profile
    check_adds_up(rec)
    assert rec["phases"]["md"] > 0 and rec["replica_groups"] == 1
    assert "where the time went" in printed


def test_the_report_has_the_section_and_summary_the_profile(tmp_path):
    out, _ = run(tmp_path)
    analysis = Profile()
    with analysis.phase("analysis"):
        pass
    profile = reproduction_profile({"": out}, analysis.finish())
    check_adds_up(profile)
    assert profile["missing"] == []
    paper = types.SimpleNamespace(name="tiny", title="A tiny paper", parts=[], folder=str(tmp_path),
                                  criteria=lambda: None)
    write_report(paper, str(tmp_path), [], [], [], False, {}, profile=profile)
    report = (tmp_path / "report.md").read_text()
    assert "## Where the time went" in report and "| MD steps |" in report
    assert json.loads((tmp_path / "summary.json").read_text())["profile"]["phases"]["md"] > 0
    # a run made before profiles: the report says so instead of a table
    write_report(paper, str(tmp_path), [], [], [], False, {}, profile=None)
    assert "No profile" in (tmp_path / "report.md").read_text()


def test_the_dry_run_estimates_by_phase():
    text = profile_deck(n=1000)
    lines = plan(parse_deck(text, "deck.toml"))
    at = next(k for k, line in enumerate(lines) if line.startswith("estimate by phase"))
    shown = " ".join(lines[at:])
    for name in ("MD steps", "neighbour builds", "quenches (minimisation)"):
        assert name in shown
