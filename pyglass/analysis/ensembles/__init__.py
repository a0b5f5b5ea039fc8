"""Ensembles: collections of runs or samples averaged together (iso-configurational runs,
inherent structures at a parent temperature, mode maps along quenched short runs), spread over MPI
rank groups."""
from pyglass.analysis.ensembles.base import Ensemble, member_seeds
from pyglass.analysis.ensembles.isoconfigurational import IsoconfigurationalEnsemble, IsoconfigurationalResult
from pyglass.analysis.ensembles.inherent_structures import (InherentStructureEnsemble, InherentStructureResult, ISTrajectory,
                                                   count_new_minima, inherent_structure_trajectory, quench,
                                                   transition_rate_spread)
from pyglass.analysis.ensembles.quenched_modes import QuenchedModesEnsemble, QuenchedModesResult

__all__ = ["Ensemble", "member_seeds", "IsoconfigurationalEnsemble", "IsoconfigurationalResult",
           "InherentStructureEnsemble", "InherentStructureResult", "ISTrajectory",
           "inherent_structure_trajectory", "quench", "count_new_minima", "transition_rate_spread",
           "QuenchedModesEnsemble", "QuenchedModesResult"]
