"""Microcanonical velocity Verlet."""
from pyglass._ext import integrate as _int
from pyglass.engine.integrators.base import Integrator
from pyglass.registry import INTEGRATORS


@INTEGRATORS.register("nve")
class NVE(Integrator):
    """Velocity Verlet: v += dt/2 F/m; x += dt v; F(x); v += dt/2 F/m."""

    name = "nve"

    def _first_half(self, system, result):
        # half kick and drift in one pass
        _int.kick_drift(system._v, system._x, result.forces3, self._component_masses(system)[1], 0.5 * self.dt,
                        self.dt, 1.0, system.N)

    def _second_half(self, system, result):
        self._kick(system, result, 0.5 * self.dt)
