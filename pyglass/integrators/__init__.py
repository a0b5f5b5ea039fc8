"""Time integrators; thermodynamic ensembles (NVE, NVT, NPT) are Integrators."""
from pyglass.integrators.base import Integrator, RunStats
from pyglass.integrators.langevin import Langevin
from pyglass.integrators.nosehoover import NoseHoover
from pyglass.integrators.npt import NPT
from pyglass.integrators.nve import NVE

__all__ = ["Integrator", "RunStats", "NVE", "NoseHoover", "Langevin", "NPT"]
