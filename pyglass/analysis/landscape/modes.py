"""Low-frequency normal modes of an inherent structure, and what is measured from them.

docs/science.md §3. The d uniform translations (exact zero modes in a periodic box) are always
excluded. Methods (`lowest_modes(method=...)`):

* 'block' (default above 600 rows): block Lanczos on M+ applied through ONE grounded Cholesky
  factorisation (solvers.PseudoInverse: CHOLMOD or MUMPS via PETSc, scipy SuperLU without PETSc).
  Translations are removed exactly by the grounding + projection, so no shift is needed. Each step
  solves a block of 8 right-hand sides at once (dense MatMatSolve: with an optimised BLAS a block
  costs little more than one vector), with full reorthogonalisation. Convergence:
  ||M+ u - theta u|| <= tol theta (as SLEPc). KA N = 8000, 33 modes: 208 solves in 26 blocks
  (scripts/bench_landscape.py, same BLAS for all): on the 2 cores of the development machine
  9.3-10.4 s (~6 s factorisation) against 12.7-13.3 s for SLEPc + CHOLMOD and 172-185 s for
  scipy eigsh shift-invert; on one core (PYGLASS_BLAS_THREADS=1) 14.1 s against 17.2 s. Block sizes 6-16 cost
  the same within noise (more columns, cheaper per column). The factor grows as ~N^1.5 in memory and N^2 in
  time in 3D (10 GiB peak, 126 s at N = 32000): past N ~ 5 10^4 in 3D use 'lobpcg'.
* 'scipy': ARPACK (scipy eigsh, implicitly restarted Lanczos) on M+ as a LinearOperator through
  the same factorisation, one vector per solve (~123 solves for 33 modes).
* 'slepc': SLEPc Krylov-Schur, shift-and-invert about sigma = -shift (a small negative shift, so
  M - sigma I is SPD) with the translations given as the deflation space.
* 'krylov': no factorisation: SLEPc Krylov-Schur on M itself for its smallest eigenvalues (ncv = 2k + 30),
  translations as the deflation space, serial or distributed (`slepc_lowest(solver=None)`). 3D KA, 30
  modes, one core: N = 8000 in 32 s (block: 12.6 s; eigenvalues equal to 4e-13), N = 32000 in 252 s,
  ~80 % of it in matrix-vector products; N = 10^5 in 1325 s on one rank, 678 s on two (5.3 GiB each). `auto` takes it where the factor does not fit (`choose_method`).
* 'lobpcg': no factorisation (large 3D N where a Cholesky factor does not fit): scipy LOBPCG with
  the translations as constraints, preconditioned by PETSc GAMG (algebraic multigrid, one V-cycle)
  on M + shift I.
* 'dense': numpy.linalg.eigh (the test oracle; small N only).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from pyglass.analysis.landscape.hessian import hessian, translation_basis
from pyglass.analysis.landscape.memory import GIB, available_memory, factor_fits, factor_memory_estimate
from pyglass.analysis.landscape.solvers import PseudoInverse, have_petsc, petsc_aij

METHODS = ("auto", "block", "slepc", "scipy", "krylov", "lobpcg", "dense")
FACTOR_METHODS = ("block", "scipy", "slepc")
QUASI_LOCALISED_P = 0.34  # paper 1: modes with P < 0.34 are quasi-localised


def participation_ratio(vectors) -> np.ndarray:
    """P = [N sum_i (e_i . e_i)^2]^-1 for unit modes e (k, N, d) or one mode (N, d):
    1 for a uniform mode, 1/N for one particle, 2/3 for a plane wave."""
    v = np.asarray(vectors, float)
    single = v.ndim == 2
    v = v[None] if single else v
    w = np.einsum("kia,kia->ki", v, v)
    norm = w.sum(axis=1)
    p = norm ** 2 / (v.shape[1] * np.einsum("ki,ki->k", w, w))
    return p[0] if single else p


class Modes:
    """The k lowest non-zero normal modes (ascending eigenvalue omega^2, unit masses)."""

    def __init__(self, eigenvalues, vectors, method: str = "", info: dict | None = None):
        self.eigenvalues = np.asarray(eigenvalues, float)
        self.vectors = np.asarray(vectors, float)
        self.method = method
        self.info = dict(info or {})

    def __len__(self):
        return len(self.eigenvalues)

    @property
    def frequencies(self) -> np.ndarray:
        """omega = sqrt(omega^2); negative eigenvalues (an unstable configuration) give -sqrt|.|."""
        return np.sign(self.eigenvalues) * np.sqrt(np.abs(self.eigenvalues))

    @property
    def participation_ratio(self) -> np.ndarray:
        return participation_ratio(self.vectors)

    def quasi_localised(self, threshold: float = QUASI_LOCALISED_P) -> np.ndarray:
        """Boolean flags P < threshold (0.34, paper 1)."""
        return self.participation_ratio < threshold

    def participation_fractions(self, n_modes: int = 30, count_zero_modes: bool = False) -> np.ndarray:
        """p_i = sum over the lowest modes of |e_i|^2 (N,).

        count_zero_modes=False (default, paper 1: "summed over the 30 lowest frequency modes"):
        the n_modes lowest non-zero modes. count_zero_modes=True (paper 3's convention,
        p_i = sum_{j=3}^{N_m} f_i^j in 2D: "we have excluded the two zero-frequency modes (with index
        j = 1, 2) associated with the translational motion"): n_modes counts the d translational
        zero modes too, which contribute nothing, so the sum runs over the n_modes - d lowest
        non-zero modes (N_m = 160 in 2D sums 158)."""
        dim = self.vectors.shape[-1]
        n_sum = n_modes - dim if count_zero_modes else n_modes
        lo = dim + 1 if count_zero_modes else 1
        if not 1 <= n_sum <= len(self):
            raise ValueError(f"n_modes must be in {lo}..{len(self) + lo - 1} (modes computed"
                             f"{', plus the d zero modes' if count_zero_modes else ''}), got {n_modes}")
        return np.einsum("kia,kia->i", self.vectors[:n_sum], self.vectors[:n_sum])

    def density_of_states(self, bins=50, range=None):
        """Histogram of omega normalised to unit area: (density, bin_edges)."""
        return np.histogram(self.frequencies, bins=bins, range=range, density=True)

    def write(self, group, vectors: bool = True):
        """Write into an h5py group: eigenvalues, frequencies, participation_ratio (and vectors)."""
        group.create_dataset("eigenvalues", data=self.eigenvalues)
        group.create_dataset("frequencies", data=self.frequencies)
        group.create_dataset("participation_ratio", data=self.participation_ratio)
        if vectors:
            group.create_dataset("vectors", data=self.vectors, compression="gzip")
        group.attrs["method"] = self.method
        if self.info.get("choice"):
            group.attrs["method_choice"] = self.info["choice"]


def _orthonormalise(x, against=()):
    """Columns of x made orthonormal and orthogonal to the (orthonormal) blocks in `against`
    (classical Gram-Schmidt twice, then QR); columns are first scaled to unit norm, and those
    left with less than 1e-8 of it (nearly dependent) are dropped."""
    x = x / np.maximum(np.linalg.norm(x, axis=0), 1e-300)
    for _ in range(2):
        for q in against:
            x = x - q @ (q.T @ x)
    q, r = np.linalg.qr(x)
    keep = np.abs(np.diag(r)) > 1e-8
    return q[:, keep]


def block_shift_invert(apply_pinv, n, k, deflate, block=None, tol=1e-8, max_basis=None, seed=0):
    """k largest eigenpairs theta of the SPD operator M+ (so lambda = 1/theta are the k lowest
    non-zero eigenvalues of M), vectors orthogonal to `deflate` (n, d).

    Block Lanczos with full reorthogonalisation and no restart: each step applies M+ to a block of
    `block` vectors at once (one multi-column solve, which is far cheaper per column than single
    solves) and extends a block-tridiagonal T; Ritz pairs of T converge when
    ||B_j Y_last|| <= tol theta (as SLEPc). The basis grows to at most `max_basis` columns.
    Returns (theta descending, U (n, k), info)."""
    b = block or 8
    max_basis = max_basis or max(10 * k, 400)
    rng = np.random.default_rng(seed)
    # Column-major and preallocated: basis[:, :m] is one contiguous block for the BLAS, and the
    # solver receives contiguous Fortran blocks without a copy.
    basis = np.empty((n, max_basis + b), order="F")
    v = _orthonormalise(rng.standard_normal((n, b)), [deflate])
    m, bj = 0, v.shape[1]
    basis[:, :bj] = v
    t = np.zeros((0, 0))
    b_prev = None
    solves = second_passes = 0
    while True:
        cur = basis[:, m: m + bj]
        w = apply_pinv(cur)
        solves += bj
        if b_prev is not None:
            w -= basis[:, m - b_prev.shape[1]: m] @ b_prev.T
        a = cur.T @ w
        w -= cur @ a
        m += bj
        stacked = basis[:, :m]
        # Full reorthogonalisation against the translations and the whole basis. After the
        # three-term recurrence w is orthogonal to the basis up to rounding, so one classical
        # Gram-Schmidt pass suffices unless it removed a large part of some column (the DGKS
        # test, 1/sqrt(2)); only then is the pass repeated.
        norm_before = np.linalg.norm(w, axis=0)
        w -= deflate @ (deflate.T @ w)
        w -= stacked @ (stacked.T @ w)
        if np.any(np.linalg.norm(w, axis=0) < 0.7071 * norm_before):
            second_passes += 1
            w -= deflate @ (deflate.T @ w)
            w -= stacked @ (stacked.T @ w)
        q, b_new = np.linalg.qr(w)
        tn = np.zeros((m, m))
        tn[: m - bj, : m - bj] = t
        tn[m - bj:, m - bj:] = 0.5 * (a + a.T)
        if b_prev is not None:
            tn[m - bj:, m - bj - b_prev.shape[1]: m - bj] = b_prev
            tn[m - bj - b_prev.shape[1]: m - bj, m - bj:] = b_prev.T
        t = tn
        if m >= k:
            theta, y = np.linalg.eigh(t)
            theta = theta[::-1][:k]
            y = np.ascontiguousarray(y[:, ::-1][:, :k])   # reversed views would bypass the BLAS
            res = np.linalg.norm(b_new @ y[m - bj:, :], axis=0) / np.abs(theta)
            if np.all(res <= tol):
                return theta, stacked @ y, {"iterations": m // b, "solves": solves, "residuals": res,
                                            "second_passes": second_passes}
            if m + b > max_basis:
                raise RuntimeError(f"block Lanczos: {int((res <= tol).sum())}/{k} modes converged in a basis of "
                                   f"{m} vectors (max residual {res.max():.2e}); raise max_basis or use method='scipy'")
        b_prev = b_new
        basis[:, m: m + bj] = q


def _check_k(k, n_free):
    if not 1 <= k <= n_free:
        raise ValueError(f"k must be in 1..{n_free} (dN - d non-zero modes), got {k}")


def _dense(h, dim, k):
    w, v = np.linalg.eigh(h.toarray())
    t = translation_basis(h.shape[0] // dim, dim)
    # the d modes with the largest overlap with the translations are the zero modes
    overlap = np.sum((t.T @ v[:, : 2 * dim + k]) ** 2, axis=0)
    zero = np.argsort(overlap)[::-1][:dim]
    keep = [i for i in range(v.shape[1]) if i not in set(zero.tolist())][:k]
    return w[keep], v[:, keep], {"zero_eigenvalues": w[np.sort(zero)]}


def slepc_lowest(mat, dim, k, tol=1e-8, shift=1e-3, solver="mumps", ncv=None):
    """k lowest non-zero eigenpairs of a (possibly distributed) PETSc Hessian `mat` by SLEPc
    Krylov-Schur, translations deflated. With a Cholesky `solver` ('mumps' runs on any number of
    ranks, 'cholmod' on one): shift-and-invert about -shift. With solver=None: no factor, Krylov-Schur
    on M itself for its smallest eigenvalues (method 'krylov'; ncv defaults to 2k + 30, as measured in
    the module docstring). Returns (eigenvalues (k,), this rank's rows of the eigenvectors
    (n_local, k), info)."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    comm = mat.getComm()
    eps = SLEPc.EPS().create(comm)
    eps.setOperators(mat)
    eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
    eps.setType(SLEPc.EPS.Type.KRYLOVSCHUR)
    if solver is None:
        eps.setDimensions(k, ncv if ncv else 2 * k + 30)
        eps.setTolerances(tol=tol, max_it=100000)
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL)
    else:
        eps.setDimensions(k, ncv if ncv else PETSc.DECIDE)
        eps.setTolerances(tol=tol, max_it=10000)
        eps.setTarget(-shift)
        eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
        st = eps.getST()
        st.setType(SLEPc.ST.Type.SINVERT)
        st.setShift(-shift)
        ksp = st.getKSP()
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("cholesky")
        pc.setFactorSolverType(solver)
    n = mat.getSize()[0]
    start, stop = mat.getOwnershipRange()
    t = translation_basis(n // dim, dim)
    defl = []
    for a in range(dim):
        vv = mat.createVecRight()
        vv.setArray(t[start:stop, a])
        defl.append(vv)
    eps.setDeflationSpace(defl)
    eps.solve()
    nconv = eps.getConverged()
    if nconv < k:
        raise RuntimeError(f"SLEPc converged {nconv} < k={k} eigenpairs")
    vals, vecs = [], []
    vr = mat.createVecRight()
    for i in range(k):
        vals.append(eps.getEigenpair(i, vr).real)
        vecs.append(vr.getArray().copy())
    order = np.argsort(vals)
    return np.array(vals)[order], np.array(vecs).T[:, order], {"iterations": eps.getIterationNumber(),
                                                                "solver": solver or "krylov-schur, no factor"}


def _slepc(h, dim, k, tol, shift, solver, ncv=None):
    from petsc4py import PETSc
    mat = petsc_aij(h)
    mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
    return slepc_lowest(mat, dim, k, tol, shift, solver, ncv)


def amg_preconditioner(h, dim, shift=1e-2):
    """A LinearOperator applying one PETSc GAMG V-cycle for M + shift I (translations as the
    near null space), column by column."""
    from petsc4py import PETSc
    import scipy.sparse as sp
    n = h.shape[0]
    mat = petsc_aij(h + shift * sp.identity(n, format="csr"))
    mat.setOption(PETSc.Mat.Option.SPD, True)
    mat.setBlockSize(dim)
    t = translation_basis(n // dim, dim)
    vecs = []
    for a in range(dim):
        v = mat.createVecRight()
        v.setArray(t[:, a])
        vecs.append(v)
    mat.setNearNullSpace(PETSc.NullSpace().create(vectors=vecs, comm=PETSc.COMM_SELF))
    pc = PETSc.PC().create(PETSc.COMM_SELF)
    pc.setOperators(mat)
    pc.setType("gamg")
    pc.setUp()
    x, y = mat.createVecRight(), mat.createVecLeft()

    def apply(b):
        b2 = b.reshape(n, -1)
        out = np.empty_like(b2)
        for c in range(b2.shape[1]):
            x.setArray(b2[:, c])
            pc.apply(x, y)
            out[:, c] = y.getArray()
        return out if b.ndim == 2 else out[:, 0]
    return spla.LinearOperator((n, n), matvec=apply, matmat=apply, dtype=float)


def lowest_modes(system, pot, k: int = 30, method: str = "auto", tol: float = 1e-8,
                 backend: str = "auto", block: int | None = None, hessian_matrix=None, shift: float = 1e-3,
                 seed: int = 0, pseudo_inverse=None) -> Modes:
    """The k lowest non-zero normal modes of an inherent structure (ascending), translations
    excluded. `backend` picks the Cholesky solver ('cholmod', 'mumps', 'superlu'); `shift` is the
    negative shift -shift of method 'slepc'. `pseudo_inverse`: a factorised `PseudoInverse` of this
    Hessian to reuse (methods 'block' and 'scipy'; see `landscape.InherentStructure`). See the module
    docstring for the methods."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    d, n_part = system.dim, system.N
    h = hessian(system, pot) if hessian_matrix is None else hessian_matrix
    n = h.shape[0]
    _check_k(k, n - d)
    choice = ""
    if method == "auto":
        method, choice = choose_method(n_part, d, have_factor=pseudo_inverse is not None)
    if method == "dense":
        vals, vecs, info = _dense(h, d, k)
    elif method == "slepc":
        if not have_petsc():
            raise ImportError("method='slepc' needs petsc4py/slepc4py")
        solver = backend if backend in ("cholmod", "mumps") else "cholmod"
        vals, vecs, info = _slepc(h, d, k, tol, shift, solver)
    elif method == "krylov":
        if not have_petsc():
            raise ImportError("method='krylov' needs petsc4py/slepc4py")
        from petsc4py import PETSc
        mat = petsc_aij(h)
        mat.setOption(PETSc.Mat.Option.SYMMETRIC, True)
        vals, vecs, info = slepc_lowest(mat, d, k, tol, solver=None)
    elif method == "lobpcg":
        prec = amg_preconditioner(h, d)
        t = translation_basis(n_part, d)
        x0 = np.random.default_rng(seed).standard_normal((n, k + max(4, k // 4)))
        vals, vecs = spla.lobpcg(h, x0, M=prec, Y=t, largest=False, tol=tol, maxiter=5000)
        vals, vecs = vals[:k], vecs[:, :k]
        info = {"solver": "lobpcg+gamg"}
    elif method == "scipy":
        import time
        t0 = time.perf_counter()
        pinv = pseudo_inverse or PseudoInverse(h, d, backend=backend)
        t_factor = time.perf_counter() - t0
        op = spla.LinearOperator((n, n), matvec=pinv.solve, dtype=float)
        v0 = pinv.project(np.random.default_rng(seed).standard_normal(n))
        theta, vecs = spla.eigsh(op, k=k, which="LA", tol=tol, v0=v0)
        vals = 1.0 / theta
        info = {"solves": pinv.n_solves, "backend": pinv.backend, "factor_s": t_factor}
    else:
        import time
        t0 = time.perf_counter()
        pinv = pseudo_inverse or PseudoInverse(h, d, backend=backend, block=max(block or 0, 64))
        t_factor = time.perf_counter() - t0
        theta, vecs, info = block_shift_invert(pinv.solve, n, k, pinv.translations, block=block,
                                               tol=tol, seed=seed)
        vals = 1.0 / theta
        info["backend"] = pinv.backend
        info["factor_s"] = t_factor
    order = np.argsort(vals)
    vals, vecs = np.asarray(vals)[order], np.asarray(vecs)[:, order]
    vecs = vecs / np.linalg.norm(vecs, axis=0)
    if choice:
        info["choice"] = choice
    return Modes(vals, vecs.T.reshape(k, n_part, d), method, info)


def choose_method(n_part: int, dim: int, have_factor: bool = False):
    """(method, why) for method='auto': 'dense' up to 600 rows; 'block' on the Cholesky factor when
    one is given or its estimated size fits (landscape.memory.factor_fits: 80 % of the memory
    available, or $PYGLASS_MEMORY_LIMIT_GIB); otherwise the factor-free 'krylov' (which needs SLEPc)."""
    if n_part * dim <= 600:
        return "dense", f"auto: dense ({n_part * dim} rows <= 600)"
    if have_factor:
        return "block", "auto: block (a factor is at hand)"
    est = factor_memory_estimate(n_part, dim) / GIB
    avail = available_memory() / GIB
    if factor_fits(n_part, dim):
        return "block", f"auto: block (factor estimated at {est:.3g} GiB; {avail:.3g} GiB available)"
    return "krylov", (f"auto: krylov (a factor, estimated at {est:.3g} GiB, does not fit in 80 % of the "
                      f"{avail:.3g} GiB available)")
