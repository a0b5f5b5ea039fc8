"""Minimizers: FIRE, conjugate gradient and steepest descent reach max|F| < 1e-10, agree on the
inherent structure of one basin, report why they stopped, and work for any Potential."""
import numpy as np
import pytest

from pyglass import builders
from pyglass.engine.minimizers import (ConjugateGradient, FIRE, MinimizationError, SteepestDescent,
                                StopReason)
from pyglass.engine.potentials import KobAndersen, SoftDisks2D
from pyglass.engine.potentials.base import ForceResult, Potential
from helpers import small_system

MINIMIZERS = {"FIRE": FIRE, "CG": ConjugateGradient, "SD": SteepestDescent}


def ka_start(n, seed):
    return builders.random_packing(n, 1.2, 3, (0.8, 0.2), seed=seed, min_distance=0.75)


def assert_converged(res, system, pot, ftol=1e-10):
    assert res.converged and res.reason == StopReason.FTOL and res.reason == "ftol"
    assert res.max_force <= ftol
    # independent check on a fresh copy (fresh ghosts and neighbour list)
    fresh = system.copy()
    assert np.abs(pot.forces(fresh)).max() <= ftol
    assert res.energy == pytest.approx(pot.energy(fresh), rel=1e-13)


class Trap(Potential):
    """A non-pair Potential: anisotropic harmonic wells E = sum_ia k_a (x_ia - c_ia)^2 / 2 about
    fixed centres (no periodic images needed for small displacements)."""

    name = "trap"

    def __init__(self, centres, k, sign=1.0, nan_energy=False):
        self.c, self.k, self.sign, self.nan = np.asarray(centres), np.asarray(k, float), sign, nan_energy

    def compute(self, system, per_particle=False):
        dx = system.positions - self.c
        e = 0.5 * float(np.sum(self.k * dx * dx))
        f = -self.sign * self.k * dx
        return ForceResult(np.nan if self.nan else e, f, np.zeros((system.dim, system.dim)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["FIRE", "CG"])
def test_ka_1000_reaches_1e_minus_10(name):
    pot = KobAndersen()
    s = ka_start(1000, seed=1)
    res = MINIMIZERS[name]().minimize(s, pot)
    assert_converged(res, s, pot)
    assert -7.7 < res.energy / s.N < -7.3          # a KA inherent structure at rho = 1.2
    assert res.force_evaluations >= res.iterations > 100


def test_steepest_descent_reaches_1e_minus_10():
    pot = KobAndersen()
    s = ka_start(64, seed=3)
    res = SteepestDescent().minimize(s, pot)
    assert_converged(res, s, pot)


def test_same_basin_same_inherent_structure():
    """From one start near a minimum, FIRE, CG and SD reach the same inherent structure."""
    # the smoothed KA: the force jump of the shifted KA at r_c puts concave kinks in the
    # landscape that split basins into near-degenerate sub-basins (dE/N ~ 1e-7)
    pot = KobAndersen(smoothing="smooth")
    s = ka_start(150, seed=7)
    ConjugateGradient(ftol=1e-6).minimize(s, pot)
    rng = np.random.default_rng(5)
    s.positions = s.positions + rng.normal(scale=0.01, size=s.positions.shape)
    results, finals = {}, {}
    for name, cls in MINIMIZERS.items():
        t = s.copy()
        results[name] = cls().minimize(t, pot)
        assert_converged(results[name], t, pot)
        finals[name] = t.unwrapped_positions
    e = {k: r.energy / s.N for k, r in results.items()}
    assert e["FIRE"] == pytest.approx(e["CG"], abs=1e-10)
    assert e["SD"] == pytest.approx(e["CG"], abs=1e-10)
    for name in ("FIRE", "SD"):
        assert np.abs(finals[name] - finals["CG"]).max() < 1e-6


def test_soft_disks_2d():
    pot = SoftDisks2D()
    for name in ("FIRE", "CG"):
        s = small_system("softdisks", 2, n=120, seed=2)
        res = MINIMIZERS[name]().minimize(s, pot)
        assert_converged(res, s, pot)
        assert s._x.shape[1] == 3 and np.all(s._x[:, 2] == 0.0)   # z stays 0 in 2D


@pytest.mark.parametrize("name", list(MINIMIZERS))
def test_already_minimized_returns_immediately(name):
    pot = KobAndersen()
    s = ka_start(64, seed=4)
    ConjugateGradient().minimize(s, pot)
    x0 = s.unwrapped_positions.copy()
    res = MINIMIZERS[name]().minimize(s, pot)
    assert res.converged and res.reason == "ftol"
    assert res.iterations == 0 and res.force_evaluations == 1
    np.testing.assert_array_equal(s.unwrapped_positions, x0)


@pytest.mark.parametrize("name", list(MINIMIZERS))
def test_max_iterations_is_reported_not_silent(name):
    pot = KobAndersen()
    s = ka_start(64, seed=5)
    e0 = pot.energy(s)
    res = MINIMIZERS[name](max_iterations=5).minimize(s, pot)
    assert not res.converged and not res
    assert res.reason == StopReason.MAX_ITERATIONS and str(res.reason) == "max_iterations"
    assert res.iterations == 5 and res.max_force > 1e-10
    assert res.energy < e0
    with pytest.raises(MinimizationError, match="max_iterations") as info:
        MINIMIZERS[name](max_iterations=3, raise_on_failure=True).minimize(s, pot)
    assert info.value.result.reason == "max_iterations"


def test_etol_stop():
    pot = KobAndersen()
    s = ka_start(64, seed=6)
    res = ConjugateGradient(ftol=1e-12, etol=1e-6).minimize(s, pot)
    assert res.converged and res.reason == "etol" and res.max_force > 1e-12


def test_conjugate_gradient_on_a_quadratic_is_fast():
    """Exact line searches make CG finish an n-eigenvalue quadratic in about n iterations; works
    for a Potential that is not a pair potential."""
    s = builders.lattice(27, 0.5, 3, seed=0, jitter=0.05)
    centres = builders.lattice(27, 0.5, 3, seed=0).positions
    pot = Trap(centres, k=[1.0, 4.0, 9.0])
    res = ConjugateGradient(ftol=1e-12).minimize(s, pot)
    assert res.converged and res.iterations <= 5
    np.testing.assert_allclose(s.positions, centres, atol=1e-11)
    for cls in (FIRE, SteepestDescent):
        t = builders.lattice(27, 0.5, 3, seed=0, jitter=0.05)
        assert cls(ftol=1e-12).minimize(t, pot).converged


def test_linesearch_failure_and_non_finite_are_reported():
    s = builders.lattice(8, 0.5, 3, seed=0, jitter=0.05)
    centres = builders.lattice(8, 0.5, 3, seed=0).positions
    uphill = Trap(centres, k=[1.0, 1.0, 1.0], sign=-1.0)      # forces inconsistent with the energy
    t = s.copy()
    res = ConjugateGradient().minimize(t, uphill)
    assert not res.converged and res.reason == "linesearch_failed"
    np.testing.assert_allclose(t.positions, s.positions, atol=1e-12)   # moved back
    # backtracking accepts steps below energy resolution on the forces' word: it never
    # converges, and says so
    res = SteepestDescent(max_iterations=200).minimize(s.copy(), uphill)
    assert not res.converged and res.reason in ("linesearch_failed", "max_iterations")
    for cls in MINIMIZERS.values():
        res = cls().minimize(s.copy(), Trap(centres, k=[1.0, 1.0, 1.0], nan_energy=True))
        assert not res.converged and res.reason == "non_finite"
        with pytest.raises(MinimizationError, match="non_finite"):
            cls(raise_on_failure=True).minimize(s.copy(), Trap(centres, k=[1.0, 1.0, 1.0], nan_energy=True))


@pytest.mark.parametrize("kwargs,name", [({"ftol": -1.0}, "ftol"), ({"etol": -1.0}, "etol"),
                                         ({"max_iterations": -1}, "max_iterations"),
                                         ({"max_step": 0.0}, "max_step")])
def test_bad_parameters_name_themselves(kwargs, name):
    for cls in MINIMIZERS.values():
        with pytest.raises(ValueError, match=name):
            cls(**kwargs)
    with pytest.raises(ValueError, match="dt"):
        FIRE(dt=0.0)
