"""pyglass: simulation and analysis of glass-forming liquids."""
__version__ = "0.1.0"

from pyglass.threads import configure_blas_threads

configure_blas_threads()   # one BLAS thread per core on this node, shared among its MPI ranks

from pyglass.system import Box, System  # noqa: E402
from pyglass import (builders, comm, ensembles, integrators, io, minimizers, observables,  # noqa: E402
                     potentials)

__all__ = ["Box", "System", "builders", "comm", "ensembles", "integrators", "io", "minimizers",
           "observables", "potentials", "__version__"]
