"""Hessian M = d^2U/dx dx of a configuration, and the affine-shear derivatives of U.

docs/science.md §3. For pair potentials the blocks K = phi'' n n + (phi'/r)(I - n n) are built
for all pairs at once: the pair list comes from the potential's half neighbour list (ghost rows
mapped to their owners, so periodic images, several of them in a small box, are keyed to the right
particle), phi' and phi'' from `pot.pair_derivatives`, and the COO triplets from the Cython kernel
`pyglass._ext.hessian.pair_hessian_coo`. A potential that is not a pair potential provides
`hessian_coo(system)`, `affine_shear_derivatives(system)` and `interacting_pairs(system)` itself
(e.g. Stillinger-Weber); the functions here dispatch on `hasattr`.

Index order of every dN vector/matrix: x0, y0, (z0), x1, ... (particle-major).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pyglass._ext import hessian as _hess


@dataclass
class PairGeometry:
    """Interacting pairs (r < cutoff) of a configuration: owner indices i, j (j may equal i for a
    self-image in a tiny box), separation r_j - r_i of the interacting copy (P, 3; z = 0 in 2D),
    distance r, and phi, phi', phi'' at r."""
    i: np.ndarray
    j: np.ndarray
    dr: np.ndarray
    r: np.ndarray
    phi: np.ndarray
    phi1: np.ndarray
    phi2: np.ndarray


def _is_pair_potential(pot) -> bool:
    return hasattr(pot, "pair_derivatives") and hasattr(pot, "neighbour_list")


def pair_geometry(system, pot) -> PairGeometry:
    """All interacting pairs of a pair potential with their derivatives (vectorised)."""
    if not _is_pair_potential(pot):
        raise TypeError(f"{getattr(pot, 'name', pot)!r} is not a pair potential (no pair_derivatives)")
    pot.compute(system)  # brings the domain (ghosts) and the neighbour list up to date
    nl = pot.neighbour_list
    i, jrow = nl.pairs(system)
    dr = system._x[jrow] - system._x[i]
    r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
    types_all = nl.types_all
    ti, tj = system.types[i], types_all[jrow]
    inside = r < pot.cutoffs[ti, tj]
    i, jrow, dr, r, ti, tj = i[inside], jrow[inside], dr[inside], r[inside], ti[inside], tj[inside]
    j = np.ascontiguousarray(system.domain.owner(jrow), dtype=np.int64)
    der = pot.pair_derivatives(ti, tj, r, order=2)
    return PairGeometry(np.ascontiguousarray(i, dtype=np.int64), j, np.ascontiguousarray(dr), r,
                        der[0], der[1], der[2])


def hessian_coo(system, pot):
    """(rows, cols, vals) COO triplets of the Hessian (duplicates to be summed)."""
    if hasattr(pot, "hessian_coo"):
        return pot.hessian_coo(system)
    g = pair_geometry(system, pot)
    return _hess.pair_hessian_coo(g.i, g.j, g.dr, g.r, g.phi1, g.phi2, system.dim)


def hessian(system, pot, format: str = "csr") -> sp.spmatrix:
    """Hessian M = d^2U/dx dx as a scipy.sparse matrix (dN x dN), order x0, y0, (z0), x1, ...

    Symmetric to round-off; the d uniform translations are exact zero modes."""
    rows, cols, vals = hessian_coo(system, pot)
    n = system.dim * system.N
    m = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    return m.asformat(format)


def interacting_pairs(system, pot) -> np.ndarray:
    """(M, 2) int array of distinct interacting particle pairs (i < j), sorted; self-images are
    left out. Potentials that are not pair potentials provide `interacting_pairs` themselves."""
    if hasattr(pot, "interacting_pairs") and not _is_pair_potential(pot):
        return np.asarray(pot.interacting_pairs(system), dtype=np.int64)
    g = pair_geometry(system, pot)
    a, b = np.minimum(g.i, g.j), np.maximum(g.i, g.j)
    keep = a != b
    key = np.unique(a[keep] * system.N + b[keep])
    return np.stack([key // system.N, key % system.N], axis=1)


def affine_shear_derivatives(system, pot):
    """(d2U/dgamma^2, Xi) for simple shear x -> x + gamma y (docs/science.md §3):
    d2U/dgamma^2 = sum_pairs [(phi'' - phi'/r) x^2 y^2 / r^2 + phi' y^2 / r],
    Xi = d2U/dgamma dx (N, d): per pair t = (phi'' - phi'/r)(x y / r^2) r_vec + (phi'/r)(y e_x + x e_y),
    Xi_j += t, Xi_i -= t (x, y the components of r = r_j - r_i)."""
    if hasattr(pot, "affine_shear_derivatives") and not _is_pair_potential(pot):
        return pot.affine_shear_derivatives(system)
    g = pair_geometry(system, pot)
    d = system.dim
    x, y = g.dr[:, 0], g.dr[:, 1]
    r2 = g.r * g.r
    c1 = g.phi1 / g.r
    c2 = g.phi2 - c1
    born = float(np.sum(c2 * x * x * y * y / r2 + c1 * y * y))
    t = (c2 * x * y / r2)[:, None] * g.dr[:, :d]
    t[:, 0] += c1 * y
    t[:, 1] += c1 * x
    xi = np.zeros((system.N, d))
    for a in range(d):
        xi[:, a] = np.bincount(g.j, t[:, a], system.N) - np.bincount(g.i, t[:, a], system.N)
    return born, xi


def shear_stress(system, pot) -> float:
    """sigma_xy = (1/V) dU/dgamma = -(pressure tensor)_xy at zero velocities (virial only)."""
    res = pot.compute(system)
    return float(-res.virial[0, 1] / system.box.volume)


def translation_basis(n_particles: int, dim: int) -> np.ndarray:
    """(dN, d) orthonormal basis of the uniform translations (the zero modes in a periodic box)."""
    t = np.zeros((n_particles, dim, dim))
    for a in range(dim):
        t[:, a, a] = 1.0 / np.sqrt(n_particles)
    return t.reshape(n_particles * dim, dim)


def spatial_order(system, cell: float = 1.0) -> np.ndarray:
    """Particle indices sorted by cells of side about `cell` (x slowest, then y, then z): contiguous
    blocks of the new order are compact slabs of space, which is what a split of a matrix's rows over
    ranks needs for its per-rank preconditioner blocks to be local."""
    frac = np.mod(system.box.fractional(system.positions), 1.0)
    n_cells = np.maximum(1, (system.box.plane_spacings / cell).astype(int))
    idx = np.minimum((frac * n_cells).astype(np.int64), n_cells - 1)
    return np.lexsort(tuple(idx[:, a] for a in reversed(range(system.dim)))).astype(np.int64)


def dof_order(order, dim: int) -> np.ndarray:
    """The dN row indices of a particle order (particle-major, d components each)."""
    return (np.asarray(order, np.int64)[:, None] * dim + np.arange(dim)).ravel()


def petsc_hessian(system, pot, comm=None, hessian_matrix=None, order=None):
    """The Hessian as a distributed PETSc Mat (MPIAIJ on `comm`, SeqAIJ on one rank).

    Rows are split by particles: each rank owns the rows of a contiguous block of particles
    (PETSc's default split of N, times d), in index order or, with `order` (new -> old particle
    indices, e.g. `spatial_order`), in that order: the Mat is then P M P^T and vectors must be
    permuted alike (`dof_order`). Until the MPI domain decomposition lands every rank holds the whole
    system; for a pair potential each rank builds the blocks of only the pairs that touch its
    particles and keeps its own rows (about 1/ranks of the whole matrix's memory), otherwise it slices
    its rows from the whole matrix."""
    from petsc4py import PETSc
    if comm is None:
        comm = PETSc.COMM_WORLD
    elif not isinstance(comm, PETSc.Comm):
        comm = PETSc.Comm(comm)
    d, n = system.dim, system.N
    if order is not None:
        order = np.asarray(order, np.int64)
        if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            raise ValueError(f"order must be a permutation of the {n} particle indices")
    size, rank = comm.getSize(), comm.getRank()
    counts = np.full(size, n // size) + (np.arange(size) < n % size)
    first = int(counts[:rank].sum())
    last = first + int(counts[rank])
    start, stop = first * d, last * d
    if hessian_matrix is not None or size == 1 or not _is_pair_potential(pot):
        h = hessian(system, pot) if hessian_matrix is None else hessian_matrix.tocsr()
        if order is None:
            sub = h[start:stop]
        else:
            dofs = dof_order(order, d)
            sub = h[dofs[start:stop]][:, dofs].tocsr()
    else:
        g = pair_geometry(system, pot)
        i, j = g.i, g.j
        if order is not None:
            new = np.empty(n, np.int64)
            new[order] = np.arange(n)
            i, j = new[i], new[j]
        touch = ((i >= first) & (i < last)) | ((j >= first) & (j < last))
        rows, cols, vals = _hess.pair_hessian_coo(np.ascontiguousarray(i[touch]), np.ascontiguousarray(j[touch]),
                                                  np.ascontiguousarray(g.dr[touch]), g.r[touch], g.phi1[touch],
                                                  g.phi2[touch], d)
        mine = (rows >= start) & (rows < stop)
        sub = sp.csr_matrix((vals[mine], (rows[mine] - start, cols[mine])), shape=(stop - start, d * n))
        sub.sum_duplicates()
    sub.sort_indices()
    csr = (sub.indptr.astype(PETSc.IntType), sub.indices.astype(PETSc.IntType), sub.data)
    mat = PETSc.Mat().createAIJ(size=((stop - start, d * n), (stop - start, d * n)), csr=csr,
                                bsize=d, comm=comm)
    mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    mat.assemble()
    return mat
