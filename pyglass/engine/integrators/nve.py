"""Microcanonical velocity Verlet."""
from pyglass.engine.integrators.base import Integrator
from pyglass.registry import INTEGRATORS


@INTEGRATORS.register("nve")
class NVE(Integrator):
    """Velocity Verlet: v += dt/2 F/m; x += dt v; F(x); v += dt/2 F/m."""

    name = "nve"

    def _first_half(self, system, result):
        self._kick(system, result, 0.5 * self.dt)
        self._drift(system, self.dt)

    def _second_half(self, system, result):
        self._kick(system, result, 0.5 * self.dt)
