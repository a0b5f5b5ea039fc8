"""Nonlinear conjugate gradient (Polak-Ribière+) with a derivative-based strong-Wolfe line search."""
from __future__ import annotations

import numpy as np

from pyglass._ext import integrate as _int
from pyglass.engine.comm import allmax, allsum, is_parallel
from pyglass.engine.minimizers.base import (Minimizer, MinimizeResult, StopReason, energy_noise)
from pyglass.registry import MINIMIZERS


def _descent(e0, e, a, g0, g):
    """Energy change from the start of the line to the point a: measured, or, when it is below
    double-precision resolution, the trapezoid estimate a (g0 + g) / 2 from the directional
    derivatives (exact for a quadratic energy, error O(a^3), and free of the cancellation that
    ruins E(a) - E(0) when |dE| approaches 1e-16 |E|)."""
    de = e - e0
    if abs(de) < energy_noise(e0):
        de = 0.5 * a * (g0 + g)
    return de


def line_search(ev, e0, f0, d, g0, a_init, a_max, c1=1e-4, sigma=0.1, max_evals=30):
    """Find a > 0 along d with the strong Wolfe conditions (Nocedal & Wright, Numerical
    Optimization, 2nd ed., Alg. 3.5/3.6):

        E(a) <= E(0) + c1 a g(0)      and      |g(a)| <= sigma |g(0)|,   g(a) = -F(x + a d) . d,

    by bracketing and safeguarded secant steps on the directional derivative g (exact for a
    quadratic energy, so near a minimum one or two force evaluations per line). Energy
    differences below double-precision resolution are replaced by the trapezoid estimate from g,
    so the search keeps working down to max|F| ~ 1e-12 where E(a) - E(0) underflows.
    The step never exceeds a_max; reaching it with sufficient decrease is accepted.

    The system is left at the returned point. Returns (ok, a, e, f); on failure the system is
    moved back to a = 0 and (False, 0, e0, f0) is returned.
    """
    a_cur = 0.0
    lo = (0.0, e0, g0, f0)      # largest step known with sufficient decrease and g < 0
    prev = None                 # the point before lo, for secant extrapolation
    hi = None                   # a step past the minimum (g >= 0, no sufficient decrease, or non-finite)
    a = min(a_init, a_max)
    for _ in range(max_evals):
        ev.move_along(d, a - a_cur)
        a_cur = a
        e, f = ev.evaluate()
        if f is None:
            hi = (a, np.inf, np.nan, None)
        else:
            g = -ev.dot(f, d)
            if _descent(e0, e, a, g0, g) > c1 * a * g0:
                hi = (a, e, g, f)
            elif abs(g) <= sigma * abs(g0):
                return True, a, e, f
            elif g > 0:
                hi = (a, e, g, f)
            else:
                prev, lo = lo, (a, e, g, f)
                if hi is None and a >= a_max * (1 - 1e-12):
                    return True, a, e, f            # max_step reached, still descending
        if hi is None:
            # extrapolate with the secant through prev and lo, growing by 1.5 .. 4
            a_lo, g_lo = lo[0], lo[2]
            a_new = 4.0 * a_lo
            if prev is not None and g_lo > prev[2]:
                a_new = a_lo - g_lo * (a_lo - prev[0]) / (g_lo - prev[2])
            a = min(max(a_new, 1.5 * a_lo), 4.0 * a_lo, a_max)
        else:
            a_lo, g_lo = lo[0], lo[2]
            a_hi, g_hi = hi[0], hi[2]
            w = a_hi - a_lo
            if np.isfinite(g_hi) and g_hi > 0:
                a_new = a_lo - g_lo * w / (g_hi - g_lo)     # secant on g
                a = min(max(a_new, a_lo + 0.05 * w), a_hi - 0.05 * w)
            elif f is None:
                a = a_lo + 0.25 * w                          # overlap: back off hard
            else:
                a = a_lo + 0.5 * w                           # uphill but still descending: bisect
            if w <= 1e-14 * max(a_hi, 1e-300):
                break
    # no Wolfe point: keep the best point with sufficient decrease, if any
    if lo[0] > 0:
        ev.move_along(d, lo[0] - a_cur)
        return True, lo[0], lo[1], lo[3]
    ev.move_along(d, -a_cur)
    return False, 0.0, e0, f0


@MINIMIZERS.register("cg")
class ConjugateGradient(Minimizer):
    """Polak-Ribière+ nonlinear conjugate gradient (Polak & Ribière 1969; Gilbert & Nocedal,
    SIAM J. Optim. 2, 21 (1992)):

        d_0 = F_0,  d_{k+1} = F_{k+1} + beta d_k,  beta = max(0, F_{k+1}.(F_{k+1} - F_k) / F_k.F_k),

    restarted (beta = 0) every `restart` iterations (default N d) and whenever d is not a
    descent direction. Each line minimisation is `line_search` (strong Wolfe, c1 = 1e-4,
    sigma = 0.1, secant on the directional derivative), whose trial step is the previous step
    scaled by the ratio of directional derivatives (Nocedal & Wright eq. 3.60) and limited by
    max_step. Near the minimum the search is gradient-only (energy differences underflow), so
    max|F| ~ 1e-12 is reachable.

    A line search that fails along the steepest-descent direction stops with reason
    'linesearch_failed' (e.g. a force inconsistent with the energy).
    Shared parameters: ftol, etol, max_iterations, max_step, raise_on_failure (see Minimizer).
    """

    name = "ConjugateGradient"

    def __init__(self, ftol: float = 1e-10, restart: int | None = None, c1: float = 1e-4,
                 sigma: float = 0.1, **kwargs):
        super().__init__(ftol=ftol, **kwargs)
        if restart is not None and restart < 1:
            raise ValueError(f"ConjugateGradient: restart must be >= 1, got {restart}")
        if not 0 < c1 < sigma < 0.5:
            raise ValueError(f"ConjugateGradient: need 0 < c1 < sigma < 0.5, got c1={c1}, sigma={sigma}")
        self.restart, self.c1, self.sigma = restart, float(c1), float(sigma)

    def _run(self, ev, e, f) -> MinimizeResult:
        comm = self._comm
        parallel = is_parallel(comm)
        restart = self.restart or int(allsum(comm, f.size))   # N d of the whole system, same on every rank
        d = f.copy()
        g0 = -self._dot(f, d)
        d_max = self._amax(d)
        a_prev = g_prev = None
        since_restart = 0
        for it in range(1, self.max_iterations + 1):
            ev.iteration = it
            a_max = self.max_step / d_max
            a_init = a_max if a_prev is None else a_prev * g_prev / g0
            ok, a, e_new, f_new = line_search(ev, e, f, d, g0, a_init, a_max, self.c1, self.sigma)
            if not ok:
                if since_restart == 0:
                    return self._result(StopReason.LINESEARCH_FAILED, e, self._fmax(f), it - 1, ev)
                d = f.copy()                        # retry along steepest descent
                g0 = -self._dot(f, d)
                d_max = self._amax(d)
                a_prev = None
                since_restart = 0
                continue
            e_old, f_old = e, f
            e, f = e_new, f_new
            done = self._converged(e_old, e, f, it, ev)
            if done is not None:
                return done
            since_restart += 1
            beta = 0.0
            if since_restart < restart:
                # Polak-Ribiere+: max(0, F.(F - F_old) / F_old.F_old), the three dots in one pass
                dots = _int.cg_dots(f, f_old)
                ff, ffo, fofo = allsum(comm, np.array(dots)) if parallel else dots
                beta = max(0.0, (ff - ffo) / fofo)
            if beta == 0.0:
                since_restart = 0
            g_new, d_max = self._direction(d, f, beta)
            if not g_new < 0:
                d = f.copy()
                g_new, d_max = self._direction(d, f, 0.0)
                since_restart = 0
            a_prev, g_prev, g0 = a, g0, g_new
        return self._result(StopReason.MAX_ITERATIONS, e, self._fmax(f), self.max_iterations, ev)

    def _direction(self, d, f, beta):
        """d <- F + beta d in place; (g = -F.d, max|d|) over the whole system."""
        fd, d_max = _int.cg_direction(d, f, beta)
        if is_parallel(self._comm):
            fd, d_max = float(allsum(self._comm, fd)), float(allmax(self._comm, d_max))
        return -fd, d_max
