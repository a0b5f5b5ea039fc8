"""Energy minimizers: the way to an inherent structure.

`minimize(system, potential) -> MinimizeResult(converged, reason, energy, max_force, iterations,
force_evaluations)`; positions are changed in place. See `base` for the stop reasons.
"""
from pyglass.engine.minimizers.base import (MinimizationError, MinimizeResult, Minimizer, StopReason)
from pyglass.engine.minimizers.cg import ConjugateGradient
from pyglass.engine.minimizers.fire import FIRE
from pyglass.engine.minimizers.sd import SteepestDescent

__all__ = ["Minimizer", "MinimizeResult", "MinimizationError", "StopReason", "FIRE",
           "ConjugateGradient", "SteepestDescent", "DEFAULT_QUENCH", "default_quench_minimizer"]

# The inherent-structure quench wherever none is given (IS ensembles and trajectories, quenched
# observables, the inherent-structures stage). Measured by scripts/bench_quench.py (KA, N = 8000, one
# core): from the liquid at T = 0.6 to max|F| <= 1e-8 CG takes 2004 iterations in 7.9 s against FIRE's
# 8201 in 18.3 s (LAMMPS cg/fire: 19.5 s/36.4 s); from a jittered lattice to 1e-2 CG 7.5 s, FIRE 45.7 s.
DEFAULT_QUENCH = {"type": "cg", "ftol": 1e-10}


def default_quench_minimizer():
    """A fresh minimizer of DEFAULT_QUENCH."""
    return ConjugateGradient(ftol=DEFAULT_QUENCH["ftol"])
