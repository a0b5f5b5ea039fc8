"""`pyglass reproduce trsp` (paper 4) end to end at a tiny scale: the five reduced-scale state labels
(T0.47 ... T0.70, the temperatures the analysis keys on) run warm (T = 0.75 ... 1.0) on 100 particles so that
particles rearrange within a few tau, then the whole analysis: SVM, units, Q/chi4/tau4/chi4*/xi4, P(R|S),
the two-stage onset fit, kicks over +-5 tau, Eq. 19, and the lattice model on a small lattice. Only the
plumbing and the report's shape are checked (at this size the numbers mean nothing): every criteria row
appears once, under the standard, and is either measured or listed in the notes as not measured with a
reason."""
import json
import os

import numpy as np
import pytest

from pyglass import reproduce as R
from pyglass.papers.trsp import analysis as M
from helpers import Sink


def _state(label, T):
    return {"label": label, "set": {"stage.equilibrate.integrator.T": T, "stage.equilibrate.temperature": T,
                                    "stage.equilibrate.steps": 400, "stage.train.stable_time": 2.0}}


TINY = {"system.n": 100, "study.state": [_state(f"T{t:.2f}", T) for t, T in
                                          zip(M.REDUCED_T, (0.75, 0.8, 0.85, 0.9, 1.0))],
        "stage.equilibrate.thermo": 200, "stage.rearrangements.steps": 200 * 80,
        "stage.train.frame_stride": 1, "output.checkpoint": 0}


def test_reduced_deck_keeps_the_criteria_temperatures():
    """The reduced scale runs exactly the five temperatures criteria.toml names, each trajectory long
    enough for >= 8 tau_alpha at our pilot tau_alpha (0.47: ~500 tau needs 4000 tau)."""
    labels = [s["label"] for s in M.REDUCED["study.state"]]
    assert labels == ["T0.47", "T0.50", "T0.55", "T0.60", "T0.70"]
    steps = {s["label"]: s["set"]["stage.rearrangements.steps"] for s in M.REDUCED["study.state"]}
    assert steps["T0.47"] * 0.005 >= 4000
    # 8 tau_alpha at the reduced run's measured tau_alpha (0.50: 322 tau, 0.55: 86 tau)
    assert steps["T0.50"] * 0.005 >= 8 * 322 and steps["T0.55"] * 0.005 >= 8 * 86


TINY_AGING = {"system.n": 100, "stage.hot.steps": 400, "stage.aging.steps": 2000,
              "stage.aging.observable.0.block": 2001, "output.checkpoint": 0}


def test_paper4_reproduction_at_a_tiny_scale(tmp_path, monkeypatch):
    from pyglass.workflow.reproduce.criteria import Criteria
    monkeypatch.setattr(M, "PARTS", [("", M.DECK, TINY, {}), ("aging", M.PARTS[1][1], TINY_AGING, {})])
    monkeypatch.setattr(M, "LATTICE_L", (6, 6))
    monkeypatch.setattr(M, "MODEL_ONLY_L", 6)
    monkeypatch.setattr(M, "JK_RUNS", 4)
    monkeypatch.setattr(M, "DB_EVENTS", 40_000)
    monkeypatch.setattr(M, "DB_MIN", 20)
    monkeypatch.setattr(M, "EQ_RUNS", 4)
    monkeypatch.setattr(M, "MODEL_RUNS", (4, 4))
    monkeypatch.setattr(M, "MIN_COUNT", 5)
    monkeypatch.setattr(M, "MIN_REARRANGING", 1)
    monkeypatch.setattr(M, "MIN_KICK_BIN", 2)
    monkeypatch.setattr(M, "FAR", 1.9)                        # a 4.4 sigma box has no far field at 4.0
    monkeypatch.setattr(M, "R_EDGES", np.arange(1.0, 1.91, 0.3))
    from pyglass.papers.trsp import aging as A
    monkeypatch.setattr(A, "MODEL_RUNS", 4)
    monkeypatch.setattr(A, "TRAP_SITES", 216)
    monkeypatch.setattr(A, "MODEL_T_END", 100.0)
    qs = R.reproduce("trsp", False, str(tmp_path), stream=Sink())
    base = tmp_path / "trsp"
    doc = json.loads((base / "summary.json").read_text())
    crit = Criteria.load(os.path.join(os.path.dirname(M.__file__), "criteria.toml"))
    assert doc["paper"] == "trsp" and doc["criteria_commit"]
    assert [r["id"] for r in doc["rows"]] == [r.id for r in crit.rows] and len(qs) == len(crit.rows)
    notes = (base / "report.md").read_text()
    for row, ref in zip(doc["rows"], crit.rows):
        assert set(row) == {"id", "kind", "where", "quantity", "paper", "ours", "spread", "tolerance", "holds", "note"}
        assert row["kind"] == ref.kind and row["where"] == ref.where and isinstance(row["holds"], bool)
        if row["ours"] == "not measured":
            assert f"Not measured: {row['id']} (" in notes, row["id"]
        else:
            assert isinstance(row["ours"], (int, float)), (row["id"], row["ours"])
    by = {r["id"]: r for r in doc["rows"]}
    # the rows this scale always measures: the MD side of Figs. 4-5 and the fixed checks
    for rid in ("sf-cutoff", "kick-window", "sigma-delta-decays", "bound-uncorrelated", "md-units", "tau-alpha-t047", "md-tau4-grows", "md-chi4-grows",
                "chi4-is-above-instantaneous", "prs-slope-t047", "duration-t047", "mean-s-form"):
        assert by[rid]["ours"] != "not measured", rid
    assert by["sf-cutoff"]["ours"] == 5.0 and by["kick-window"]["ours"] == 5.0 and by["kick-window"]["holds"]
    assert np.isfinite(by["md-units"]["ours"])
    for f in ("trsp_fig1.png", "trsp_fig4.png", "trsp_fig5.png"):
        assert os.path.getsize(base / f) > 1000
    # the L = 20 model-only rows (here L = 6): measured with Figs. 6-7, or each not measured with its reason
    mo = [r for r in M.MODEL_ONLY_ROWS if by[r]["ours"] != "not measured"]
    if mo:
        for f in ("trsp_fig6.png", "trsp_fig7.png"):
            assert os.path.getsize(base / f) > 1000
    print("model-only rows measured:", mo)
    # part aging (Fig. 8): the MD row is measured on the tiny run (12 units, frames to 10 tau); the model rows
    # are measured or carry their own reason (the tiny fit may give no deck, or none valid at T_F)
    assert doc["parts"]["aging"]["run"]
    md = by["aging-md-collapse"]
    assert isinstance(md["ours"], float) and np.isfinite(md["ours"]) and md["spread"] > 0, md
    assert "t_mid" in md["note"] and os.path.getsize(base / "trsp_fig8.png") > 1000
    for rid in A.ROWS[1:]:
        if by[rid]["ours"] == "not measured":
            line = next(x for x in notes.splitlines() if f"Not measured: {rid} (" in x)
            assert "part 'aging' not run" not in line and len(line) > len(f"Not measured: {rid} (") + 10, line
        else:
            assert np.isfinite(by[rid]["ours"]), rid
    print("\n".join(line for line in notes.splitlines() if "aging" in line.lower() or "Fig. 8" in line))
    print("\n".join(line for line in notes.splitlines() if "Not measured" in line or "lattice" in line.lower()))


def test_two_stage_onset_fit_recovers_a_known_onset():
    """Row t0-agree's estimator on exact Eq. 27-28 counts (e0 = 2, e1 = -0.5, e2 = 0.05, Sigma0 = 2.5,
    T0 = 0.74): the per-bin Arrhenius lines, then the joint fit, return the parameters; with the lines made
    to cross at 0.82 instead it returns 0.82 (the estimator can tell the paper's value from the rejected one)."""
    T = np.array([0.47, 0.5, 0.55, 0.6, 0.7])
    centres = 0.5 * (M.S_EDGES[:-1] + M.S_EDGES[1:])
    q = -0.5 * centres + 0.05 * centres ** 2
    n = np.full((5, len(centres)), 1e7)
    for T0 in (0.74, 0.82):
        nr = np.round(n * np.exp(2.5 + q / T0 - (2 + q) / T[:, None]))
        fit = M._onset_two_stage(T, n, nr)
        assert abs(fit["T0"] - T0) < 2e-3 and abs(fit["e1"] + 0.5) < 1e-3 and abs(fit["e0"] - 2) < 1e-2


def test_lattice_model_rows_on_a_known_deck(tmp_path):
    """The model half on the figure-estimate parameters (tests/data/lattice): runs lengthen until the chi4
    peak lies inside, tau4 grows on cooling, the block xi4 and the OZ anchor are finite, and Eq. 19's
    eigenvalue is below 1 for a deck the model accepts."""
    from pathlib import Path

    from pyglass.analysis.lattice.deck import load_deck, model_parameters
    from pyglass.analysis.lattice.model import kick_bound
    deck = str(Path(__file__).resolve().parents[1] / "data" / "lattice" / "trsp_ka_figure_estimates.toml")
    old = M.MODEL_RUNS
    try:
        M.MODEL_RUNS = (6, 6)
        hot = M._run_model(deck, 0.7, 6, 6, 5.0, 1, str(tmp_path))
        cold = M._run_model(deck, 0.5, 6, 6, 5.0, 2, str(tmp_path))
        again = M._run_model(deck, 0.7, 6, 6, 5.0, 1, str(tmp_path))        # from the cache
    finally:
        M.MODEL_RUNS = old
    assert np.array_equal(again.Q_samples, hot.Q_samples)
    for m in (hot, cold):
        tau4, chi = m.peak()
        assert tau4 < m.t_max / 4 and chi > 0 and len(m.Q_samples) == 12
    assert cold.peak()[0] > hot.peak()[0]
    assert np.isfinite(hot.xi4())
    lam = kick_bound(**dict(model_parameters(load_deck(deck), 0.5), L=6))
    assert 0 < lam < 1


def test_lattice_part_against_synthetic_md(tmp_path, monkeypatch):
    """The model half of the analysis on known parameters (the figure estimates) against a synthetic MD
    of independent particles (Q ~ Binomial(N, e^{-t/tau(T)}) / N per origin, tau growing on cooling): the
    deck is written and read back, Eq. 19's eigenvalue is reported, every model-vs-MD row of the main part
    is measured, and the tau4 log-ratios are the model's tau4 over MD's."""
    from types import SimpleNamespace
    monkeypatch.setattr(M, "LATTICE_L", (6, 6))
    monkeypatch.setattr(M, "MODEL_RUNS", (6, 6))
    rng = np.random.default_rng(0)
    n_a, n_units = 400, 4
    lags = M._lag_grid(400)
    dyn, md_peak = {}, {}
    for T in M.REDUCED_T:
        tau = 2.0 * np.exp(1.5 / T - 1.5 / 0.7)
        Q = rng.binomial(n_a, np.exp(-lags / tau)[None, :].repeat(800, 0)) / n_a
        d = M.Dyn(lags, Q, Q, np.zeros(800, int), 1.0, n_a, 800)
        M._set_units(d, n_units, 800)
        dyn[T] = d
        md_peak[T] = (M._jk(lambda k, d=d: np.log(d.peak(k)[0]), n_units),
                      M._jk(lambda k, d=d: np.log(d.peak(k)[1]), n_units))
    fit = {"e0": 4.0, "e1": -1.2, "e2": 0.1, "sigma0": 4.8, "T0": 0.74}
    kick = {"sigma0": 0.6, "sigma1": 0.8, "sigma_length": 1.0, "rho1": 1.5, "rho_length": 0.8, "scale": 1.0}
    measured, extra = {}, {}
    md0 = SimpleNamespace(system=SimpleNamespace(N=500))
    monkeypatch.setattr(M, "JK_RUNS", 4)
    monkeypatch.setattr(M, "MODEL_ONLY_L", 6)
    monkeypatch.setattr(M, "DB_EVENTS", 40_000)
    monkeypatch.setattr(M, "DB_MIN", 20)
    monkeypatch.setattr(M, "EQ_RUNS", 4)
    base = {"spacing": 1.1, "mean_a": 1.0, "mean_b": -1.0, "C0": 1.0, "C1": 1.5, "xi": 0.8, "fit": fit, "kick": kick,
            "temps": list(M.REDUCED_T), "n": 500}

    def params_of(keep):        # the leave-one-out parameters: e0 shifted by 0.05 per dropped unit
        k = int(np.flatnonzero(~keep)[0])
        return dict(base, fit=dict(fit, e0=fit["e0"] + 0.05 * (k - 1.5)))
    L, lat = M._lattice_part(measured, extra, str(tmp_path), False, fit, kick, 1.5, 0.8, 1.0, 1.1, 1.0, -1.0,
                             np.array(M.REDUCED_T), md0, md_peak, dyn, n_units, (False, float("nan"), None),
                             str(tmp_path), params_of=params_of)
    assert L == 6 and set(lat) == set(M.REDUCED_T) and "lattice_error" not in extra
    assert (tmp_path / "trsp_ka.toml").exists()
    for rid in ("bound-eigenvalue", "model-duration", "model-runs", "model-tau4-grows", "model-chi4-grows",
                "tau4-ratio-t047", "tau4-ratio-t070", "fragility-underestimated", "chi4-reasonable",
                "chi4-underestimated", "chi4-scaling", "chi4-t070-exception", "model-mean-s-t0", "oz-anchor"):
        assert rid in measured and np.isfinite(measured[rid].ours), rid
    assert 0 < measured["bound-eigenvalue"].ours < 1 and measured["model-duration"].ours == 4.0
    assert measured["model-runs"].ours == 6
    expect = np.log(lat[0.47].peak()[0]) - md_peak[0.47][0][0]
    assert measured["tau4-ratio-t047"].ours == pytest.approx(expect, rel=1e-12)
    assert abs(measured["model-mean-s-t0"].ours) < 5 * measured["model-mean-s-t0"].se + 1e-12
    # the MD-parameter jackknife ran on every unit and enters the model se: a row's se is at least the runs'
    pv = extra["param_var"]
    assert {"tau4_0.47", "chi4_0.47", "tau4_grow", "frag", "chi4_mean"} <= set(pv)
    assert all(v[3] == n_units for v in pv.values() if np.isfinite(v[1]))
    runs_only = M._jk_many(lambda k: M._model_stats(lat, k), lat[0.47].n_groups)
    assert measured["model-tau4-grows"].se >= runs_only["tau4_grow"][1] - 1e-12
    assert extra["model_cost"][1][1] == n_units * 5 * 4
    # the model-only rows (Figs. 6, 7, App. F, G) on the same deck, L = 6 here
    for rid in ("xi4-slope", "tau4-c06", "tau4-c02", "chi4-c06", "chi4-c02", "single-site-ratio", "model-chi4-at-t0",
                "db-check", "model-mean-s", "model-cs-target"):
        assert rid in measured and np.isfinite(measured[rid].ours), (rid, extra.get("model_only_errors"))
    mo = extra["model_only"]
    assert set(mo) == {"c = 1", "c = 0.6", "c = 0.2", "m = 1"} and set(mo["c = 1"]) == set(M.MODEL_ONLY_T)
    assert mo["c = 0.2"][0.47].L == 6 and mo["c = 1"][0.42].n_runs == 6
    for rid in ("tau4-c02", "chi4-c02", "single-site-ratio"):     # two independent run sets: a finite se
        assert measured[rid].se > 0, rid
    assert abs(measured["model-mean-s"].ours) < 5 * measured["model-mean-s"].se
    assert 0 <= measured["db-check"].ours < 10


def test_renormalisation_rows_on_a_known_fit():
    """App. D: the round trip of the fitted law through the bare m = 4 law is exact (row
    renormalisation-roundtrip); the bare onset fit (row t0-bare-below-082) of exact Eq. 27-28 counts made
    from a bare law with T0 = 0.74 returns 0.74, and with 0.82 returns 0.82 (it can tell them apart)."""
    from pyglass.analysis.lattice.rates import BareRateLaw, observed_from_bare
    corr, mean_ab, L = {"C0": 1.0, "C1": 1.5, "xi": 0.8}, (1.0, -1.0), 6
    fit = {"e0": 4.0, "e1": -1.2, "e2": 0.1, "sigma0": 4.8, "T0": 0.74, "bins": np.linspace(-2, 2, 9)}
    measured = {}
    M._renormalisation_rows(measured, [0.47, 0.5, 0.55, 0.6, 0.7], fit, corr, mean_ab, L)
    assert measured["renormalisation-roundtrip"].ours < 1e-9
    a, v, z = M._cluster_av(corr, L)
    T = np.array([0.47, 0.5, 0.55, 0.6, 0.7])
    centres = 0.5 * (M.S_EDGES[:-1] + M.S_EDGES[1:])
    n = np.full((5, len(centres)), 1e9)
    for T0 in (0.74, 0.82):
        nr = np.zeros_like(n)
        for i, t in enumerate(T):
            x = 1 / t - 1 / T0
            bare = BareRateLaw(A0=np.exp(-2.0 - 2.0 / t), gamma0=0.6 * x, delta0=0.05 * x, duration=4.0)
            obs = observed_from_bare(bare, mean_ab[0] + mean_ab[1] / t, a, v, z)
            nr[i] = np.round(n[i] * obs.probability(centres))
        ok = (nr > 0) & (nr < n)
        assert ok.all()
        got = M._bare_onset(T, n, nr, corr, mean_ab, L)
        assert abs(got["T0"] - T0) < 5e-3 and abs(got["e0"] - 2.0) < 1e-2 and abs(got["e1"] + 0.6) < 1e-2, got


def test_parameter_variance_subtracts_the_reruns_noise():
    """The MD-parameter variance of a model statistic: with reruns that differ only by noise of known
    variance, the raw jackknife spread is mostly noise and the estimate is near 0; with a real parameter
    spread much larger than the noise it is recovered (jackknife scale (n-1)/n sum (f_k - f)^2)."""
    rng = np.random.default_rng(3)
    n, v = 8, 0.04
    est = [M._param_variance(rng.normal(0, np.sqrt(v), n), np.full(n, v))[0] for _ in range(400)]
    raw = [M._param_variance(rng.normal(0, np.sqrt(v), n), np.full(n, v))[1] for _ in range(400)]
    assert np.mean(est) < 0.25 * np.mean(raw)
    f = np.linspace(-1, 1, n)
    truth = (n - 1) / n * np.sum((f - f.mean()) ** 2)
    got = np.mean([M._param_variance(f + rng.normal(0, np.sqrt(v), n), np.full(n, v))[0] for _ in range(400)])
    assert got == pytest.approx(truth, rel=0.05)
    assert np.isnan(M._param_variance([1.0, np.nan], [0.1, 0.1])[0])



def test_parameter_jackknife_names_the_sets_that_give_no_model(tmp_path):
    """A leave-one-out refit that is no valid lattice model (here every one: the deck writer refuses it
    as the model build does a C(r) that is not positive semi-definite) is named with its reason; with
    fewer than two sets there is no parameter variance, and the note says the model se is the runs'
    alone instead of printing nan."""
    def params_of(keep):
        return {"dropped": int(np.flatnonzero(~keep)[0])}

    def write_deck(p, path):
        raise ValueError(f"correlation: the circulant covariance has a negative eigenvalue (set {p['dropped']})")
    pv, runs, seconds, failed = M._param_jackknife(params_of, 4, {}, 6, write_deck, str(tmp_path))
    assert pv == {} and runs == 0 and sorted(failed) == [0, 1, 2, 3]
    assert "negative eigenvalue (set 2)" in failed[2]
    note = M._param_jackknife_note(pv, failed, 4, 12)
    assert "not available" in note and "unit 3 dropped: ValueError" in note and "nan" not in note
    one = {"tau4_0.47": M._param_variance([1.0, np.nan, np.nan, np.nan], [0.1] * 4)}    # one set ran
    assert "not available" in M._param_jackknife_note(one, {1: "x", 2: "y", 3: "z"}, 4, 12)
    two = {"tau4_0.47": M._param_variance([1.0, 1.5, np.nan, np.nan], [0.01] * 4)}
    note = M._param_jackknife_note(two, {2: "ValueError: y", 3: "ValueError: z"}, 4, 12)
    assert "Raw / noise / kept se" in note and "2 of the 4 sets gave no valid model" in note
    assert "not run" in M._param_jackknife_note(None, {}, 4, 12)

def test_a_sign_row_that_misses_says_whether_the_sign_or_the_resolution_failed():
    from pyglass.workflow.reproduce.criteria import Criteria, measured
    crit = Criteria.load(os.path.join(os.path.dirname(M.__file__), "criteria.toml"))
    qs = {q.id: q for q in crit.score({"md-chi4-grows": measured(0.59, 0.71),          # right sign, too noisy
                                       "chi4-underestimated": measured(1.16, 1.12),    # wrong sign
                                       "tau4-ratio-t047": measured(2.47, 0.5), "tau4-ratio-t070": measured(2.65, 0.5),
                                       "md-tau4-grows": measured(5.44, 0.01), "model-tau4-grows": measured(5.27, 0.15)})}
    assert not qs["md-chi4-grows"].holds and not qs["chi4-underestimated"].holds
    assert "sign the paper states" in M._why(qs["md-chi4-grows"], {}, {}, 2, 64)
    assert "cannot resolve the sign" in M._why(qs["chi4-underestimated"], {}, {}, 2, 64)
    opposite = {q.id: q for q in crit.score({"fragility-underestimated": measured(0.72, 0.18)})}
    assert "the opposite of the paper's statement holds" in M._why(opposite["fragility-underestimated"], {}, {}, 4, 64)
    ms = {"tau4-ratio-t047": measured(2.47, 0.5), "tau4-ratio-t070": measured(2.65, 0.5),
          "md-tau4-grows": measured(5.44, 0.01), "model-tau4-grows": measured(5.27, 0.15)}
    why = M._why(qs["tau4-ratio-t047"], ms, {}, 2, 64)
    assert "e^2.47-e^2.65" in why and "MD 5.44, model 5.27" in why


# ------------------------------------------------------------------ part aging (Fig. 8)
TRAP_DECK = """
[model]
L = 2
d = 3
m = 1
[softness]
mean_a = 0.5
mean_b = -0.3
[correlation]
C0 = 1.0
C1 = 0.0
xi = 1.0
[rate]
form = "table"
duration = 4.0
[rate.table]
T = [0.3, 1.0]
A = [1.0, 1.0]
gamma = [0.5, 0.5]
delta = [0.1, 0.1]
[kick]
sigma0 = 0.1
"""


def test_trap_model_relaxes_to_the_final_temperatures_gaussian(tmp_path):
    """The independent-trap model (row aging-trap-no-collapse) starts from N(mu(T_I), C0) and, long after
    the quench, its sites are distributed as N(mu(T_F), C0): the stationary law that the redraw from P(S|R)
    is built to keep (a redraw from N(mu, C0) itself would leave the soft sites depleted). One site per
    run, so every run's value is one independent site. Tolerances: 4 standard errors of the mean and of
    the variance of n independent sites."""
    from pyglass.analysis.lattice.aging import trap_quench
    from pyglass.analysis.lattice.deck import load_deck, mean_softness
    path = tmp_path / "trap.toml"
    path.write_text(TRAP_DECK)
    deck = load_deck(path)
    n, C0 = 4000, 1.0
    mu_i, mu_f = mean_softness(deck, 0.7), mean_softness(deck, 0.35)
    assert abs(mu_i - mu_f) > 20 * np.sqrt(C0 / n)            # the two laws are far apart at this n
    S = trap_quench(str(path), 0.7, 0.35, [0.0, 5.0, 3000.0], n_sites=1, n_runs=n, seed=3)
    assert S.shape == (n, 3)
    se_mean, se_var = np.sqrt(C0 / n), C0 * np.sqrt(2.0 / (n - 1))
    assert abs(S[:, 0].mean() - mu_i) < 4 * se_mean and abs(S[:, 0].var(ddof=1) - C0) < 4 * se_var
    assert mu_f + 4 * se_mean < S[:, 1].mean() < mu_i - 4 * se_mean        # on its way at t = 5 tau
    assert abs(S[:, 2].mean() - mu_f) < 4 * se_mean
    assert abs(S[:, 2].var(ddof=1) - C0) < 4 * se_var
    # the site average of many sites per run is the same mean
    runs = trap_quench(str(path), 0.7, 0.35, [0.0, 3000.0], n_sites=1000, n_runs=4, seed=4)
    assert abs(runs[:, 1].mean() - mu_f) < 4 * se_mean
    with pytest.raises(ValueError, match="max_events"):
        trap_quench(str(path), 0.7, 0.35, [0.0, 3000.0], n_sites=1000, n_runs=4, max_events=1e4)


def test_rearranging_site_law_is_the_normalised_product():
    """P(S|R) of one uncorrelated site against the numerical normalisation of P(R|S) N(S; mu, C0)."""
    from pyglass.analysis.lattice import RateLaw, rearranging_site_law
    law, mu, C0 = RateLaw(A=0.3, gamma=1.7, delta=0.25), -0.4, 1.6
    S = np.linspace(-15, 15, 200001)
    w = law.probability(S) * np.exp(-(S - mu) ** 2 / (2 * C0))
    w /= w.sum()
    mean, var = rearranging_site_law(law, mu, C0)
    assert abs(mean - (w * S).sum()) < 1e-8 and abs(var - (w * (S - mean) ** 2).sum()) < 1e-8
    assert abs(law.mean_rate(mu, C0) - (law.rate(S) * np.exp(-(S - mu) ** 2 / (2 * C0))).sum()
               / np.exp(-(S - mu) ** 2 / (2 * C0)).sum()) < 1e-10
    with pytest.raises(ValueError, match="C0"):
        rearranging_site_law(law, mu, 0.0)


def _aging_curves(tau, late, n=4, noise=0.0, seed=0):
    """Synthetic <S(t)> per T_F: 0.4 - 0.5 (1 - e^{-t/tau(T_F)}) - late(T_F) (1 - e^{-t/3000}), n samples
    each with independent Gaussian noise."""
    from pyglass.papers.trsp import aging as A
    rng = np.random.default_rng(seed)
    t = A.model_grid(1e3)
    samples = {T: 0.4 - 0.5 * (1 - np.exp(-t / tau[T])) - late[T] * (1 - np.exp(-t / 3000.0))
               + noise * rng.standard_normal((n, len(t))) for T in A.T_FINALS}
    return A.Curves("synthetic", t, samples)


def test_aging_delta_tells_collapsing_from_separated_curves():
    """Rows aging-*: curves that coincide at intermediate times and part only late give Delta ~ 0 (within
    the MD row's band); curves relaxing at T_F-dependent rates give |Delta| well outside the models' band
    [-0.04, 0.04]. t_mid is where the T_F-mean has made half its drop; the se is the jackknife over samples
    (0 without noise, that of the noise otherwise)."""
    from pyglass.papers.trsp import aging as A
    same = {T: 10.0 for T in A.T_FINALS}
    c = _aging_curves(same, {0.30: 0.0, 0.35: 0.02, 0.40: 0.04})
    stat = A.collapse(c.times, {T: c.mean(T) for T in A.T_FINALS})
    m = stat["m"]
    assert stat["R"] == pytest.approx(abs(m[0] - m[-1]))
    half = np.flatnonzero((c.times >= 1) & (np.abs(m - m[0]) >= stat["R"] / 2))[0]
    assert stat["t_mid"] == c.times[half] and 5 < stat["t_mid"] < 10
    delta, se, _ = A.delta_and_se(c)
    assert abs(delta) < 0.02 and se == pytest.approx(0.0, abs=1e-12)
    apart = _aging_curves({0.30: 40.0, 0.35: 10.0, 0.40: 3.0}, {T: 0.0 for T in A.T_FINALS})
    delta, _, _ = A.delta_and_se(apart)
    assert delta > 0.2                                  # the colder T_F is still soft at t_mid
    noisy = _aging_curves(same, {0.30: 0.0, 0.35: 0.02, 0.40: 0.04}, n=4, noise=0.01, seed=1)
    delta, se, var = A.delta_and_se(noisy)
    assert 0.005 < se < 0.2 and abs(delta) < 4 * se + 0.02 and set(var) == set(A.T_FINALS)
    with pytest.raises(ValueError, match="missing"):
        A.collapse(c.times, {0.30: c.mean(0.30)})


def test_aging_model_rows_on_a_known_deck(tmp_path, monkeypatch):
    """The model half of part aging on the figure-estimate deck (Eq. 19 holds at the T_F on L = 6): the trap
    and TRSP rows are measured from their own curves, aging-trsp-closer is |Delta_trap| - |Delta_TRSP| with
    the two se added in quadrature, a rerun reads the cache. With the kicks made 1.3 times larger the bound
    fails at T_F: the TRSP rows carry that reason and the unscored diagnostic (kicks scaled back by the
    bound rule) still draws curves."""
    from pathlib import Path

    from pyglass.papers.trsp import aging as A
    monkeypatch.setattr(A, "MODEL_RUNS", 6)
    monkeypatch.setattr(A, "TRAP_SITES", 216)
    monkeypatch.setattr(A, "MODEL_T_END", 300.0)
    deck = Path(__file__).resolve().parents[1] / "data" / "lattice" / "trsp_ka_figure_estimates.toml"
    out = {"measured": {}, "why": {}, "curves": {}, "notes": []}
    A.model_rows(out, str(deck), 6, str(tmp_path))
    assert not out["why"], out["why"]
    trap, trsp = out["measured"]["aging-trap-no-collapse"], out["measured"]["aging-trsp-no-collapse"]
    closer = out["measured"]["aging-trsp-closer"]
    assert np.isfinite([trap.ours, trap.se, trsp.ours, trsp.se]).all() and trap.se > 0 and trsp.se > 0
    assert closer.ours == pytest.approx(abs(trap.ours) - abs(trsp.ours))
    assert closer.se == pytest.approx(np.hypot(trap.se, trsp.se))
    assert out["curves"]["TRSP"][0].samples[0.30].shape == (6, len(A.model_grid(300.0)))
    again = {"measured": {}, "why": {}, "curves": {}, "notes": []}
    A.model_rows(again, str(deck), 6, str(tmp_path))
    assert again["measured"]["aging-trsp-no-collapse"] == trsp
    text = deck.read_text()
    loud = tmp_path / "loud.toml"
    import re
    loud.write_text(re.sub(r"^(sigma[01]) = ([0-9.eE+-]+)", lambda m: f"{m[1]} = {1.3 * float(m[2])}", text, flags=re.M))
    assert loud.read_text() != text
    out = {"measured": {}, "why": {}, "curves": {}, "notes": []}
    A.model_rows(out, str(loud), 6, str(tmp_path))
    assert "aging-trsp-no-collapse" not in out["measured"] and "Eq. 19" in out["why"]["aging-trsp-no-collapse"]
    assert "aging-trsp-closer" in out["why"] and "aging-trap-no-collapse" in out["measured"]
    assert "diagnostic" in out["curves"]["TRSP"][0].name and any("diagnostic" in n for n in out["notes"])


def test_the_initial_draw_row_says_whether_its_law_or_its_sample_is_off():
    from pyglass.workflow.reproduce.criteria import Criteria, measured
    crit = Criteria.load(os.path.join(os.path.dirname(M.__file__), "criteria.toml"))
    q = {q.id: q for q in crit.score({"model-mean-s-t0": measured(-0.057, 0.019)})}["model-mean-s-t0"]
    assert not q.holds
    assert "is a fluctuation" in M._why(q, {}, {"draw_check": (-0.004, 0.005, 400)}, 4, 64)
    assert "itself is biased" in M._why(q, {}, {"draw_check": (-0.05, 0.005, 400)}, 4, 64)
