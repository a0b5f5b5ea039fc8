"""Steepest descent with a backtracking (Armijo) line search."""
from __future__ import annotations

import numpy as np

from pyglass.engine.minimizers.base import Minimizer, MinimizeResult, StopReason, energy_noise
from pyglass.registry import MINIMIZERS


@MINIMIZERS.register("sd")
class SteepestDescent(Minimizer):
    """Steepest descent x <- x + a F with a backtracking line search: the trial step is halved
    (`shrink`) until the Armijo condition E(x + a F) <= E(x) - c1 a |F|^2 holds (Nocedal & Wright,
    Alg. 3.1). The first trial of each iteration is the Barzilai-Borwein step
    a = s.s / s.y of the previous iteration (Barzilai & Borwein, IMA J. Numer. Anal. 8, 141
    (1988)), i.e. the exact minimiser along the previous line for a quadratic energy, limited by
    max_step. When E(x + a F) - E(x) is below double-precision resolution the energy change is
    taken from the trapezoid rule on the forces, so convergence to max|F| ~ 1e-12 is possible.

    Shared parameters: ftol, etol, max_iterations, max_step, raise_on_failure (see Minimizer).
    Convergence is linear, with a rate set by the condition number: prefer FIRE or CG for
    quenches; steepest descent is the reference for 'the nearest minimum downhill'.
    """

    name = "SteepestDescent"

    def __init__(self, ftol: float = 1e-10, c1: float = 1e-4, shrink: float = 0.5, max_backtracks: int = 60,
                 **kwargs):
        super().__init__(ftol=ftol, **kwargs)
        if not 0 < c1 < 1:
            raise ValueError(f"SteepestDescent: c1 must lie in (0, 1), got {c1}")
        if not 0 < shrink < 1:
            raise ValueError(f"SteepestDescent: shrink must lie in (0, 1), got {shrink}")
        self.c1, self.shrink, self.max_backtracks = float(c1), float(shrink), int(max_backtracks)

    def _run(self, ev, e, f) -> MinimizeResult:
        a_trial = None
        for it in range(1, self.max_iterations + 1):
            ev.iteration = it
            ff = self._dot(f, f)
            a_max = self.max_step / self._amax(f)
            a = a_max if a_trial is None else min(a_trial, a_max)
            a_cur = 0.0
            for _ in range(self.max_backtracks):
                ev.move_along(f, a - a_cur)
                a_cur = a
                e_new, f_new = ev.evaluate()
                if f_new is not None:
                    de = e_new - e
                    if abs(de) < energy_noise(e):
                        de = -0.5 * a * (ff + self._dot(f_new, f))    # trapezoid rule on the forces
                    if de <= -self.c1 * a * ff:
                        break
                a *= self.shrink
            else:
                ev.move_along(f, -a_cur)
                return self._result(StopReason.LINESEARCH_FAILED, e, self._fmax(f), it - 1, ev)
            sy = a * (ff - self._dot(f_new, f))                 # s.y with s = a F, y = F - F_new
            a_trial = a * a * ff / sy if sy > 0 else 2.0 * a
            e_old, e, f = e, e_new, f_new
            done = self._converged(e_old, e, f, it, ev)
            if done is not None:
                return done
        return self._result(StopReason.MAX_ITERATIONS, e, self._fmax(f), self.max_iterations, ev)
