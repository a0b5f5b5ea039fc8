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

from pyglass.analysis.landscape.hessian import dof_order, translation_basis

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


#: right-hand sides advanced together by BlockPCG: one pass over the matrix and the IC(0) factor
#: serves the whole block (N = 8000 KA 3D, one rank, particle-block kernels: 0.033 / 0.034 / 0.034 s
#: per kappa_ij with blocks of 128 / 256 / 512, flat; with the row-by-row kernels 0.099 / 0.083 / 0.069
#: s with 32 / 128 / 256; N = 10^5 on two ranks, 256: 0.47 s per kappa_ij, ~0.3 GB per array)
CG_BLOCK = 256


class _BlockOperators:
    """BlockPCG's product and preconditioner on row-major blocks of this rank's rows, in our own
    kernels (extensions/sparse_block.pyx): A x with A stored in dim x dim particle blocks, one pass
    over the matrix for the whole block, and (pc='icc') IC(0) of this rank's diagonal block (block
    Jacobi across ranks; the whole matrix on one rank), factored on the scalar pattern with its
    diagonal shifted from 0 upwards until every pivot is positive (as PETSc's positive-definite
    shift) and applied in the same particle blocks, or (pc='jacobi') the inverse diagonal. Under
    MPI, `csr` holds this rank's rows with global column indices; the rows of x that other ranks own
    and the product needs (ghost rows) are exchanged with one Alltoallv per product."""

    SHIFTS = (0.0, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1)

    def __init__(self, csr, pc, dim, comm=None, start=0):
        from pyglass._ext import sparse_block
        self.pc = pc
        self.comm = comm
        n_local = csr.shape[0]
        csr = sp.csr_matrix(csr)
        self._ghost_plan = None
        if comm is not None and comm.Get_size() > 1:
            csr = self._plan_ghosts(csr, comm, start, n_local)
        csr.sort_indices()
        self.matrix = sparse_block.BlockSparse(csr, dim)
        diag_block = csr[:, :n_local].tocsr()
        if pc == "jacobi":
            self.inv_diag = 1.0 / diag_block.diagonal()
            return
        low = sp.tril(diag_block, format="csr")
        low.sort_indices()
        indptr, indices = low.indptr.astype(np.int32), low.indices.astype(np.int32)
        for shift in self.SHIFTS:
            values, failed = sparse_block.ic0(indptr, indices, np.ascontiguousarray(low.data), shift)
            if failed < 0:
                self.factor, self.shift = sparse_block.IC0Factor(indptr, indices, values, dim), shift
                return
        raise np.linalg.LinAlgError(f"IC(0) breaks down at row {failed} even with the diagonal shifted by "
                                    f"{self.SHIFTS[-1]:g}: the matrix is far from positive definite")

    def _plan_ghosts(self, csr, comm, start, n_local):
        """Renumber columns: owned ones 0..n_local-1, ghosts after them (sorted by global index, so
        grouped by owner); record which of our rows every other rank needs."""
        size = comm.Get_size()
        stops = np.array(comm.allgather(start + n_local))
        cols = csr.indices
        outside = (cols < start) | (cols >= start + n_local)
        ghosts = np.unique(cols[outside])
        owner = np.searchsorted(stops, ghosts, side="right")
        need = [ghosts[owner == q] for q in range(size)]
        wanted = comm.alltoall(need)                       # the rows each rank needs from us
        self._ghost_plan = ([len(g) for g in need], [np.asarray(w, np.int64) - start for w in wanted])
        new = np.empty_like(cols)
        new[~outside] = cols[~outside] - start
        new[outside] = n_local + np.searchsorted(ghosts, cols[outside])
        return sp.csr_matrix((csr.data, new, csr.indptr), shape=(n_local, n_local + len(ghosts)))

    def _with_ghosts(self, x):
        if self._ghost_plan is None:
            return x
        from mpi4py import MPI
        recv_counts, send_rows = self._ghost_plan
        m = x.shape[1]
        send = np.ascontiguousarray(np.concatenate([x[rows] for rows in send_rows]))
        out = np.empty((x.shape[0] + sum(recv_counts), m))
        out[: x.shape[0]] = x
        self.comm.Alltoallv([send, [len(r) * m for r in send_rows], MPI.DOUBLE],
                            [out[x.shape[0]:], [c * m for c in recv_counts], MPI.DOUBLE])
        return out

    def matmat(self, x):
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        self.matrix.matmat(self._with_ghosts(x), y)
        return y

    def precondition(self, r):
        if self.pc == "jacobi":
            return r * self.inv_diag[:, None]
        z = np.array(r, order="C")
        self.factor.apply(z)
        return z


class BlockPCG:
    """M+ applied to many right-hand sides without a factor: preconditioned CG run on all the columns of
    a block at once (one sparse matrix-block product per iteration; a converged column leaves the
    block), the translations projected out of every preconditioned residual, and a stopping rule on the
    numbers the callers need rather than on the residual.

    The rule. With x_0 = 0, CG's q1 = b.x_k approaches b.M+b from below by exactly sum_{j>=k} alpha_j
    (r_j.z_j) (Hestenes-Stiefel), and q2 = x_k.x_k approaches |M+b|^2 at the same asymptotic rate.
    After k iterations, the change of each form over the last w = max(window, k/4) iterations, d1, and
    over the w before, d2, give the change still to come by geometric extrapolation, d1 q/(1 - q) with
    q = d1/d2 (infinite while q >= 1). A column stops when that is below tol |q1 - reference| for q1 and,
    with norm=True, below tol q2 for q2, q2 having also moved by less than tol q2 over the last w
    iterations (|x_k|^2 is not monotone in PCG). So kappa = q1/q2 is accurate to about 2 tol, and with reference =
    Born the non-affine term Xi.M+Xi of G is accurate to tol |Born - Xi.M+Xi|, i.e. G to tol relative.
    The tests check the realised accuracy against the factor.

    Parameters
    ----------
    matrix : scipy.sparse Hessian (one rank) or a PETSc Mat from `petsc_hessian` (SeqAIJ or MPIAIJ;
        right-hand sides and solutions are then this rank's rows)
    dim : spatial dimension d
    tol : relative accuracy of the quadratic forms (see above)
    pc : 'icc' (IC(0); under MPI block Jacobi, IC(0) of each rank's diagonal block) or 'jacobi'
    block : columns advanced together
    deflation : optional (eigenvalues (k,), this rank's rows of the orthonormal eigenvectors (n_local,
        k)) of the lowest modes: their part of M+b is applied exactly and CG works on the rest
    order : the particle order the PETSc Mat was built in (`petsc_hessian(..., order=)`), so that
        `local_rows` takes a whole vector's rows in the same order
    """

    def __init__(self, matrix, dim: int, tol: float = 1e-6, pc: str = "icc", block: int = CG_BLOCK,
                 max_it: int = 5000, deflation=None, window: int = 10, order=None):
        from petsc4py import PETSc
        if not 0 < tol < 1:
            raise ValueError(f"tol must be in (0, 1), got {tol}")
        if pc not in ("icc", "jacobi"):
            raise ValueError(f"pc must be 'icc' or 'jacobi', got {pc!r}")
        if block < 1 or window < 1 or max_it < 1:
            raise ValueError(f"block, window and max_it must be >= 1, got {block}, {window}, {max_it}")
        if sp.issparse(matrix):                 # one rank: no PETSc copy of the matrix
            self.comm, csr = PETSc.COMM_SELF, sp.csr_matrix(matrix)
            self.n = csr.shape[0]
            self.start, self.stop = 0, self.n
        else:                                   # a Mat from petsc_hessian: this rank's rows
            self.comm = matrix.getComm()
            self.n = matrix.getSize()[0]
            self.start, self.stop = matrix.getOwnershipRange()
            indptr, indices, values = matrix.getValuesCSR()
            csr = sp.csr_matrix((values, indices, indptr), shape=(self.stop - self.start, self.n))
        self._mpi = self.comm.tompi4py()
        self.parallel = self.comm.getSize() > 1
        if self.n % dim:
            raise ValueError(f"matrix must have a multiple of dim={dim} rows, got {self.n}")
        self.dim, self.tol, self.block, self.max_it, self.window = dim, float(tol), int(block), int(max_it), int(window)
        self._rows = None if order is None else dof_order(order, dim)[self.start:self.stop]
        self.n_local = self.stop - self.start
        self.pc_name = pc
        # row-major blocks, the product and the preconditioner in our own kernels, one pass over the
        # matrix or the factor per block (_BlockOperators). N = 32 000 KA 3D, one rank, the same
        # iterations: 256 dipoles 45 s, against 89 s with row-by-row kernels; 128 dipoles 42 s with
        # those, against 96 s with scipy's product and PETSc's ICC(0) applied column by column
        self._ops = _BlockOperators(csr, pc, dim, self._mpi if self.parallel else None, self.start)
        self._defl = None
        if deflation is not None:
            vals, vecs = np.asarray(deflation[0], float), np.asarray(deflation[1], float)
            if vecs.shape != (self.n_local, len(vals)) or np.any(vals <= 0):
                raise ValueError(f"deflation must be (eigenvalues > 0 (k,), eigenvectors ({self.n_local}, k)), "
                                 f"got {vals.shape} and {vecs.shape}")
            self._defl = (vals, vecs)
        self.iterations = []

    @classmethod
    def for_system(cls, system, pot, comm=None, hessian_matrix=None, **kwargs):
        """The solver for a whole system: on the scipy Hessian serially, or with `comm` on the Hessian
        distributed in `spatial_order` (each rank's rows a compact slab: its diagonal block, the block
        Jacobi preconditioner's, holds most of its couplings, and few rows are ghosts)."""
        from pyglass.analysis.landscape.hessian import hessian, petsc_hessian, spatial_order
        if comm is None:
            return cls(hessian(system, pot) if hessian_matrix is None else hessian_matrix, system.dim, **kwargs)
        order = spatial_order(system)
        return cls(petsc_hessian(system, pot, comm, hessian_matrix, order=order), system.dim, order=order, **kwargs)

    def _sum(self, local):
        if self.parallel:
            from mpi4py import MPI
            local = np.ascontiguousarray(local)
            self._mpi.Allreduce(MPI.IN_PLACE, local)
        return local

    def _project(self, b, modes=True):
        """Remove from b (this rank's rows) its translational components (and, with modes, its deflated
        modes' ones), in place; returns b."""
        d = self.dim
        means = self._sum(np.stack([b[a::d].sum(axis=0) for a in range(d)])) / (self.n // d)
        for a in range(d):
            b[a::d] -= means[a]
        if modes and self._defl is not None:
            w = self._defl[1]
            b -= w @ self._sum(w.T @ b)
        return b

    def _direction(self, r, p, rz_old=None):
        """p <- P M^-1 r + beta p with beta = rz/rz_old (p <- P M^-1 r without rz_old), P the
        projection off the translations (and the deflated modes), M the preconditioner; returns
        rz = r.(P M^-1 r) per column. The translation part is fused into two passes (cg_sums,
        cg_direction) and one reduction over ranks."""
        from pyglass._ext import sparse_block as K
        d = self.dim
        z = self._ops.precondition(r)
        if self._defl is not None:
            w = self._defl[1]
            z -= w @ self._sum(w.T @ z)
        rz, zsum, rsum = K.cg_sums(r, z, d)
        sums = self._sum(np.concatenate([rz[None], zsum, rsum]))
        mean = sums[1:d + 1] / (self.n // d)
        rz = sums[0] - (mean * sums[d + 1:]).sum(axis=0)
        beta = np.zeros_like(rz) if rz_old is None else rz / rz_old
        K.cg_direction(z, np.ascontiguousarray(mean), beta, p)
        return rz

    def _window(self, n_hist):
        """Iterations per window: `window`, or a quarter of the iterations so far when more (a slowly
        converging column needs a longer look back to see its rate)."""
        return max(self.window, n_hist // 4)

    def _still_to_come(self, hist):
        w = self._window(len(hist) - 1)
        d1 = np.abs(hist[-1] - hist[-1 - w])
        d2 = np.abs(hist[-1 - w] - hist[-1 - 2 * w])
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(d2 > 0, d1 / d2, np.where(d1 > 0, np.inf, 0.0))
            return np.where(q < 1, d1 * q / (1 - q), np.inf)

    def dots(self, a, b):
        """Column-wise dot products of two (n_local, m) arrays of this rank's rows, summed over ranks."""
        from pyglass._ext import sparse_block as K
        a, b = (np.ascontiguousarray(np.asarray(v, float).reshape(self.n_local, -1)) for v in (a, b))
        return self._sum(K.dots(a, b))

    def local_rows(self, b):
        """This rank's rows of a whole (n,) or (n, m) array (in the Mat's particle order)."""
        return np.asarray(b)[self.start:self.stop] if self._rows is None else np.asarray(b)[self._rows]

    def solve(self, b, norm: bool = True, reference=0.0, tol: float | None = None):
        """M+ b for this rank's rows b, (n_local,) or (n_local, m), in blocks of `block` columns; see the
        class docstring for `norm` and `reference` (one value or one per column); `tol` overrides the
        solver's for this call."""
        if tol is not None and not 0 < tol < 1:
            raise ValueError(f"tol must be in (0, 1), got {tol}")
        saved, self.tol = self.tol, float(tol or self.tol)
        try:
            return self._solve(b, norm, reference)
        finally:
            self.tol = saved

    def _solve(self, b, norm, reference):
        b = np.asarray(b, float)
        vec = b.ndim == 1
        b2 = b.reshape(self.n_local, -1)
        ref = np.broadcast_to(np.asarray(reference, float), (b2.shape[1],))
        out = np.empty_like(b2)
        for s in range(0, b2.shape[1], self.block):
            cols = slice(s, min(s + self.block, b2.shape[1]))
            out[:, cols] = self._solve_block(b2[:, cols], norm, ref[cols])
        return out[:, 0] if vec else out

    __call__ = solve

    def _solve_block(self, b, norm, ref):
        from pyglass._ext import sparse_block as K
        b = self._project(np.array(b, float, order="C"), modes=False)
        m = b.shape[1]
        out = np.zeros_like(b, order="C")
        q1_modes, q2_modes = np.zeros(m), np.zeros(m)
        if self._defl is not None:              # the lowest modes' part of M+b, exactly
            vals, w = self._defl
            c = self._sum(w.T @ b)
            out += w @ (c / vals[:, None])
            q1_modes = (c ** 2 / vals[:, None]).sum(axis=0)
            q2_modes = (c ** 2 / vals[:, None] ** 2).sum(axis=0)
            b = self._project(b)
        r = b.copy(order="C")
        p = np.zeros_like(r)
        rz = self._direction(r, p)
        keep = rz > 0
        cols = np.flatnonzero(keep)              # the original columns still iterating
        b, r, p = (np.asarray(a[:, keep], order="C") for a in (b, r, p))
        rz, ref, q1_modes, q2_modes = rz[keep], ref[keep], q1_modes[keep], q2_modes[keep]
        x = np.zeros_like(b, order="C")
        its = np.zeros(m, int)
        q1h, q2h = [], []
        for k in range(self.max_it):
            if cols.size == 0:
                break
            ap = self._ops.matmat(p)
            alpha = rz / self._sum(K.dots(p, ap))
            q = self._sum(np.concatenate(K.cg_step(alpha, p, ap, b, x, r)))   # x, r updated; b.x, x.x
            its[cols] += 1
            q1h.append(q1_modes + q[: cols.size])
            q2h.append(q2_modes + q[cols.size:])
            w = self._window(k)
            if len(q1h) > 2 * w:
                q1, q2 = q1h[-1], q2h[-1]
                done = self._still_to_come(q1h) <= self.tol * np.abs(q1 - ref)
                if norm:     # |x|^2 is not monotone in PCG: it must also have held still for a window
                    span = np.ptp(np.array(q2h[-1 - w:]), axis=0)
                    done &= (self._still_to_come(q2h) <= self.tol * q2) & (span <= self.tol * q2)
                if done.any():
                    out[:, cols[done]] += x[:, done]
                    keep = ~done
                    cols = cols[keep]
                    b, x, r, p = (np.asarray(a[:, keep], order="C") for a in (b, x, r, p))
                    rz, ref, q1_modes, q2_modes = rz[keep], ref[keep], q1_modes[keep], q2_modes[keep]
                    q1h = [q[keep] for q in q1h]
                    q2h = [q[keep] for q in q2h]
                    if cols.size == 0:
                        break
            rz = self._direction(r, p, rz)
        if cols.size:
            raise RuntimeError(f"block CG: {cols.size} of {m} right-hand sides not converged to tol {self.tol:g} in "
                               f"max_it = {self.max_it} iterations (extra zero modes, e.g. rattlers, or not an "
                               "inherent structure?)")
        self.iterations.extend(its.tolist())
        return self._project(out, modes=False)


def dense_pseudo_inverse(matrix, dim: int) -> np.ndarray:
    """Dense M+ with the translations projected out: the test oracle."""
    m = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    w, v = np.linalg.eigh(m)
    t = translation_basis(m.shape[0] // dim, dim)
    v_free = v[:, dim:]
    p = np.eye(m.shape[0]) - t @ t.T
    return p @ (v_free / w[dim:]) @ v_free.T @ p
