"""Shear-deformed inherent structures (paper 3, Mosayebi et al. 2014; SCIENCE.md section 3).

An affine simple shear r -> r + gamma y e_x is applied with the box's xy tilt (Lees-Edwards
images: tilt_xy += gamma L_y), then the configuration is re-minimised (quasi-static). Recorded per
strain: e_IS(gamma) (energy per particle), sigma_xy(gamma), and the non-affine displacement
d_i(gamma) = r_i(gamma) - r_i(0) - gamma y_i(0) e_x (unwrapped coordinates, y from the box origin).
The linear-response prediction of d_i is -M+ Xi gamma (elasticity.nonaffine_response).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pyglass.landscape.hessian import shear_stress
from pyglass.landscape.relax import newton_refine, quench
from pyglass.system import Box


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
