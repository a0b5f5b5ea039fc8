"""`pyglass reproduce kapteijns-2021` (paper 2): its analysis helpers against analytic cases, and the
whole multi-deck study end to end at a tiny scale (two temperatures per model, 64-100 particles),
run part by part as separate jobs would (`--part`), then reported. At this size the numbers mean
nothing: the plumbing and the shape of the report are checked."""
import json
import os
import tomllib

import numpy as np
import pytest
from scipy.optimize import brentq

from pyglass import reproduce as R
from pyglass.papers.kapteijns_2021 import analysis as K
from helpers import Sink


def test_mesoelastic_fit_recovers_eq3_parameters():
    t_true, l_true = 0.05, 0.45
    rows = []
    for T, kappa in ((0.9, 20.0), (0.8, 21.0), (0.7, 23.5), (0.65, 25.0)):
        a0 = 0.82 ** (-1 / 3)
        t0 = a0 / np.sqrt(T)
        tau = t0 * t_true * np.exp(l_true ** 2 * a0 ** 2 * kappa / T)
        rows.append({"T": T, "a0": a0, "t0": t0, "tau": tau, "kappa": (kappa, kappa, kappa)})
    rows.append({"T": 2.0, "a0": 1.0, "t0": 0.7, "tau": 0.7, "kappa": (5.0, 5.0, 5.0)})   # tau/t0 < FIT_MIN: left out
    f = K._mesoelastic(rows)
    assert f["n"] == 4
    assert f["l"] == pytest.approx(l_true, rel=1e-10) and f["t"] == pytest.approx(t_true, rel=1e-10)
    assert f["max_res"] < 1e-10


def test_ballistic_end_of_an_ornstein_uhlenbeck_msd():
    T, gamma, a0 = 0.7, 4.0, 1.1
    t0 = a0 / np.sqrt(T)

    def msd(t):   # 3D Langevin particle, m = 1: exact
        return 6 * T / gamma * (t - (1 - np.exp(-gamma * t)) / gamma)

    t = np.geomspace(1e-4, 10, 4000)
    exact = brentq(lambda s: msd(s) / (3 * T * s * s) - K.BALLISTIC_DROP, 1e-4, 10) / t0
    assert K._ballistic_end(t, msd(t), a0, t0) == pytest.approx(exact, rel=1e-3)


def test_relative_change_from_a_weighted_line_in_inverse_temperature():
    rows = [{"T": T, "kappa": (10 + 5 / T, 9.9 + 5 / T, 10.1 + 5 / T)} for T in (1.0, 0.8, 0.5)] + [{"T": 0.4}]
    rel, spread, hi, lo = K._relative_change(rows, "kappa")
    assert rel == pytest.approx(20 / 15 - 1, rel=1e-12) and (hi, lo) == (1.0, 0.5)
    assert 0 < spread < 0.02
    noisy = [dict(r, kappa=(r["kappa"][0] + d, r["kappa"][1] + d, r["kappa"][2] + d))
             for r, d in zip(rows[:3], (0.0, 3.0, 0.0))]
    assert K._relative_change(noisy, "kappa")[1] > 10 * spread   # scatter beyond the CIs widens the spread


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



def test_new_minima_counts_first_visits_only():
    """Jumps 0->1 (new), 1->0, 0->1 (returns), 1->2 (new), 2->2+1e-7 (no jump), ->0 (return), ->3 (new),
    ->1+5e-6 (a return: within epsilon of a visited minimum)."""
    from pyglass.analysis.ensembles.inherent_structures import ISTrajectory
    e = [0.0, 1.0, 0.0, 1.0, 2.0, 2.0 + 1e-7, 0.0, 3.0, 1.0 + 5e-6]

    def jumps(u, eps, segment=None):
        return ISTrajectory(np.arange(len(u)), u, eps, 1, 1.0, 1.0, 3, segment=segment).transitions

    assert K._new_minima(e, jumps(e, 1e-5), 1e-5) == 3
    assert K._new_minima(e, jumps(e, 1e-8), 1e-8) == 5       # now 2 + 1e-7 and 1 + 5e-6 are minima of their own
    assert K._new_minima([1.0], jumps([1.0], 1e-5)) == 0
    u = [0.0, 1.0, 2.0, 3.0]
    assert K._new_minima(u, jumps(u, 1e-5, [0, 0, 1, 1])) == 2   # 1 -> 2 spans a gap


def test_tau_drift_compares_the_first_block_at_tau_alpha():
    """F_s = exp(-t/10) overall and later, exp(-t/12) in the first block, one origin's sd 0.05, four origins:
    at tau_alpha = 10 ln 5 the first block reads 5^(-5/6) against 0.2, z = (5^(-5/6) - 0.2) / (0.05 sqrt(4/3)),
    positive (the first block is slower); with two origins the test is not made."""
    t = np.geomspace(0.1, 100, 3001)
    row = {"tau": 10 * np.log(5), "fs_first": np.exp(-t / 12), "fs_later": np.exp(-t / 10),
           "fs_sd": np.full_like(t, 0.05), "origins": np.full_like(t, 4.0)}
    out = K._tau_drift(t, np.exp(-t / 10), row)
    assert out["tau_z"] == pytest.approx((5 ** (-5 / 6) - 0.2) / (0.05 * np.sqrt(4 / 3)), rel=1e-4)
    assert out["tau_dof"] == 3 and out["tau_sd1"] == pytest.approx(0.05 / (0.2 * np.log(5)), rel=1e-3)
    assert K._tau_drift(t, np.exp(-t / 10), dict(row, origins=np.full_like(t, 2.0))) == {}


def test_rate_spread_over_segments():
    """Three segments of 4 quenches with 1, 3 and 2 jumps (and a jump across each gap, not counted): the
    spread is the rate's standard error over the segments, 2 x sd(1, 3, 2) / (2 sqrt 3); one segment: Poisson."""
    u = np.array([0, 1, 1, 1, 5, 6, 7, 8, 20, 21, 21, 22], float)
    seg = np.repeat([0, 1, 2], 4)
    tr = (np.abs(np.diff(u)) > 1e-5) & (seg[1:] == seg[:-1])
    row = {"reduced_rate": 2.0, "n_tr": 6, "is_u": u, "is_seg": seg, "is_t": np.arange(12.0), "is_tr": tr}
    rate, spread, frac = K._rate_row(row)
    assert (rate, frac) == (2.0, 6 / 9)
    assert spread == pytest.approx(2.0 * 1.0 / (2.0 * np.sqrt(3)))
    one = dict(row, is_seg=np.zeros(12, int), n_tr=9, is_tr=np.abs(np.diff(u)) > 1e-5)
    assert K._rate_row(one)[1] == pytest.approx(2.0 / 3.0)


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
