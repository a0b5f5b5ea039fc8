"""Langevin dynamics with the BAOAB splitting."""
from __future__ import annotations

import math

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.integrators.base import Integrator
from pyglass.registry import INTEGRATORS


@INTEGRATORS.register("langevin")
class Langevin(Integrator):
    """Underdamped Langevin dynamics, m dv = F dt - gamma m v dt + sqrt(2 gamma m T) dW, with the
    BAOAB splitting of Leimkuhler & Matthews (Appl. Math. Res. Express 2013, 34; J. Chem. Phys.
    138, 174102 (2013)):

      B  v += dt/2 F/m          A  x += dt/2 v
      O  v  = c1 v + c2 sqrt(T/m) R,   c1 = exp(-gamma dt),  c2 = sqrt(1 - c1^2),  R ~ N(0, 1)
      A  x += dt/2 v            forces            B  v += dt/2 F/m

    BAOAB samples configurations with O(dt^2) error and no extra bias at large friction.
    `gamma` is the friction rate (1/time; LAMMPS `fix langevin` damp = 1/gamma).

    zero_momentum (default True): after each O step the centre-of-mass velocity is removed.
    This projects the noise onto the momentum-free subspace in the kinetic (mass) metric, so the
    internal d(N-1) degrees of freedom are sampled exactly at T and `System.temperature()`
    (which counts d(N-1)) averages to T; with False the total momentum diffuses too.

    Kinetic temperature: configurations are sampled with O(dt^2) error, but the full-step
    velocities (what `System.temperature()` sees) are cooler than T by about
    (dt^2/4) <d^2U/dx^2>/m, the Verlet relation between half- and full-step velocities: -1.5 %
    for Kob-Andersen at T = 0.6, dt = 0.005; -0.4 % at dt = 0.0025 (measured, N = 256).

    Random numbers come from a numpy Generator (PCG64) seeded with `seed`; `state()` /
    `load_state()` carry its state through checkpoints, so a restarted run continues the same
    trajectory bit for bit. seed=None draws fresh entropy, recorded in `self.seed`.
    """

    name = "langevin"

    def __init__(self, dt: float, T: float, gamma: float = 1.0, seed: int | None = None,
                 zero_momentum: bool = True):
        super().__init__(dt)
        if not T >= 0 or not math.isfinite(T):
            raise ValueError(f"Langevin: temperature T must be >= 0 and finite, got {T}")
        if not gamma >= 0 or not math.isfinite(gamma):
            raise ValueError(f"Langevin: friction gamma must be >= 0 and finite, got {gamma}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy)
        if int(seed) != seed or seed < 0:
            raise ValueError(f"Langevin: seed must be a non-negative integer, got {seed}")
        self.T, self.gamma, self.seed = float(T), float(gamma), int(seed)
        self.zero_momentum = bool(zero_momentum)
        self.rng = np.random.default_rng(self.seed)
        self.c1 = math.exp(-self.gamma * self.dt)
        self.c2 = math.sqrt(max(0.0, 1.0 - self.c1 * self.c1))

    def setup(self, system, potential):
        self._sigma = np.sqrt(self.T / system._mass)              # per-particle velocity scale
        self._noise = np.empty((system.N, system.dim))

    def _first_half(self, system, result):
        n, d = system.N, system.dim
        half = 0.5 * self.dt
        _int.kick_drift(system._v, system._x, result.forces3, self._component_masses(system)[1], half, half,
                        1.0, n)                                   # B, A
        if self._noise.shape != (n, d):
            self._noise = np.empty((n, d))
        self.rng.standard_normal(out=self._noise)                 # the stream of standard_normal((n, d))
        _int.langevin_o_drift(system._v, system._x, self._noise, self.c1, self.c2, self._sigma, system._mass,
                              self.zero_momentum, half, n, d)   # O (momentum removed), A

    def _second_half(self, system, result):
        self._kick(system, result, 0.5 * self.dt)                 # B

    def state(self) -> dict:
        return {"seed": self.seed, "rng": self.rng.bit_generator.state}

    def load_state(self, state: dict):
        self.rng.bit_generator.state = state["rng"]
