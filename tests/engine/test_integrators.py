"""Integrators: NVE energy conservation, Nose-Hoover canonical temperature statistics, Langevin
temperature and seeded reproducibility (also across an RNG-state restart), NPT pressure and
conserved quantity, and clear errors for bad parameters.

The physics runs use the smoothed Kob-Andersen model (phi, phi', phi'' -> 0 at r_c), N = 256,
rho = 1.2, T = 0.6: with the truncated-shifted model the force jump at r_c adds an O(dt)
energy error at every cutoff crossing, a random walk of ~1e-4 per particle over 10^4 steps at
this N that would hide the integrators' own behaviour."""
import numpy as np
import pytest
from scipy import stats

from pyglass import builders
from pyglass.engine.integrators import NPT, NVE, Langevin, NoseHoover
from pyglass.engine.minimizers import FIRE
from pyglass.engine.potentials import KobAndersen, SoftDisks2D

T0, DT = 0.6, 0.005


def block_mean_error(x, n_blocks=20):
    """Standard error of the mean of a correlated series from the scatter of block means
    (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461 (1989)); blocks must outlast the correlation."""
    x = np.asarray(x, float)
    m = len(x) // n_blocks
    means = x[: m * n_blocks].reshape(n_blocks, m).mean(axis=1)
    return float(means.std(ddof=1) / np.sqrt(n_blocks))


@pytest.fixture(scope="module")
def pot():
    return KobAndersen(smoothing="smooth")


@pytest.fixture(scope="module")
def liquid(pot):
    """KA N = 256 equilibrated at T = 0.6 with Nose-Hoover (quench off overlaps first)."""
    s = builders.random_packing(256, 1.2, 3, (0.8, 0.2), seed=11, min_distance=0.75)
    FIRE(ftol=1.0).minimize(s, pot)
    s.thermalize(T0, seed=12)
    NoseHoover(DT, T0, tau=0.5).run(s, pot, 2000)
    return s


def record(every=1, **fns):
    """A run() callback storing fn(system, result) every `every` steps."""
    data = {k: [] for k in fns}

    def callback(system, result):
        if system.step % every == 0:
            for k, fn in fns.items():
                data[k].append(fn(system, result))
    return callback, data


@pytest.mark.slow
def test_nve_energy_drift(liquid, pot):
    s = liquid.copy()
    cb, data = record(10, e=lambda s, r: (r.energy + s.kinetic_energy()) / s.N)
    NVE(DT).run(s, pot, 10_000, callback=cb)
    e = np.array(data["e"])
    t = np.arange(len(e)) * 10 * DT
    fit = stats.linregress(t, e)
    drift = abs(fit.slope) * t[-1]
    # drift = change of the window means over the run (single samples carry the O(dt^2)
    # fluctuation of the shadow Hamiltonian, which is not drift)
    w = len(e) // 10
    assert abs(e[-w:].mean() - e[:w].mean()) < 1e-4
    assert drift < 1e-4
    # no systematic growth: the fitted drift is small against the O(dt^2) fluctuation
    assert drift < 0.5 * e.std()
    assert e.std() < 1e-3


@pytest.mark.slow
def test_nosehoover_canonical_temperature(liquid, pot):
    s = liquid.copy()
    nh = NoseHoover(DT, T0, tau=0.5)
    cb, data = record(2, T=lambda s, r: s.temperature(),
                      c=lambda s, r: (r.energy + s.kinetic_energy() + nh.extra_energy(s)) / s.N)
    nh.run(s, pot, 12_000, callback=cb)
    c = np.array(data["c"])
    # the mean temperature carries a slow correlation (block errors level off only for blocks of
    # 5-10 time units; over 12000 steps the mean scatters by +-0.5 % between round-off variants
    # of one start): 36000 steps more and blocks of 30 time units
    cb_T, more = record(2, T=lambda s, r: s.temperature())
    nh.run(s, pot, 36_000, callback=cb_T)
    T = np.array(data["T"] + more["T"])
    mean, err = T.mean(), block_mean_error(T, n_blocks=8)
    assert abs(mean - T0) < 0.01 * T0
    assert abs(mean - T0) < 4 * err
    # canonical fluctuations of the kinetic temperature: Var = 2 T^2 / (d (N - 1))
    var_expected = 2 * T0 ** 2 / s.dof
    dev2 = (T - mean) ** 2
    var, var_err = dev2.mean(), block_mean_error(dev2)
    assert abs(var - var_expected) < max(4 * var_err, 0.02 * var_expected)
    assert abs(var - var_expected) < 0.15 * var_expected
    # conserved quantity (the first 12000 steps)
    assert np.abs(c - c[0]).max() < 2e-3
    # no systematic drift: over 12000 steps the fitted change is a random walk of the chaotic
    # trajectory, spread +-2.4e-4 per particle over eight independent liquids (four in each of two
    # round-off variants of this integrator); a wrong thermostat term drifts by ~1e-2
    assert abs(stats.linregress(np.arange(len(c)), c).slope * len(c)) < 5e-4


@pytest.mark.slow
def test_langevin_temperature(liquid, pot):
    """BAOAB's kinetic temperature at full steps carries an O(dt^2) bias, about
    -(dt^2/4) <d^2U/dx^2>/m: -1.5 % for KA at dt = 0.005, below 0.5 % at dt = 0.0025."""
    s = liquid.copy()
    cb, data = record(2, T=lambda s, r: s.temperature())
    Langevin(0.0025, T0, gamma=2.0, seed=3).run(s, pot, 10_000, callback=cb)
    T = np.array(data["T"][500:])
    mean, err = T.mean(), block_mean_error(T)
    assert abs(mean - T0) < 4 * err + 0.005 * T0
    assert abs(mean - T0) < 0.02 * T0
    np.testing.assert_allclose(s.total_momentum(), 0.0, atol=1e-10)


def test_langevin_seed_reproducible_and_restartable(liquid, pot):
    a, b, c = liquid.copy(), liquid.copy(), liquid.copy()
    Langevin(DT, T0, gamma=1.0, seed=7).run(a, pot, 200)
    # same seed -> the identical trajectory
    lb = Langevin(DT, T0, gamma=1.0, seed=7)
    lb.run(b, pot, 100)
    state = lb.state()
    # continue with a fresh integrator carrying the checkpointed RNG state
    lc = Langevin(DT, T0, gamma=1.0, seed=999)
    lc.load_state(state)
    lc.run(b, pot, 100)
    np.testing.assert_array_equal(a.unwrapped_positions, b.unwrapped_positions)
    np.testing.assert_array_equal(a.velocities, b.velocities)
    # another seed -> another trajectory
    Langevin(DT, T0, gamma=1.0, seed=8).run(c, pot, 200)
    assert np.abs(c.velocities - a.velocities).max() > 0.1


@pytest.mark.slow
def test_npt_pressure_volume_and_conserved_quantity(liquid, pot):
    s = liquid.copy()
    P0 = 3.0
    npt = NPT(DT, T0, P0, tau_T=0.5, tau_P=1.0)
    cb, data = record(2, P=lambda s, r: r.pressure(s), V=lambda s, r: s.box.volume,
                      c=lambda s, r: (r.energy + s.kinetic_energy() + npt.extra_energy(s)) / s.N)
    npt.run(s, pot, 8000, callback=cb)
    P, V, c = (np.array(data[k]) for k in ("P", "V", "c"))
    keep = slice(len(P) // 4, None)               # the volume relaxes to the target pressure first
    mean, err = P[keep].mean(), block_mean_error(P[keep], 12)
    assert abs(mean - P0) < 4 * err
    assert err < 0.05
    assert V[keep].std() / V[keep].mean() > 1e-3     # the volume fluctuates
    assert abs(V[-1] - liquid.box.volume) > 0.5       # and has moved from the NVT volume
    assert np.abs(c - c[0]).max() < 4e-3
    assert abs(stats.linregress(np.arange(len(c)), c).slope * len(c)) < 5e-4


def test_npt_keeps_lists_valid_through_rescaling(liquid, pot):
    """The domain keeps ghosts and lists through uniform box rescaling: energies and forces
    after a strong compression equal those of a freshly built copy."""
    s = liquid.copy()
    npt = NPT(DT, T0, P=40.0, tau_T=0.5, tau_P=0.3)
    v0 = s.box.volume
    other = KobAndersen(smoothing="smooth")
    builds = pot.neighbour_list.n_builds
    for _ in range(4):
        npt.run(s, pot, 100)
        res = pot.compute(s)
        fresh = other.compute(s.copy())
        assert res.energy == pytest.approx(fresh.energy, rel=1e-12)
        np.testing.assert_allclose(res.forces, fresh.forces, rtol=0, atol=1e-9)
    assert s.box.volume < 0.97 * v0
    assert pot.neighbour_list.n_builds - builds < 100      # not rebuilt every step


def test_npt_2d_soft_disks():
    pot = SoftDisks2D(cutoff=2.5, smoothing="smooth")
    s = builders.random_packing(100, 0.8, 2, (0.5, 0.5), seed=4, min_distance=0.8)
    FIRE(ftol=1e-2).minimize(s, pot)
    s.thermalize(0.5, seed=1)
    npt = NPT(0.002, 0.5, P=10.0, tau_T=0.2, tau_P=1.0)
    cb, data = record(1, c=lambda s, r: (r.energy + s.kinetic_energy() + npt.extra_energy(s)) / s.N)
    v0 = s.box.volume
    npt.run(s, pot, 1000, callback=cb)
    assert np.ptp(data["c"]) < 1e-3
    assert s.box.volume != v0 and np.all(s._x[:, 2] == 0.0)


@pytest.mark.parametrize("make,name", [
    (lambda: NVE(dt=0.0), "dt"), (lambda: NVE(dt=-0.005), "dt"),
    (lambda: NoseHoover(0.005, T=-1.0, tau=0.5), "T"),
    (lambda: Langevin(0.0, 0.6, 1.0, seed=1), "dt"),
    (lambda: Langevin(0.005, -0.6, 1.0, seed=1), "T"),
    (lambda: Langevin(0.005, 0.6, -1.0, seed=1), "gamma"),
    (lambda: Langevin(0.005, 0.6, 1.0, seed=-3), "seed"),
    (lambda: NPT(-0.005, 0.6, 1.0, 0.5, 1.0), "dt"),
    (lambda: NPT(0.005, -0.6, 1.0, 0.5, 1.0), "T"),
    (lambda: NPT(0.005, 0.6, float("nan"), 0.5, 1.0), "P"),
    (lambda: NPT(0.005, 0.6, 1.0, 0.0, 1.0), "tau_T"),
    (lambda: NPT(0.005, 0.6, 1.0, 0.5, -1.0), "tau_P"),
    (lambda: NPT(0.005, 0.6, 1.0, 0.5, 1.0, chain=0), "chain"),
])
def test_bad_parameters_name_themselves(make, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        make()
