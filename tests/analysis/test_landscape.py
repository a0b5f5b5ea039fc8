"""Energy landscape (issue 6, docs/science.md §3): Hessian = finite differences of forces and
= LAMMPS dynamical_matrix; low modes from the block solver, SLEPc, scipy and dense eigh agree;
dipole stiffness = dense pseudo-inverse formula; G = d sigma_xy / d gamma with re-minimisation;
pseudoharmonic gradient and minimiser."""
import os

import numpy as np
import pytest
import scipy.linalg as sla

from pyglass import landscape
from pyglass import potentials as P
from pyglass.analysis.landscape import solvers as S
from pyglass.analysis.statistics import mean_interval
from pyglass.engine.system import Box, System
from helpers import small_system

HAVE_PETSC = S.have_petsc()
try:
    import slepc4py  # noqa: F401
    HAVE_SLEPC = HAVE_PETSC
except ImportError:
    HAVE_SLEPC = False
petsc = pytest.mark.skipif(not HAVE_PETSC, reason="petsc4py not installed")
slepc = pytest.mark.skipif(not HAVE_SLEPC, reason="slepc4py not installed")
from helpers import REF  # noqa: E402

MODELS = {
    "ka-shift": (lambda: P.KobAndersen(), "ka", (2, 3)),
    "ka-smooth": (lambda: P.KobAndersen(smoothing="smooth"), "ka", (2, 3)),
    "softdisks-smooth": (lambda: P.SoftDisks2D(cutoff=2.5, smoothing="smooth"), "softdisks", (2,)),
    "softspheres": (lambda: P.SoftSpheres3D(), "softspheres", (3,)),
    "ipl10": (lambda: P.IPL10(), "ipl", (2, 3)),
    "sticky": (lambda: P.StickySpheres(), "sticky", (2, 3)),
    "mblj-smooth": (lambda: P.MBLJ([[1.0, 1.5], [1.5, 0.5]], [[1.0, 0.8], [0.8, 0.88]], 2.5, smoothing="smooth"),
                    "ka", (3,)),
}
CASES = [(name, d) for name, (_, _, dims) in MODELS.items() for d in dims]


def hessian_columns_by_differences(system, pot, particles, h=1e-6):
    """-dF/dx_(i,a) by central differences, as columns (dN, len(particles) d)."""
    d = system.dim
    cols = []
    for i in particles:
        for a in range(d):
            x = system.positions
            x0 = x[i, a]
            x[i, a] = x0 + h
            system.touch()
            fp = pot.forces(system).ravel().copy()
            x[i, a] = x0 - h
            system.touch()
            fm = pot.forces(system).ravel().copy()
            x[i, a] = x0
            system.touch()
            cols.append(-(fp - fm) / (2 * h))
    return np.array(cols).T


def check_hessian(system, pot, particles):
    h = landscape.hessian(system, pot)
    assert h.shape == (system.dim * system.N,) * 2
    assert abs(h - h.T).max() <= 1e-12 * abs(h).max()
    num = hessian_columns_by_differences(system, pot, particles)
    idx = [i * system.dim + a for i in particles for a in range(system.dim)]
    dense = h[:, idx].toarray()
    np.testing.assert_allclose(dense, num, atol=2e-7 * abs(h).max())
    # translations are zero modes
    t = landscape.translation_basis(system.N, system.dim)
    assert np.abs(h @ t).max() <= 1e-10 * abs(h).max()
    return h


@pytest.mark.parametrize("name,dim", CASES)
def test_hessian_equals_force_differences(name, dim):
    make, kind, _ = MODELS[name]
    pot = make()
    s = small_system(kind, dim, n=40 if dim == 3 else 30, seed=5)
    check_hessian(s, pot, [0, 7, 19])


@pytest.mark.parametrize("dim", [2, 3])
def test_hessian_small_box_several_images(dim):
    """Box thinner than twice the cutoff: a pair interacts through several images, and a particle
    with its own image; the blocks must be keyed to the owners and summed."""
    pot = P.KobAndersen(smoothing="smooth")
    rng = np.random.default_rng(2)
    n = 6 if dim == 3 else 5
    side = 2.0
    x = rng.random((n, dim)) * side
    s = System(x, Box([side] * dim), types=np.array([0, 1] * (n // 2) + [0] * (n % 2)))
    check_hessian(s, pot, list(range(n)))


def test_hessian_stillinger_weber():
    pot = P.StillingerWeber()
    s = small_system("sw", 3, n=64, seed=2)
    check_hessian(s, pot, [0, 9, 33])


def test_hessian_matches_lammps_dynamical_matrix():
    """tests/reference/hessian_ka.npz from scripts/make_hessian_reference.py (LAMMPS
    dynamical_matrix, differences of forces with displacement 1e-5, unit masses, so its
    truncation error bounds the agreement: tolerance 1e-6 of max |M|)."""
    ref = np.load(os.path.join(REF, "hessian_ka.npz"))
    s = System(ref["positions"], Box(ref["box"]), types=ref["types"])
    pot = P.KobAndersen(cutoff=float(ref["cutoff"]), smoothing="shift")
    h = landscape.hessian(s, pot).toarray()
    lmp = np.array(ref["dynmat"])
    # LAMMPS differences forces with a finite step: agreement to its truncation error
    np.testing.assert_allclose(h, lmp, atol=float(ref["tolerance"]) * np.abs(h).max())
    assert np.abs(h - lmp).max() < 1e-7 * np.abs(h).max()


# ---------------------------------------------------------------- inherent structures for the rest
_IS = {}


def inherent_structure(kind, dim, n, seed=1):
    key = (kind, dim, n, seed)
    if key not in _IS:
        pot = {"ka": lambda: P.KobAndersen(smoothing="smooth"), "ipl": lambda: P.IPL10(),
               "sw": lambda: P.StillingerWeber()}[kind]()
        s = small_system(kind, dim, n=n, seed=seed)
        landscape.quench(s, pot, ftol=1e-7)
        landscape.newton_refine(s, pot, ftol=1e-12, backend="superlu")
        _IS[key] = (s, pot)
    s, pot = _IS[key]
    return s.copy(), pot


def test_exactly_d_zero_modes_excluded():
    for dim, n in ((2, 100), (3, 120)):
        s, pot = inherent_structure("ipl" if dim == 2 else "ka", dim, n)
        h = landscape.hessian(s, pot).toarray()
        w = np.linalg.eigvalsh(h)
        scale = w[-1]
        assert np.sum(np.abs(w) < 1e-9 * scale) == dim        # exactly d zero modes, the rest > 0
        assert w[dim] > 1e-6 * scale
        modes = landscape.lowest_modes(s, pot, k=10, method="dense")
        np.testing.assert_allclose(modes.eigenvalues, w[dim: dim + 10], rtol=1e-10)
        t = landscape.translation_basis(s.N, dim)
        assert np.abs(t.T @ modes.vectors.reshape(10, -1).T).max() < 1e-8


def _compare_modes(a, b, rtol=1e-8):
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=rtol)
    va, vb = a.vectors.reshape(len(a), -1).T, b.vectors.reshape(len(b), -1).T
    # the subspace of the lowest k modes (principal angles), and each mode up to sign
    assert np.max(sla.subspace_angles(va, vb)) < 1e-5
    np.testing.assert_allclose(np.abs(np.einsum("ik,ik->k", va, vb)), 1.0, atol=1e-6)


@pytest.mark.parametrize("dim", [2, 3])
def test_low_modes_methods_agree(dim):
    s, pot = inherent_structure("ipl" if dim == 2 else "ka", dim, 100 if dim == 2 else 120)
    k = 12
    ref = landscape.lowest_modes(s, pot, k=k, method="dense")
    got = {"scipy": landscape.lowest_modes(s, pot, k=k, method="scipy", backend="superlu", tol=1e-12),
           "block-superlu": landscape.lowest_modes(s, pot, k=k, method="block", backend="superlu", tol=1e-12)}
    if HAVE_PETSC:
        got["block-cholmod"] = landscape.lowest_modes(s, pot, k=k, method="block", tol=1e-12, block=4)
        got["arpack-cholmod"] = landscape.lowest_modes(s, pot, k=k, method="scipy", backend="cholmod", tol=1e-12)
        if dim == 3:
            got["lobpcg-gamg"] = landscape.lowest_modes(s, pot, k=k, method="lobpcg", tol=1e-7)
    if HAVE_SLEPC:
        got["slepc"] = landscape.lowest_modes(s, pot, k=k, method="slepc", tol=1e-12)
        got["krylov"] = landscape.lowest_modes(s, pot, k=k, method="krylov", tol=1e-12)
    for name, m in got.items():
        assert m.vectors.shape == (k, s.N, dim), name
        np.testing.assert_allclose(np.linalg.norm(m.vectors.reshape(k, -1), axis=1), 1.0, rtol=1e-12)
        assert np.all(np.diff(m.eigenvalues) >= 0)
        _compare_modes(m, ref)


def test_participation_ratio_plane_wave_and_localised():
    s = landscape.hessian  # noqa: F841 - the function under test is landscape.participation_ratio
    n_side, d = 12, 2
    grid = np.stack(np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij"), -1).reshape(-1, d)
    q = 2 * np.pi * np.array([1, 2]) / n_side
    e = np.zeros((len(grid), d))
    e[:, 0] = np.cos(grid @ q)
    e /= np.linalg.norm(e)
    assert landscape.participation_ratio(e) == pytest.approx(2.0 / 3.0, rel=1e-12)
    loc = np.zeros_like(e)
    loc[5, 1] = 1.0
    assert landscape.participation_ratio(loc) == pytest.approx(1.0 / len(grid))
    uni = np.ones_like(e) / np.sqrt(e.size)
    modes = landscape.Modes(np.array([1.0, 2.0, 4.0]), np.array([e, loc, uni]))
    np.testing.assert_allclose(modes.participation_ratio, [2 / 3, 1 / len(grid), 1.0])
    np.testing.assert_allclose(modes.frequencies, [1.0, np.sqrt(2), 2.0])
    np.testing.assert_array_equal(modes.quasi_localised(), [False, True, False])
    p = modes.participation_fractions(n_modes=2)
    np.testing.assert_allclose(p, np.sum(e ** 2, axis=1) + np.sum(loc ** 2, axis=1))
    with pytest.raises(ValueError, match="n_modes"):
        modes.participation_fractions(n_modes=4)
    # paper 3 counts the d = 2 zero modes in N_m (sum from j = 3): N_m = 4 sums the 2 lowest non-zero
    np.testing.assert_allclose(modes.participation_fractions(n_modes=4, count_zero_modes=True), p)
    np.testing.assert_allclose(modes.participation_fractions(n_modes=3, count_zero_modes=True),
                               np.sum(e ** 2, axis=1))
    with pytest.raises(ValueError, match="n_modes"):
        modes.participation_fractions(n_modes=2, count_zero_modes=True)
    with pytest.raises(ValueError, match="n_modes"):
        modes.participation_fractions(n_modes=6, count_zero_modes=True)


def test_lowest_modes_errors():
    s, pot = inherent_structure("ipl", 2, 100)
    with pytest.raises(ValueError, match="method"):
        landscape.lowest_modes(s, pot, k=3, method="lanczos")
    with pytest.raises(ValueError, match="k must be"):
        landscape.lowest_modes(s, pot, k=0)
    with pytest.raises(ValueError, match="k must be"):
        landscape.lowest_modes(s, pot, k=2 * s.N - 1)


# ---------------------------------------------------------------- dipoles
@pytest.mark.parametrize("dim", [2, 3])
def test_dipole_stiffness_equals_dense_pseudo_inverse(dim):
    s, pot = inherent_structure("ipl" if dim == 2 else "ka", dim, 100 if dim == 2 else 120)
    pairs = landscape.random_pairs(s, pot, 25, seed=3)
    h = landscape.hessian(s, pot)
    pinv = S.dense_pseudo_inverse(h, dim)
    dv = landscape.dipole_vectors(s, pairs)
    np.testing.assert_allclose(np.linalg.norm(dv, axis=0), 1.0)
    expect = np.einsum("ij,ij->j", dv, pinv @ dv) / np.einsum("ij,ij->j", pinv @ dv, pinv @ dv)
    kappa = landscape.dipole_stiffness(s, pot, pairs, backend="superlu", block=7)
    np.testing.assert_allclose(kappa, expect, rtol=1e-9)
    np.testing.assert_allclose(landscape.dipole_stiffness(s, pot, pairs, method="dense"), expect, rtol=1e-9)
    if HAVE_PETSC:
        for backend in ("cholmod", "mumps"):
            np.testing.assert_allclose(landscape.dipole_stiffness(s, pot, pairs, backend=backend), expect,
                                       rtol=1e-9)
        np.testing.assert_allclose(landscape.dipole_stiffness(s, pot, pairs, method="ksp", rtol=1e-12),
                                   expect, rtol=1e-7)


def test_local_dipole_stiffness_and_ci():
    s, pot = inherent_structure("ipl", 2, 100)
    pairs = landscape.interacting_pairs(s, pot)
    assert np.all(pairs[:, 0] < pairs[:, 1]) and len(np.unique(pairs, axis=0)) == len(pairs)
    kappa = landscape.dipole_stiffness(s, pot, pairs, backend="superlu")
    ki = landscape.local_dipole_stiffness(s, pot, backend="superlu")
    i = 17
    mine = (pairs[:, 0] == i) | (pairs[:, 1] == i)
    assert ki[i] == pytest.approx(kappa[mine].mean(), rel=1e-12)
    m, lo, hi = mean_interval(kappa, method="BCa", seed=1)   # paper 2's interval (BCa)
    assert lo < m < hi and m == pytest.approx(kappa.mean())
    # paper 2's 90 % bootstrap interval is the default: narrower than the 95 % one, equal to an
    # explicit confidence=0.90
    m95, lo95, hi95 = mean_interval(kappa, 0.95, method="BCa", seed=1)
    assert lo95 < lo and hi < hi95
    assert (lo, hi) == mean_interval(kappa, 0.90, method="BCa", seed=1)[1:]
    with pytest.raises(ValueError, match="pairs"):
        landscape.dipole_stiffness(s, pot, np.array([[0, 0]]))
    with pytest.raises(ValueError, match="pairs"):
        landscape.dipole_stiffness(s, pot, np.array([[0, s.N]]))


# ---------------------------------------------------------------- shear modulus
@pytest.mark.parametrize("kind,dim,n", [("ipl", 2, 100), ("ka", 3, 120), ("sw", 3, 64)])
def test_shear_modulus_equals_stress_derivative(kind, dim, n):
    """Pair potentials and Stillinger-Weber (three-body Born term and Xi from hessian.py's
    dispatch to the potential's own affine_shear_derivatives)."""
    s, pot = inherent_structure(kind, dim, n)
    g, born, relax = landscape.shear_modulus(s, pot, backend="superlu", return_parts=True)
    assert g > 0 and born > g and relax > 0
    # finite-difference derivative of sigma_xy with Newton re-minimisation at each strain
    dg = 1e-5
    sig = []
    for sgn in (1, -1):
        c = s.copy()
        landscape.affine_shear(c, sgn * dg)
        landscape.newton_refine(c, pot, ftol=1e-12, backend="superlu")
        sig.append(landscape.shear_stress(c, pot))
    g_num = (sig[0] - sig[1]) / (2 * dg)
    assert g == pytest.approx(g_num, rel=1e-6)
    # Born term alone = affine derivative (no re-minimisation)
    sa = []
    for sgn in (1, -1):
        c = s.copy()
        landscape.affine_shear(c, sgn * dg)
        sa.append(landscape.shear_stress(c, pot))
    assert born == pytest.approx((sa[0] - sa[1]) / (2 * dg), rel=1e-6)


def test_affine_shear_derivatives_by_differences():
    pot = P.KobAndersen(smoothing="smooth")
    s = small_system("ka", 3, n=40, seed=8)
    born, xi = landscape.affine_shear_derivatives(s, pot)
    dg = 1e-6
    f = []
    for sgn in (1, -1):
        c = s.copy()
        landscape.affine_shear(c, sgn * dg)
        fc = pot.forces(c).copy()
        # forces conjugate to the reference coordinates of U(x_ref, gamma): F_y += gamma F_x
        fc[:, 1] += sgn * dg * fc[:, 0]
        f.append(fc)
    xi_num = -(f[0] - f[1]) / (2 * dg)
    np.testing.assert_allclose(xi, xi_num, atol=1e-6 * np.abs(xi).max())


def test_sheared_inherent_structures_follow_linear_response():
    s, pot = inherent_structure("ipl", 2, 100)
    u_lin = landscape.nonaffine_response(s, pot, backend="superlu")
    res = landscape.shear_inherent_structures(s, pot, [1e-6, 1e-3], ftol=1e-9, refine=True)
    e0 = pot.energy(s) / s.N
    assert np.all(res.energy_per_particle > e0)
    np.testing.assert_allclose(res.nonaffine[0] / 1e-6, u_lin, atol=1e-4 * np.abs(u_lin).max())
    g = landscape.shear_modulus(s, pot, backend="superlu")
    sig0 = landscape.shear_stress(s, pot)
    assert res.stress_xy[0] - sig0 == pytest.approx(1e-6 * g, rel=1e-3)
    assert res.nonaffine_magnitude().shape == (2, s.N)


# ---------------------------------------------------------------- pseudoharmonic modes
def test_pseudoharmonic_gradient_by_differences():
    s, pot = inherent_structure("ipl", 2, 100)
    h = landscape.hessian(s, pot)
    cost = landscape.PseudoharmonicCost(h, landscape.interacting_pairs(s, pot), 2)
    z = np.random.default_rng(4).standard_normal(h.shape[0])
    g = cost.gradient(z)
    eps = 1e-6 * np.linalg.norm(z)
    idx = [0, 3, 50, 121, 199]
    num = [(cost(z + eps * np.eye(len(z))[k]) - cost(z - eps * np.eye(len(z))[k])) / (2 * eps) for k in idx]
    np.testing.assert_allclose(g[idx], num, rtol=1e-6, atol=1e-8 * np.abs(g).max())
    # scale and translation invariance
    assert cost(3.0 * z) == pytest.approx(cost(z), rel=1e-12)
    t = landscape.translation_basis(s.N, 2)
    assert cost(z + t @ np.array([0.3, -0.2])) == pytest.approx(cost(z), rel=1e-12)


def test_pseudoharmonic_minimiser_lands_on_localised_soft_mode():
    s, pot = inherent_structure("ipl", 2, 100)
    ph = landscape.pseudoharmonic_modes(s, pot, n_starts=4, n_keep=2, backend="superlu")
    assert len(ph.stiffness) >= 1
    assert np.all(ph.stiffness <= ph.start_stiffness * (1 + 1e-9))
    assert np.all(ph.participation_ratio < 0.34)
    h = landscape.hessian(s, pot)
    v = ph.vectors.reshape(len(ph.stiffness), -1)
    np.testing.assert_allclose(np.einsum("ki,ki->k", v, (h @ v.T).T), ph.stiffness, rtol=1e-10)


def test_pseudoharmonic_default_starts_from_every_interacting_pair():
    """Paper 2 App. B starts a minimisation from the dipole response of every interacting pair
    (the default); the n_starts shortcut starts from the softest few only. Small N keeps it cheap."""
    s, pot = inherent_structure("ipl", 2, 40, seed=2)
    pairs = landscape.interacting_pairs(s, pot)
    full = landscape.pseudoharmonic_modes(s, pot, n_keep=3, backend="superlu")
    assert full.n_starts == len(pairs)
    short = landscape.pseudoharmonic_modes(s, pot, n_starts=4, n_keep=3, backend="superlu")
    assert short.n_starts == 4
    # the starts are a superset: the softest mode found from every pair is at least as soft
    assert full.stiffness[0] <= short.stiffness[0] * (1 + 1e-8)
    assert np.all(np.diff(full.stiffness) >= 0)
    v = full.vectors.reshape(len(full.stiffness), -1)
    gram = np.abs(v @ v.T) - np.eye(len(v))
    assert gram.max() <= 0.9                       # distinct modes
    # start pairs are interacting pairs and the kept modes are no stiffer than their starts
    assert all(any((p == q).all() for q in pairs) for p in full.start_pairs)
    assert np.all(full.stiffness <= full.start_stiffness * (1 + 1e-9))
    with pytest.raises(ValueError, match="n_starts"):
        landscape.pseudoharmonic_modes(s, pot, n_starts=0)


def test_pseudoharmonic_random_starts_are_seeded_interacting_pairs():
    """starts="random" draws n_starts distinct interacting pairs, blind to their kappa_ij (paper 2's Fig. 2
    compares the modes' cores with kappa, which the softest-first shortcut would decide in advance)."""
    s, pot = inherent_structure("ipl", 2, 40, seed=2)
    pairs = {tuple(p) for p in landscape.interacting_pairs(s, pot)}
    one = landscape.pseudoharmonic_modes(s, pot, n_starts=6, n_keep=6, starts="random", seed=4, backend="superlu")
    again = landscape.pseudoharmonic_modes(s, pot, n_starts=6, n_keep=6, starts="random", seed=4, backend="superlu")
    other = landscape.pseudoharmonic_modes(s, pot, n_starts=6, n_keep=6, starts="random", seed=5, backend="superlu")
    assert one.n_starts == 6
    assert {tuple(p) for p in one.start_pairs} <= pairs
    np.testing.assert_array_equal(one.stiffness, again.stiffness)
    softest = landscape.pseudoharmonic_modes(s, pot, n_starts=6, n_keep=6, backend="superlu")
    assert {tuple(p) for p in one.start_pairs} != {tuple(p) for p in softest.start_pairs} or \
        {tuple(p) for p in other.start_pairs} != {tuple(p) for p in softest.start_pairs}
    with pytest.raises(ValueError, match="starts"):
        landscape.pseudoharmonic_modes(s, pot, n_starts=3, starts="stiffest")


# ---------------------------------------------------------------- paper 3: affine step, then quench
def _triangular_crystal(nx=8, ny=8, a=1.1, noise=0.03, seed=0):
    """Monodisperse triangular lattice (one species of the soft-disk model) in a commensurate box,
    with small random displacements (an 'equilibrium' configuration whose IS is the lattice)."""
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    x = np.c_[(i + 0.5 * (j % 2)).ravel() * a, j.ravel() * a * np.sqrt(3) / 2]
    x += np.random.default_rng(seed).normal(scale=noise, size=x.shape)
    box = Box([nx * a, ny * a * np.sqrt(3) / 2])
    return System(x % box.lengths, box, types=np.zeros(len(x), np.int32), type_names=["A"])


def test_affine_quench_response_is_zero_at_zero_strain_and_for_a_crystal():
    pot = P.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    s = _triangular_crystal()
    gammas = [0.0, 1e-3, 0.01, -0.01, 0.02]
    res = landscape.affine_quench_response(s, pot, gammas, keep_configurations=True)
    assert res.displacements.shape == (5, s.N, 2) and res.converged.all()
    # gamma = 0: X^dq is X^q, so d = 0 and the stress is that of X^q
    np.testing.assert_array_equal(res.displacements[0], 0.0)
    assert res.stress[0] == res.stress_q
    # a Bravais lattice deforms affinely: d ~ 0 at every strain, and sigma_xy^dq is the stress of
    # the affinely sheared quenched lattice (landscape.shear_stress sign: sigma > 0 for gamma > 0)
    assert np.abs(res.displacements).max() < 1e-6
    for k, g in enumerate(gammas):
        c = res.quenched.copy()
        landscape.affine_shear(c, g)
        assert res.stress[k] == pytest.approx(landscape.shear_stress(c, pot), rel=1e-6, abs=1e-9)
    assert abs(res.stress_q) < 1e-8
    assert res.stress[1] > 0 and res.stress[3] < 0 and res.stress[3] == pytest.approx(-res.stress[2], rel=1e-2)
    assert res.stress_peak_strain == 0.02 and landscape.stress_peak(gammas, res.stress) == 0.02
    # the deformed box is the Lees-Edwards image: tilt = gamma L_y
    assert res.configurations[4].box.tilt_xy == pytest.approx(0.02 * s.box.lengths[1])
    # X itself is untouched
    assert s.box.tilt_xy == 0.0


def test_affine_quench_response_small_strain_is_linear_response():
    """A glass configuration near its IS: at gamma = 1e-6 X^dq lies in the basin of X^q and
    d / gamma = -M+ Xi (elasticity.nonaffine_response at X^q); sigma^dq - sigma^q = G gamma."""
    is_, pot = inherent_structure("ipl", 2, 100)
    x = is_.copy()
    x.positions = x.positions + np.random.default_rng(5).normal(scale=0.01, size=x.positions.shape)
    g = 1e-6
    res = landscape.affine_quench_response(x, pot, [g], refine=True)
    q = res.quenched
    assert np.abs(landscape.nonaffine_response(q, pot, backend="superlu")).max() > 0
    u_lin = landscape.nonaffine_response(q, pot, backend="superlu")
    d = res.displacements[0] - res.displacements[0].mean(axis=0)
    np.testing.assert_allclose(d / g, u_lin, atol=1e-4 * np.abs(u_lin).max())
    G = landscape.shear_modulus(q, pot, backend="superlu")
    assert res.stress[0] - res.stress_q == pytest.approx(g * G, rel=1e-3)
    assert np.abs(res.magnitudes()).max() > 0


def test_paper3_overlap_of_nonaffine_field_with_soft_modes_vs_n_modes():
    """Paper 3's O_|d|,p(N_m): |d| from affine_quench_response, p from the lowest modes of X^dq with
    the zero modes counted in N_m, top 25 % and clusters of more than two (observables.overlaps)."""
    from pyglass import observables as ob
    is_, pot = inherent_structure("ipl", 2, 100)
    x = is_.copy()
    x.positions = x.positions + np.random.default_rng(6).normal(scale=0.01, size=x.positions.shape)
    res = landscape.affine_quench_response(x, pot, [1e-4], keep_configurations=True)
    xdq = res.configurations[0]
    modes = landscape.lowest_modes(xdq, pot, k=12, method="dense")
    n_m = [3, 6, 14]
    ps = [modes.participation_fractions(nm, count_zero_modes=True) for nm in n_m]
    pairs = ob.neighbour_pairs(xdq.positions, xdq.box, xdq.types, 1.5)
    o = ob.overlaps(res.magnitudes()[0], ps, xdq.positions, xdq.box, 0.25, 3, neighbours=pairs)
    assert o.shape == (3,) and np.all((o >= 0) & (o <= 1))
    assert o[0] == ob.overlap(res.magnitudes()[0], ps[0], xdq.positions, xdq.box, 0.25, 3, neighbours=pairs)


def test_hessian_of_a_sheared_cell_equals_force_differences():
    """The modes of paper 3's X^dq are those of a tilted (Lees-Edwards) cell: its Hessian is still
    -dF/dx, translations are still its zero modes."""
    is_, pot = inherent_structure("ipl", 2, 100)
    landscape.affine_shear(is_, 0.15)
    assert is_.box.tilt_xy != 0.0
    check_hessian(is_, pot, [0, 13, 57])


def test_affine_quench_response_modes_of_every_quench_equal_dense_eigh():
    """modes > 0: the participation maps over N_m (zero modes counted) of X^q and of every X^dq, here by
    the block solver (800 rows), equal dense eigh on the configurations kept; gamma = 0 repeats X^q."""
    is_, pot = inherent_structure("ipl", 2, 400)
    x = is_.copy()
    x.positions = x.positions + np.random.default_rng(8).normal(scale=0.02, size=x.positions.shape)
    sums = [3, 4, 10, 22]
    res = landscape.affine_quench_response(x, pot, [0.0, 1e-4, 0.08], keep_configurations=True, modes=20,
                                           mode_sums=sums, mode_method="block", mode_tol=1e-10)
    assert res.participation_dq.shape == (3, 4, 400) and res.eigenvalues_dq.shape == (3, 20)
    for conf, p, ev in [(res.quenched, res.participation_q, res.eigenvalues_q)] + \
            list(zip(res.configurations, res.participation_dq, res.eigenvalues_dq)):
        dense = landscape.lowest_modes(conf, pot, 20, method="dense")
        np.testing.assert_allclose(ev, dense.eigenvalues, rtol=1e-8)
        ref = [dense.participation_fractions(nm, count_zero_modes=True) for nm in sums]
        np.testing.assert_allclose(p, ref, atol=1e-8)
    np.testing.assert_allclose(res.participation_dq[0], res.participation_q, atol=1e-8)
    # N_m = 3 is the softest mode alone; p(22) sums 20 unit modes
    np.testing.assert_allclose(res.participation_q[-1].sum(), 20.0, rtol=1e-12)
    with pytest.raises(ValueError, match="N_m = 23 is outside 3..22"):
        landscape.affine_quench_response(x, pot, [0.01], modes=20, mode_sums=[4, 23])


def _naive_onset(g, y, direction, n):
    """strain_onset by brute force: for each candidate knee, a bounded least-squares fit (scipy) of
    (level, slope >= 0) to the broken line."""
    from scipy.optimize import lsq_linear
    sign = -1.0 if direction == "drop" else 1.0
    best = None
    for c in np.geomspace(g[1], g[-1], n):
        a = np.c_[np.ones_like(g), sign * np.maximum(0.0, np.log(g / c))]
        fit = lsq_linear(a, y, bounds=([-np.inf, 0.0], [np.inf, np.inf]), method="bvls", tol=1e-14)
        sse = float(np.sum((a @ fit.x - y) ** 2))
        if best is None or sse < best[0] - 1e-15:
            best = (sse, c, *fit.x)
    return best


PAPER3_GRID = np.array([1e-4, 1e-3, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.12, 0.14,
                        0.16, 0.18, 0.2])


@pytest.mark.parametrize("direction", ["drop", "rise"])
def test_strain_onset_equals_brute_force_and_finds_a_planted_knee(direction):
    g = PAPER3_GRID
    sign = -1.0 if direction == "drop" else 1.0
    clean = 0.45 + sign * 0.12 * np.maximum(0.0, np.log(g / 0.071))
    fit = landscape.strain_onset(g, clean, direction)
    step = (g[-1] / g[1]) ** (1 / 199)                 # the candidate grid's spacing in ln gamma
    assert not fit.censored and 1 / step <= fit.strain / 0.071 <= step
    assert fit.level == pytest.approx(0.45, abs=2e-3) and fit.slope == pytest.approx(0.12, rel=0.05)
    rng = np.random.default_rng(3)
    for _ in range(5):
        noisy = clean + rng.normal(scale=0.03, size=g.shape)
        fit = landscape.strain_onset(g, noisy, direction)
        sse, c, level, slope = _naive_onset(g, noisy, direction, 200)
        assert fit.strain == pytest.approx(c, rel=1e-12) and fit.residual == pytest.approx(sse, rel=1e-9)
        assert fit.level == pytest.approx(level, abs=1e-9) and fit.slope == pytest.approx(slope, abs=1e-9)


def test_strain_onset_of_a_curve_that_never_bends_is_censored_at_the_last_strain():
    g = PAPER3_GRID
    rising = 0.3 + 0.05 * np.log(g / g[0])     # an overlap that only rises: no drop anywhere
    fit = landscape.strain_onset(g, rising, "drop")
    assert fit.censored and fit.strain == g[-1] and fit.slope == 0.0 and fit.level == pytest.approx(rising.mean())
    assert not landscape.strain_onset(g, rising, "rise").censored
    for bad, message in (([0.1, 0.2], "at least 3"), ([0.2, 0.1, 0.3], "increasing"), ([0.0, 0.1, 0.2], "positive")):
        with pytest.raises(ValueError, match=message):
            landscape.strain_onset(bad, np.zeros(len(bad)))
    with pytest.raises(ValueError, match="direction"):
        landscape.strain_onset(g, rising, "up")
    with pytest.raises(ValueError, match=r"not finite at gamma = \[0.005\]"):
        landscape.strain_onset(g, np.where(g == 0.005, np.nan, rising))


def test_stress_peak_parabola_recovers_the_vertex_between_grid_points():
    g = np.array([0.03, 0.04, 0.05, 0.06, 0.08, 0.1])
    stress = 1.0 - 30.0 * (g - 0.057) ** 2                  # a parabola: its vertex exactly
    assert landscape.stress_peak(g, stress) == 0.06
    assert landscape.stress_peak(g, stress, parabola=True) == pytest.approx(0.057, abs=1e-12)
    assert landscape.stress_peak(g, g, parabola=True) == 0.1          # maximum at the end: the grid point
    tied = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0])       # the first maximum and its neighbours
    assert landscape.stress_peak(g, tied, parabola=True) == pytest.approx(0.045, abs=1e-12)


@pytest.mark.skipif(not HAVE_SLEPC, reason="method 'krylov' needs slepc4py")
def test_auto_method_falls_back_to_the_factor_free_solver_when_the_factor_does_not_fit(monkeypatch):
    from pyglass.analysis.landscape.inherent import InherentStructure
    s, pot = inherent_structure("ka", 3, 300)    # 900 rows: past the dense limit
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "64")
    fits = landscape.lowest_modes(s, pot, k=6)
    assert fits.method == "block" and fits.info["choice"].startswith("auto: block (factor estimated at")
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "1e-6")
    tight = landscape.lowest_modes(s, pot, k=6)
    assert tight.method == "krylov" and "does not fit" in tight.info["choice"]
    np.testing.assert_allclose(tight.eigenvalues, fits.eigenvalues, rtol=1e-9)
    ist = InherentStructure(s, pot)     # the shared structure chooses the same way and says why
    m = ist.modes(6)
    assert m.method == "krylov" and ist._pinv is None and "does not fit" in m.info["choice"]


# ---------------------------------------------------------------- block CG (no factor, issue 16)
@pytest.mark.parametrize("kind,dim,n", [("ka", 3, 400), ("ipl", 2, 300), ("sw", 3, 216)])
def test_block_cg_kappa_and_G_equal_the_factor_to_the_asked_accuracy(kind, dim, n):
    """The stopping rule is on kappa_ij and G, not on a residual: a looser tol takes fewer iterations and
    still meets its own accuracy; the default meets the factor to 1e-6 (kappa) and 1e-8 (G)."""
    s, pot = inherent_structure(kind, dim, n)
    h = landscape.hessian(s, pot)
    pairs = landscape.random_pairs(s, pot, 40, seed=3)
    ref = landscape.dipole_stiffness(s, pot, pairs, backend="superlu")
    iterations = {}
    for tol in (1e-4, 1e-6):
        solver = S.BlockPCG(h, dim, tol=tol, block=16)
        kappa = landscape.dipole_stiffness(s, pot, pairs, solver=solver, tol=tol, block=16)
        assert np.max(np.abs(kappa / ref - 1)) <= tol
        iterations[tol] = np.median(solver.iterations)
    assert iterations[1e-4] < iterations[1e-6]
    kappa = landscape.dipole_stiffness(s, pot, pairs, method="cg", hessian_matrix=h)    # defaults
    np.testing.assert_allclose(kappa, ref, rtol=1e-6)
    g = landscape.shear_modulus(s, pot, backend="superlu")
    np.testing.assert_allclose(landscape.shear_modulus(s, pot, method="cg"), g, rtol=1e-8)
    np.testing.assert_allclose(landscape.nonaffine_response(s, pot, method="cg", tol=1e-10),
                               landscape.nonaffine_response(s, pot, backend="superlu"), rtol=1e-4, atol=1e-6)
    # Jacobi preconditioning and deflation by the lowest modes reach the same numbers
    m = landscape.lowest_modes(s, pot, k=8, method="dense" if n * dim <= 600 else "block")
    deflated = S.BlockPCG(h, dim, deflation=(m.eigenvalues, m.vectors.reshape(8, -1).T), block=16)
    np.testing.assert_allclose(landscape.dipole_stiffness(s, pot, pairs, solver=deflated), ref, rtol=1e-6)
    assert np.median(deflated.iterations) <= iterations[1e-6]
    jacobi = S.BlockPCG(h, dim, pc="jacobi", block=16)
    np.testing.assert_allclose(landscape.dipole_stiffness(s, pot, pairs, solver=jacobi), ref, rtol=1e-6)


def test_block_cg_errors_name_the_problem():
    s, pot = inherent_structure("ipl", 2, 100)
    h = landscape.hessian(s, pot)
    for kw, match in (({"tol": 0.0}, "tol"), ({"pc": "gamg"}, "pc"), ({"block": 0}, "block"),
                      ({"deflation": (np.ones(2), np.ones((3, 2)))}, "deflation")):
        with pytest.raises(ValueError, match=match):
            S.BlockPCG(h, 2, **kw)
    with pytest.raises(RuntimeError, match="not converged .* max_it = 3"):
        S.BlockPCG(h, 2, max_it=3).solve(landscape.dipole_vectors(s, np.array([[0, 1]])))
    with pytest.raises(ValueError, match="comm: only method 'cg'"):
        landscape.dipole_stiffness(s, pot, np.array([[0, 1]]), comm=object())


def test_inherent_structure_auto_takes_block_cg_when_the_factor_does_not_fit(monkeypatch):
    from pyglass.analysis.landscape.inherent import InherentStructure
    s, pot = inherent_structure("ka", 3, 300)
    pairs = landscape.random_pairs(s, pot, 10, seed=2)
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "1e-6")
    ist = InherentStructure(s, pot)
    solver, why = ist.linear_solver()
    assert isinstance(solver, S.BlockPCG) and "does not fit" in why and ist._pinv is None
    np.testing.assert_allclose(ist.dipole_stiffness(pairs), landscape.dipole_stiffness(s, pot, pairs), rtol=1e-6)
    np.testing.assert_allclose(ist.shear_modulus(), landscape.shear_modulus(s, pot), rtol=1e-8)
    assert ist._pinv is None
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "64")
    assert InherentStructure(s, pot).linear_solver()[1].startswith("auto: factor (estimated at")


def test_spatial_order_puts_contiguous_index_blocks_in_slabs():
    s, pot = inherent_structure("ka", 3, 300)
    rng = np.random.default_rng(0)
    s = System(s.positions[rng.permutation(s.N)], s.box, s.types)     # an incoherent numbering
    order = landscape.spatial_order(s)
    assert np.array_equal(np.sort(order), np.arange(s.N))
    x = np.mod(s.positions[order, 0], s.box.lengths[0])
    half = s.N // 2
    cell = s.box.lengths[0] / int(s.box.plane_spacings[0])
    assert x[:half].max() <= x[half:].min() + cell       # the two halves overlap by at most one cell
    dofs = landscape.dof_order(order, 3)
    np.testing.assert_array_equal(dofs[:6], [3 * order[0], 3 * order[0] + 1, 3 * order[0] + 2,
                                             3 * order[1], 3 * order[1] + 1, 3 * order[1] + 2])
    with pytest.raises(ValueError, match="permutation"):
        landscape.petsc_hessian(s, pot, order=np.zeros(s.N, int))


def test_block_sparse_kernels_against_scipy_and_dense_algebra():
    """extensions/sparse_block: A x in d x d blocks equals scipy's; IC(0) reproduces A on its own
    pattern ((L L^T)_ij = A_ij there) and is the exact Cholesky factor where the pattern has no fill
    (a tridiagonal matrix), so its block solve equals a dense solve; the factor of a random pattern
    applied in blocks equals (L L^T)^-1; for d = 2 and 3 and several block widths."""
    import scipy.sparse as sp
    from pyglass._ext import sparse_block as K
    rng = np.random.default_rng(2)
    n = 60
    r = sp.random(n, n, density=0.08, random_state=3, format="csr")
    a = (r + r.T + sp.identity(n) * 10.0).tocsr()
    a.sort_indices()
    low = sp.tril(a, format="csr")
    low.sort_indices()
    ip, ix = low.indptr.astype(np.int32), low.indices.astype(np.int32)
    vals, failed = K.ic0(ip, ix, low.data.copy(), 0.0)
    assert failed == -1
    L = sp.csr_matrix((vals, ix, ip), shape=(n, n)).toarray()
    on_pattern = low.toarray() != 0
    np.testing.assert_allclose((L @ L.T)[on_pattern], a.toarray()[on_pattern], rtol=1e-12, atol=1e-12)
    t = sp.diags([-np.ones(n - 1), 4.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
    tl = sp.tril(t, format="csr")
    tl.sort_indices()
    tip, tix = tl.indptr.astype(np.int32), tl.indices.astype(np.int32)
    tvals, failed = K.ic0(tip, tix, tl.data.copy(), 0.0)
    assert failed == -1
    for d in (2, 3):
        product = K.BlockSparse(a, d)
        factor = K.IC0Factor(tip, tix, tvals, d)
        for m in (1, 3, 8, 37):
            x = rng.normal(size=(n, m))
            y = np.empty_like(x)
            product.matmat(x, y)
            np.testing.assert_allclose(y, a @ x, rtol=1e-13, atol=1e-13)
            z = x.copy()
            factor.apply(z)
            np.testing.assert_allclose(z, np.linalg.solve(t.toarray(), x), rtol=1e-12, atol=1e-14)
        z = x.copy()
        K.IC0Factor(ip, ix, vals, d).apply(z)
        np.testing.assert_allclose(z, np.linalg.solve(L @ L.T, x), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="blocks"):
        K.BlockSparse(a[:59, :59], 3)
    # a pivot that is not positive is reported, not silently used
    bad = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 1.0]]))
    assert K.ic0(bad.indptr.astype(np.int32), bad.indices.astype(np.int32), bad.data.copy(), 0.0)[1] == 1


def test_mesoelastic_fit_recovers_eq3_parameters():
    """Paper 2's Eq. 3 on exact data: (t, l) recovered to round-off; a state with tau_alpha/t0 below
    min_tau, or without tau_alpha, is left out; a non-positive slope gives no (t, l)."""
    t_true, l_true = 0.05, 0.45
    T = np.array([0.9, 0.8, 0.7, 0.65, 2.0, 0.6])
    kappa = np.array([20.0, 21.0, 23.5, 25.0, 5.0, 26.0])
    a0 = np.r_[np.full(4, 0.82 ** (-1 / 3)), 1.0, 0.82 ** (-1 / 3)]
    t0 = a0 / np.sqrt(T)
    tau = t0 * t_true * np.exp(l_true ** 2 * a0 ** 2 * kappa / T)
    tau[4] = t0[4]               # tau/t0 = 1 < min_tau: left out
    tau[5] = np.nan              # not measured: left out
    f = landscape.mesoelastic_fit(T, a0, kappa, tau, t0, min_tau=5.0)
    assert f["n"] == 4
    assert f["l"] == pytest.approx(l_true, rel=1e-10) and f["t"] == pytest.approx(t_true, rel=1e-10)
    assert f["max_res"] < 1e-10 and f["r2"] == pytest.approx(1.0)
    softening = np.array([30.0, 24.0, 18.0, 12.0])   # kappa/T falling as tau_alpha grows: slope < 0
    flat = landscape.mesoelastic_fit(T[:4], a0[:4], softening, tau[:4], t0[:4])
    assert flat["slope"] < 0 and np.isnan(flat["l"]) and np.isnan(flat["t"])
    assert landscape.mesoelastic_fit(T[:2], a0[:2], kappa[:2], tau[:2], t0[:2]) == {"n": 2}
