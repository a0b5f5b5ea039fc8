"""State points fixed by thermodynamics: the density at which an NVT liquid has a given pressure.

A paper that ran NPT and states (or cites) its pressure is reproduced under NVT at the density whose
mean pressure is that pressure (paper 1: T = 0.4, P = 13.5). A short pilot measures the mean
pressure at a few densities around it; `density_at_pressure` fits the straight line through
(ln rho, ln P) by least squares and inverts it. For a steep repulsive liquid ln P is close to linear
in ln rho over a few per cent of density (an r^-12 law gives d ln P / d ln rho ~ 7), so the pilot's
densities should bracket the target pressure; the fit never extrapolates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DensityFit:
    """The density of the target pressure, its standard error from the fit, the slope
    d ln P / d ln rho and the pilot's points."""
    density: float
    se: float
    slope: float
    densities: tuple
    pressures: tuple
    target: float

    def comment(self) -> str:
        """One line for a deck: the pilot's numbers and the result."""
        pts = ", ".join(f"P({r:g}) = {p:.4g}" for r, p in zip(self.densities, self.pressures))
        return (f"{pts}; ln P linear in ln rho (slope {self.slope:.3g}): rho(P = {self.target:g}) = "
                f"{self.density:.5f} +- {self.se:.1g}")


def density_at_pressure(densities, pressures, target: float, pressure_se=None) -> DensityFit:
    """The density at which the mean pressure is `target`, from mean pressures measured at
    `densities` (at least two, bracketing the target): weighted least-squares line ln P = a + b ln rho
    (weights 1/(se/P)^2 when `pressure_se` is given), inverted at ln target. The standard error comes
    from the fit's covariance (delta method): from `pressure_se` when given, else from the residuals
    (NaN with two points and no pressure_se)."""
    rho = np.asarray(densities, float)
    p = np.asarray(pressures, float)
    if rho.ndim != 1 or rho.shape != p.shape or len(rho) < 2:
        raise ValueError(f"density_at_pressure needs at least two (density, pressure) pairs, got {rho.shape} "
                         f"densities and {p.shape} pressures")
    if np.any(rho <= 0) or np.any(p <= 0) or not target > 0:
        raise ValueError("density_at_pressure needs positive densities, pressures and target "
                         f"(got {rho.tolist()}, {p.tolist()}, {target})")
    if not p.min() <= target <= p.max():
        raise ValueError(f"target pressure {target} lies outside the pilot's pressures [{p.min():.4g}, "
                         f"{p.max():.4g}]: add a density on the other side rather than extrapolate")
    x0 = float(np.mean(np.log(rho)))          # centred: the fit is well conditioned over a few per cent
    x, y = np.log(rho) - x0, np.log(p)
    if pressure_se is None:
        w = np.ones_like(x)
    else:
        se = np.asarray(pressure_se, float)
        if se.shape != p.shape or np.any(se <= 0):
            raise ValueError(f"pressure_se must hold one positive value per density, got {se.tolist()}")
        w = (p / se) ** 2                      # 1 / var(ln P)
    X = np.stack([np.ones_like(x), x], 1)
    A = X.T @ (w[:, None] * X)
    a, b = np.linalg.solve(A, X.T @ (w * y))
    if not b > 0:
        raise ValueError(f"the pilot's pressure does not rise with density (slope {b:.3g})")
    cov = np.linalg.inv(A)
    if pressure_se is None:
        dof = len(x) - 2
        cov = cov * (float(np.sum((y - a - b * x) ** 2)) / dof) if dof > 0 else np.full_like(cov, np.nan)
    lt = np.log(target)
    ln_rho = (lt - a) / b
    grad = np.array([-1.0 / b, -(lt - a) / b ** 2])
    se_ln = float(np.sqrt(grad @ cov @ grad))
    d = float(np.exp(ln_rho + x0))
    return DensityFit(d, d * se_ln, float(b), tuple(rho.tolist()), tuple(p.tolist()), float(target))
