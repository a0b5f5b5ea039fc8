"""pyglass: simulation and analysis of glass-forming liquids.

The package is layered; each layer imports only the ones before it (tests/test_imports.py checks):
    engine     System, Box, potentials, integrators, minimizers, MPI decomposition (comm, domain)
    io         file formats (LAMMPS, extended XYZ, H5MD) and the run's files (output, checkpoints)
    analysis   observables, ensembles, landscape, softness, lattice, maps
    workflow   decks, `pyglass run` (run), stages, `pyglass reproduce` (reproduce), plots, cli
    papers     one plugin folder per reproduced paper
`registry` (deck names -> implementations) imports nothing and serves every layer.

For scripts, the modules users reach for are also attributes of `pyglass` itself
(`from pyglass import builders, potentials, integrators, minimizers, landscape`): loaded on first use.
"""
from pyglass._version import __version__  # noqa: F401

import importlib

from pyglass.engine.threads import configure_blas_threads

configure_blas_threads()   # one BLAS thread per core on this node, shared among its MPI ranks

from pyglass.engine.system import Box, System  # noqa: E402

# short name -> module, for `from pyglass import <name>` in scripts
MODULES = {
    "builders": "pyglass.engine.builders", "comm": "pyglass.engine.comm", "domain": "pyglass.engine.domain",
    "potentials": "pyglass.engine.potentials", "integrators": "pyglass.engine.integrators",
    "minimizers": "pyglass.engine.minimizers", "threads": "pyglass.engine.threads",
    "system": "pyglass.engine.system",
    "observables": "pyglass.analysis.observables", "ensembles": "pyglass.analysis.ensembles",
    "landscape": "pyglass.analysis.landscape", "softness": "pyglass.analysis.softness",
    "lattice": "pyglass.analysis.lattice", "maps": "pyglass.analysis.maps",
    "io": "pyglass.io", "results": "pyglass.workflow.run.results", "reproduce": "pyglass.workflow.reproduce",
    "plots": "pyglass.workflow.plots",
}

__all__ = ["Box", "System", "__version__", *MODULES]


def __getattr__(name):
    if name in MODULES:
        module = importlib.import_module(MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'pyglass' has no attribute {name!r}")
