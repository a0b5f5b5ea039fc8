"""Analysis on top of the engine: observables, ensembles of runs or configurations, the energy
landscape, softness, the TRSP lattice model and maps. Imports the engine, never `pyglass.io` or
`pyglass.workflow`."""
