"""pyglass: simulation and analysis of glass-forming liquids."""
__version__ = "0.1.0"

from pyglass.system import Box, System
from pyglass import (builders, comm, ensembles, integrators, io, minimizers, observables,  # noqa: E402
                     potentials)

__all__ = ["Box", "System", "builders", "comm", "ensembles", "integrators", "io", "minimizers",
           "observables", "potentials", "__version__"]
