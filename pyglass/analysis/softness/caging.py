"""Caging-potential softness (paper 5, Sharma, Nandi & Bhattacharyya; Nandi & Bhattacharyya 2021).

- HNC direct correlation from the global partial g(r) (paper 5 Eq. 6, bridge function dropped):
  C_uv(r) = −βU_uv(r) + (g_uv(r) − 1) − ln g_uv(r).
- Depth of the caging potential in r space (Eq. 5): βΦ_r = −∫ dr/2 Σ_uv C_uv(r) √(x_u x_v) g_uv(r),
  each (u, v) term integrated from where the true g_uv vanishes (lower cutoff: first r with
  g_uv > `g_min`, our choice 0.01) to the first minimum of g_uv (upper cutoff), as the paper does.
  `phi_r_average(species=u)` keeps the tagged species u only (Σ_v), which is what the local value
  of a particle of species u averages to; species=None gives Eq. 5's Σ_uv.
- Local g (Eq. 8 with the d-dimensional normalisation, docs/science.md §5):
  g_i^v(r) = [ρ_v Ω_d r^(d−1)]^(−1) Σ_{j∈v} (2πδ²)^(−1/2) exp[−(r − r_ij)²/(2δ²)], δ = 0.09,
  Ω_3 r² = 4πr², Ω_2 r = 2πr; averaged over the particles of species u it is the partial
  g_uv(r) smoothed by the Gaussian. Its sums come from the structure-function kernel
  (`structure_functions.gaussian_rows`, the same loop with μ → r grid, σ → δ).
- Local depth Φ_r(i) = −½ Σ_v √(x_u x_v) ∫ C_uv(r) g_i^v(r) dr with the global C and cutoffs.
- From S(q) (Eqs. 3-4): βΦ_q = −∫ d^dq/(2π)^d Σ_uv C_uv(q) √(x_u x_v) (S_uv(q) − δ_uv),
  C(q) = 1 − S⁻¹(q) (matrices). Softness of the average potential: βΦ(Δr) carries
  exp(−q²Δr²/(2d)) (paper: /6 in 3D), and the harmonic form βΦ(0) + Δr²/(2 S) gives
  1/S^av = (1/d) ∫ d^dq/(2π)^d q² Σ_uv C_uv √(x_u x_v)(S_uv − δ_uv) (our choice: the curvature at
  Δr = 0, the limit of the paper's fit near Δr = 0).
- Calibration (Eq. 7): 1/S^av = c0 + c1 Φ_r^av over a temperature series (linear least squares);
  local softness S_i = 1/(c0 + c1 Φ_r(i)).
P_R(S), ΔE(S) and the crossing temperature use `pyglass.analysis.softness.statistics`.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid  # np.trapz is gone from numpy >= 2.4

from pyglass.analysis.softness.structure_functions import gaussian_rows


def hnc_direct_correlation(g, beta_u):
    """C(r) = −βu + (g − 1) − ln g (paper 5 Eq. 6); NaN where g <= 0 or βu is not finite."""
    g = np.asarray(g, float)
    bu = np.asarray(beta_u, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = -bu + (g - 1.0) - np.log(g)
    return np.where((g > 0) & np.isfinite(bu), c, np.nan)


def shell_measure(r, dim: int):
    """Ω_d r^(d−1): 4πr² in 3D, 2πr in 2D."""
    r = np.asarray(r, float)
    return 4.0 * np.pi * r ** 2 if dim == 3 else 2.0 * np.pi * r


def local_rdf(system, r, delta: float = 0.09, r_cut: float | None = None, positions=None):
    """g_i^v(r) for every particle i and neighbour species v on the grid r: (N, n_types, len(r)).
    Neighbours beyond r_cut (default max(r) + 6δ) are left out."""
    r = np.asarray(r, float)
    if np.any(r <= 0):
        raise ValueError("local_rdf needs r > 0 (the shell factor vanishes at r = 0)")
    r_cut = float(r.max() + 6 * delta) if r_cut is None else float(r_cut)
    raw = gaussian_rows(system, r, delta, r_cut, positions)
    rho = np.bincount(system.types, minlength=system.n_types) / system.box.volume
    norm = np.sqrt(2 * np.pi) * delta * rho[None, :, None] * shell_measure(r, system.dim)[None, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norm > 0, raw / norm, 0.0)


def _segment_integral(r, f, lo, hi):
    """∫_lo^hi f dr by the trapezoid rule on the grid points inside [lo, hi] (last axis)."""
    m = (r >= lo) & (r <= hi)
    if m.sum() < 2:
        return np.zeros(f.shape[:-1])
    return trapezoid(np.nan_to_num(f[..., m]), r[m], axis=-1)


class CagingPotential:
    """Caging-potential softness of paper 5.

    potential: a PairPotential (for βU_uv(r) via pair_derivatives); temperature: T of the data;
    delta: Gaussian width of the local g (paper: 0.09); r_max, bins: grid of the global g(r) and
    of the integrals (dr = 0.02 by default; a single frame of a few hundred particles needs
    dr ~ 0.03 for a clean first minimum); g_min: lower cutoff where the global g_uv first exceeds it (our choice 0.01).
    Usage: `fit_reference(frames, box, types)` (global g, C, cutoffs, Φ_r^av), then
    `compute(system)` -> Φ_r per particle, `softness(system)` with a calibration."""

    def __init__(self, potential, temperature: float, delta: float = 0.09, r_max: float = 3.0,
                 bins: int = 150, g_min: float = 0.01, calibration=None):
        self.potential = potential
        self.temperature = float(temperature)
        self.delta = float(delta)
        self.r_max = float(r_max)
        self.bins = int(bins)
        self.g_min = float(g_min)
        self.calibration = calibration
        self._ref = None

    # ------------------------------------------------------------------ global reference
    def fit_reference(self, frames, box, types, type_names=None):
        """Global partial g_uv(r) from (frames of) positions, HNC C_uv(r), integration limits."""
        from pyglass.analysis.observables.structure import radial_distribution
        types = np.asarray(types, np.int64)
        r, g = radial_distribution(frames, box, types, self.r_max, self.bins)
        x = np.bincount(types, minlength=g.shape[0]) / len(types)
        dim = len(np.atleast_1d(box.lengths if hasattr(box, "lengths") else box))
        return self.reference_from_rdf(r, g, x, dim)

    def reference_from_rdf(self, r, g, x, dim: int = 3):
        """The reference from a global partial g_uv(r) already measured (e.g. averaged over blocks of a
        trajectory: paper 5's jackknife): HNC C_uv(r) and the integration limits; x the mole fractions."""
        from pyglass.analysis.observables.structure import first_minimum
        r, g, x = np.asarray(r, float), np.asarray(g, float), np.asarray(x, float)
        nt = g.shape[0]
        beta = 1.0 / self.temperature
        C = np.full_like(g, np.nan)
        lo = np.zeros((nt, nt))
        hi = np.zeros((nt, nt))
        for a in range(nt):
            for b in range(nt):
                u = self.potential.pair_derivatives(a, b, r, order=0)[0]
                C[a, b] = hnc_direct_correlation(g[a, b], beta * u)
                above = np.flatnonzero(g[a, b] > self.g_min)
                lo[a, b] = r[above[0]] if above.size else self.r_max
                hi[a, b] = first_minimum(r, g[a, b])
        self._ref = {"r": r, "g": g, "C": C, "x": x, "lo": lo, "hi": hi, "dim": int(dim)}
        return self

    @property
    def reference(self) -> dict:
        if self._ref is None:
            raise RuntimeError("call fit_reference(frames, box, types) first")
        return self._ref

    def phi_r_average(self, species=None, weight=None) -> float:
        """βΦ_r^av (Eq. 5) from the global g: all (u, v) (species=None) or the tagged species u.
        `weight`: an optional factor of the integrand on the r grid, (nr,) or (nt, nt, nr) (another
        reading of Eq. 5, e.g. 4πρr² for a three-dimensional integral)."""
        ref = self.reference
        nt = len(ref["x"])
        w = np.broadcast_to(np.ones(len(ref["r"])) if weight is None else np.asarray(weight, float),
                            (nt, nt, len(ref["r"])))
        us = range(nt) if species is None else [int(species)]
        tot = 0.0
        for u in us:
            for v in range(nt):
                f = ref["C"][u, v] * np.sqrt(ref["x"][u] * ref["x"][v]) * ref["g"][u, v] * w[u, v]
                tot += _segment_integral(ref["r"], f, ref["lo"][u, v], ref["hi"][u, v])
        return float(-0.5 * tot)

    # ------------------------------------------------------------------ local values
    def compute(self, system, positions=None) -> np.ndarray:
        """βΦ_r(i) of every particle (N,) from its local g_i (Eq. 8) and the global C, cutoffs."""
        self._phi = self.compute_readings(system, positions)[""]
        return self._phi

    def compute_readings(self, system, positions=None, weights=None) -> dict:
        """βΦ_r(i) of every particle under several readings of Eqs. 5 and 8 from one local g_i:
        `weights` {name: factor of the integrand on the r grid, (nr,) or (nt, nt, nr), or None};
        the plain reading "" is always included. Returns {name: (N,)}."""
        ref = self.reference
        r, C, x = ref["r"], ref["C"], ref["x"]
        nt = len(x)
        ws = {"": None, **(weights or {})}
        ws = {k: np.broadcast_to(np.ones(len(r)) if w is None else np.asarray(w, float), (nt, nt, len(r)))
              for k, w in ws.items()}
        gi = local_rdf(system, r, self.delta, float(ref["hi"].max() + 6 * self.delta), positions)
        out = {k: np.zeros(system.N) for k in ws}
        for u in range(nt):
            sel = system.types == u
            if not sel.any():
                continue
            for v in range(nt):
                f = C[u, v][None, :] * gi[sel, v, :] * np.sqrt(x[u] * x[v])
                for k, w in ws.items():
                    out[k][sel] += _segment_integral(r, f * w[u, v][None, :], ref["lo"][u, v], ref["hi"][u, v])
        return {k: -0.5 * v for k, v in out.items()}

    def softness(self, system, positions=None, calibration=None) -> np.ndarray:
        """S_i = 1/(c0 + c1 βΦ_r(i)) (Eq. 7) with calibration (c0, c1)."""
        c = calibration if calibration is not None else self.calibration
        if c is None:
            raise RuntimeError("no calibration: pass (c0, c1) (see pyglass.analysis.softness.caging.calibrate)")
        return local_softness(self.compute(system, positions), *c)


def calibrate(phi_r_av, inv_softness_av):
    """(c0, c1) of 1/S^av = c0 + c1 Φ_r^av (paper 5 Eq. 7) over a temperature series."""
    from scipy import stats
    fit = stats.linregress(np.asarray(phi_r_av, float), np.asarray(inv_softness_av, float))
    return float(fit.intercept), float(fit.slope)


def local_softness(phi_r, c0: float, c1: float):
    return 1.0 / (c0 + c1 * np.asarray(phi_r, float))


def direct_correlation_q(S_partial):
    """C(q) = 1 − S⁻¹(q) for partial structure factors S_uv(q) of shape (nt, nt, nq)."""
    S = np.moveaxis(np.asarray(S_partial, float), -1, 0)
    eye = np.eye(S.shape[-1])
    return np.moveaxis(eye[None] - np.linalg.inv(S), 0, -1)


def _q_integrand(q, S_partial, x):
    C = direct_correlation_q(S_partial)
    S = np.asarray(S_partial, float)
    nt = S.shape[0]
    w = np.sqrt(np.outer(x, x))
    return np.einsum("uvq,uv->q", C * (S - np.eye(nt)[:, :, None]), w)


def caging_depth_q(q, S_partial, x, dim: int = 3) -> float:
    """βΦ_q (paper 5 Eq. 4) = −∫ d^dq/(2π)^d Σ_uv C_uv(q) √(x_u x_v)(S_uv(q) − δ_uv)."""
    q = np.asarray(q, float)
    F = _q_integrand(q, S_partial, np.asarray(x, float))
    return float(-trapezoid(F * shell_measure(q, dim), q) / (2 * np.pi) ** dim)


def caging_potential_q(q, S_partial, x, dr, dim: int = 3):
    """βΦ(Δr) (paper 5 Eq. 3, exp(−q²Δr²/(2d)); Δr array)."""
    q = np.asarray(q, float)
    F = _q_integrand(q, S_partial, np.asarray(x, float)) * shell_measure(q, dim) / (2 * np.pi) ** dim
    dr = np.atleast_1d(np.asarray(dr, float))
    return -trapezoid(F[None, :] * np.exp(-np.outer(dr ** 2, q ** 2) / (2 * dim)), q, axis=1)


def caging_softness_q(q, S_partial, x, dim: int = 3) -> float:
    """S^av from the curvature of βΦ(Δr) at Δr = 0: 1/S = (1/d) ∫ d^dq/(2π)^d q² Σ C √xx (S − δ)."""
    q = np.asarray(q, float)
    F = _q_integrand(q, S_partial, np.asarray(x, float))
    return float(1.0 / (trapezoid(F * q ** 2 * shell_measure(q, dim), q) / (2 * np.pi) ** dim / dim))
