"""Deck stage kinds, one module each, registered in pyglass.registry.STAGES where defined.
See pyglass.workflow.stages.base for the protocol and ARCHITECTURE.md for how to add a kind.
(md and quench first: they are the pipeline's basic kinds and lead the documentation.)"""
from pyglass.workflow.stages import md, quench  # noqa: F401, I001
from pyglass.workflow.stages import (dipole_stiffness, inherent_structures, isoconfigurational, lattice,  # noqa: F401
                            modes, overlap, pseudoharmonic, quenched_modes, rearrangements, shear, shear_modulus,
                            softness, summary)
from pyglass.workflow.stages.base import RunInterrupted, Stage, register  # noqa: F401
