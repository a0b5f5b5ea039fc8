"""Energy landscape of inherent structures: sparse Hessians, low modes, dipole responses,
athermal shear modulus, pseudoharmonic modes, sheared inherent structures (docs/science.md §3).

    from pyglass.analysis import landscape
    H = landscape.hessian(system, pot)                # scipy.sparse CSR (dN x dN), x0, y0, (z0), x1, ...
    modes = landscape.lowest_modes(system, pot, k=30) # zero modes excluded, ascending
    kappa = landscape.dipole_stiffness(system, pot, pairs)
    G = landscape.shear_modulus(system, pot)
"""
from pyglass.analysis.landscape.dipoles import (dipole_responses, dipole_stiffness, dipole_vectors,  # noqa: F401
                                       local_dipole_stiffness, mesoelastic_fit, random_pairs)
from pyglass.analysis.landscape.elasticity import nonaffine_response, shear_modulus  # noqa: F401
from pyglass.analysis.landscape.inherent import InherentStructure  # noqa: F401
from pyglass.analysis.landscape.memory import factor_memory_estimate  # noqa: F401
from pyglass.analysis.landscape.hessian import (affine_shear_derivatives, dof_order, hessian, interacting_pairs,  # noqa: F401
                                       pair_geometry, petsc_hessian, shear_stress, spatial_order,
                                       translation_basis)
from pyglass.analysis.landscape.modes import Modes, lowest_modes, participation_ratio, slepc_lowest  # noqa: F401
from pyglass.analysis.landscape.pseudoharmonic import (PseudoharmonicCost, minimise_pseudoharmonic,  # noqa: F401
                                              pseudoharmonic_modes)
from pyglass.analysis.landscape.relax import newton_refine, quench  # noqa: F401
from pyglass.analysis.landscape.shear import (AffineQuenchResponse, StrainOnset, affine_quench_response,  # noqa: F401
                                     affine_shear, shear_inherent_structures, strain_onset, stress_peak)
from pyglass.analysis.landscape.solvers import KSPSolver, PseudoInverse, dense_pseudo_inverse  # noqa: F401
from pyglass.engine.threads import single_blas_pool

single_blas_pool()   # scipy is loaded now: its bundled OpenBLAS must not contend with the system one
