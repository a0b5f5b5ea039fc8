"""Energy minimizers: the way to an inherent structure.

`minimize(system, potential) -> MinimizeResult(converged, reason, energy, max_force, iterations,
force_evaluations)`; positions are changed in place. See `base` for the stop reasons.
"""
from pyglass.minimizers.base import (MinimizationError, MinimizeResult, Minimizer, StopReason)
from pyglass.minimizers.cg import ConjugateGradient
from pyglass.minimizers.fire import FIRE
from pyglass.minimizers.sd import SteepestDescent

__all__ = ["Minimizer", "MinimizeResult", "MinimizationError", "StopReason", "FIRE",
           "ConjugateGradient", "SteepestDescent"]
