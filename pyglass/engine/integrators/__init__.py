"""Time integrators; thermodynamic ensembles (NVE, NVT, NPT) are Integrators."""
from pyglass.engine.integrators.base import Integrator, RunStats
from pyglass.engine.integrators.langevin import Langevin
from pyglass.engine.integrators.nosehoover import NoseHoover
from pyglass.engine.integrators.npt import NPT
from pyglass.engine.integrators.nve import NVE
from pyglass.engine.integrators.replicas import ReplicaBatch, batchable

__all__ = ["Integrator", "RunStats", "NVE", "NoseHoover", "Langevin", "NPT", "ReplicaBatch", "batchable"]
