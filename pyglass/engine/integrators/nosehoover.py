"""Canonical (NVT) Nose-Hoover chain, Martyna-Tuckerman-Klein Trotter splitting."""
from __future__ import annotations


import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allsum
from pyglass.engine.integrators.base import Integrator
from pyglass.registry import INTEGRATORS


def nhc_half_step(xi, vxi, Q, T: float, g: float, ke2: float, dt: float) -> float:
    """One Trotter half step (dt/2) of a Nose-Hoover chain (xi, vxi, Q float64 arrays, updated in
    place) coupled to g degrees of freedom whose twice-kinetic energy is ke2 (Martyna et al., Mol.
    Phys. 87, 1117 (1996), the same splitting as NoseHoover). Returns the factor by which the
    thermostatted velocities must be scaled. A Cython kernel: it runs twice per MD step."""
    return _int.nhc_half_step(xi, vxi, Q, T, g, ke2, dt)


@INTEGRATORS.register("nosehoover")
class NoseHoover(Integrator):
    """Nose-Hoover chain thermostat (Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992);
    Trotter form of Martyna et al., Mol. Phys. 87, 1117 (1996)), as LAMMPS `fix nvt`:

      half chain step (dt/2) | half kick | drift | forces | half kick | half chain step (dt/2)

    Chain masses Q_1 = g T tau^2, Q_k = T tau^2 (g = d(N-1)); `tau` is the thermostat period
    (LAMMPS Tdamp). The conserved quantity is PE + KE + sum Q_k v_k^2/2 + g T xi_1 + T sum xi_k.
    """

    name = "nosehoover"

    def __init__(self, dt: float, T: float, tau: float, chain: int = 3):
        super().__init__(dt)
        if not T > 0:
            raise ValueError(f"NoseHoover: target temperature T must be > 0, got {T}")
        if not tau > 0:
            raise ValueError(f"NoseHoover: tau must be > 0, got {tau}")
        if chain < 1:
            raise ValueError(f"NoseHoover: chain length must be >= 1, got {chain}")
        self.T, self.tau, self.chain = float(T), float(tau), int(chain)
        self.xi = np.zeros(chain)    # chain positions
        self.vxi = np.zeros(chain)   # chain velocities
        self.Q = None

    def setup(self, system, potential):
        g = system.dof
        self.Q = np.full(self.chain, self.T * self.tau ** 2)
        self.Q[0] *= g
        self._ke2_after_step = None

    def _chain_half_step(self, system, ke2=None) -> float:
        """Propagate the chain by dt/2 and rescale velocities (one Trotter half step); returns
        twice the kinetic energy after the rescaling."""
        ke2 = self._twice_kinetic(system) if ke2 is None else ke2
        scale = _int.nhc_half_step(self.xi, self.vxi, self.Q, self.T, system.dof, ke2, self.dt)
        _int.scale_rows(system._v, scale, system.N)
        return ke2 * scale * scale

    def _first_half(self, system, result):
        # The kinetic energy left by the previous step's rescaling is known (as LAMMPS's fix nvt
        # keeps t_current): one global reduction per step instead of two.
        ke2, self._ke2_after_step = self._ke2_after_step, None
        if ke2 is None:
            ke2 = self._twice_kinetic(system)
        scale = _int.nhc_half_step(self.xi, self.vxi, self.Q, self.T, system.dof, ke2, self.dt)
        # rescale, half kick, drift: one pass
        _int.kick_drift(system._v, system._x, result.forces3, self._component_masses(system)[1], 0.5 * self.dt,
                        self.dt, scale, system.N)

    def _second_half(self, system, result):
        n = system.N
        # half kick and the kinetic energy after it (one pass), chain half step, rescale
        m3, inv_m3 = self._component_masses(system)
        ke2 = allsum(system.comm, _int.kick_twice_kinetic(system._v, result.forces3, inv_m3, m3, 0.5 * self.dt, n))
        scale = _int.nhc_half_step(self.xi, self.vxi, self.Q, self.T, system.dof, ke2, self.dt)
        _int.scale_rows(system._v, scale, n)
        self._ke2_after_step = ke2 * scale * scale

    def extra_energy(self, system) -> float:
        if self.Q is None:
            self.setup(system, None)
        g = system.dof
        return float(0.5 * np.sum(self.Q * self.vxi ** 2) + g * self.T * self.xi[0] + self.T * self.xi[1:].sum())

    def state(self) -> dict:
        return {"xi": self.xi.copy(), "vxi": self.vxi.copy()}

    def load_state(self, state):
        self.xi[:] = state["xi"]
        self.vxi[:] = state["vxi"]
