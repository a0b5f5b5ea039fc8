"""Isothermal-isobaric (NPT) dynamics: isotropic MTK barostat with Nose-Hoover chains."""
from __future__ import annotations

import math

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allsum
from pyglass.engine.integrators.base import Integrator
from pyglass.engine.integrators.nosehoover import NoseHoover
from pyglass.engine.system import Box
from pyglass.registry import INTEGRATORS


def sinhc(x: float) -> float:
    """sinh(x)/x, by its Taylor series near 0 (no cancellation)."""
    if abs(x) < 1e-4:
        x2 = x * x
        return 1.0 + x2 / 6.0 * (1.0 + x2 / 20.0)
    return math.sinh(x) / x


@INTEGRATORS.register("npt")
class NPT(Integrator):
    """Isotropic NPT: the Martyna-Tobias-Klein barostat (J. Chem. Phys. 101, 4177 (1994)) with
    Nose-Hoover chains on the particles and on the barostat, integrated with the
    measure-preserving Trotter splitting of Tuckerman et al. (J. Phys. A 39, 5629 (2006)) that
    Shinoda et al. (PRB 69, 134103 (2004)) and LAMMPS `fix npt ... iso` use.

    Equations (d dimensions, N_f = d(N-1) particle degrees of freedom, alpha = 1 + d/N_f,
    v_e = p_e / W the logarithmic strain rate, V = V0 exp(d e)):

      dr/dt = v + v_e r,     m dv/dt = F - alpha v_e m v - v_xi1 m v,
      dV/dt = d V v_e,       W dv_e/dt = alpha 2K + Tr(virial) - d V P - v_xib1 W v_e,

    so that W dv_e/dt = d V (P_inst - P) + (d/N_f) 2K. One step:
      barostat-chain half | particle-chain half | v_e half kick | v half step |
      r and box over dt   | forces |
      v half step | v_e half kick | particle-chain half | barostat-chain half.
    The v and r sub-steps are solved exactly (exp and sinh(x)/x factors).

    Masses: particle chain as NoseHoover (Q_1 = N_f T tau_T^2, Q_k = T tau_T^2); barostat
    W = (N_f + d) T tau_P^2 (MTK 1994); barostat chain Q_b = T tau_P^2 (LAMMPS).
    tau_T, tau_P are the thermostat and barostat periods (LAMMPS Tdamp, Pdamp).

    The box keeps its shape (lengths and tilt scale together) and the particles move affinely
    with it about `box.lo`. Conserved: PE + KE + W v_e^2/2 + P V + chain energies
    (`extra_energy`). The domain keeps ghosts and neighbour lists through the uniform box
    rescaling while the skin allows, so NPT costs about as much per step as NVT.
    """

    name = "npt"

    def __init__(self, dt: float, T: float, P: float, tau_T: float, tau_P: float, chain: int = 3):
        super().__init__(dt)
        if not T > 0 or not math.isfinite(T):
            raise ValueError(f"NPT: target temperature T must be > 0, got {T}")
        if not math.isfinite(P):
            raise ValueError(f"NPT: target pressure P must be finite, got {P}")
        if not tau_T > 0:
            raise ValueError(f"NPT: tau_T must be > 0, got {tau_T}")
        if not tau_P > 0:
            raise ValueError(f"NPT: tau_P must be > 0, got {tau_P}")
        if int(chain) != chain or chain < 1:
            raise ValueError(f"NPT: chain length must be an integer >= 1, got {chain}")
        self.T, self.P, self.tau_T, self.tau_P, self.chain = float(T), float(P), float(tau_T), float(tau_P), int(chain)
        self.thermostat = NoseHoover(dt, T, tau_T, chain)
        self.v_eps = 0.0
        self.xi_b = np.zeros(self.chain)
        self.vxi_b = np.zeros(self.chain)
        self.Q_b = np.full(self.chain, self.T * self.tau_P ** 2)
        self.W = None

    def setup(self, system, potential):
        self.thermostat.setup(system, potential)
        n_f, d = system.dof, system.dim
        self.W = (n_f + d) * self.T * self.tau_P ** 2
        self._alpha = 1.0 + d / n_f
        self._ke2 = None      # twice the kinetic energy left by the last step (recomputed at a run's start)

    # -- sub-steps ------------------------------------------------------------------------
    def _barostat_chain(self):
        s = _int.nhc_half_step(self.xi_b, self.vxi_b, self.Q_b, self.T, 1.0, self.W * self.v_eps ** 2, self.dt)
        self.v_eps *= s

    def _barostat_kick(self, system, result, ke2):
        """v_e half kick from twice the kinetic energy ke2 (known to the caller) and the virial."""
        d, V = system.dim, system.box.volume
        g = self._alpha * ke2 + float(result.virial.trace()) - d * V * self.P
        self.v_eps += 0.5 * self.dt * g / self.W

    def _velocity_half_step(self, system, result) -> float:
        """Exact solution of m dv/dt = F - alpha v_e m v over dt/2, one kernel pass; returns twice
        the kinetic energy after it."""
        h = 0.5 * self.dt
        a = self._alpha * self.v_eps
        m3, inv_m3 = self._component_masses(system)
        ke2 = _int.scale_kick(system._v, result.forces3, inv_m3, m3, math.exp(-a * h),
                              h * math.exp(-0.5 * a * h) * sinhc(0.5 * a * h), system.N)
        return allsum(system.comm, ke2)

    def _position_step(self, system):
        """Exact solution of dr/dt = v + v_e r over dt, with the box scaled by exp(v_e dt)."""
        dt = self.dt
        s = math.exp(self.v_eps * dt)
        box = system.box
        _int.scale_about_drift(system._x, system._v, np.ascontiguousarray(box.lo, dtype=float), s,
                               dt * math.exp(0.5 * self.v_eps * dt) * sinhc(0.5 * self.v_eps * dt), system.N,
                               system.dim)
        # no touch(): the domain recognises a uniform rescaling and keeps its lists while the
        # skin allows (Domain._needs_rebuild_scaled)
        system.box = Box(box.lengths * s, box.tilt_xy * s, box.lo.copy())

    def _first_half(self, system, result):
        self._barostat_chain()
        # the thermostat's half step starts from the kinetic energy the last step left
        ke2 = self.thermostat._chain_half_step(system, self._ke2)
        self._barostat_kick(system, result, ke2)
        self._velocity_half_step(system, result)
        self._position_step(system)

    def _second_half(self, system, result):
        ke2 = self._velocity_half_step(system, result)
        self._barostat_kick(system, result, ke2)
        self._ke2 = self.thermostat._chain_half_step(system, ke2)
        self._barostat_chain()

    # -- conserved quantity and checkpoints -----------------------------------------------
    def extra_energy(self, system) -> float:
        if self.W is None:
            self.setup(system, None)
        baro = 0.5 * self.W * self.v_eps ** 2 + self.P * system.box.volume
        chain_b = 0.5 * float(np.sum(self.Q_b * self.vxi_b ** 2)) + self.T * float(self.xi_b.sum())
        return float(baro + chain_b + self.thermostat.extra_energy(system))

    def state(self) -> dict:
        return {"v_eps": self.v_eps, "xi_b": self.xi_b.copy(), "vxi_b": self.vxi_b.copy(),
                "thermostat": self.thermostat.state()}

    def load_state(self, state: dict):
        self.v_eps = float(state["v_eps"])
        self.xi_b[:] = state["xi_b"]
        self.vxi_b[:] = state["vxi_b"]
        self.thermostat.load_state(state["thermostat"])
