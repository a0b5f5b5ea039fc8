"""Decomposition invariance: on 2 (or 4) ranks, energies, forces and virials equal the serial
ones, trajectories agree, for 2D and 3D, including domains thinner than cutoff + skin.

Run with: mpirun -n 2 python -m pytest --with-mpi -m mpi tests/test_decomposition_mpi.py"""
import io

import numpy as np
import pytest

from pyglass import builders, comm as pgcomm
from pyglass import potentials as P
from pyglass.engine.integrators import NVE

pytestmark = pytest.mark.mpi

CASES = [
    ("ka", 3, lambda: P.KobAndersen(), dict(n=600, density=1.2, composition=(0.8, 0.2))),
    ("ka-thin", 3, lambda: P.KobAndersen(), dict(n=90, density=1.2, composition=(0.8, 0.2))),
    ("softdisks", 2, lambda: P.SoftDisks2D(cutoff=2.5, smoothing="smooth"), dict(n=300, density=0.85, composition=(0.5, 0.5))),
    ("ipl10-2d-thin", 2, lambda: P.IPL10(), dict(n=40, density=0.86, composition=(0.5, 0.5))),
    ("sticky", 3, lambda: P.StickySpheres(), dict(n=300, density=0.6, composition=(0.5, 0.5))),
]


def _world():
    from mpi4py import MPI
    return MPI.COMM_WORLD


def _by_id(local, values):
    """Gather per-particle values from all ranks into id order."""
    parts = local.comm.allgather((local.ids, np.asarray(values)))
    ids = np.concatenate([p[0] for p in parts])
    vals = np.concatenate([p[1] for p in parts])
    out = np.empty_like(vals)
    out[ids] = vals
    return out


@pytest.mark.parametrize("name,dim,make,kw", CASES, ids=[c[0] for c in CASES])
def test_forces_energy_virial_match_serial(name, dim, make, kw):
    whole = builders.lattice(dim=dim, seed=5, jitter=0.12, **kw)
    serial = make().compute(whole.copy(), per_particle=True)
    local = pgcomm.distribute(whole.copy(), _world())
    res = make().compute(local, per_particle=True)
    assert local.domain.grid and np.prod(local.domain.grid) == _world().Get_size()
    np.testing.assert_allclose(res.energy, serial.energy, rtol=1e-12)
    np.testing.assert_allclose(res.virial, serial.virial, rtol=1e-12, atol=1e-12 * np.abs(serial.virial).max())
    f = _by_id(local, res.forces)
    np.testing.assert_allclose(f, serial.forces, rtol=0, atol=1e-12 * np.abs(serial.forces).max())
    e = _by_id(local, res.per_particle_energy)
    np.testing.assert_allclose(e, serial.per_particle_energy, rtol=0, atol=1e-12 * np.abs(e).max())
    assert _world().allreduce(local.N) == whole.N


@pytest.mark.parametrize("dim", [2, 3])
def test_nve_trajectory_matches_serial(dim):
    # perfect lattices with small jitter: a smooth, non-overlapping start so NVE is stable
    kw = dict(n=512 if dim == 3 else 400, density=1.2 if dim == 3 else 0.9, composition=(0.8, 0.2))
    whole = builders.lattice(dim=dim, seed=7, jitter=0.05, **kw)
    pot = P.KobAndersen(smoothing="smooth")
    whole.thermalize(0.5, 3)
    serial = whole.copy()
    serial_lines, local_lines = io.StringIO(), io.StringIO()
    NVE(0.002).run(serial, pot, 200, thermo=50, stream=serial_lines)
    local = pgcomm.distribute(whole.copy(), _world())
    # thermo lines are reductions: every rank takes part, rank 0 alone prints
    stats = NVE(0.002).run(local, P.KobAndersen(smoothing="smooth"), 200, thermo=50, stream=local_lines)
    if _world().Get_rank() == 0:
        ours, ref = local_lines.getvalue().splitlines(), serial_lines.getvalue().splitlines()
        assert len(ours) == len(ref) == 6 and ours[0] == ref[0]
        np.testing.assert_allclose([[float(v) for v in line.split()] for line in ours[1:]],
                                   [[float(v) for v in line.split()] for line in ref[1:]], rtol=1e-7)
    else:
        assert local_lines.getvalue() == ""
    g = local.gather()
    np.testing.assert_allclose(g.unwrapped_positions, serial.unwrapped_positions, atol=1e-8)
    np.testing.assert_allclose(g.velocities, serial.velocities, atol=1e-8)
    assert abs(stats.thermo["TotEng"] - NVE(0.002).thermo_values(serial, pot.compute(serial))["TotEng"]) < 1e-10
    assert stats.rebuilds >= 1


def test_replica_groups_split():
    world = _world()
    group, index, n_groups = pgcomm.split_replicas(world, 1)
    assert n_groups == world.Get_size() and group.Get_size() == 1 and index == world.Get_rank()
    with pytest.raises(ValueError, match="ranks_per_replica"):
        pgcomm.split_replicas(world, world.Get_size() + 1)


def test_stillinger_weber_three_body_matches_serial():
    whole = builders.lattice(n=343, density=0.52, dim=3, seed=2, jitter=0.1)
    serial = P.StillingerWeber().compute(whole.copy())
    local = pgcomm.distribute(whole.copy(), _world())
    res = P.StillingerWeber().compute(local)
    np.testing.assert_allclose(res.energy, serial.energy, rtol=1e-12)
    np.testing.assert_allclose(res.virial, serial.virial, rtol=1e-11, atol=1e-12 * np.abs(serial.virial).max())
    np.testing.assert_allclose(_by_id(local, res.forces), serial.forces, atol=1e-12 * np.abs(serial.forces).max())


@pytest.mark.parametrize("method", ["FIRE", "ConjugateGradient"])
def test_minimizers_reach_the_serial_inherent_structure(method):
    from pyglass import minimizers
    # start close to a minimum so both runs stay in one basin despite round-off differences
    whole = builders.lattice(n=216, density=1.2, dim=3, composition=(0.8, 0.2), seed=11, jitter=0.15)
    pot = P.KobAndersen(smoothing="smooth")
    minimizers.FIRE(ftol=1e-4).minimize(whole, pot)
    whole.positions = whole.positions + np.random.default_rng(3).normal(scale=0.02, size=whole.positions.shape)
    serial = whole.copy()
    rs = getattr(minimizers, method)(ftol=1e-8).minimize(serial, pot)
    local = pgcomm.distribute(whole.copy(), _world())
    rl = getattr(minimizers, method)(ftol=1e-8).minimize(local, P.KobAndersen(smoothing="smooth"))
    assert rs.converged and rl.converged, (rs, rl)
    np.testing.assert_allclose(rl.energy / whole.N, rs.energy / whole.N, rtol=0, atol=1e-10)
    g = local.gather()
    d = whole.box.minimum_image(g.positions - serial.positions)
    assert np.abs(d).max() < 1e-6


def test_npt_trajectory_matches_serial():
    """The box changes every step: ghosts follow the rescaled cell between rebuilds."""
    from pyglass.engine.integrators import NPT
    whole = builders.lattice(n=512, density=1.2, dim=3, composition=(0.8, 0.2), seed=4, jitter=0.05)
    whole.thermalize(0.6, 5)
    serial = whole.copy()
    NPT(0.002, 0.6, 3.0, 0.5, 1.0).run(serial, P.KobAndersen(smoothing="smooth"), 150)
    local = pgcomm.distribute(whole.copy(), _world())
    NPT(0.002, 0.6, 3.0, 0.5, 1.0).run(local, P.KobAndersen(smoothing="smooth"), 150)
    np.testing.assert_allclose(local.box.lengths, serial.box.lengths, rtol=1e-10)
    g = local.gather()
    np.testing.assert_allclose(g.unwrapped_positions, serial.unwrapped_positions, atol=1e-8)


def test_self_dynamics_on_a_decomposed_run_equals_serial():
    """MSD, alpha2, F_s, Q and chi4 of a decomposed NVE run (particles migrate between ranks between
    an origin and its lags) equal the serial run's to the trajectory's round-off."""
    from pyglass.analysis.observables import base as ob
    from pyglass.analysis.observables import dynamics as dyn
    whole = builders.lattice(dim=2, seed=7, jitter=0.05, n=400, density=0.9, composition=(0.8, 0.2))
    whole.thermalize(1.0, 3)
    pot = P.KobAndersen(smoothing="smooth")

    def observe(system):
        return dyn.SelfDynamics(ob.LogSchedule(block=400, factor=2), dt=0.002, q=6.0, box=system.box).prime(system)

    serial = whole.copy()
    o_ser = observe(serial)
    NVE(0.002).run(serial, pot, 1200, observables=[o_ser])
    local = pgcomm.distribute(whole.copy(), _world())
    o_par = observe(local)
    ids0 = set(local.ids.tolist())
    NVE(0.002).run(local, P.KobAndersen(smoothing="smooth"), 1200, observables=[o_par])
    assert _world().allreduce(int(set(local.ids.tolist()) != ids0)) > 0   # particles changed ranks
    a, b = o_ser.result(), o_par.result(_world())
    for key in ("t", "msd", "alpha2", "fs", "Q", "chi4"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-7, atol=1e-9, err_msg=key)
