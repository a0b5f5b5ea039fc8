"""Confidence intervals and spreads: the one bootstrap of pyglass, standard errors from independent
samples, time blocks and the jackknife, and a relative change from a line.

Every interval or spread pyglass reports from resampling comes from `bootstrap`, a thin layer over
scipy.stats.bootstrap. The data are resampled with replacement (several samples each independently
of the others), the statistic is evaluated on every resample, and the result holds
- `low`, `high`: the confidence interval at `confidence` by `method`: "percentile" (the quantiles of
  the resampled statistic) or "BCa" (bias-corrected and accelerated: scipy's default, and that of the
  scikits-bootstrap package paper 2 used);
- `spread`: the bootstrap standard error, the standard deviation (ddof = 1) of the finite resampled
  values (a statistic that cannot be evaluated on a resample returns NaN there and is left out);
- `distribution`: the resampled values themselves.

Who uses which:
- a mean with its interval (`mean_interval`): the `summary` stage (percentile, `study.confidence`),
  paper 2's kappa and G per parent temperature (BCa over the glasses, 90 %);
- units rather than values (time blocks of one trajectory, frames, independent runs): resample their
  indices, `bootstrap(np.arange(n_units), statistic)` with the statistic indexing the units, and
  report `spread` (paper 5's block bootstrap, paper 4's bootstrap over frames, the lattice model's
  detailed-balance test).
A seed gives the same resamples on every call; a numpy Generator continues its stream (one generator
shared by several bootstraps in turn draws what one loop over them would).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("percentile", "BCa")


@dataclass(frozen=True)
class BootstrapResult:
    low: np.ndarray | float
    high: np.ndarray | float
    spread: np.ndarray | float
    distribution: np.ndarray        # (..., n_resamples): the statistic on every resample


def bootstrap(data, statistic, *, confidence: float = 0.9, n_resamples: int = 2000, method: str = "percentile",
              seed=0) -> BootstrapResult:
    """Bootstrap `statistic` over `data` (scipy.stats.bootstrap; see the module docstring).

    data: one array, resampled along its first axis, or a tuple of arrays, each resampled on its own
    (statistic(*samples)). statistic: a callable giving a number or a 1-D array; one with an `axis`
    keyword (np.mean) is evaluated on all resamples at once. seed: an int or a numpy Generator."""
    from scipy import stats
    if method not in METHODS:
        raise ValueError(f"bootstrap: method must be one of {METHODS}, got {method!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"bootstrap: confidence must be in (0, 1), got {confidence}")
    samples = tuple(np.asarray(d) for d in data) if isinstance(data, tuple) else (np.asarray(data),)
    for k, s in enumerate(samples):
        if len(s) < 2:
            raise ValueError(f"bootstrap: sample {k} has {len(s)} value(s); resampling needs at least two")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    res = stats.bootstrap(samples, statistic, axis=0, confidence_level=confidence, n_resamples=int(n_resamples),
                          method=method, paired=False, random_state=rng)
    dist = np.asarray(res.bootstrap_distribution, float)
    return BootstrapResult(low=_scalar(res.confidence_interval.low), high=_scalar(res.confidence_interval.high),
                           spread=_scalar(finite_std(dist)), distribution=dist)


def finite_std(values, axis: int = -1):
    """Standard deviation (ddof = 1) of the finite entries along `axis` (NaN where fewer than two)."""
    v = np.asarray(values, float)
    v = np.where(np.isfinite(v), v, np.nan)
    n = np.sum(np.isfinite(v), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.nansum((v - np.nanmean(v, axis=axis, keepdims=True)) ** 2, axis=axis) / (n - 1))
    return np.where(n >= 2, sd, np.nan)


def mean_interval(values, confidence: float = 0.9, *, method: str = "percentile", n_resamples: int = 2000,
                  seed=0):
    """(mean, low, high): the mean of `values` over their first axis (elementwise for arrays) and its
    bootstrap confidence interval; the interval is NaN with fewer than two values."""
    x = np.asarray(values, float)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError("mean_interval: no values")
    mean = x.mean(axis=0)
    if len(x) < 2:
        nan = np.full_like(mean, np.nan)
        return _scalar(mean), _scalar(nan), _scalar(nan)
    res = bootstrap(x, np.mean, confidence=confidence, n_resamples=n_resamples, method=method, seed=seed)
    return _scalar(mean), res.low, res.high


def mean_and_se(values):
    """(mean, standard error) of the finite values: the sample standard deviation (ddof = 1) over the
    square root of the number of values that enter the mean (NaN se with one value; NaN, NaN with
    none)."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def block_standard_error(series, n_blocks: int = 10):
    """(mean, standard error) of a time series from the means of `n_blocks` consecutive blocks of
    equal length (a remainder at the end is dropped): se = sd(block means) / sqrt(n_blocks)."""
    x = np.asarray(series, float).ravel()
    n_blocks = int(n_blocks)
    if n_blocks < 2 or len(x) < n_blocks:
        raise ValueError(f"block_standard_error needs at least 2 blocks and one value per block, got "
                         f"{n_blocks} blocks of a series of {len(x)}")
    m = len(x) // n_blocks
    means = x[: m * n_blocks].reshape(n_blocks, m).mean(1)
    return float(x[: m * n_blocks].mean()), float(means.std(ddof=1) / np.sqrt(n_blocks))


def jackknife(estimate, n: int):
    """Leave-one-out jackknife over n independent units (runs): `estimate(keep)` computes the
    statistic from the units where the boolean mask `keep` (n,) is True. Returns (the estimate from
    all units, its jackknife standard error sqrt((n - 1)/n sum (theta_i - mean theta_i)^2)); units
    whose leave-one-out estimate is not finite are left out of the sum (NaN se if fewer than two
    remain)."""
    n = int(n)
    if n < 2:
        raise ValueError(f"the jackknife needs at least 2 units, got {n}")
    full = float(estimate(np.ones(n, bool)))
    loo = []
    for k in range(n):
        keep = np.ones(n, bool)
        keep[k] = False
        loo.append(float(estimate(keep)))
    loo = np.array(loo)
    loo = loo[np.isfinite(loo)]
    if len(loo) < 2:
        return full, float("nan")
    m = len(loo)
    return full, float(np.sqrt((m - 1) / m * np.sum((loo - loo.mean()) ** 2)))


def relative_change(x, y, sigma=None):
    """(change, spread): the relative change y(x_max) / y(x_min) - 1 of y over the range of x, read
    off a straight line y = a + b x fitted through every point (the two extremes alone are two noisy
    points), and its 1-sigma spread from the fit's covariance (delta method).

    Weighted least squares with weights 1/sigma; unweighted when sigma is None, has a non-finite or
    non-positive entry, or there are only two points. With more than two points the covariance is
    scaled by the reduced chi^2 where that exceeds 1 (scatter beyond the error bars). NaN, NaN with
    fewer than two points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError(f"relative_change: x has {len(x)} values, y {len(y)}")
    if len(x) < 2:
        return np.nan, np.nan
    sig = np.ones_like(y) if sigma is None else np.asarray(sigma, float)
    if len(x) == 2 or not np.all(np.isfinite(sig) & (sig > 0)):
        sig = np.ones_like(y)
    w = 1.0 / sig
    A = np.c_[np.ones_like(x), x] * w[:, None]
    coef, *_ = np.linalg.lstsq(A, y * w, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    if len(x) > 2:
        chi2 = float(np.sum((A @ coef - y * w) ** 2)) / (len(x) - 2)
        cov *= max(chi2, 1.0)
    x0, x1 = x.min(), x.max()
    y0, y1 = coef[0] + coef[1] * x0, coef[0] + coef[1] * x1
    grad = np.array([1 / y0 - y1 / y0 ** 2, x1 / y0 - y1 * x0 / y0 ** 2])   # d(change)/d(coef)
    return float(y1 / y0 - 1.0), float(np.sqrt(grad @ cov @ grad))


def _scalar(v):
    v = np.asarray(v, float)
    return float(v) if v.ndim == 0 else v
