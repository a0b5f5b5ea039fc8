"""Measurements on TRSP trajectories (paper Sec. VII, App. F, H).

* Overlap Q(t) = (1/N) sum_i I_i(t), I_i = 1 if site i has not rearranged in (t0, t0 + t]
  (Eq. 31); chi4(t) = N Var Q(t) (Eq. 32) over runs and time origins; tau4 and chi4* at the
  peak of chi4 (pyglass.analysis.observables.dynamics.chi4_peak).
* S4(q, t) = (1/N)(<W(q)W(-q)> - <W(q)><W(-q)>), W(q) = sum_i I_i e^{iq.r_i} (Eqs. 33-34);
  Ornstein-Zernike fit S4 = S4(0) / (1 + (q xi4)^2) at small q (scipy curve_fit).
* Block analysis (App. H): chi4 of sub-boxes of side L_B, fitted to
  chi4(L_B) = chi4_inf F(L_B/xi4), F the block average of an exponential correlation
  e^{-r/xi4} normalised to 1 for an infinite block: a finite-size-scaling form with one length.
* Time-weighted <S> and C_S(r) (App. F 2).
"""
from __future__ import annotations


import numpy as np
from scipy.optimize import curve_fit
from scipy.special import gamma as gamma_fn, gammaincc

__all__ = ["first_rearrangement_times", "overlap", "four_point_structure_factor",
           "ornstein_zernike_fit", "block_susceptibility", "block_scaling_fit",
           "radial_average", "correlation_from_power"]


def first_rearrangement_times(times: np.ndarray, clusters: np.ndarray, cluster_sites: np.ndarray,
                              n_sites: int, origin: float, horizon: float) -> np.ndarray:
    """Time after ``origin`` of each site's first rearrangement (inf if none before horizon).

    ``times`` (sorted) and ``clusters`` are the event log; each event rearranges all m
    members of its cluster.
    """
    start = np.searchsorted(times, origin, side="right")
    stop = np.searchsorted(times, origin + horizon, side="right")
    out = np.full(n_sites, np.inf)
    if stop <= start:
        return out
    m = cluster_sites.shape[1]
    sites = cluster_sites[clusters[start:stop]].ravel()
    unique, first = np.unique(sites, return_index=True)
    out[unique] = times[start:stop][first // m] - origin
    return out


def overlap(first_times: np.ndarray, sample_times: np.ndarray) -> np.ndarray:
    """Q(t) for every row of first_times (n_samples, N): fraction not yet rearranged."""
    first_times = np.atleast_2d(first_times)
    return (first_times[:, None, :] > np.asarray(sample_times)[None, :, None]).mean(axis=2)


def radial_average(grid: np.ndarray, lengths: np.ndarray, decimals: int = 6):
    """Average a grid over shells of equal length; returns (unique lengths, means, counts)."""
    key = np.round(lengths.ravel(), decimals)
    unique, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=grid.ravel())
    return unique, sums / counts, counts


def _wavevector_lengths(shape):
    freqs = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n) for n in shape], indexing="ij")
    return np.sqrt(sum(f ** 2 for f in freqs))


def four_point_structure_factor(indicator: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """S4(q) from overlap fields I (n_samples, N), radially averaged over |q| (Eq. 34).

    Returns (q, S4).  q = 0 is included: S4(0) = N Var Q = chi4.
    """
    indicator = np.asarray(indicator, dtype=float)
    n, N = indicator.shape
    axes = tuple(range(1, len(shape) + 1))
    W = np.fft.fftn(indicator.reshape((n,) + tuple(shape)), axes=axes)
    s4 = (np.mean(np.abs(W) ** 2, axis=0) - np.abs(W.mean(axis=0)) ** 2) / N
    q, s4_radial, _ = radial_average(s4, _wavevector_lengths(shape))
    return q, s4_radial


def ornstein_zernike_fit(q: np.ndarray, s4: np.ndarray, q_max: float, include_zero: bool = False,
                         xi_max: float = np.inf):
    """Fit S4(q) = S4(0) / (1 + (q xi4)^2) for 0 < q <= q_max; returns (S4(0), xi4, covariance).

    ``xi_max`` bounds xi4 (e.g. the box size); a fit that ends on the bound is unreliable.
    """
    q = np.asarray(q, dtype=float)
    s4 = np.asarray(s4, dtype=float)
    sel = (q <= q_max + 1e-12) & ((q > 0) | include_zero)
    if sel.sum() < 2:
        raise ValueError(f"ornstein_zernike_fit: fewer than 2 wavevectors with q <= q_max={q_max}")

    def oz(qq, s0, xi):
        return s0 / (1.0 + (qq * xi) ** 2)

    p0 = (max(s4[sel].max(), 1e-12), min(1.0, 0.5 * xi_max))
    popt, pcov = curve_fit(oz, q[sel], s4[sel], p0=p0, bounds=([0.0, 0.0], [np.inf, xi_max]),
                           maxfev=20000)
    return float(popt[0]), float(popt[1]), pcov


def block_susceptibility(indicator: np.ndarray, shape, block_sizes) -> np.ndarray:
    """chi4(L_B) = L_B^d Var(Q_B) over all non-overlapping blocks of side L_B and samples."""
    indicator = np.asarray(indicator, dtype=float)
    n = indicator.shape[0]
    fields = indicator.reshape((n,) + tuple(shape))
    d = len(shape)
    L = shape[0]
    out = []
    for LB in block_sizes:
        LB = int(LB)
        if not 1 <= LB <= L:
            raise ValueError(f"block size {LB} outside [1, {L}]")
        nb = L // LB
        cut = fields[(slice(None),) + (slice(0, nb * LB),) * d]
        newshape = (n,) + sum(((nb, LB) for _ in range(d)), ())
        blocks = cut.reshape(newshape).mean(axis=tuple(range(2, 2 * d + 1, 2)))
        out.append(LB ** d * np.var(blocks, ddof=1))
    return np.array(out)


def _distance_weights(d: int, radius: int):
    """Distinct |r| of Z^d points with |r| <= radius, and how many points share each."""
    span = np.arange(-radius, radius + 1)
    grids = np.meshgrid(*([span] * d), indexing="ij")
    r = np.sqrt(sum(g.astype(float) ** 2 for g in grids)).ravel()
    r = r[r <= radius]
    return np.unique(np.round(r, 9), return_counts=True)


def _block_distance_weights(LB: int, d: int):
    """Distinct pair distances inside an L_B^d block, weighted by (pairs with it) / L_B^d."""
    reach = np.arange(-(LB - 1), LB)
    weight1 = (LB - np.abs(reach)).astype(float)
    grids = np.meshgrid(*([reach] * d), indexing="ij")
    r = np.sqrt(sum(g.astype(float) ** 2 for g in grids)).ravel()
    w = np.ones_like(r)
    for g in grids:
        w = w * weight1[g.ravel() + LB - 1]
    key, inverse = np.unique(np.round(r, 9), return_inverse=True)
    return key, np.bincount(inverse, weights=w) / LB ** d


class _BlockForm:
    """F(L_B/xi): block average of e^{-r/xi} over an L_B^d block, normalised by its lattice sum
    over Z^d (exact for |r| <= 12, continuum tail beyond).  Distance tables are built once."""

    EXACT_RADIUS = 12

    def __init__(self, d: int):
        self.d = d
        self.r_all, self.n_all = _distance_weights(d, self.EXACT_RADIUS)
        self.tables = {}

    def lattice_sum(self, xi: float) -> float:
        a = self.EXACT_RADIUS + 0.5
        shell = 4 * np.pi if self.d == 3 else 2 * np.pi
        # int_a^inf shell r^(d-1) e^{-r/xi} dr = shell xi^d Gamma(d) Q(d, a/xi)
        tail = shell * xi ** self.d * gamma_fn(self.d) * gammaincc(self.d, a / xi)
        return float(np.dot(self.n_all, np.exp(-self.r_all / xi)) + tail)

    def __call__(self, LB: float, xi: float) -> float:
        LB = int(round(LB))
        if LB not in self.tables:
            self.tables[LB] = _block_distance_weights(LB, self.d)
        r, w = self.tables[LB]
        return float(np.dot(w, np.exp(-r / xi)) / self.lattice_sum(xi))


def _block_form(LB: float, xi: float, d: int) -> float:
    return _BlockForm(d)(LB, xi)


def block_scaling_fit(block_sizes, chi4_blocks, d: int):
    """Fit chi4(L_B) = chi4_inf F(L_B/xi4) (App. H); returns (chi4_inf, xi4, covariance)."""
    LB = np.asarray(block_sizes, dtype=float)
    y = np.asarray(chi4_blocks, dtype=float)
    form = _BlockForm(d)

    def model(lb, chi_inf, xi):
        return chi_inf * np.array([form(b, max(xi, 1e-3)) for b in lb])

    popt, pcov = curve_fit(model, LB, y, p0=(y.max() * 1.5, 1.0),
                           bounds=([0.0, 1e-3], [np.inf, 50.0]), maxfev=5000)
    return float(popt[0]), float(popt[1]), pcov


def correlation_from_power(power: np.ndarray, mean: float, shape) -> np.ndarray:
    """C(Delta) on the displacement grid from the (weighted) mean power spectrum |S(q)|^2."""
    N = int(np.prod(shape))
    return np.fft.ifftn(power.reshape(shape)).real / N - mean ** 2
