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
    converged per strain; configurations X^dq if kept, and X^q."""
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

    @property
    def gamma_c(self) -> float:
        """The strain of the sigma_xy^dq peak (paper 3: the stress "reaches a maximum around
        gamma_c"); for a sample average use `stress_peak(gammas, mean stress)`."""
        return stress_peak(self.gammas, self.stress)

    def magnitudes(self) -> np.ndarray:
        """|d_i(gamma)| (n_gamma, N): the NAD field whose overlap with soft modes paper 3 measures."""
        return np.linalg.norm(self.displacements, axis=2)


def stress_peak(gammas, stress) -> float:
    """gamma_c: the strain at which sigma_xy(gamma) is largest (the first such strain)."""
    gammas, stress = np.asarray(gammas, float), np.asarray(stress, float)
    if gammas.shape != stress.shape or gammas.ndim != 1 or len(gammas) == 0:
        raise ValueError(f"gammas and stress must be equal-length 1D arrays, got {gammas.shape}, {stress.shape}")
    return float(gammas[int(np.nanargmax(stress))])


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


def affine_quench_response(system, pot, gammas, minimizer=None, ftol: float = 1e-10, refine: bool = False,
                           keep_configurations: bool = False) -> AffineQuenchResponse:
    """Paper 3 protocol on the equilibrium configuration `system` (X, not modified): quench X to
    X^q; for each gamma (any order, any sign), deform X in one affine step x -> x + gamma y, quench
    it to X^dq and record d = r^dq - r^q - gamma y^q e_x (module docstring), sigma_xy^dq and e_IS.

    minimizer: any pyglass Minimizer (`minimize(system, pot) -> MinimizeResult`); default
    conjugate gradient at max|F| <= ftol with FIRE as the fallback (relax.quench; paper 3:
    "using conjugate gradient minimization"). refine: Newton-polish each minimum to round-off
    (relax.newton_refine), for d at strains as small as paper 3's gamma = 1e-4. Serial (the whole
    system on one rank)."""
    gammas = np.atleast_1d(np.asarray(gammas, float))
    if gammas.ndim != 1 or not np.all(np.isfinite(gammas)):
        raise ValueError("gammas must be a 1D sequence of finite strains")
    q = system.copy()
    q.velocities = 0.0
    e_q, _, _ = _quench(q, pot, minimizer, ftol, refine)
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
        if keep_configurations:
            confs.append(dq)
    return AffineQuenchResponse(gammas, np.array(out_d).reshape(len(gammas), system.N, system.dim),
                                np.array(out_s), np.array(out_e), e_q / q.N, shear_stress(q, pot),
                                np.array(out_f), np.array(out_c, bool), q, confs)
