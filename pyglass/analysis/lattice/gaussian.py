"""Equilibrium softness field: the Gaussian N(mu, K) of paper Eq. 2, sampled by FFT.

On a periodic lattice a translation-invariant covariance K_ij = C(|r_i - r_j|) (minimum
image) is a circulant matrix: its eigenvectors are plane waves and its eigenvalues are the
discrete Fourier transform of C on the displacement grid,

    lambda(q) = sum_r C(r) exp(-i q.r).

A field x = F^-1 [lambda^(1/2) F z] with z white noise then has covariance exactly K (the
"standard FFT technique" of Sec. VI, ref. [42]: circulant embedding, here with the periodic
lattice itself as the embedding).  The same spectrum gives the precision matrix
K^-1 (eigenvalues 1/lambda), used by the kick operators.  A negative eigenvalue beyond
round-off means C(r) is not a covariance on this lattice: that is an error, never clamped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import coerce_parameters

from .geometry import PeriodicLattice

__all__ = ["SoftnessCorrelation", "GaussianFieldSampler"]

#: relative size (to the largest eigenvalue) below which a negative eigenvalue is round-off
SPECTRUM_ROUNDOFF = 1e-10


@dataclass(frozen=True)
class SoftnessCorrelation:
    """Softness covariance of paper Eq. 29: C(0) = C0 (= sigma^2), C(r) = C1 exp(-r/xi), r > 0.

    Lengths in lattice spacings.  C1 = 0 gives an uncorrelated field (trap-model limit).
    """

    C0: float
    C1: float = 0.0
    xi: float = 1.0

    def __post_init__(self):
        for name in ("C0", "C1", "xi"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"correlation.{name} must be finite, got {value!r}")
        if self.C0 <= 0:
            raise ValueError(f"correlation.C0 (softness variance) must be > 0, got {self.C0}")
        if self.C1 < 0:
            raise ValueError(f"correlation.C1 must be >= 0, got {self.C1}")
        if self.xi <= 0:
            raise ValueError(f"correlation.xi must be > 0, got {self.xi}")

    @classmethod
    def coerce(cls, value) -> "SoftnessCorrelation":
        return coerce_parameters(cls, value, "correlation")

    def __call__(self, r) -> np.ndarray:
        r = np.asarray(r, dtype=float)
        return np.where(r == 0.0, self.C0, self.C1 * np.exp(-r / self.xi))


class GaussianFieldSampler:
    """Exact sampler of N(mean, K) for a translation-invariant K on a periodic lattice.

    Parameters
    ----------
    lattice : PeriodicLattice
    covariance : callable r -> C(r) (e.g. a SoftnessCorrelation), evaluated at minimum-image
        distances
    name : label used in error messages (the deck section)
    """

    def __init__(self, lattice: PeriodicLattice, covariance, name: str = "correlation"):
        self.lattice = lattice
        self.name = name
        self.covariance_grid = np.asarray(covariance(lattice.displacement_distances()), dtype=float)
        spectrum = np.fft.fftn(self.covariance_grid).real
        top = spectrum.max()
        if not np.isfinite(top) or top <= 0:
            raise ValueError(f"{name}: covariance spectrum is not positive (max eigenvalue {top})")
        lowest = spectrum.min()
        if lowest < -SPECTRUM_ROUNDOFF * top:
            raise ValueError(
                f"{name}: the circulant covariance on the L={lattice.L}, d={lattice.d} lattice "
                f"has a negative eigenvalue {lowest:.3g} (largest {top:.3g}); this C(r) is not a "
                f"valid covariance here (reduce {name}.C1 or {name}.xi)")
        self.spectrum = np.clip(spectrum, 0.0, None)
        self._precision_grid = None

    @property
    def precision_grid(self) -> np.ndarray:
        """P(r) with (K^-1)_ij = P(r_i - r_j): inverse DFT of 1/lambda(q)."""
        if self._precision_grid is None:
            if self.spectrum.min() <= SPECTRUM_ROUNDOFF * self.spectrum.max():
                raise ValueError(f"{self.name}: covariance is singular on this lattice "
                                 f"(smallest eigenvalue {self.spectrum.min():.3g})")
            self._precision_grid = np.fft.ifftn(1.0 / self.spectrum).real
        return self._precision_grid

    def matrix(self, grid: np.ndarray, sites_a, sites_b) -> np.ndarray:
        """Dense block M_ab = grid[r_a - r_b] for two lists of site indices."""
        ca = self.lattice.coords[np.asarray(sites_a)]
        cb = self.lattice.coords[np.asarray(sites_b)]
        delta = np.mod(ca[:, None, :] - cb[None, :, :], self.lattice.L)
        return grid[tuple(np.moveaxis(delta, -1, 0))]

    def covariance_matrix(self, sites_a, sites_b=None) -> np.ndarray:
        return self.matrix(self.covariance_grid, sites_a, sites_a if sites_b is None else sites_b)

    def precision_matrix(self, sites_a, sites_b=None) -> np.ndarray:
        return self.matrix(self.precision_grid, sites_a, sites_a if sites_b is None else sites_b)

    def sample(self, rng: np.random.Generator, n: int | None = None, mean: float = 0.0) -> np.ndarray:
        """Draw fields of shape (N,) (or (n, N)) from N(mean, K), flattened row-major."""
        count = 1 if n is None else int(n)
        white = rng.standard_normal((count,) + self.lattice.shape)
        axes = tuple(range(1, self.lattice.d + 1))
        field = np.fft.ifftn(np.sqrt(self.spectrum) * np.fft.fftn(white, axes=axes), axes=axes).real
        field = field.reshape(count, self.lattice.N) + mean
        return field[0] if n is None else field
