"""Rearrangement probabilities P(R|S) and their renormalisation for m-site clusters.

Observed law (paper Eq. 4): P(R|S) = A exp(gamma S - delta S^2), the probability per MD
frame that a particle of softness S is rearranging.  A rearrangement lasts about four
frames (Sec. V), so the rate of starting one is P(R|S) / duration with duration = 4 tau.

Temperature dependence (Eqs. 3, 27, 28): ln P(R|S) = Sigma(S) - DeltaE(S)/T with
    DeltaE(S) = e0 + e1 S + e2 S^2,
    Sigma(S)  = Sigma0 + (e1 S + e2 S^2)/T0,
so every S-dependence of ln P cancels at the onset temperature T0, where dynamics stop
depending on structure (Sec. V).  Hence
    A(T) = exp(Sigma0 - e0/T),  gamma(T) = -e1 (1/T - 1/T0),  delta(T) = e2 (1/T - 1/T0).
(The printed Eq. 28 is garbled in our copy; this is the form its text states: "above T0
dynamics no longer depend on S".)  Alternatively A, gamma, delta can come from a table in T,
interpolated linearly in 1/T (ln A, gamma, delta).

Multi-site clusters (Sec. IV, App. D): a cluster c of m sites rearranges at the bare rate
P0(R|X_c) = A0 exp(gamma0 X_c - delta0 X_c^2), X_c the cluster's mean softness.  The rate at
which a given site i takes part in some rearrangement is the sum over the z clusters that
contain it; averaging over the neighbours' softness given S_i (a Gaussian integral, D2)
gives back the observed form with
    X | S_i ~ N(mu + a (S_i - mu), v),   a = <K_iR>_R / K_00,  v = <K_RR'>_RR' - a^2 K_00,
    delta = delta0 a^2 / D,   gamma = a (gamma0 - 2 delta0 b) / D,   b = (1 - a) mu,
    ln A  = ln(z A0) - ln(D)/2 + (gamma0 b - delta0 b^2 + gamma0^2 v / 2) / D,
    D = 1 + 2 delta0 v.
``renormalise`` inverts these (our derivation of Eqs. 20-22, which are garbled in our copy;
a Monte Carlo test checks the result against direct sampling).  For m = 1: a = 1, v = 0,
b = 0, z = 1 and bare = observed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import coerce_parameters

__all__ = ["RateLaw", "BareRateLaw", "renormalise", "observed_from_bare", "cluster_statistics"]


def _finite(name, value):
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class RateLaw:
    """Observed P(R|S) = A exp(gamma S - delta S^2) (Eq. 4); rate = P / duration."""

    A: float
    gamma: float
    delta: float = 0.0
    duration: float = 4.0

    def __post_init__(self):
        for name in ("A", "gamma", "delta", "duration"):
            _finite(f"rate.{name}", getattr(self, name))
        if self.A <= 0:
            raise ValueError(f"rate.A must be > 0, got {self.A}")
        if self.duration <= 0:
            raise ValueError(f"rate.duration must be > 0, got {self.duration}")

    @classmethod
    def coerce(cls, value) -> "RateLaw":
        return coerce_parameters(cls, value, "rate")

    @classmethod
    def from_onset(cls, T, e0, e1, e2, Sigma0, T0, duration=4.0) -> "RateLaw":
        """A, gamma, delta at temperature T from Eqs. 27-28 (see module docstring)."""
        T = _finite("T", T)
        if T <= 0:
            raise ValueError(f"temperature T must be > 0, got {T}")
        T0 = _finite("rate.T0", T0)
        if T0 <= 0:
            raise ValueError(f"rate.T0 must be > 0, got {T0}")
        beta_shift = 1.0 / T - 1.0 / T0
        return cls(A=float(np.exp(_finite("rate.Sigma0", Sigma0) - _finite("rate.e0", e0) / T)),
                   gamma=-_finite("rate.e1", e1) * beta_shift,
                   delta=_finite("rate.e2", e2) * beta_shift,
                   duration=duration)

    @classmethod
    def from_table(cls, T, temperatures, A, gamma, delta, duration=4.0) -> "RateLaw":
        """Interpolate a table of fitted values linearly in 1/T (ln A, gamma, delta)."""
        temps = np.asarray(temperatures, dtype=float)
        if temps.ndim != 1 or len(temps) < 1 or np.any(temps <= 0):
            raise ValueError("rate.table.T must be a non-empty list of positive temperatures")
        for key, arr in (("A", A), ("gamma", gamma), ("delta", delta)):
            if len(arr) != len(temps):
                raise ValueError(f"rate.table.{key} must have the same length as rate.table.T")
        if np.any(np.asarray(A, dtype=float) <= 0):
            raise ValueError("rate.table.A must be > 0")
        if not (temps.min() - 1e-12 <= T <= temps.max() + 1e-12):
            raise ValueError(f"T={T} lies outside the rate.table temperatures "
                             f"[{temps.min()}, {temps.max()}] (no extrapolation)")
        order = np.argsort(1.0 / temps)
        x = 1.0 / temps[order]

        def interp(values):
            return float(np.interp(1.0 / T, x, np.asarray(values, dtype=float)[order]))

        return cls(A=float(np.exp(interp(np.log(A)))), gamma=interp(gamma), delta=interp(delta),
                   duration=duration)

    def probability(self, S):
        S = np.asarray(S, dtype=float)
        return self.A * np.exp(self.gamma * S - self.delta * S * S)

    def rate(self, S):
        """Rate (per unit time) at which a site of softness S starts a rearrangement."""
        return self.probability(S) / self.duration

    def mean_rate(self, mean: float, variance: float) -> float:
        """<rate(S)> for S ~ N(mean, variance) (a Gaussian integral; infinite where it diverges, delta < 0)."""
        stiffening = 1.0 + 2.0 * self.delta * variance
        if stiffening <= 0:
            return float("inf")
        exponent = (self.gamma * mean - self.delta * mean ** 2 + 0.5 * self.gamma ** 2 * variance) / stiffening
        return float(self.A / np.sqrt(stiffening) * np.exp(exponent) / self.duration)


@dataclass(frozen=True)
class BareRateLaw:
    """Bare cluster law P0(R|X) = A0 exp(gamma0 X - delta0 X^2) (App. D), rate = P0/duration."""

    A0: float
    gamma0: float
    delta0: float
    duration: float

    def rate(self, X):
        X = np.asarray(X, dtype=float)
        return self.A0 * np.exp(self.gamma0 * X - self.delta0 * X * X) / self.duration


def cluster_statistics(sampler, clusters) -> tuple[float, float]:
    """(a, v) of App. D from the equilibrium covariance, for the site at a cluster's anchor.

    a = (1/m) sum_R K_iR / K_ii,  v = Var(X_c | S_i) = <K_RR'> - a^2 K_ii.  Every member of a
    plaquette sees the same (a, v) by symmetry, and all orientations are equivalent.
    """
    members = clusters.sites[0]
    m = len(members)
    K = sampler.covariance_matrix(members)
    K00 = K[0, 0]
    a = K[0].sum() / (m * K00)
    v = K.sum() / m ** 2 - a * a * K00
    return float(a), float(max(v, 0.0))


def renormalise(rate: RateLaw, mu: float, a: float, v: float, z: int) -> BareRateLaw:
    """Bare (A0, gamma0, delta0) that reproduce the observed per-site P(R|S) (App. D)."""
    denom = a * a - 2.0 * rate.delta * v
    if denom <= 0:
        raise ValueError(f"rate.delta={rate.delta:.4g} is too large to renormalise for m-site "
                         f"clusters (needs a^2 - 2 delta v > 0 with a={a:.4g}, v={v:.4g})")
    delta0 = rate.delta / denom
    D = 1.0 + 2.0 * delta0 * v
    b = (1.0 - a) * mu
    gamma0 = rate.gamma * D / a + 2.0 * delta0 * b
    log_A0 = (np.log(rate.A) - np.log(z) + 0.5 * np.log(D)
              - (gamma0 * b - delta0 * b * b + 0.5 * gamma0 ** 2 * v) / D)
    return BareRateLaw(A0=float(np.exp(log_A0)), gamma0=float(gamma0), delta0=float(delta0),
                       duration=rate.duration)


def observed_from_bare(bare: BareRateLaw, mu: float, a: float, v: float, z: int) -> RateLaw:
    """Forward map of App. D (the Gaussian integral D2), inverse of ``renormalise``."""
    D = 1.0 + 2.0 * bare.delta0 * v
    if D <= 0:
        raise ValueError("bare delta0 too negative: 1 + 2 delta0 v <= 0")
    b = (1.0 - a) * mu
    delta = bare.delta0 * a * a / D
    gamma = a * (bare.gamma0 - 2.0 * bare.delta0 * b) / D
    log_A = (np.log(z * bare.A0) - 0.5 * np.log(D)
             + (bare.gamma0 * b - bare.delta0 * b * b + 0.5 * bare.gamma0 ** 2 * v) / D)
    return RateLaw(A=float(np.exp(log_A)), gamma=float(gamma), delta=float(delta),
                   duration=bare.duration)
