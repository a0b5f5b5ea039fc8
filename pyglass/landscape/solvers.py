"""Linear algebra on the Hessian: the pseudo-inverse M+ by a grounded Cholesky factor (one
factorisation, many right-hand sides in blocks), a per-right-hand-side PETSc CG path with the
translational null space attached, and backend selection.

Grounding: in a periodic box the null space of an inherent structure's Hessian is the d uniform
translations T. Deleting the d rows and columns of particle 0 leaves an SPD matrix M_g. For b with
T^T b = 0, the solution z~ of M_g z~ = b (z~_0 = 0) satisfies M z~ = b exactly (the rows of particle
0 follow from 1^T M = 0 and sum_i b_i = 0), so z = (I - T T^T) z~ = M+ b. One factorisation thus
serves dipole responses, the non-affine shear response and the shift-invert mode solver, without
a shift. Extra zero modes (rattlers, an unstable configuration) make M_g singular or indefinite;
the factorisation then fails with an error that says so.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from pyglass.landscape.hessian import translation_basis

BACKENDS = ("auto", "cholmod", "mumps", "superlu")


def have_petsc() -> bool:
    try:
        import petsc4py  # noqa: F401
        from petsc4py import PETSc  # noqa: F401
    except ImportError:
        return False
    return True


def _petsc_solver_types():
    from petsc4py import PETSc
    avail = []
    for name in ("cholmod", "mumps"):
        try:
            ksp = PETSc.KSP().create(PETSc.COMM_SELF)
            m = PETSc.Mat().createAIJ(size=(2, 2), csr=(np.array([0, 1, 2], PETSc.IntType),
                                                        np.array([0, 1], PETSc.IntType), np.ones(2)),
                                      comm=PETSc.COMM_SELF)
            ksp.setOperators(m)
            ksp.setType("preonly")
            pc = ksp.getPC()
            pc.setType("cholesky")
            pc.setFactorSolverType(name)
            ksp.setUp()
            avail.append(name)
        except Exception:  # noqa: BLE001 - a PETSc build without this package
            pass
    return avail


def petsc_aij(matrix, comm=None):
    """scipy CSR -> PETSc SeqAIJ (on COMM_SELF unless comm is given)."""
    from petsc4py import PETSc
    m = matrix.tocsr()
    m.sort_indices()
    return PETSc.Mat().createAIJ(size=m.shape, csr=(m.indptr.astype(PETSc.IntType),
                                                    m.indices.astype(PETSc.IntType), m.data),
                                 comm=PETSc.COMM_SELF if comm is None else comm)


class PseudoInverse:
    """M+ applied to blocks of vectors through one grounded Cholesky factorisation.

    Parameters
    ----------
    matrix : scipy.sparse (dN x dN) Hessian of a stable configuration
    dim : spatial dimension d
    backend : 'cholmod' or 'mumps' (PETSc Cholesky; MatMatSolve on dense blocks), 'superlu'
        (scipy splu, no PETSc needed), or 'auto' (CHOLMOD if PETSc has it, else MUMPS, else superlu)
    block : columns per block solve
    """

    def __init__(self, matrix, dim: int, backend: str = "auto", block: int = 64):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        n = matrix.shape[0]
        if matrix.shape != (n, n) or n % dim:
            raise ValueError(f"matrix must be square with a multiple of dim={dim} rows, got {matrix.shape}")
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.n, self.dim, self.block = n, dim, int(block)
        self.translations = translation_basis(n // dim, dim)
        if backend == "auto":
            backend = "superlu"
            if have_petsc():
                avail = _petsc_solver_types()
                backend = avail[0] if avail else "superlu"
        self.backend = backend
        grounded = matrix.tocsr()[dim:, dim:]
        self.n_solves = 0
        if backend == "superlu":
            try:
                self._lu = spla.splu(grounded.tocsc(), permc_spec="MMD_AT_PLUS_A",
                                     options={"SymmetricMode": True})
            except RuntimeError as exc:
                raise np.linalg.LinAlgError(f"the grounded Hessian is singular ({exc}): extra zero modes "
                                            "(rattlers) or not an inherent structure") from exc
            return
        from petsc4py import PETSc
        self._mat = petsc_aij(grounded)
        self._mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        self._mat.setOption(PETSc.Mat.Option.SPD, True)
        ksp = PETSc.KSP().create(PETSc.COMM_SELF)
        ksp.setOperators(self._mat)
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType(backend)
        try:
            ksp.setUp()
        except PETSc.Error as exc:
            raise np.linalg.LinAlgError(f"Cholesky factorisation of the grounded Hessian failed ({backend}): "
                                        "extra zero modes (rattlers) or not an inherent structure") from exc
        self._ksp = ksp
        self._factor = pc.getFactorMatrix()

    def project(self, b):
        """Remove the translational components of b (n,) or (n, m)."""
        t = self.translations
        out = np.array(b, order="F")    # column-major: the solvers take Fortran blocks as they are
        out -= t @ (t.T @ b)
        return out

    def _solve_grounded(self, b):
        m = b.shape[1]
        if self.backend == "superlu":
            return self._lu.solve(b)
        from petsc4py import PETSc
        ng = self.n - self.dim
        bm = PETSc.Mat().createDense((ng, m), array=np.asfortranarray(b), comm=PETSc.COMM_SELF)
        xm = PETSc.Mat().createDense((ng, m), comm=PETSc.COMM_SELF)
        xm.setUp()
        self._factor.matSolve(bm, xm)
        out = xm.getDenseArray().copy(order="F")
        bm.destroy()
        xm.destroy()
        return out

    def solve(self, b):
        """M+ b for b of shape (n,) or (n, m), solved in blocks of `block` columns."""
        b = np.asarray(b, float)
        vec = b.ndim == 1
        b2 = self.project(b.reshape(self.n, -1))
        out = np.zeros_like(b2, order="F")
        for s in range(0, b2.shape[1], self.block):
            cols = slice(s, min(s + self.block, b2.shape[1]))
            out[self.dim:, cols] = self._solve_grounded(b2[self.dim:, cols])
        self.n_solves += b2.shape[1]
        out = self.project(out)
        return out[:, 0] if vec else out

    __call__ = solve


class KSPSolver:
    """M+ b one right-hand side at a time by PETSc CG (Jacobi preconditioner by default) on the
    full Hessian with the translational null space attached: the path for N where no factor fits."""

    def __init__(self, matrix, dim: int, rtol: float = 1e-8, pc: str = "jacobi", max_it: int = 100000):
        from petsc4py import PETSc
        self.n, self.dim = matrix.shape[0], dim
        self.translations = translation_basis(self.n // dim, dim)
        self._mat = petsc_aij(matrix)
        self._mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        vecs = []
        for a in range(dim):
            v = self._mat.createVecRight()
            v.setArray(self.translations[:, a])
            vecs.append(v)
        self._mat.setNullSpace(PETSc.NullSpace().create(vectors=vecs, comm=PETSc.COMM_SELF))
        ksp = PETSc.KSP().create(PETSc.COMM_SELF)
        ksp.setOperators(self._mat)
        ksp.setType("cg")
        ksp.getPC().setType(pc)
        ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it)
        ksp.setUp()
        self._ksp = ksp
        self._b = self._mat.createVecLeft()
        self._x = self._mat.createVecRight()
        self.iterations = []

    def solve(self, b):
        from petsc4py import PETSc
        b = np.asarray(b, float)
        vec = b.ndim == 1
        b2 = b.reshape(self.n, -1)
        t = self.translations
        b2 = b2 - t @ (t.T @ b2)
        out = np.empty_like(b2)
        for c in range(b2.shape[1]):
            self._b.setArray(b2[:, c])
            self._x.set(0.0)
            self._ksp.solve(self._b, self._x)
            if self._ksp.getConvergedReason() <= 0:
                raise PETSc.Error(f"CG did not converge (reason {self._ksp.getConvergedReason()}) for column {c}")
            self.iterations.append(self._ksp.getIterationNumber())
            out[:, c] = self._x.getArray()
        out = out - t @ (t.T @ out)
        return out[:, 0] if vec else out

    __call__ = solve


def dense_pseudo_inverse(matrix, dim: int) -> np.ndarray:
    """Dense M+ with the translations projected out: the test oracle."""
    m = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    w, v = np.linalg.eigh(m)
    t = translation_basis(m.shape[0] // dim, dim)
    v_free = v[:, dim:]
    p = np.eye(m.shape[0]) - t @ t.T
    return p @ (v_free / w[dim:]) @ v_free.T @ p
