"""Shear-deformed inherent structures (paper 3, Mosayebi et al. 2014; docs/science.md §3).

An affine simple shear r -> r + gamma y e_x is applied with the box's xy tilt (Lees-Edwards
images: tilt_xy += gamma L_y), then the configuration is re-minimised (quasi-static). Recorded per
strain: e_IS(gamma) (energy per particle), sigma_xy(gamma), and the non-affine displacement
d_i(gamma) = r_i(gamma) - r_i(0) - gamma y_i(0) e_x (unwrapped coordinates, y from the box origin).
The linear-response prediction of d_i is -M+ Xi gamma (elasticity.nonaffine_response).

`affine_quench_response` is paper 3's protocol instead (Mosayebi et al., PRL 112, 105503):
"Starting from X, we sample nearby minima by computing the IS X^dq = {r_i^dq} of the deformed
configuration r_i^d(gamma) = r_i + gamma y_i e_x, using conjugate gradient minimization", with the
non-affine displacement "d_i(gamma) = r_i^dq(gamma) - r_i^q - gamma y_i^q e_x": each strain is ONE
affine step applied to the equilibrium (unquenched) configuration X, then quenched; r^q is the
quench of the undeformed X.

Box and images: the affine step is `affine_shear` (tilt_xy += gamma L_y, positions mapped through
their fractional coordinates, image counters kept), so the sheared cell is the Lees-Edwards image
of the original and unwrapped coordinates stay continuous. Then r^q + gamma y^q e_x (y from the box
origin lo_y; unwrapped) is the affine image of r^q in the sheared cell, and d is its difference
from r^dq, reduced to the shortest image of the *sheared* cell (Box.minimum_image with the tilt),
so d does not depend on which periodic image a minimiser left a particle in.

Soft modes of every X^dq (paper 3's p^dq): with `modes = k` the k lowest non-zero normal modes of X^q
and of each X^dq(gamma) are computed (landscape.lowest_modes; the Hessian of the tilted cell) and kept
as participation maps p_i(N_m) = sum_{j=d+1}^{N_m} |e_i^j|^2 for the N_m of `mode_sums`, which count the
d zero modes as the paper does (p_i = sum_{j=3}^{N_m} in 2D). The vectors themselves are not kept: at
N = 8000, 160 modes of 18 strains are 370 MB.

Reading the curves: `stress_peak` (the strain of the stress maximum, on the grid or refined by a
parabola) and `strain_onset` (the knee of a broken line against ln gamma: paper 3's gamma_c, where the
overlap of the Debye-Waller map with the modes of X^dq drops, and the onset of the e_IS rise).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyglass.analysis.landscape.hessian import shear_stress
from pyglass.analysis.landscape.relax import newton_refine, quench
from pyglass.engine.minimizers.base import MinimizeResult
from pyglass.engine.system import Box


def affine_shear(system, dgamma: float):
    """Apply an affine simple shear increment in place: x += dgamma (y - lo_y), tilt_xy += dgamma L_y."""
    box = system.box
    new = Box(box.lengths.copy(), box.tilt_xy + dgamma * box.lengths[1], box.lo.copy())
    system.set_box(new, scale_positions=True)


@dataclass
class ShearedStructures:
    """Quasi-static shear of an inherent structure."""
    gammas: np.ndarray
    energy_per_particle: np.ndarray
    stress_xy: np.ndarray
    nonaffine: np.ndarray          # (n_gamma, N, d)
    max_force: np.ndarray
    configurations: list = field(default_factory=list)

    def nonaffine_magnitude(self) -> np.ndarray:
        """|d_i(gamma)| (n_gamma, N), e.g. for maps."""
        return np.linalg.norm(self.nonaffine, axis=2)


def shear_inherent_structures(system, pot, gammas, ftol: float = 1e-10, refine: bool = False,
                              keep_configurations: bool = False) -> ShearedStructures:
    """Shear a copy of the IS `system` through the increasing strains `gammas` (from 0),
    re-minimising after each increment (relax.quench, plus Newton polish if refine)."""
    gammas = np.asarray(gammas, float)
    if gammas.ndim != 1 or np.any(np.diff(np.concatenate([[0.0], gammas])) < 0):
        raise ValueError("gammas must be a 1D non-decreasing sequence of strains >= 0")
    s = system.copy()
    u0 = s.unwrapped_positions.copy()
    y0 = u0[:, 1] - s.box.lo[1]
    out_e, out_s, out_d, out_f, confs = [], [], [], [], []
    g_prev = 0.0
    for g in gammas:
        affine_shear(s, g - g_prev)
        g_prev = g
        e, fmax, _ = quench(s, pot, ftol=ftol)
        if refine:
            fmax = newton_refine(s, pot, ftol=min(ftol, 1e-11))
            e = pot.energy(s)
        d = s.unwrapped_positions - u0
        d[:, 0] -= g * y0
        out_e.append(e / s.N)
        out_s.append(shear_stress(s, pot))
        out_d.append(d)
        out_f.append(fmax)
        if keep_configurations:
            confs.append(s.copy())
    return ShearedStructures(gammas, np.array(out_e), np.array(out_s), np.array(out_d), np.array(out_f), confs)


# ------------------------------------------------------------------ paper 3: one affine step, then quench
@dataclass
class AffineQuenchResponse:
    """Paper 3's deformed-and-quenched inherent structures of one equilibrium configuration X.

    gammas (n_gamma,); displacements d_i(gamma) (n_gamma, N, d); stress sigma_xy^dq (n_gamma,)
    (landscape.shear_stress: (1/V) dU/dgamma of the quenched deformed state); energies e_IS(gamma)
    per particle (n_gamma,); energy_q / stress_q of the undeformed quench X^q; max_force and
    converged per strain; configurations X^dq if kept, and X^q; with modes, the participation maps
    of X^q and of every X^dq and their eigenvalues (module docstring)."""
    gammas: np.ndarray
    displacements: np.ndarray
    stress: np.ndarray
    energies: np.ndarray
    energy_q: float
    stress_q: float
    max_force: np.ndarray
    converged: np.ndarray
    quenched: object = None
    configurations: list = field(default_factory=list)
    mode_sums: np.ndarray = None          # (n_sums,) N_m of the maps (zero modes counted)
    participation_q: np.ndarray = None    # (n_sums, N) p_i(N_m) of X^q
    participation_dq: np.ndarray = None   # (n_gamma, n_sums, N) p_i(N_m) of each X^dq(gamma)
    eigenvalues_q: np.ndarray = None      # (k,) lowest non-zero omega^2 of X^q
    eigenvalues_dq: np.ndarray = None     # (n_gamma, k)

    @property
    def stress_peak_strain(self) -> float:
        """The strain of the largest sigma_xy^dq on the grid (paper 3: the stress "reaches a maximum
        around gamma_c"; gamma_c itself is where the mode overlap drops, `strain_onset`)."""
        return stress_peak(self.gammas, self.stress)

    def magnitudes(self) -> np.ndarray:
        """|d_i(gamma)| (n_gamma, N): the NAD field whose overlap with soft modes paper 3 measures."""
        return np.linalg.norm(self.displacements, axis=2)


def stress_peak(gammas, stress, parabola: bool = False) -> float:
    """The strain at which sigma_xy(gamma) is largest (the first such grid strain); with parabola=True
    the vertex of the parabola (in gamma) through that grid point and its two neighbours, which
    resolves the peak between grid points (the grid point itself when the maximum is at either end of
    the grid or the three points do not curve downwards)."""
    gammas, stress = np.asarray(gammas, float), np.asarray(stress, float)
    if gammas.shape != stress.shape or gammas.ndim != 1 or len(gammas) == 0:
        raise ValueError(f"gammas and stress must be equal-length 1D arrays, got {gammas.shape}, {stress.shape}")
    k = int(np.nanargmax(stress))
    if not parabola or k == 0 or k == len(gammas) - 1:
        return float(gammas[k])
    c2, c1, _ = np.polyfit(gammas[k - 1:k + 2], stress[k - 1:k + 2], 2)
    if not c2 < 0:
        return float(gammas[k])
    return float(np.clip(-c1 / (2 * c2), gammas[k - 1], gammas[k + 1]))


@dataclass(frozen=True)
class StrainOnset:
    """A broken line against ln gamma (`strain_onset`): flat at `level` up to `strain`, then changing
    by `slope` per unit of ln gamma (>= 0; downwards for a drop, upwards for a rise). `censored`: the
    best line never bends (slope 0) and `strain` is the last grid point, a lower bound."""
    strain: float
    level: float
    slope: float
    censored: bool
    residual: float            # sum of squared residuals of the best line


ONSET_DIRECTIONS = ("drop", "rise")


def strain_onset(gammas, values, direction: str = "drop", n_candidates: int = 200) -> StrainOnset:
    """The strain where a curve leaves its small-strain plateau: the least-squares broken line
    y = y0 for gamma <= gamma_c, y0 -+ s ln(gamma / gamma_c) beyond (s >= 0; "-" for direction
    "drop", "+" for "rise"), over the whole grid, gamma_c searched on `n_candidates` log-spaced values
    between the second grid point and the last. For each candidate the line is linear in (y0, s) and is
    solved exactly, with s clipped at 0 (then y0 = the mean). A best line with s = 0 (the curve never
    bends the stated way) gives gamma_c = the last grid point, flagged censored.
    Paper 3: gamma_c "the overlap drops as gamma is increased beyond gamma_c"; e_IS "starts to increase
    around the same value of gamma"."""
    g, y = np.asarray(gammas, float), np.asarray(values, float)
    if direction not in ONSET_DIRECTIONS:
        raise ValueError(f"direction must be one of {ONSET_DIRECTIONS}, got {direction!r}")
    if g.ndim != 1 or g.shape != y.shape or len(g) < 3:
        raise ValueError(f"gammas and values must be equal-length 1D arrays of at least 3 points, got "
                         f"{g.shape} and {y.shape}")
    if not np.all(np.isfinite(g)) or g[0] <= 0 or np.any(np.diff(g) <= 0):
        raise ValueError(f"gammas must be positive and increasing, got {g.tolist()}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"values are not finite at gamma = {g[~np.isfinite(y)].tolist()}")
    if int(n_candidates) < 2:
        raise ValueError(f"n_candidates must be >= 2, got {n_candidates}")
    sign = -1.0 if direction == "drop" else 1.0
    candidates = np.geomspace(g[1], g[-1], int(n_candidates))
    hinge = np.maximum(0.0, np.log(g[None, :] / candidates[:, None]))      # (candidates, points)
    hc = hinge - hinge.mean(1, keepdims=True)
    yc = y - y.mean()
    sxx = np.einsum("cp,cp->c", hc, hc)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(sxx > 0, sign * (hc @ yc) / sxx, 0.0)
    s = np.maximum(s, 0.0)
    y0 = y.mean() - sign * s * hinge.mean(1)
    sse = np.sum((y[None, :] - y0[:, None] - sign * s[:, None] * hinge) ** 2, axis=1)
    k = int(np.argmin(sse))
    if s[k] == 0.0:
        return StrainOnset(float(g[-1]), float(y.mean()), 0.0, True, float(sse[k]))
    return StrainOnset(float(candidates[k]), float(y0[k]), float(s[k]), False, float(sse[k]))


def _quench(system, pot, minimizer, ftol, refine):
    if minimizer is None:
        e, fmax, _ = quench(system, pot, ftol=ftol)
        ok = fmax <= ftol
    else:
        res = minimizer.minimize(system, pot)
        if not isinstance(res, MinimizeResult):
            raise TypeError(f"minimizer.minimize must return a MinimizeResult, got {type(res).__name__}")
        e, fmax, ok = res.energy, res.max_force, bool(res.converged)
    if refine:
        fmax = newton_refine(system, pot, ftol=min(ftol, 1e-11))
        e = pot.energy(system)
    return e, fmax, ok


def _participation_maps(system, pot, k, mode_sums, method, tol):
    """(p_i(N_m) (n_sums, N), eigenvalues (k,)) of the k lowest non-zero modes of `system`, N_m
    counting the d zero modes (paper 3)."""
    from pyglass.analysis.landscape.modes import lowest_modes
    m = lowest_modes(system, pot, k, method=method, tol=tol)
    return np.array([m.participation_fractions(int(nm), count_zero_modes=True) for nm in mode_sums]), m.eigenvalues


def check_mode_sums(mode_sums, modes: int, dim: int) -> np.ndarray:
    """The N_m of participation maps over `modes` computed non-zero modes, zero modes counted: each in
    d+1..modes+d, increasing. Raises ValueError naming the first that is not."""
    ms = np.atleast_1d(np.asarray(mode_sums if mode_sums is not None else [modes + dim]))
    if ms.ndim != 1 or len(ms) == 0 or not np.all(ms == np.round(ms)):
        raise ValueError(f"mode_sums must be a list of integers, got {np.asarray(mode_sums).tolist()}")
    bad = [int(v) for v in ms if not dim + 1 <= v <= modes + dim]
    if bad:
        raise ValueError(f"mode_sums: N_m = {bad[0]} is outside {dim + 1}..{modes + dim} (N_m counts the {dim} zero "
                         f"modes; {modes} non-zero modes are computed)")
    if np.any(np.diff(ms) <= 0):
        raise ValueError(f"mode_sums must be increasing, got {ms.tolist()}")
    return ms.astype(np.int64)


def affine_quench_response(system, pot, gammas, minimizer=None, ftol: float = 1e-10, refine: bool = False,
                           keep_configurations: bool = False, modes: int = 0, mode_sums=None,
                           mode_method: str = "auto", mode_tol: float = 1e-8) -> AffineQuenchResponse:
    """Paper 3 protocol on the equilibrium configuration `system` (X, not modified): quench X to
    X^q; for each gamma (any order, any sign), deform X in one affine step x -> x + gamma y, quench
    it to X^dq and record d = r^dq - r^q - gamma y^q e_x (module docstring), sigma_xy^dq and e_IS.

    minimizer: any pyglass Minimizer (`minimize(system, pot) -> MinimizeResult`); default
    conjugate gradient at max|F| <= ftol with FIRE as the fallback (relax.quench; paper 3:
    "using conjugate gradient minimization"). refine: Newton-polish each minimum to round-off
    (relax.newton_refine), for d at strains as small as paper 3's gamma = 1e-4. modes > 0: the
    `modes` lowest non-zero modes of X^q and of every X^dq, kept as participation maps over the N_m of
    `mode_sums` (module docstring; default one map over all of them), by `mode_method` and `mode_tol`
    (landscape.lowest_modes). Serial (the whole system on one rank)."""
    gammas = np.atleast_1d(np.asarray(gammas, float))
    if gammas.ndim != 1 or not np.all(np.isfinite(gammas)):
        raise ValueError("gammas must be a 1D sequence of finite strains")
    modes = int(modes)
    if modes < 0:
        raise ValueError(f"modes must be >= 0, got {modes}")
    sums = check_mode_sums(mode_sums, modes, system.dim) if modes else None
    q = system.copy()
    q.velocities = 0.0
    e_q, _, _ = _quench(q, pot, minimizer, ftol, refine)
    p_q = ev_q = None
    p_dq, ev_dq = [], []
    if modes:
        p_q, ev_q = _participation_maps(q, pot, modes, sums, mode_method, mode_tol)
    uq = q.unwrapped_positions
    yq = uq[:, 1] - q.box.lo[1]
    out_d, out_s, out_e, out_f, out_c, confs = [], [], [], [], [], []
    for g in gammas:
        dq = system.copy()
        dq.velocities = 0.0
        if g != 0.0:            # gamma = 0 is X itself (no round trip through fractional coordinates)
            affine_shear(dq, g)
        e, fmax, ok = _quench(dq, pot, minimizer, ftol, refine)
        affine = uq.copy()
        affine[:, 0] += g * yq
        out_d.append(dq.box.minimum_image(dq.unwrapped_positions - affine))
        out_s.append(shear_stress(dq, pot))
        out_e.append(e / dq.N)
        out_f.append(fmax)
        out_c.append(ok)
        if modes:
            p, ev = _participation_maps(dq, pot, modes, sums, mode_method, mode_tol)
            p_dq.append(p)
            ev_dq.append(ev)
        if keep_configurations:
            confs.append(dq)
    return AffineQuenchResponse(gammas, np.array(out_d).reshape(len(gammas), system.N, system.dim),
                                np.array(out_s), np.array(out_e), e_q / q.N, shear_stress(q, pot),
                                np.array(out_f), np.array(out_c, bool), q, confs, sums, p_q,
                                np.array(p_dq) if modes else None, ev_q, np.array(ev_dq) if modes else None)
