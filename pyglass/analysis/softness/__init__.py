"""Softness: ML softness from structure functions + a linear SVM (paper 4), its statistics
(P(S), P(R|S), Arrhenius fits and the onset T0, C_S(r), C_S(t), the propagator, ΔS(r) around
rearrangements), and the caging-potential softness of paper 5. docs/softness.md has the details.

    sf = softness.StructureFunctions()          # paper 4, App. A grid
    X = sf.compute(system)                      # (N, M), columns named by sf.names
    model = softness.train(X_rearranging, X_stable)
    S = model.predict(X)                        # signed distance, > 0 on the rearranging side
"""
from pyglass.analysis.softness.structure_functions import (StructureFunctions, default_angular,
                                                  gaussian_rows, PAPER_MU, PAPER_SIGMA, PAPER_R_MAX,
                                                  FAST_R_MAX_ANGULAR)

__all__ = ["StructureFunctions", "default_angular", "gaussian_rows", "PAPER_MU", "PAPER_SIGMA",
           "PAPER_R_MAX", "FAST_R_MAX_ANGULAR"]
from pyglass.analysis.softness.ml import SoftnessModel, gather_features, load, train, training_examples
from pyglass.analysis.softness import caging, statistics
from pyglass.analysis.softness.caging import CagingPotential
from pyglass.analysis.softness.training import TrainingRecipe

__all__ += ["SoftnessModel", "train", "load", "training_examples", "gather_features", "caging",
            "statistics", "CagingPotential", "TrainingRecipe"]
