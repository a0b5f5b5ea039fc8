"""Interaction laws. See ARCHITECTURE.md for the catalogue and how to add a potential."""
from pyglass.engine.potentials.base import ForceResult, NeighbourList, Potential
from pyglass.engine.potentials.pair import (IPL10, MBLJ, InversePower, KobAndersen, LennardJones, PairPotential,
                                     SoftDisks2D, SoftSpheres3D, StickySpheres, smoothing_polynomial)
from pyglass.engine.potentials.stillinger_weber import StillingerWeber

__all__ = ["ForceResult", "NeighbourList", "Potential", "PairPotential", "LennardJones", "KobAndersen",
           "MBLJ", "InversePower", "SoftDisks2D", "SoftSpheres3D", "IPL10", "StickySpheres",
           "smoothing_polynomial", "StillingerWeber"]
