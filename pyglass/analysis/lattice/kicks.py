"""Softness kicks that respect time-reversal symmetry (paper Sec. III-IV, App. B).

Given a rearrangement of cluster c, the field before it is distributed as
P(S|R_c) ~ P(R_c|S) P(S) (Eq. 5): a Gaussian with precision K'^-1 = K^-1 + 2 delta0 v v^T
(Eqs. 6-7, 23-26; v = 1/m on the cluster) and mean mu' = mu + g K' v, g = gamma0 - 2 delta0 mu
(Eqs. 8-9).  The kick dS ~ N(H (mu' - S), K_Delta) (Eq. 10 with lambda = mu', Eq. 16) obeys
detailed balance iff K_Delta = (2 - H) H K' (Eq. 17), i.e.

    H = 1 - sqrt(1 - K_Delta K'^-1)                                       (Eq. 19)

which exists iff every eigenvalue of K_Delta K'^-1 is below 1.  K_Delta is factorised
(Eq. 30): K_Delta(r, r') = phi sigma_D(r) sigma_D(r') rho(|r - r'|), r the distance to the
nearest rearranging site, both sigma_D and rho of the Eq. 29 form; phi <= 1 weakens
facilitation at fixed static correlations (Sec. VII B).

Truncation (docs/lattice.md).  sigma_D(r) is set to zero beyond ``r_max``, so only the
region Omega = {sites within r_max of the cluster} changes.  Because rows of K_Delta vanish
outside Omega, Eq. 19 on the full lattice reduces exactly to the same formula for the
conditional law of S_Omega given the rest (the matrix function of a block-triangular matrix):

    H_Omega = 1 - sqrt(1 - K_Delta P'_OO),       P' = K'^-1 restricted to Omega,
    dS_Omega = H_Omega (m_cond - x_Omega) + N(0, K_Delta),  x = S - mu,
    m_cond  = P'_OO^-1 (g v - P_O,rest x_rest).

The second, approximate truncation: P_O,rest (precision couplings, which decay quickly) is kept
only for sites within ``coupling_range`` of Omega (the "shell"); with coupling_range = inf
the kick equals the full-lattice Eq. 19 to round-off (tested).  The cost per event is then
n_Omega (n_Omega + n_shell), independent of L.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ._params import coerce_parameters
import scipy.linalg

__all__ = ["KickKernel", "KickOperator", "restoring_matrix", "build_kick_operator", "bound_eigenvalue"]

#: eigenvalues of K_Delta K'^-1 must stay below 1 - this margin (sqrt(1 - lambda) real, H < 1)
EIGENVALUE_MARGIN = 1e-12


@dataclass(frozen=True)
class KickKernel:
    """Parameters of K_Delta (Eq. 30) and of its truncation.

    sigma_D(0) = sigma0, sigma_D(r) = sigma1 exp(-r / sigma_length) (r > 0, r <= r_max), 0 beyond;
    rho(0) = 1, rho(r) = rho1 exp(-r / rho_length) (r > 0).
    r_max: kick range (lattice spacings); coupling_range: precision couplings kept beyond it;
    phi: facilitation-weakening factor multiplying K_Delta.
    """

    sigma0: float
    sigma1: float = 0.0
    sigma_length: float = 1.0
    rho1: float = 0.0
    rho_length: float = 1.0
    r_max: float = 2.5
    coupling_range: float = 2.0
    phi: float = 1.0

    def __post_init__(self):
        for name in ("sigma0", "sigma1", "sigma_length", "rho1", "rho_length", "r_max",
                     "coupling_range", "phi"):
            value = float(getattr(self, name))
            if np.isnan(value) or (np.isinf(value) and name != "coupling_range"):
                raise ValueError(f"kick.{name} must be finite, got {value!r}")
        for name in ("sigma0", "sigma1", "rho1", "r_max", "phi"):
            if getattr(self, name) < 0:
                raise ValueError(f"kick.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("sigma_length", "rho_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"kick.{name} must be > 0, got {getattr(self, name)}")
        if self.coupling_range < 0:
            raise ValueError(f"kick.coupling_range must be >= 0, got {self.coupling_range}")

    @classmethod
    def coerce(cls, value) -> "KickKernel":
        return coerce_parameters(cls, value, "kick")

    def sigma_untruncated(self, r):
        """sigma_D(r) of Eq. 29 form without the r_max cut."""
        r = np.asarray(r, dtype=float)
        return np.where(r == 0.0, self.sigma0, self.sigma1 * np.exp(-r / self.sigma_length))

    def sigma(self, r):
        """sigma_D(r), zero beyond r_max (the kick range)."""
        r = np.asarray(r, dtype=float)
        return np.where(r <= self.r_max + 1e-9, self.sigma_untruncated(r), 0.0)

    def rho(self, r):
        r = np.asarray(r, dtype=float)
        return np.where(r == 0.0, 1.0, self.rho1 * np.exp(-r / self.rho_length))

    def with_phi(self, phi: float) -> "KickKernel":
        return replace(self, phi=float(phi))


def restoring_matrix(K_delta: np.ndarray, K_prime: np.ndarray | None = None, *,
                     K_prime_inverse: np.ndarray | None = None, name: str = "K_delta") -> np.ndarray:
    """H = 1 - sqrt(1 - K_Delta K'^-1) (Eq. 19), the unique solution of K_Delta = (2 - H) H K'.

    Computed through the symmetric similarity K'^-1 = L L^T, B = L^T K_Delta L:
    K_Delta K'^-1 = L^-T B L^T, so H = L^-T U (1 - sqrt(1 - Lambda)) U^T L^T with B = U Lambda U^T.
    Raises ValueError (naming ``name``) if K_Delta is not positive semi-definite or if an
    eigenvalue of K_Delta K'^-1 is >= 1 (the kick would be larger than detailed balance allows).
    """
    K_delta = np.asarray(K_delta, dtype=float)
    if K_prime_inverse is None:
        if K_prime is None:
            raise ValueError("restoring_matrix needs K_prime or K_prime_inverse")
        K_prime_inverse = np.linalg.inv(np.asarray(K_prime, dtype=float))
    P = 0.5 * (K_prime_inverse + K_prime_inverse.T)
    try:
        chol = np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        raise ValueError("K' is not positive definite (rate.delta too negative?)") from None
    B = chol.T @ K_delta @ chol
    lam, U = np.linalg.eigh(0.5 * (B + B.T))
    scale = max(1.0, np.abs(lam).max())
    if lam.min() < -1e-10 * scale:
        raise ValueError(f"{name}: K_Delta is not positive semi-definite "
                         f"(eigenvalue {lam.min():.3g} of K_Delta K'^-1)")
    if lam.max() >= 1.0 - EIGENVALUE_MARGIN:
        raise ValueError(
            f"{name}: K_Delta K'^-1 has eigenvalue {lam.max():.4g} >= 1, so H = 1 - sqrt(1 - "
            f"K_Delta K'^-1) (Eq. 19) does not exist: the kick variance exceeds what detailed "
            f"balance allows")
    lam = np.clip(lam, 0.0, None)
    f = 1.0 - np.sqrt(1.0 - lam)
    left = scipy.linalg.solve_triangular(chol.T, U, lower=False)  # L^-T U
    return (left * f) @ (U.T @ chol.T)


def _psd_factor(matrix: np.ndarray, name: str) -> np.ndarray:
    """F with F F^T = matrix, for a symmetric PSD matrix (zero matrix allowed)."""
    lam, U = np.linalg.eigh(0.5 * (matrix + matrix.T))
    scale = max(np.abs(lam).max(), 1e-300)
    if lam.min() < -1e-10 * scale:
        raise ValueError(f"{name}: not positive semi-definite (eigenvalue {lam.min():.3g}); "
                         f"rho(r) is not a valid correlation on this lattice (reduce kick.rho1 "
                         f"or kick.rho_length)")
    return U * np.sqrt(np.clip(lam, 0.0, None))


@dataclass
class KickOperator:
    """Precomputed kick for one cluster orientation, anchor at the origin.

    dS[:n_kicked] = mean_kick + response @ (S[region] - mu) + noise @ xi.
    ``region`` lists Omega (cluster sites first) then the coupling shell.
    """

    region: np.ndarray          # (n_region,) site indices for anchor at the origin
    offsets: np.ndarray         # (n_region, 3) int32 nonnegative lattice offsets
    n_kicked: int               # |Omega|
    distance: np.ndarray        # (n_kicked,) distance to the nearest cluster site
    H: np.ndarray               # (n_kicked, n_kicked) restoring matrix, Eq. 19
    K_delta: np.ndarray         # (n_kicked, n_kicked) kick covariance, Eq. 30 (times phi)
    K_prime_conditional: np.ndarray  # (P'_OO)^-1: covariance of S_Omega given the rest, under P(S|R)
    mean_kick: np.ndarray
    response: np.ndarray
    noise: np.ndarray
    retained_variance: float    # fraction of sum_r sigma_D(r)^2 (untruncated) kept within r_max
    info: dict = field(default_factory=dict)


def _conditional_precision(lattice, sampler, cluster_offsets, kick, delta0, conditioning="marginal"):
    """Omega, its coupling shell and the precision P' = P_OO + 2 delta0 v v^T of S_Omega given the
    rest under P(S|R) (Eqs. 6-7, 23-26), as build_kick_operator uses them."""
    m = len(cluster_offsets)
    coords = lattice.coords
    members = lattice.index(cluster_offsets)
    # distance of every site to the nearest rearranging site (minimum image)
    dist_cluster = np.min(
        np.stack([lattice.distance(coords - off) for off in cluster_offsets]), axis=0)
    in_omega = dist_cluster <= kick.r_max + 1e-9
    others = np.flatnonzero(in_omega)
    others = others[~np.isin(others, members)]
    others = others[np.lexsort((others, dist_cluster[others]))]
    omega = np.concatenate([members, others])
    n = len(omega)
    # coupling shell: sites outside Omega within coupling_range of some Omega site
    outside = np.flatnonzero(~in_omega)
    if np.isinf(kick.coupling_range):
        shell = outside
    elif len(outside):
        dmin = np.full(len(outside), np.inf)
        for site in omega:  # O(n_Omega * N) once per orientation
            dmin = np.minimum(dmin, lattice.distance(coords[outside] - coords[site]))
        shell = outside[dmin <= kick.coupling_range + 1e-9]
    else:
        shell = outside
    region = np.concatenate([omega, shell]).astype(np.int64)

    v = np.zeros(n)
    v[:m] = 1.0 / m
    if conditioning == "marginal" and len(shell) and not np.isinf(kick.coupling_range):
        # precision of the marginal law of (Omega, shell): far sites integrated out
        K_uu = sampler.covariance_matrix(region)
        P_uu = np.linalg.inv(K_uu)
        P_uu = 0.5 * (P_uu + P_uu.T)
        P_oo, P_os = P_uu[:n, :n], P_uu[:n, n:]
    else:
        P_oo = sampler.precision_matrix(omega)
        P_os = sampler.precision_matrix(omega, shell)
    P_prime = P_oo + 2.0 * delta0 * np.outer(v, v)
    return omega, shell, region, dist_cluster, v, P_prime, P_os


def _kick_covariance(lattice, omega, dist_cluster, kick, check_rho=True):
    coords = lattice.coords
    sig = kick.sigma(dist_cluster[omega])
    pair = lattice.distance(coords[omega][:, None, :] - coords[omega][None, :, :])
    rho = kick.rho(pair)
    if check_rho:       # a full eigendecomposition: the bound, which only reads K_Delta, skips it
        _psd_factor(rho, "kick.rho")
    return kick.phi * np.outer(sig, sig) * rho, sig


def bound_eigenvalue(lattice, sampler, cluster_offsets, kick: KickKernel, delta0: float,
                     conditioning: str = "marginal") -> float:
    """The largest eigenvalue of K_Delta K'^-1 (Eq. 19) for one cluster orientation: the kick exists
    (detailed balance can be met) only below 1. Computed as restoring_matrix does (L^T K_Delta L,
    K'^-1 = L L^T), without raising, so that a violated bound can be reported by how much."""
    omega, _, _, dist_cluster, _, P_prime, _ = _conditional_precision(lattice, sampler, cluster_offsets,
                                                                      kick, delta0, conditioning)
    K_delta, _ = _kick_covariance(lattice, omega, dist_cluster, kick, check_rho=False)
    chol = np.linalg.cholesky(0.5 * (P_prime + P_prime.T))
    B = chol.T @ K_delta @ chol
    return float(np.linalg.eigvalsh(0.5 * (B + B.T)).max())


def build_kick_operator(lattice, sampler, cluster_offsets: np.ndarray, kick: KickKernel,
                        gamma0: float, delta0: float, mu: float,
                        conditioning: str = "marginal") -> KickOperator:
    """Build the truncated, detailed-balanced kick operator for one cluster orientation."""
    coords = lattice.coords
    omega, shell, region, dist_cluster, v, P_prime, P_os = _conditional_precision(
        lattice, sampler, cluster_offsets, kick, delta0, conditioning)
    n = len(omega)
    try:
        chol = scipy.linalg.cho_factor(P_prime)
    except np.linalg.LinAlgError:
        raise ValueError(f"rate.delta: the conditional precision P' = K^-1 + 2 delta0 v v^T is not "
                         f"positive definite (delta0={delta0:.4g})") from None
    K_cond = scipy.linalg.cho_solve(chol, np.eye(n))

    r_omega = dist_cluster[omega]
    K_delta, sig = _kick_covariance(lattice, omega, dist_cluster, kick)
    H = restoring_matrix(K_delta, K_prime_inverse=P_prime,
                         name=f"kick (sigma0={kick.sigma0}, sigma1={kick.sigma1}, phi={kick.phi})")
    g = gamma0 - 2.0 * delta0 * mu
    HK = H @ K_cond
    response = np.empty((n, len(region)))
    response[:, :n] = -H
    response[:, n:] = -HK @ P_os
    mean_kick = g * (HK @ v)
    noise = _psd_factor(K_delta, "kick")

    total = np.sum(kick.sigma_untruncated(dist_cluster) ** 2)
    retained = float(np.sum(sig ** 2) / total) if total > 0 else 1.0

    offsets = np.zeros((len(region), 3), dtype=np.int32)
    offsets[:, :lattice.d] = coords[region]
    return KickOperator(region=region, offsets=offsets, n_kicked=n, distance=r_omega, H=H,
                        K_delta=K_delta, K_prime_conditional=K_cond, mean_kick=mean_kick,
                        response=response, noise=noise, retained_variance=retained,
                        info={"n_shell": len(shell), "g": g})


def full_lattice_kick_map(lattice, sampler, operator: KickOperator, cluster_offsets, mu: float,
                          gamma0: float, delta0: float, exact_H: bool = True):
    """Dense check of one truncated kick against the exact Eq. 19 (small lattices only).

    Returns a dict with the conditional law before the event (mean mu', covariance K' of
    Eqs. 23-26 on the whole lattice), the affine map S' = S + c + G (S - mu) + noise that the
    truncated operator applies (anchor at the origin), the exact full-lattice H of Eq. 19 and
    the law of S' when S ~ P(S|R) (``exact_H=False`` skips the O(N^3) exact H).  Detailed balance (Eq. 12) requires S' ~ P(S|R) again:
    ``stationarity_error`` = max(|<S'> - mu'|, |Cov S' - K'|) / C(0), zero to round-off when
    the coupling shell covers the lattice.
    """
    N = lattice.N
    K = sampler.covariance_matrix(np.arange(N))
    m = len(cluster_offsets)
    members = lattice.index(cluster_offsets)
    v = np.zeros(N)
    v[members] = 1.0 / m
    Kv = K @ v
    K_prime = K - 2.0 * delta0 * np.outer(Kv, Kv) / (1.0 + 2.0 * delta0 * v @ Kv)
    g = gamma0 - 2.0 * delta0 * mu
    mean_prime = mu + g * (K_prime @ v)
    n = operator.n_kicked
    omega = operator.region[:n]
    G = np.zeros((N, N))
    G[np.ix_(omega, operator.region)] = operator.response
    c = np.zeros(N)
    c[omega] = operator.mean_kick
    K_delta = np.zeros((N, N))
    K_delta[np.ix_(omega, omega)] = operator.K_delta
    A = np.eye(N) + G
    mean_after = mean_prime + c + G @ (mean_prime - mu)
    cov_after = A @ K_prime @ A.T + K_delta
    H_exact = restoring_matrix(K_delta, K_prime) if exact_H else None
    scale = K[0, 0]
    err = max(np.abs(mean_after - mean_prime).max(), np.abs(cov_after - K_prime).max()) / scale
    return {"K_prime": K_prime, "mean_prime": mean_prime, "map": G, "offset": c,
            "H_exact": H_exact, "mean_after": mean_after, "cov_after": cov_after,
            "stationarity_error": float(err)}
