"""Distributed Hessian (PETSc MPIAIJ) under MPI: matrix-vector products and the lowest
eigenvalues equal the serial ones. Run with
    mpirun -n 2 python -m pytest --with-mpi -m mpi tests/test_landscape_mpi.py
Until the MPI domain decomposition lands every rank holds the whole (identical) system and owns
a contiguous block of particles' rows."""
import numpy as np
import pytest

from pyglass import landscape
from pyglass import potentials as P
from helpers import small_system

petsc4py = pytest.importorskip("petsc4py")
pytest.importorskip("slepc4py")


def _inherent_structure():
    pot = P.IPL10()
    s = small_system("ipl", 2, n=90, seed=11)
    landscape.quench(s, pot, ftol=1e-8)
    return s, pot


@pytest.mark.mpi
def test_distributed_hessian_matvec_and_lowest_eigenvalues():
    from mpi4py import MPI
    from petsc4py import PETSc
    comm = MPI.COMM_WORLD
    s, pot = _inherent_structure()
    h = landscape.hessian(s, pot)
    mat = landscape.petsc_hessian(s, pot, comm)
    n = h.shape[0]
    assert mat.getSize() == (n, n)
    start, stop = mat.getOwnershipRange()
    assert start % s.dim == 0 and stop % s.dim == 0
    assert comm.allreduce(stop - start) == n
    # each rank built only the pairs touching its particles: its rows equal the whole matrix's
    indptr, indices, values = mat.getValuesCSR()
    mine = h[start:stop].tocsr()
    mine.sort_indices()
    np.testing.assert_array_equal(indptr, mine.indptr)
    np.testing.assert_array_equal(indices, mine.indices)
    np.testing.assert_allclose(values, mine.data, rtol=1e-14, atol=1e-14 * abs(h).max())
    x_global = np.random.default_rng(5).standard_normal(n)
    x = mat.createVecRight()
    x.setArray(x_global[start:stop])
    y = mat.createVecLeft()
    mat.mult(x, y)
    expect = h @ x_global
    np.testing.assert_allclose(y.getArray(), expect[start:stop], rtol=1e-13, atol=1e-12 * abs(h).max())
    # in a spatial order: the rows of P M P^T, each rank's particles a slab
    order = landscape.spatial_order(s)
    permuted = landscape.petsc_hessian(s, pot, comm, order=order)
    dofs = landscape.dof_order(order, s.dim)
    want = h[dofs[start:stop]][:, dofs].tocsr()
    want.sort_indices()
    indptr, indices, values = permuted.getValuesCSR()
    np.testing.assert_array_equal(indptr, want.indptr)
    np.testing.assert_array_equal(indices, want.indices)
    np.testing.assert_allclose(values, want.data, rtol=1e-14, atol=1e-14 * abs(h).max())
    x_perm = mat.createVecRight()
    x_perm.setArray(x_global[dofs][start:stop])
    permuted.mult(x_perm, y)
    np.testing.assert_allclose(y.getArray(), expect[dofs][start:stop], rtol=1e-13, atol=1e-12 * abs(h).max())
    vals, _, _ = landscape.slepc_lowest(mat, s.dim, 6, tol=1e-12, solver="mumps")
    serial = landscape.lowest_modes(s, pot, k=6, method="dense").eigenvalues
    np.testing.assert_allclose(vals, serial, rtol=1e-9)
    krylov, _, _ = landscape.slepc_lowest(mat, s.dim, 6, tol=1e-12, solver=None)   # no factor
    np.testing.assert_allclose(krylov, serial, rtol=1e-9)
    assert PETSc.COMM_WORLD.getSize() == comm.Get_size()


@pytest.mark.mpi
def test_block_cg_kappa_and_G_across_ranks_equal_the_serial_factor():
    """Block PCG on the distributed Hessian (additive Schwarz, ICC(0) per rank): kappa_ij and G on every
    rank equal the serial factor to the stopping rule's accuracy, and the ranks agree exactly."""
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    pot = P.KobAndersen(smoothing="smooth")
    s = small_system("ka", 3, n=300, seed=4)
    landscape.quench(s, pot, ftol=1e-10)
    pairs = landscape.random_pairs(s, pot, 30, seed=5)
    kappa = landscape.dipole_stiffness(s, pot, pairs, method="cg", comm=comm, block=16)
    np.testing.assert_allclose(kappa, landscape.dipole_stiffness(s, pot, pairs, backend="superlu"), rtol=1e-6)
    g = landscape.shear_modulus(s, pot, method="cg", comm=comm)
    assert g == pytest.approx(landscape.shear_modulus(s, pot, backend="superlu"), rel=1e-8)
    everywhere = comm.allgather((kappa, g))
    for other in everywhere[1:]:
        np.testing.assert_array_equal(other[0], everywhere[0][0])
        assert other[1] == everywhere[0][1]
