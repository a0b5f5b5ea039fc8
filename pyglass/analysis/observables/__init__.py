"""Observables: the Observable base class and schedules, dynamics, structure, rearrangements and
structure–dynamics statistics. See ARCHITECTURE.md for how to write a new observable."""
from pyglass.analysis.observables.base import (Frame, LinearSchedule, LogSchedule, MeanKinetic, NEEDS, Observable, Schedule,
                                    StreamingObservable)
from pyglass.analysis.observables import dynamics, structure, rearrangements, statistics
from pyglass.analysis.observables.dynamics import (Peak, SelfDynamics, alpha2, ballistic_end, chi4, chi4_peak,
                                          diffusion_coefficient, first_block_drift, log_relaxation_time_sd, msd,
                                          peak_in_log_time, relaxation_time, reduced_units,
                                          self_intermediate_scattering, stokes_einstein_exponent, tau_alpha)
from pyglass.analysis.observables.structure import (first_minimum, neighbour_cutoffs, neighbour_pairs, radial_distribution,
                                           structure_factor, q_max)
from pyglass.analysis.observables.rearrangements import NeighbourLoss, phop, phop_threshold, recovery_histogram
from pyglass.analysis.observables.statistics import (IRModeOverlap, extremes_per_sphere, ir_mode_overlap,
                                            overlap, overlap_random_baseline, overlaps, spearman_by_species,
                                            top_fraction)

__all__ = ["Observable", "StreamingObservable", "MeanKinetic", "Schedule", "LinearSchedule", "LogSchedule", "Frame", "NEEDS", "dynamics", "structure",
           "rearrangements", "statistics", "SelfDynamics", "msd", "self_intermediate_scattering", "alpha2", "chi4",
           "chi4_peak", "peak_in_log_time", "Peak", "ballistic_end", "first_block_drift", "relaxation_time", "log_relaxation_time_sd", "tau_alpha", "diffusion_coefficient", "stokes_einstein_exponent",
           "reduced_units", "radial_distribution", "structure_factor", "first_minimum", "neighbour_cutoffs",
           "neighbour_pairs", "q_max", "phop", "phop_threshold", "NeighbourLoss", "recovery_histogram", "overlap",
           "overlaps", "top_fraction", "ir_mode_overlap", "IRModeOverlap", "overlap_random_baseline", "spearman_by_species", "extremes_per_sphere"]
