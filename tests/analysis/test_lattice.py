"""Tests of the TRSP lattice model (pyglass.analysis.lattice), issue 5.

Statistical tests use fixed seeds and tolerances of several standard errors computed from
the sample itself; each has a deterministic or negative counterpart so it can fail.
"""
import numpy as np
import pytest
from pathlib import Path

from pyglass.analysis.lattice import (GaussianFieldSampler, block_scaling_fit, PeriodicLattice, RateLaw,
                             SoftnessCorrelation, TRSPModel, four_point_structure_factor,
                             observed_from_bare, ornstein_zernike_fit, quench, renormalise, restoring_matrix)
from pyglass.analysis.lattice.kicks import full_lattice_kick_map
from pyglass.analysis.lattice.measure import block_susceptibility, first_rearrangement_times
from pyglass.analysis.observables.dynamics import chi4_peak
from pyglass._ext.lattice import SumTree

ROOT = Path(__file__).resolve().parents[2]
DECK = ROOT / "tests" / "data" / "lattice" / "trsp_ka_figure_estimates.toml"   # the figure-based estimates: fixed values for these tests

CORR = dict(C0=1.0, C1=1.5, xi=0.8)
KICK = dict(sigma0=0.6, sigma1=0.8, sigma_length=1.0, rho1=1.5, rho_length=0.8, r_max=2.0,
            coupling_range=2.0)


def small_model(L=6, d=3, T=0.6, seed=1, **kw):
    params = dict(L=L, d=d, mu=1.0 - 1.0 / T, correlation=CORR,
                  rate=RateLaw.from_onset(T, 4.0, -1.2, 0.1, 4.8, 0.74), kick=KICK, m=4, seed=seed)
    params.update(kw)
    return TRSPModel(**params)


# --------------------------------------------------------------------------- sum tree
def test_sum_tree_selects_in_proportion_to_weights():
    rng = np.random.default_rng(0)
    w = rng.random(37) ** 3
    tree = SumTree(37)
    tree.build(np.zeros(37))
    for i, wi in enumerate(w):   # leaf-by-leaf updates must give the same tree as build()
        tree.update(i, wi)
    assert tree.total == pytest.approx(w.sum(), rel=1e-14)
    n = 200_000
    picks = np.array([tree.select(u) for u in rng.random(n) * tree.total])
    counts = np.bincount(picks, minlength=37)
    expected = n * w / w.sum()
    z = (counts - expected) / np.sqrt(expected * (1 - w / w.sum()))
    assert np.all(np.abs(z) < 5)
    assert np.sum(z ** 2) / 37 < 2.0


def test_engine_rate_tree_stays_consistent_with_field():
    model = small_model(L=7, T=0.5, seed=4)
    engine = model.engine()
    model._simulate(engine, [np.inf], n_events_max=3000)
    field = np.asarray(engine.S)
    X = field[model.clusters.sites].mean(axis=1)
    assert np.allclose(engine.rates(), model.bare_rate.rate(X), rtol=1e-12)
    tree = np.asarray(engine.tree.tree).copy()
    engine.rebuild()
    assert np.allclose(tree, np.asarray(engine.tree.tree), rtol=1e-12, atol=0)
    assert engine.sum_S == pytest.approx(field.sum(), abs=1e-9)


# --------------------------------------------------------------------------- FFT sampler
@pytest.mark.parametrize("d,L", [(2, 10), (3, 6)])
def test_fft_sampler_has_target_mean_and_covariance(d, L):
    lattice = PeriodicLattice(L, d)
    corr = SoftnessCorrelation(**CORR)
    sampler = GaussianFieldSampler(lattice, corr)
    # the circulant spectrum reproduces the dense covariance matrix exactly
    K = sampler.covariance_matrix(np.arange(lattice.N))
    assert np.allclose(np.linalg.eigvalsh(K).sum(), sampler.spectrum.sum())
    n = 4000
    fields = sampler.sample(np.random.default_rng(3), n, mean=-0.7)
    grid = fields.reshape((n,) + lattice.shape)
    # per-field estimators are independent across fields: SE from their spread
    means = fields.mean(axis=1)
    assert abs(means.mean() + 0.7) < 4 * means.std(ddof=1) / np.sqrt(n)
    x = grid + 0.7
    for shift in [(0,) * d, (1,) + (0,) * (d - 1), (1, 1) + (0,) * (d - 2), (2,) + (0,) * (d - 1)]:
        prod = (x * np.roll(x, shift, axis=tuple(range(1, d + 1)))).reshape(n, -1).mean(axis=1)
        target = corr(np.sqrt(sum(s * s for s in shift)))
        assert abs(prod.mean() - target) < 4 * prod.std(ddof=1) / np.sqrt(n), shift


def test_fft_sampler_rejects_negative_spectrum():
    lattice = PeriodicLattice(20, 3)
    with pytest.raises(ValueError, match="correlation.*negative eigenvalue"):
        GaussianFieldSampler(lattice, SoftnessCorrelation(C0=1.0, C1=1.5, xi=1.2))
    with pytest.raises(ValueError, match="correlation"):
        TRSPModel(L=20, d=3, mu=0.0, correlation=dict(C0=1.0, C1=1.5, xi=1.2),
                  rate=dict(A=0.01, gamma=1.0), kick=KICK)


# --------------------------------------------------------------------------- Eq. 19
def _random_spd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T / n + 0.5 * np.eye(n)


def test_restoring_matrix_satisfies_eq17_to_roundoff():
    rng = np.random.default_rng(5)
    n = 30
    K_prime = _random_spd(rng, n)
    B = _random_spd(rng, n)
    # scale K_Delta so that the largest eigenvalue of K_Delta K'^-1 is 0.9
    lam = np.linalg.eigvals(B @ np.linalg.inv(K_prime)).real.max()
    K_delta = 0.9 * B / lam
    H = restoring_matrix(K_delta, K_prime)
    lhs = (2 * np.eye(n) - H) @ H @ K_prime
    assert np.abs(lhs - K_delta).max() < 1e-12 * np.abs(K_delta).max() * n
    # uncorrelated limit, Eq. 18: sigma_D^2 = sigma^2 eta (2 - eta)
    H1 = restoring_matrix(np.diag([0.3]), np.diag([0.8]))
    eta = H1[0, 0]
    assert 0.8 * eta * (2 - eta) == pytest.approx(0.3, rel=1e-13)


def test_restoring_matrix_rejects_too_large_kick():
    rng = np.random.default_rng(6)
    K_prime = _random_spd(rng, 12)
    lam = np.linalg.eigvals(K_prime @ np.linalg.inv(K_prime)).real.max()
    with pytest.raises(ValueError, match="K_delta.*eigenvalue"):
        restoring_matrix(1.0001 * K_prime / lam, K_prime)
    with pytest.raises(ValueError, match="eigenvalue"):
        restoring_matrix(np.diag([1.0]), np.diag([1.0]))      # exactly 1: no NaN, an error
    with pytest.raises(ValueError, match="kick"):
        small_model(kick=dict(KICK, sigma0=0.95))


def test_kick_operator_obeys_eq17_in_model():
    model = small_model(phi=0.5)
    for op in model.operators:
        n = op.n_kicked
        lhs = (2 * np.eye(n) - op.H) @ op.H @ op.K_prime_conditional
        assert np.abs(lhs - op.K_delta).max() < 1e-10
    # phi scales K_Delta (Sec. VII B); phi = 0: no facilitation, no restoring
    full = small_model(phi=1.0).operators[0]
    assert np.allclose(model.operators[0].K_delta, 0.5 * full.K_delta, rtol=1e-14, atol=0)
    assert np.abs(small_model(phi=0.0).operators[0].H).max() < 1e-14


@pytest.mark.parametrize("d,L", [(2, 9), (3, 6)])
def test_truncated_kick_equals_full_lattice_eq19_when_shell_covers_lattice(d, L):
    model = small_model(L=L, d=d, kick=dict(KICK, coupling_range=np.inf))
    assert model.clusters.z == (4 if d == 2 else 12)
    b = model.bare_rate
    o = model.clusters.n_orientations - 1
    res = full_lattice_kick_map(model.lattice, model.sampler, model.operators[o],
                                model.clusters.offsets[o], model.mu, b.gamma0, b.delta0)
    assert res["stationarity_error"] < 1e-10
    omega = model.operators[o].region[:model.operators[o].n_kicked]
    assert np.abs(res["map"][omega] + res["H_exact"][omega]).max() < 1e-10


def test_truncation_effect_decreases_with_coupling_range():
    errors = []
    for cr in [0.0, 1.0, 2.0, 3.0]:
        model = small_model(L=8, kick=dict(KICK, coupling_range=cr))
        b = model.bare_rate
        res = full_lattice_kick_map(model.lattice, model.sampler, model.operators[0],
                                    model.clusters.offsets[0], model.mu, b.gamma0, b.delta0,
                                    exact_H=False)
        errors.append(res["stationarity_error"])
    assert errors[-1] < errors[0] / 5
    assert errors[2] < 2e-3           # coupling_range = 2: ~0.1 % of C0 per event
    report = small_model(L=8).truncation_report()
    assert 0.8 < report["retained_kick_variance"][0] < 1.0


# --------------------------------------------------------------------------- rates, App. D
def test_onset_form_loses_structure_dependence_at_T0():
    law = RateLaw.from_onset(0.74, 4.0, -1.2, 0.1, 4.8, 0.74)
    assert law.gamma == pytest.approx(0.0, abs=1e-15) and law.delta == pytest.approx(0.0, abs=1e-15)
    cold = RateLaw.from_onset(0.47, 4.0, -1.2, 0.1, 4.8, 0.74)
    assert cold.gamma > 0


def test_renormalised_cluster_rates_reproduce_observed_law():
    model = small_model(L=8, T=0.47)
    law = model.rate
    back = observed_from_bare(model.bare_rate, model.mu, model.cluster_a, model.cluster_v,
                              model.clusters.z)
    assert back.A == pytest.approx(law.A, rel=1e-12)
    assert back.gamma == pytest.approx(law.gamma, rel=1e-12)
    assert back.delta == pytest.approx(law.delta, rel=1e-12)
    # Monte Carlo: per-site sum of the z cluster rates over the observed law, pooled in bins
    # of S_i (must be 1 in every bin).  Sites of one field are correlated, fields are
    # independent: the SE of the pooled ratio estimator comes from per-field sums and counts.
    n_fields, n_bins = 400, 8
    fields = model.sample_equilibrium(n_fields)
    edges = np.quantile(fields, np.linspace(0, 1, n_bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    sums = np.zeros((n_fields, n_bins))
    counts = np.zeros((n_fields, n_bins))
    # a renormalisation that ignores the neighbours' fluctuations (a = 1, v = 0) must fail
    naive = renormalise(law, model.mu, 1.0, 0.0, model.clusters.z)
    naive_sums = np.zeros((n_fields, n_bins))
    for f_idx, f in enumerate(fields):
        rates = model.engine(f).rates()
        assert np.allclose(rates, model.bare_rate.rate(f[model.clusters.sites].mean(axis=1)))
        idx = np.searchsorted(edges, f) - 1
        ratio = rates[model.clusters.site_clusters].sum(axis=1) / law.rate(f)
        sums[f_idx] = np.bincount(idx, weights=ratio, minlength=n_bins)
        counts[f_idx] = np.bincount(idx, minlength=n_bins)
        naive_rates = naive.rate(f[model.clusters.sites].mean(axis=1))
        ratio = naive_rates[model.clusters.site_clusters].sum(axis=1) / law.rate(f)
        naive_sums[f_idx] = np.bincount(idx, weights=ratio, minlength=n_bins)

    def pooled(s):
        R = s.sum(axis=0) / counts.sum(axis=0)
        resid = s - R * counts
        return R, np.sqrt((resid ** 2).sum(axis=0) * n_fields / (n_fields - 1)) / counts.sum(axis=0)

    R, se = pooled(sums)
    assert np.all(np.abs(R - 1) < 4 * se), (R, se)
    R_naive, se_naive = pooled(naive_sums)
    assert np.max(np.abs(R_naive - 1) / se_naive) > 10


def test_rate_table_interpolates_in_inverse_temperature():
    temps, A, gam, dl = [0.42, 0.5, 0.7], [1e-3, 1e-2, 1e-1], [1.2, 0.8, 0.1], [0.1, 0.08, 0.01]
    law = RateLaw.from_table(0.5, temps, A, gam, dl)
    assert (law.A, law.gamma, law.delta) == pytest.approx((1e-2, 0.8, 0.08), rel=1e-12)
    mid = RateLaw.from_table(1 / (0.5 / 0.42 + 0.5 / 0.5), temps, A, gam, dl)  # 1/T halfway
    assert mid.A == pytest.approx(np.sqrt(1e-3 * 1e-2), rel=1e-12)
    assert mid.gamma == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ValueError, match="outside"):
        RateLaw.from_table(0.8, temps, A, gam, dl)


def test_renormalisation_is_identity_for_single_sites():
    law = RateLaw(A=0.01, gamma=1.0, delta=0.1)
    bare = renormalise(law, mu=-1.0, a=1.0, v=0.0, z=1)
    assert (bare.A0, bare.gamma0, bare.delta0) == pytest.approx((0.01, 1.0, 0.1), rel=1e-14)


# --------------------------------------------------------------------------- trap limit
def test_trap_model_limit_overlap_matches_analytic_average():
    T = 0.5
    law = RateLaw.from_onset(T, 4.0, -1.2, 0.1, 4.8, 0.74)
    mu, C0 = -1.0, 1.0
    model = TRSPModel(L=10, d=3, mu=mu, correlation=dict(C0=C0, C1=0.0, xi=1.0), rate=law,
                      kick=dict(sigma0=0.0, r_max=0.0, coupling_range=0.0), m=1, seed=11)
    times = np.array([30.0, 100.0, 300.0, 1000.0, 3000.0])
    n_runs = 6
    run = model.run(t_max=times[-1], sample_times=times, n_runs=n_runs, snapshot_every=0)
    x, w = np.polynomial.hermite_e.hermegauss(80)
    S = mu + np.sqrt(C0) * x
    analytic = np.array([np.sum(w * np.exp(-law.rate(S) * t)) / np.sum(w) for t in times])
    se = np.sqrt(analytic * (1 - analytic) / (model.lattice.N * n_runs))
    assert np.all(np.abs(run.Q - analytic) < 4 * se)
    # a single exponential with the mean rate is clearly different (the test can fail)
    naive = np.exp(-law.rate(mu) * times)
    assert np.max(np.abs(naive - analytic) / se) > 10


# --------------------------------------------------------------------------- equilibrium
def test_equilibrium_run_keeps_mean_and_correlation():
    model = small_model(L=8, T=0.55, seed=21)
    run = model.run(t_max=3000.0, sample_times=[100.0, 3000.0], n_runs=6, snapshot_every=128)
    assert run.n_events > 50 * model.lattice.N / model.m    # many updates per site
    mean, sem = run.time_weighted_mean_softness()
    assert abs(mean - model.mu) < 4 * sem
    r, C, sem_c = run.softness_correlation(mean=model.mu)
    target = model.correlation(r)
    for k in range(4):                                        # r = 0, 1, sqrt2, sqrt3
        assert abs(C[k] - target[k]) < 4 * sem_c[k] + 1e-3, (r[k], C[k], target[k])


def test_equilibrium_test_detects_broken_restoring_force():
    """Without the restoring term H (noise only), C_S(0) grows: the check above can fail."""
    model = small_model(L=8, T=0.55, seed=21)
    for o, op in enumerate(model.operators):
        model._response[o] = 0.0
        model._mean_kick[o] = 0.0
    run = model.run(t_max=3000.0, sample_times=[100.0, 3000.0], n_runs=4, snapshot_every=128)
    r, C, sem_c = run.softness_correlation(mean=model.mu)
    assert abs(C[0] - 1.0) > 4 * sem_c[0] + 1e-3   # the criterion used above fails


# --------------------------------------------------------------------------- App. F 1
def test_binned_detailed_balance_ratio_is_one():
    model = small_model(L=8, T=0.47, seed=31)
    res = model.detailed_balance_test(n_events=120_000, bins=6, n_runs=8, n_bootstrap=400)
    assert len(res.ratio) >= 10
    assert np.all(np.abs(res.deviation) < 4)
    assert res.chi2_per_pair < 2.5


def test_detailed_balance_test_detects_biased_kick():
    model = small_model(L=8, T=0.47, seed=31)
    for o in range(len(model.operators)):
        model._mean_kick[o, :model.m] += 0.25   # rearranging sites get softer on average
    res = model.detailed_balance_test(n_events=60_000, bins=6, n_runs=8, n_bootstrap=200)
    assert np.max(np.abs(res.deviation)) > 6


# --------------------------------------------------------------------------- measurements
def test_first_times_and_overlap():
    sites = np.array([[0, 1], [1, 2], [3, 0]], dtype=np.int32)
    times = np.array([1.0, 2.0, 5.0])
    clusters = np.array([1, 0, 2])
    ft = first_rearrangement_times(times, clusters, sites, 5, origin=0.0, horizon=10.0)
    assert np.allclose(ft, [2.0, 1.0, 1.0, 5.0, np.inf])
    ft = first_rearrangement_times(times, clusters, sites, 5, origin=1.5, horizon=2.0)
    assert np.allclose(ft, [0.5, 0.5, np.inf, np.inf, np.inf])


def test_chi4_peak_and_s4_consistency():
    t = np.logspace(0, 3, 31)
    chi = 5.0 - (np.log(t) - np.log(40.0)) ** 2
    tau4, peak, edge = chi4_peak(t, chi)
    assert tau4 == pytest.approx(40.0, rel=1e-6) and peak == pytest.approx(5.0, rel=1e-9) and edge == ""
    rng = np.random.default_rng(2)
    ind = (rng.random((50, 64)) < 0.4).astype(float)
    q, s4 = four_point_structure_factor(ind, (8, 8))
    assert q[0] == 0.0
    assert s4[0] == pytest.approx(64 * ind.mean(axis=1).var(), rel=1e-10)
    assert block_susceptibility(ind, (8, 8), [8])[0] == pytest.approx(
        64 * ind.mean(axis=1).var(ddof=1), rel=1e-10)


def test_ornstein_zernike_fit_recovers_length():
    q = np.linspace(0.1, 1.5, 15)
    s0, xi, _ = ornstein_zernike_fit(q, 7.0 / (1 + (q * 2.5) ** 2), q_max=1.5)
    assert s0 == pytest.approx(7.0, rel=1e-6) and xi == pytest.approx(2.5, rel=1e-6)


def test_block_scaling_fit_recovers_length_and_limit():
    from pyglass.analysis.lattice.measure import _block_form
    sizes = [1, 2, 3, 4, 6, 8]
    chi = [6.0 * _block_form(b, 1.7, 3) for b in sizes]
    chi_inf, xi, _ = block_scaling_fit(sizes, chi, d=3)
    assert chi_inf == pytest.approx(6.0, rel=1e-5) and xi == pytest.approx(1.7, rel=1e-5)
    assert _block_form(1, 1.7, 3) < _block_form(8, 1.7, 3) < 1.0   # grows toward the bulk value


def test_dynamic_heterogeneity_measures_on_a_short_run():
    model = small_model(L=8, T=0.55, seed=41)
    times = np.logspace(0, 3.5, 20)
    run = model.run(t_max=times[-1], sample_times=times, n_runs=3, time_origins=[0, 500, 1000])
    assert np.all(np.diff(run.Q) <= 1e-12) and run.Q[0] > 0.9 and run.Q[-1] < 0.2
    assert times[0] < run.tau4 < times[-1] and run.chi4_star > 0
    s0, xi = run.ornstein_zernike()
    assert np.isfinite(s0) and xi >= 0
    chi = run.block_chi4([1, 2, 4, 8])
    assert np.all(chi > 0)


# --------------------------------------------------------------------------- deck, aging
def test_deck_builds_model_with_labelled_values():
    model = TRSPModel.from_file(DECK, T=0.47, seed=1, L=8)
    assert model.lattice.L == 8 and model.m == 4 and model.T == 0.47
    assert model.mu == pytest.approx(1.0 - 1.0 / 0.47)
    text = DECK.read_text()
    assert text.count("[read off figure") >= 10 and "T0 = 0.74" in text


def test_deck_errors_name_the_key(tmp_path):
    text = DECK.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("sigma0 = 0.6", "sigma0 = 0.6\nsigmaa = 1.0"))
    with pytest.raises(ValueError, match="kick.sigmaa"):
        TRSPModel.from_file(bad, T=0.47)
    bad.write_text(text.replace("L = 20", "L = -4"))
    with pytest.raises(ValueError, match="model.L"):
        TRSPModel.from_file(bad, T=0.47)
    bad.write_text(text.replace("e0 = 4.0", "e0 = \"four\""))
    with pytest.raises(ValueError, match="rate.e0"):
        TRSPModel.from_file(bad, T=0.47)
    bad.write_text(text.replace("[kick]", "[kicks]"))
    with pytest.raises(ValueError, match="kicks"):
        TRSPModel.from_file(bad, T=0.47)
    with pytest.raises(ValueError, match="temperature"):
        TRSPModel.from_file(DECK, T=-0.5)
    with pytest.raises(ValueError, match="L must be"):
        small_model(L=-3)
    with pytest.raises(ValueError, match="m must be"):
        small_model(m=3)
    with pytest.raises(ValueError, match="kick.sigma_length"):
        small_model(kick=dict(KICK, sigma_length=-1.0))


def test_quench_mean_softness_relaxes_toward_new_temperature():
    times = np.array([1.0, 30.0, 300.0, 3000.0])
    run, cold = quench(DECK, T_initial=0.7, T_final=0.5, t_max=3000.0, sample_times=times,
                       n_runs=3, seed=5, L=8)
    mu_hot = 1.0 - 1.0 / 0.7
    s = run.mean_softness
    assert abs(s[0] - mu_hot) < 0.15
    assert s[-1] < s[0] - 0.2              # ages toward the lower <S> of T = 0.5
    assert s[-1] > cold.mu - 0.15


def test_shipped_deck_is_the_md_fit_and_runs():
    """inputs/trsp_ka.toml is written by `pyglass reproduce trsp` from our KA MD: every measured value
    says so, the rest carry their provenance, and the model builds and runs from it."""
    path = ROOT / "inputs" / "trsp_ka.toml"
    text = path.read_text()
    assert text.count("[fitted") >= 10 and "[read off figure" not in text
    for key in ("mean_a", "C0", "C1", "xi", "T0", "e0", "sigma0"):
        line = next(ln for ln in text.splitlines() if ln.split("=")[0].strip() == key)
        assert "[" in line, f"{key} has no provenance tag: {line}"
    run = TRSPModel.from_file(path, T=0.6, seed=2, L=6).run(50.0, n_runs=2)
    assert np.all(np.diff(run.Q) <= 1e-12)


def test_bound_eigenvalue_is_the_eq19_threshold_of_the_model():
    """kick_bound (Eq. 19's largest eigenvalue of K_Delta K'^-1) is below 1 exactly when TRSPModel can
    be built, and scales as the square of the kick amplitude (K_Delta ~ sigma^2)."""
    from pyglass.analysis.lattice.model import kick_bound
    params = dict(L=6, d=3, mu=1.0 - 1.0 / 0.6, correlation=CORR,
                  rate=RateLaw.from_onset(0.6, 4.0, -1.2, 0.1, 4.8, 0.74), kick=KICK, m=4)
    lam = kick_bound(**params)
    assert 0 < lam < 1
    small_model()                                                   # builds: the bound holds
    f = np.sqrt(1.02 / lam)                                         # just past the bound
    big = dict(KICK, sigma0=KICK["sigma0"] * f, sigma1=KICK["sigma1"] * f)
    assert kick_bound(**dict(params, kick=big)) == pytest.approx(1.02, rel=1e-9)
    with pytest.raises(ValueError, match="eigenvalue"):
        small_model(kick=big)
    f = np.sqrt(0.98 / lam)
    small_model(kick=dict(KICK, sigma0=KICK["sigma0"] * f, sigma1=KICK["sigma1"] * f))


def test_mean_softness_at_time_zero_is_the_initial_draw():
    """<S>(0) of a run from fields drawn from the model is the mean of those draws (was NaN)."""
    model = small_model(seed=4)
    run = model.run(10.0, sample_times=np.array([0.0, 1.0, 10.0]), n_runs=3)
    assert np.all(np.isfinite(run.mean_softness_runs))
    draws = small_model(seed=4).sample_equilibrium(1)   # the same generator's first draw
    assert run.mean_softness_runs[0, 0] == pytest.approx(float(np.mean(draws)), rel=1e-12)
