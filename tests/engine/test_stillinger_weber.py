"""Stillinger-Weber (docs/science.md §1, paper 2): forces = -grad E, virial by box scaling,
Hessian columns = -dF by differences (three-particle blocks included), affine shear derivatives by
differences under a tilted box, zero three-body energy at the tetrahedral angle, a small box
against a brute-force sum over explicit images, and NVE energy conservation."""
import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from helpers import numerical_forces, numerical_virial
from pyglass.engine.builders import random_packing
from pyglass.engine.integrators import NVE, NoseHoover
from pyglass.engine.potentials.stillinger_weber import StillingerWeber
from pyglass.engine.system import Box, System

SW = dict(A=7.049556277, B=0.6022245584, p=4.0, q=0.0, a=1.8, gamma=1.2, lam=18.75)


def sw_system(n, dim, seed, density=0.52):
    return random_packing(n, density, dim, (1.0,), seed=seed, min_distance=0.85)


def dense_hessian(pot, s):
    rows, cols, vals = pot.hessian_coo(s)
    n = s.N * s.dim
    return sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).toarray()


def numerical_hessian(pot, s, h=1e-6):
    """-dF/dx column by column by central differences of the analytic forces."""
    n = s.N * s.dim
    out = np.zeros((n, n))
    x = s.positions
    for c in range(n):
        i, k = divmod(c, s.dim)
        x0 = x[i, k]
        x[i, k] = x0 + h
        s.touch()
        fp = pot.forces(s).ravel()
        x[i, k] = x0 - h
        s.touch()
        fm = pot.forces(s).ravel()
        x[i, k] = x0
        s.touch()
        out[:, c] = -(fp - fm) / (2 * h)
    return out


def sheared(s, g):
    """Copy of s with x -> x + g y applied to particles and box (tilt g Ly)."""
    t = s.copy()
    x = s.positions.copy()
    x[:, 0] += g * x[:, 1]
    t.box = Box(s.box.lengths.copy(), tilt_xy=s.box.tilt_xy + g * s.box.lengths[1])
    t.positions = x
    t.touch()
    return t


def brute_force_energy(x, L, pot, nimg=2):
    """Direct sum over explicit periodic images (numpy, independent of the neighbour machinery)."""
    dim = x.shape[1]
    shifts = np.array(list(itertools.product(range(-nimg, nimg + 1), repeat=dim)), float) * L
    rc = pot.a * pot.sigma
    e2 = e3 = 0.0
    for i in range(len(x)):
        dr = (x[None, :, :] - x[i] + shifts[:, None, :]).reshape(-1, dim)
        r = np.linalg.norm(dr, axis=1)
        keep = (r > 1e-12) & (r < rc)
        dr, r = dr[keep], r[keep]
        e2 += 0.5 * np.sum(pot.A * pot.epsilon * (pot.B * (pot.sigma / r) ** pot.p - (pot.sigma / r) ** pot.q)
                           * np.exp(pot.sigma / (r - rc)))
        ex = np.exp(pot.gamma * pot.sigma / (r - rc))
        j, k = np.triu_indices(len(r), 1)
        cos = np.einsum("ij,ij->i", dr[j], dr[k]) / (r[j] * r[k])
        e3 += np.sum(pot.lam * pot.epsilon * (cos - pot.costheta0) ** 2 * ex[j] * ex[k])
    return e2 + e3


@pytest.mark.parametrize("dim", [3, 2])
def test_forces_are_minus_gradient(dim):
    pot = StillingerWeber()
    s = sw_system(40 if dim == 3 else 30, dim, seed=3)
    res = pot.compute(s, per_particle=True)
    idx = [0, 5, 17, 29]
    fnum = numerical_forces(s, pot, h=1e-6, indices=idx)
    scale = np.abs(res.forces).max()
    np.testing.assert_allclose(res.forces[idx], fnum, rtol=1e-7, atol=1e-7 * scale)
    np.testing.assert_allclose(res.forces.sum(axis=0), 0.0, atol=1e-10 * scale * s.N)
    np.testing.assert_allclose(res.per_particle_energy.sum(), res.energy, rtol=1e-12)


@pytest.mark.parametrize("dim", [3, 2])
def test_virial_matches_box_scaling(dim):
    pot = StillingerWeber()
    s = sw_system(40 if dim == 3 else 30, dim, seed=4)
    w = pot.compute(s).virial
    wnum = numerical_virial(s, pot, h=1e-6)
    ok = np.isfinite(wnum)
    assert ok[0, 0] and ok[1, 1] and ok[0, 1]
    np.testing.assert_allclose(w[ok], wnum[ok], rtol=1e-6, atol=1e-6 * np.abs(w).max())
    np.testing.assert_allclose(w, w.T, atol=1e-10 * np.abs(w).max())


@pytest.mark.parametrize("dim", [3, 2])
def test_hessian_columns_and_zero_modes(dim):
    pot = StillingerWeber()
    s = sw_system(30 if dim == 3 else 24, dim, seed=6)
    hess = dense_hessian(pot, s)
    hnum = numerical_hessian(pot, s)
    scale = np.abs(hess).max()
    np.testing.assert_allclose(hess, hnum, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(hess, hess.T, atol=1e-12 * scale)
    for k in range(dim):   # uniform translations are zero modes in a periodic box
        t = np.zeros((s.N, dim))
        t[:, k] = 1.0
        np.testing.assert_allclose(hess @ t.ravel(), 0.0, atol=1e-11 * scale * s.N)
    # the three-body term really contributes three-particle blocks: without it H changes
    h2 = dense_hessian(StillingerWeber(lam=0.0), s)
    assert np.abs(hess - h2).max() > 1e-3 * scale


@pytest.mark.parametrize("dim", [3, 2])
def test_affine_shear_derivatives_by_differences(dim):
    pot = StillingerWeber()
    s = sw_system(40 if dim == 3 else 30, dim, seed=7)
    d2, xi = pot.affine_shear_derivatives(s)
    g = 1e-4
    rp, r0, rm = (pot.compute(sheared(s, x)) for x in (g, 0.0, -g))
    d2num = (rp.energy - 2 * r0.energy + rm.energy) / g ** 2
    np.testing.assert_allclose(d2, d2num, rtol=1e-6)
    xinum = -(rp.forces - rm.forces) / (2 * g)
    np.testing.assert_allclose(xi, xinum, rtol=1e-6, atol=1e-6 * np.abs(xi).max())
    # dU/dg = -W_xy for this deformation: the shear-derivative code and the virial agree
    np.testing.assert_allclose(-(rp.energy - rm.energy) / (2 * g), r0.virial[0, 1], rtol=1e-6)


@pytest.mark.parametrize("dim", [3, 2])
def test_tetrahedral_angle_has_no_three_body_energy(dim):
    """cos(theta) = -1/3 for every neighbour pair of the centre: U equals its two-body part;
    a right angle gives lambda eps (1/3)^2 e^{gamma sigma/(r - a sigma)}^2 exactly."""
    r = 1.2
    if dim == 3:
        dirs = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / np.sqrt(3)
    else:
        t = np.arccos(-1.0 / 3.0)
        dirs = np.array([[1.0, 0.0], [np.cos(t), np.sin(t)]])
    centre = np.full(dim, 10.0)
    x = np.vstack([centre, centre + r * dirs])
    s = System(x, [20.0] * dim)
    full, pair_only = StillingerWeber(), StillingerWeber(lam=0.0)
    e_pair = len(dirs) * SW["A"] * (SW["B"] * r ** -4 - 1) * np.exp(1 / (r - SW["a"]))
    np.testing.assert_allclose(pair_only.energy(s), e_pair, rtol=1e-13)
    np.testing.assert_allclose(full.energy(s), e_pair, rtol=1e-13)
    # two neighbours at 90 degrees, farther than the cutoff from each other (r sqrt 2 > a sigma)
    r = 1.3
    y = np.vstack([centre, centre + r * np.eye(dim)[0], centre + r * np.eye(dim)[1]])
    s2 = System(y, [20.0] * dim)
    e3 = SW["lam"] * (1 / 3) ** 2 * np.exp(SW["gamma"] / (r - SW["a"])) ** 2
    np.testing.assert_allclose(full.energy(s2) - pair_only.energy(s2), e3, rtol=1e-13)


@pytest.mark.parametrize("dim,n,density", [(3, 8, 0.6), (2, 5, 0.6), (3, 3, 0.9), (2, 2, 0.9)])
def test_small_box_matches_brute_force_images(dim, n, density):
    """Box side < 2 cutoffs: several images of one particle interact; side < 1 cutoff (the last
    two cases): a particle also interacts with its own images."""
    pot = StillingerWeber()
    s = sw_system(n, dim, seed=11, density=density)
    assert s.box.lengths.min() < 2 * pot.cutoff
    e = pot.energy(s)
    ref = brute_force_energy(s.positions.copy(), s.box.lengths, pot, nimg=2)
    np.testing.assert_allclose(e, ref, rtol=1e-12)
    hess = dense_hessian(pot, s)
    np.testing.assert_allclose(hess, numerical_hessian(pot, s), rtol=1e-6, atol=1e-6 * np.abs(hess).max())
    fnum = numerical_forces(s, pot, h=1e-6)
    f = pot.forces(s)
    np.testing.assert_allclose(f, fnum, rtol=1e-7, atol=1e-7 * np.abs(f).max())


def test_interacting_pairs_match_minimum_image():
    pot = StillingerWeber()
    s = sw_system(60, 3, seed=9)
    pairs = pot.interacting_pairs(s)
    x = s.positions
    i, j = np.triu_indices(s.N, 1)
    r = np.linalg.norm(s.box.minimum_image(x[j] - x[i]), axis=1)
    ref = np.stack([i, j], 1)[r < pot.cutoff]
    np.testing.assert_array_equal(pairs, ref)


def test_nve_conserves_energy():
    """200 NVE steps at rho = 0.52, T ~ 0.06 after a short Nose-Hoover settle."""
    pot = StillingerWeber()
    s = sw_system(216, 3, seed=5)
    s.thermalize(0.06, seed=1)
    NoseHoover(0.005, 0.06, 0.5).run(s, pot, 300)
    integ = NVE(0.005)
    e0 = pot.energy(s) + s.kinetic_energy()
    es = []
    for _ in range(10):
        integ.run(s, pot, 20)
        es.append(pot.energy(s) + s.kinetic_energy())
    dev = np.abs(np.array(es) - e0) / s.N
    assert dev.max() < 2e-5, dev
    assert 0.03 < s.temperature() < 0.12


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="sigma"):
        StillingerWeber(sigma=0.0)
    with pytest.raises(ValueError, match="lam"):
        StillingerWeber(lam=-1.0)
    s = random_packing(27, 0.52, 3, (0.5, 0.5), seed=1, min_distance=0.85)
    with pytest.raises(ValueError, match="species"):
        StillingerWeber().energy(s)


def test_cutoff_is_smooth_for_inherent_structures():
    """The SW cutoff needs no smoothing option: both terms carry exp(sigma/(r - a sigma)) factors,
    so energy, forces and Hessian go to zero with all derivatives at r = a sigma (paper 2 counts
    inherent-structure jumps dU > 1e-5, which a force jump at the cutoff would fake)."""
    pot = StillingerWeber(**SW)
    rc = pot.a * pot.sigma
    L = 10.0
    for r, tiny in ((rc * (1 - 1e-3), 1e-100), (rc * (1 - 1e-2), 1e-16)):
        # a dimer and an equilateral trimer just inside the cutoff
        for x in ([[0, 0, 0], [r, 0, 0]], [[0, 0, 0], [r, 0, 0], [r / 2, r * np.sqrt(3) / 2, 0]]):
            s = System(np.array(x, float) + 1.0, Box([L, L, L]), np.zeros(len(x), np.int32))
            res = pot.compute(s)
            assert abs(res.energy) < tiny and np.abs(res.forces).max() < tiny
            assert np.abs(dense_hessian(pot, s)).max() < tiny
    s = System(np.array([[0, 0, 0], [rc * (1 + 1e-9), 0, 0]], float) + 1.0, Box([L, L, L]), np.zeros(2, np.int32))
    assert pot.compute(s).energy == 0.0


def test_two_body_term_is_the_kernels_dimer_energy_and_force():
    """two_body(r): a dimer has no triplet, so its energy is phi2(r) and the force on particle 1 along the
    bond is -phi2'(r), both from the compiled kernel; attractive (phi2' > 0) beyond the minimum only."""
    pot = StillingerWeber(**SW)
    L = 10.0
    rs = np.array([0.9, 1.0, 1.12, 1.3, 1.6, 1.79, 1.85])
    phi, dphi = pot.two_body(rs)
    for r, e, d in zip(rs, phi, dphi):
        s = System(np.array([[1.0, 1.0, 1.0], [1.0 + r, 1.0, 1.0]]), Box(np.array([L, L, L])), np.zeros(2, int))
        res = pot.compute(s)
        assert res.energy == pytest.approx(e, rel=1e-10, abs=1e-14)
        assert res.forces[1, 0] == pytest.approx(-d, rel=1e-9, abs=1e-12)
    assert phi[-1] == dphi[-1] == 0.0                        # beyond a sigma = 1.8
    assert dphi[0] < 0 < dphi[3]                              # repulsive core, attractive well
    h = 1e-6
    num = (pot.two_body(rs[:-1] + h, 0)[0] - pot.two_body(rs[:-1] - h, 0)[0]) / (2 * h)
    np.testing.assert_allclose(dphi[:-1], num, rtol=1e-6, atol=1e-9)
