"""FIRE 2.0: the fast inertial relaxation engine with the corrections of Guénolé et al."""
from __future__ import annotations

import math

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allmax, allsum, is_parallel
from pyglass.engine.minimizers.base import Minimizer, MinimizeResult, StopReason
from pyglass.registry import MINIMIZERS


@MINIMIZERS.register("fire")
class FIRE(Minimizer):
    """FIRE 2.0 (Bitzek et al., PRL 97, 170201 (2006); Guénolé et al., Comput. Mater. Sci. 175,
    109584 (2020), Algorithm 2, with the 'initialdelay' and 'halfstepback' variants and
    semi-implicit Euler integration), the same scheme as LAMMPS `min_style fire`.

    Each iteration, with power P = F . v:
      P > 0 : after more than `n_delay` consecutive P > 0 steps, dt <- min(f_inc dt, dt_max),
              alpha <- f_alpha alpha;
      P <= 0: (not during the first `n_delay` iterations) dt <- max(f_dec dt, dt_min),
              alpha <- alpha0; x <- x - dt v / 2 (half step back); v <- 0; more than
              `n_neg_max` consecutive P <= 0 steps stop with reason 'linesearch_failed';
      then  v <- v + dt F / m;  v <- (1 - alpha) v + alpha |v| F / |F|;  x <- x + dt v,
    where dt is lowered (persistently, as in LAMMPS) so that no coordinate moves more than
    `max_step` (LAMMPS dmax).

    Parameters (defaults from Guénolé et al., Table 1 / LAMMPS):
      dt = 0.005 initial time step (LJ units); dt_max = 10 dt; dt_min = 0.02 dt;
      alpha0 = 0.25, f_inc = 1.1, f_dec = 0.5, f_alpha = 0.99, n_delay = 20, n_neg_max = 2000;
      initialdelay = True, halfstepback = True;
      and the shared ftol, etol, max_iterations, max_step, raise_on_failure (see Minimizer).

    A non-finite energy (an overlap after too long a step) is treated like P <= 0: the step is
    undone, v <- 0 and dt is reduced; at dt_min the minimizer stops with reason 'non_finite',
    leaving the last finite configuration in the system.
    """

    name = "FIRE"

    def __init__(self, ftol: float = 1e-10, dt: float = 0.005, dt_max: float | None = None,
                 dt_min: float | None = None, alpha0: float = 0.25, f_inc: float = 1.1,
                 f_dec: float = 0.5, f_alpha: float = 0.99, n_delay: int = 20, n_neg_max: int = 2000,
                 initialdelay: bool = True, halfstepback: bool = True, **kwargs):
        super().__init__(ftol=ftol, **kwargs)
        if not dt > 0 or not np.isfinite(dt):
            raise ValueError(f"FIRE: dt must be > 0 and finite, got {dt}")
        self.dt = float(dt)
        self.dt_max = 10.0 * self.dt if dt_max is None else float(dt_max)
        self.dt_min = 0.02 * self.dt if dt_min is None else float(dt_min)
        if not self.dt_min <= self.dt <= self.dt_max:
            raise ValueError(f"FIRE: need dt_min <= dt <= dt_max, got dt_min={self.dt_min}, dt={self.dt}, "
                             f"dt_max={self.dt_max}")
        if not 0 <= alpha0 <= 1:
            raise ValueError(f"FIRE: alpha0 must lie in [0, 1], got {alpha0}")
        if not f_inc >= 1:
            raise ValueError(f"FIRE: f_inc must be >= 1, got {f_inc}")
        if not 0 < f_dec < 1:
            raise ValueError(f"FIRE: f_dec must lie in (0, 1), got {f_dec}")
        if not 0 < f_alpha <= 1:
            raise ValueError(f"FIRE: f_alpha must lie in (0, 1], got {f_alpha}")
        if n_delay < 0 or n_neg_max < 1:
            raise ValueError(f"FIRE: need n_delay >= 0 and n_neg_max >= 1, got {n_delay}, {n_neg_max}")
        self.alpha0, self.f_inc, self.f_dec, self.f_alpha = float(alpha0), float(f_inc), float(f_dec), float(f_alpha)
        self.n_delay, self.n_neg_max = int(n_delay), int(n_neg_max)
        self.initialdelay, self.halfstepback = bool(initialdelay), bool(halfstepback)

    def _run(self, ev, e, f) -> MinimizeResult:
        inv_m = ev.inv_mass
        v = np.zeros_like(f)
        dt, alpha = self.dt, self.alpha0
        n_pos = n_neg = 0
        comm = self._comm
        parallel = is_parallel(comm)
        for it in range(1, self.max_iterations + 1):
            ev.iteration = it
            # P = F . v and |F|^2 in one pass and one reduction
            p, ff = _int.fire_powers(f, v)
            if parallel:
                p, ff = allsum(comm, np.array([p, ff]))
            if p > 0.0:
                n_pos += 1
                n_neg = 0
                if n_pos > self.n_delay:
                    dt = min(dt * self.f_inc, self.dt_max)
                    alpha *= self.f_alpha
            else:
                n_pos = 0
                n_neg += 1
                if n_neg > self.n_neg_max:
                    return self._result(StopReason.LINESEARCH_FAILED, e, self._fmax(f), it - 1, ev)
                if not (self.initialdelay and it < self.n_delay):
                    dt = max(dt * self.f_dec, self.dt_min)
                    alpha = self.alpha0
                if self.halfstepback:
                    ev.move_along(v, -0.5 * dt)
                v[:] = 0.0
            # semi-implicit Euler with FIRE mixing (kernels: kick with |v|^2, mix with max|v|)
            vv = float(allsum(comm, _int.fire_kick(v, f, inv_m, dt)))
            fn = math.sqrt(ff)
            if alpha > 0 and fn > 0:
                vmax = float(allmax(comm, _int.fire_mix(v, f, 1.0 - alpha, alpha * math.sqrt(vv) / fn)))
            else:
                vmax = self._amax(v)
            if dt * vmax > self.max_step:
                dt = self.max_step / vmax             # as LAMMPS: the shorter dt persists
            ev.move_along(v, dt)
            e_new, f_new = ev.evaluate()
            if f_new is None:
                # undo the step and retry with a shorter time step from rest
                ev.move_along(v, -dt)
                v[:] = 0.0
                if dt <= self.dt_min:
                    return self._result(StopReason.NON_FINITE, e, self._fmax(f), it, ev)
                dt = max(dt * self.f_dec, self.dt_min)
                alpha, n_pos = self.alpha0, 0
                continue
            e_old, e, f = e, e_new, f_new
            done = self._converged(e_old, e, f, it, ev)
            if done is not None:
                return done
        return self._result(StopReason.MAX_ITERATIONS, e, self._fmax(f), self.max_iterations, ev)
