"""pyglass.analysis.statistics: the one bootstrap (intervals and spreads) against the normal theory of a
mean and against resampling written out by hand, standard errors of samples, time blocks and the
jackknife against their textbook formulas, and the relative change read off a weighted line."""
import numpy as np
import pytest

from pyglass.analysis import statistics as S
from pyglass.analysis.statistics import bootstrap, finite_std, mean_interval, relative_change


def test_the_bootstrap_of_a_mean_matches_normal_theory(rng):
    """For 400 normal values the bootstrap standard error of the mean is s / sqrt(n) and the 90 %
    percentile interval is mean -+ 1.645 of it, to the resampling noise of 4000 resamples."""
    x = rng.normal(3.0, 2.0, 400)
    se = x.std(ddof=1) / np.sqrt(len(x))
    res = bootstrap(x, np.mean, confidence=0.9, n_resamples=4000, seed=1)
    assert res.distribution.shape == (4000,)
    assert res.spread == pytest.approx(se, rel=0.05)
    assert res.low == pytest.approx(x.mean() - 1.645 * se, abs=0.1 * se)
    assert res.high == pytest.approx(x.mean() + 1.645 * se, abs=0.1 * se)
    bca = bootstrap(x, np.mean, confidence=0.9, n_resamples=4000, seed=1, method="BCa")
    assert bca.low == pytest.approx(res.low, abs=0.1 * se) and bca.high == pytest.approx(res.high, abs=0.1 * se)


def test_resampling_units_by_index_equals_resampling_by_hand():
    """Resampling indices of units and summing their counts (a block bootstrap): every resampled value
    is a ratio of sums over some multiset of blocks, the spread is the sd of those values (ddof 1), and
    a seed gives the same resamples again."""
    counts = np.array([[3.0, 10.0], [5.0, 10.0], [1.0, 12.0], [4.0, 9.0], [2.0, 11.0]])

    def ratio(b):
        return counts[b, 0].sum() / counts[b, 1].sum()

    res = bootstrap(np.arange(5), ratio, n_resamples=300, seed=4)
    lo, hi = counts[:, 0].min() / counts[:, 1].max(), counts[:, 0].max() / counts[:, 1].min()
    assert np.all((lo <= res.distribution) & (res.distribution <= hi))
    assert res.spread == pytest.approx(np.std(res.distribution, ddof=1), rel=1e-12)
    again = bootstrap(np.arange(5), ratio, n_resamples=300, seed=4)
    np.testing.assert_array_equal(again.distribution, res.distribution)
    # one generator shared by two bootstraps in turn continues its stream
    g = np.random.default_rng(4)
    first, second = (bootstrap(np.arange(5), ratio, n_resamples=300, seed=g).distribution for _ in range(2))
    np.testing.assert_array_equal(first, res.distribution)
    assert not np.array_equal(first, second)


def test_independent_samples_and_array_statistics():
    """Two samples are resampled each on its own (the statistic sees two resamples of their own
    lengths); an array statistic gives one spread per entry; NaN resamples are left out of the spread."""
    a, b = np.arange(5.0), np.arange(100.0, 107.0)
    seen = set()

    def difference(x, y):
        seen.add((len(x), len(y)))
        assert set(x) <= set(a) and set(y) <= set(b)
        return y.mean() - x.mean()

    res = bootstrap((a, b), difference, n_resamples=200, seed=0)
    assert seen == {(5, 7)} and res.low < b.mean() - a.mean() < res.high

    def both(x):
        return np.array([x.mean(), np.nan if x.min() == 0 else x.min()])

    res = bootstrap(a, both, n_resamples=500, seed=0)
    assert res.distribution.shape == (2, 500) and np.isnan(res.distribution[1]).any()
    assert res.spread[0] == pytest.approx(np.std(res.distribution[0], ddof=1))
    assert res.spread[1] == pytest.approx(np.nanstd(res.distribution[1], ddof=1))
    with pytest.raises(ValueError, match="sample 1 has 1 value"):
        bootstrap((a, b[:1]), difference)
    with pytest.raises(ValueError, match="method"):
        bootstrap(a, np.mean, method="bca")


def test_finite_std():
    assert finite_std([1.0, np.inf, 3.0, np.nan]) == pytest.approx(np.sqrt(2.0))
    assert np.isnan(finite_std([1.0, np.nan]))
    np.testing.assert_allclose(finite_std([[1.0, 2.0, 3.0], [0.0, np.nan, 4.0]]), [1.0, np.sqrt(8.0)])


def test_mean_interval_elementwise_and_with_one_value(rng):
    x = rng.normal(size=(30, 3)) + [0.0, 10.0, 100.0]
    mean, low, high = mean_interval(x, 0.9, seed=2)
    np.testing.assert_allclose(mean, x.mean(axis=0))
    assert np.all(low < mean) and np.all(mean < high)
    for j in range(3):   # elementwise: each column as if alone
        m, lo, hi = mean_interval(x[:, j], 0.9, seed=2)
        assert (m, lo, hi) == pytest.approx((mean[j], low[j], high[j]), rel=1e-12)
    m, lo, hi = mean_interval([4.0], 0.9)
    assert m == 4.0 and np.isnan(lo) and np.isnan(hi)
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])


def test_relative_change_from_a_weighted_line():
    """y = 10 + 5 x at x = 1/T for T = 1, 0.8, 0.5 with 90 % intervals of +-0.1: the change from x_min to
    x_max is 20/15 - 1 exactly, with a small spread; scatter beyond the error bars widens it."""
    x = 1 / np.array([1.0, 0.8, 0.5])
    y = 10 + 5 * x
    sig = np.full(3, 0.2 / (2 * 1.645))
    rel, spread = relative_change(x, y, sig)
    assert rel == pytest.approx(20 / 15 - 1, rel=1e-12)
    assert 0 < spread < 0.02
    assert relative_change(x, y + [0.0, 3.0, 0.0], sig)[1] > 10 * spread
    assert relative_change(x[::-1], y[::-1], sig)[0] == pytest.approx(rel, rel=1e-12)   # order does not matter
    assert np.isnan(relative_change(x[:1], y[:1])[0])


def test_mean_se_block_se_and_jackknife_against_naive(rng):
    v = np.array([1.0, 2.0, np.nan, 4.0])
    m, se = S.mean_and_se(v)
    assert m == pytest.approx(7 / 3) and se == pytest.approx(np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    assert np.isnan(S.mean_and_se([3.0])[1]) and np.isnan(S.mean_and_se([])[0])
    x = rng.normal(size=103)
    m, se = S.block_standard_error(x, 10)
    means = [x[10 * k:10 * k + 10].mean() for k in range(10)]
    assert m == pytest.approx(np.mean(x[:100])) and se == pytest.approx(np.std(means, ddof=1) / np.sqrt(10))
    with pytest.raises(ValueError, match="blocks"):
        S.block_standard_error(x[:5], 10)
    # the jackknife of a mean is the usual standard error of the mean
    y = rng.normal(size=7)
    full, jse = S.jackknife(lambda keep: y[keep].mean(), 7)
    assert full == pytest.approx(y.mean()) and jse == pytest.approx(np.std(y, ddof=1) / np.sqrt(7))
    # and of a ratio, the textbook formula over the leave-one-out values
    num, den = rng.random(6), rng.random(6) + 1
    loo = np.array([(num.sum() - num[k]) / (den.sum() - den[k]) for k in range(6)])
    full, jse = S.jackknife(lambda keep: num[keep].sum() / den[keep].sum(), 6)
    assert jse == pytest.approx(np.sqrt(5 / 6 * np.sum((loo - loo.mean()) ** 2)))
