"""pyglass: simulation and analysis of glass-forming liquids."""
__version__ = "0.1.0"

from pyglass.system import Box, System
from pyglass import potentials, integrators

__all__ = ["Box", "System", "potentials", "integrators", "__version__"]
