"""`pyglass reproduce sharma-2022` (paper 5) under the reproduction standard: a tiny-scale end-to-end run
(three temperatures of a 100-particle KA system, a short trajectory) checking that every criteria row is
either measured or reported "not measured" with a reason, and unit tests of the estimators of the
time-resolved rows (the propagator G(S, S0, t), <S(t)> by S0 group, immobility, r_form, FWHM, the
excursions before a rearrangement, P_R and the Arrhenius crossing)."""
import json

import numpy as np
import pytest

from pyglass import reproduce as R
from pyglass.papers.sharma_2022 import analysis as M
from helpers import Sink


def _state(T):
    return {"label": f"T{T:.2f}", "set": {"stage.equilibrate.integrator.T": T, "stage.equilibrate.temperature": T,
                                          "stage.equilibrate.steps": 400, "stage.rearrangements.integrator.T": T,
                                          "stage.rearrangements.steps": 4000, "stage.caging.T": T}}


TINY = {"system.n": 100, "study.state": [_state(T) for T in (0.8, 0.53, 0.47)],
        "stage.equilibrate.thermo": 200, "stage.rearrangements.steps": 2400, "stage.rearrangements.every": 100,
        "stage.rearrangements.window": 2.5}


def test_paper5_reproduction_at_a_tiny_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(M, "REDUCED", TINY)
    monkeypatch.setattr(M, "Q_MAX", 12.0)
    monkeypatch.setattr(M, "Q_PER_BIN", ((6.0, 40), (12.0, 20)))
    monkeypatch.setattr(M, "STRUCTURE_TAU", 1.0)
    monkeypatch.setattr(M, "ORIGIN_TAU", 0.5)
    monkeypatch.setattr(M, "LAG_TAU", {"g0": 0.5, "g1": 2.0, "tau": 1.5, "two_tau": 3.0, "cause": 1.0,
                                       "cs_drop": 0.5, "cs_plateau": 1.0})
    qs = R.reproduce("sharma-2022", False, str(tmp_path), stream=Sink())
    base = tmp_path / "sharma-2022"
    summary = json.loads((base / "summary.json").read_text())
    rows = summary["rows"]
    crit = R.PAPERS["sharma-2022"].criteria()
    assert [r["id"] for r in rows] == [r.id for r in crit.rows] and len(qs) == len(rows)
    report = (base / "report.md").read_text()
    measured = [r for r in rows if r["ours"] != "not measured"]
    assert len(measured) >= 20            # calibration, distributions, C_S, P_R, checks at least
    for r in rows:
        assert isinstance(r["holds"], bool) and r["kind"] in ("claim", "check")
        if r["ours"] == "not measured":
            assert not r["holds"]
            assert f"Not measured: {r['id']} (" in report and "Why: " in report
        elif not r["holds"]:
            assert f"Miss: {r['id']} (" in report
    for key in ("lin-1b", "s-mean-080-053", "s-std-053-047", "depth-mean-053-047", "cs-drop-t047",
                "frac-above-peak", "s-defined", "units", "alpha2-inside"):
        assert next(r for r in rows if r["id"] == key)["ours"] != "not measured", key
    assert "Readings of Eqs. 5 and 8" in report and "Under the other readings" in report
    assert len(list(base.glob("sharma2022_*.png"))) == 4


# ------------------------------------------------------------------------------ estimators
def test_propagator_is_a_normalised_distribution_of_the_kept_pairs():
    rng = np.random.default_rng(1)
    S0 = rng.uniform(0.0008, 0.0012, (50, 40))
    St = S0 + rng.normal(0.0003, 0.0001, S0.shape)          # a synthetic field that softens
    keep = rng.random(S0.shape) < 0.7
    c, G, vals = M.propagator(S0, St, keep, (0.0009, 0.0011), 30)
    sel = keep & (S0 >= 0.0009) & (S0 < 0.0011)
    assert vals.size == sel.sum()
    np.testing.assert_allclose(np.sort(vals), np.sort(St[sel]))
    assert np.sum(G * np.diff(np.histogram_bin_edges(vals, 30))) == pytest.approx(1.0)
    assert vals.mean() - S0[sel].mean() == pytest.approx(0.0003, abs=3e-5)


def test_group_means_follow_each_s0_group_and_drop_small_groups():
    S0 = np.repeat([0.0010, 0.0012, 0.0014], 200).astype(float) + 1e-6
    St = np.where(S0 < 0.0011, S0 + 0.0002, S0 - 0.0001)
    keep = np.ones_like(S0, bool)
    keep[400:] = np.arange(200) < 50                       # the third group keeps 50 < 100 pairs
    mt, m0, n = M.group_means(S0, St, keep, np.array([0.0010, 0.0012, 0.0014]), 0.0002)
    np.testing.assert_allclose(mt[:2] - m0[:2], [0.0002, -0.0001])
    assert n.tolist() == [200, 200, 50] and np.isnan(mt[2])


def test_immobility_is_over_every_frame_up_to_the_lag():
    pos = np.zeros((6, 3, 3))
    pos[2, 1, 0] = 0.6          # particle 1 leaves at frame 2 and comes back
    pos[5, 2, 0] = 0.6          # particle 2 leaves at frame 5 only
    keep, at = M.immobile(pos, [0], [1, 3, 5])
    assert keep[1][0].tolist() == [True, True, True]
    assert keep[3][0].tolist() == [True, False, True]
    assert at[3][0].tolist() == [True, True, True]          # the at-time reading forgets the excursion
    assert keep[5][0].tolist() == [True, False, False]
    keep, _ = M.immobile(pos, [3], [5])                       # past the run: no pair kept
    assert not keep[5].any()


def test_r_form_fwhm_and_excursions():
    x = np.arange(6.0)
    assert M.r_form(x, 2 * x + 1) == pytest.approx(0.0, abs=1e-12)
    assert M.r_form(x, x ** 2) > 0.05
    r = np.linspace(0, 3, 3001)
    g = np.exp(-(r - 1.0) ** 2 / (2 * 0.1 ** 2))
    assert M.fwhm(r, g) == pytest.approx(2 * np.sqrt(2 * np.log(2)) * 0.1, rel=1e-3)
    ph = np.array([[np.nan, 0.0], [0.1, 0.0], [0.5, 0.0], [0.6, 0.5], [0.1, 0.6]])
    f, i = M.excursions(ph, 0.3)
    assert sorted(zip(f.tolist(), i.tolist())) == [(2, 0), (3, 1)]


def test_fig5_rows_recover_an_arrhenius_crossing():
    Ts = np.array([0.7, 0.6, 0.53, 0.5, 0.47])
    dE = 6.0 - 1500.0 * M.S_CENTRES
    T_star = 0.8
    sigma = np.log(0.3) + dE / T_star                       # every line passes ln 0.3 at 1/T*
    P = np.exp(sigma[None, :] - dE[None, :] / Ts[:, None])
    n = np.full_like(P, 1e6)
    out = M.fig5_rows(Ts, n, np.round(P * n))
    assert out["T_star"] == pytest.approx(T_star, rel=1e-3)
    assert out["form"] == pytest.approx(0.0, abs=1e-3)
    assert out["de_slope"] == pytest.approx(-1500.0, rel=1e-2)
    assert np.all(out["slopes"] > 0)


def test_arrhenius_miss_names_a_per_temperature_offset():
    """A P_R raised by the same factor in every bin at one T (as a lower threshold p_c there would do) is
    reported as a per-temperature departure, located at that T."""
    Ts = np.array([0.7, 0.6, 0.53, 0.5, 0.47])
    dE = 6.0 - 1500.0 * M.S_CENTRES
    sigma = np.log(0.3) + dE / 0.8
    P = np.exp(sigma[None, :] - dE[None, :] / Ts[:, None])
    P[3] *= 1.5
    n = np.full_like(P, 1e6)
    nr = np.round(P * n)
    per = [{"T": T, "p_c": 0.15 - 0.01 * j} for j, T in enumerate(Ts)]
    why = M._why_measured("arrhenius-form", [], per, {"f5": M.fig5_rows(Ts, n, nr), "nr": nr})
    assert "T = 0.5," in why
    per_T = dict(kv.split(": ") for kv in why.split("mean residual per T is ")[1].split(" (")[0].split(", "))
    assert max(per_T, key=lambda T: abs(float(per_T[T]))) == "0.5"
    assert M._why_measured("not-a-row", [], per, {}) is None
