"""TRSP lattice model: time-reversible softness dynamics with facilitation (paper 4).

Main entry point: ``TRSPModel`` (see ``pyglass.analysis.lattice.model``); the pieces it is built from
are importable for analysis and tests: the FFT Gaussian sampler, the rate laws and their
App. D renormalisation, the detailed-balance kick operators (Eq. 19), the measurements.
Design and truncation: docs/lattice.md.
"""
from .aging import quench, rearranging_site_law, trap_quench
from .deck import load_deck, model_parameters
from .gaussian import GaussianFieldSampler, SoftnessCorrelation
from .geometry import Clusters, PeriodicLattice
from .kicks import KickKernel, KickOperator, build_kick_operator, restoring_matrix
from .measure import (block_scaling_fit, block_susceptibility, four_point_structure_factor,
                      ornstein_zernike_fit)
from .model import DetailedBalanceResult, TRSPModel, TRSPRun
from .rates import BareRateLaw, RateLaw, observed_from_bare, renormalise

__all__ = [
    "TRSPModel", "TRSPRun", "DetailedBalanceResult", "quench", "trap_quench", "rearranging_site_law",
    "load_deck", "model_parameters",
    "GaussianFieldSampler", "SoftnessCorrelation", "PeriodicLattice", "Clusters",
    "KickKernel", "KickOperator", "build_kick_operator", "restoring_matrix",
    "RateLaw", "BareRateLaw", "renormalise", "observed_from_bare",
    "four_point_structure_factor", "ornstein_zernike_fit",
    "block_susceptibility", "block_scaling_fit",
]
