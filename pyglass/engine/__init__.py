"""The engine: the system and its box, potentials, integrators, minimizers, and the MPI spatial
decomposition (`comm`, `domain`) they run on. Imports nothing from the layers above
(`pyglass.analysis`, `pyglass.io`, `pyglass.workflow`)."""
