"""Replica batches (engine.integrators.replicas): R replicas of one system advanced in one kernel
call per half step follow, bit for bit, the trajectories of the same systems run one at a time
(NVE and Nose-Hoover; 3D Kob-Andersen, the 2D soft disks' r^-12 and paper 2's IPL10 in 2D, a 2D LJ
mixture), sample their observables at the same steps, conserve energy under NVE, give forces equal
to finite differences of their energies, and refuse what they do not batch with a message."""
import numpy as np
import pytest

from pyglass import builders
from pyglass.engine.integrators import NVE, Langevin, NoseHoover, ReplicaBatch, batchable
from pyglass.engine.potentials import IPL10, KobAndersen, LennardJones, SoftDisks2D, StillingerWeber

T0, DT = 0.6, 0.005

# (label, potential factory, dim, N, density, composition)
MODELS = {
    "ka-3d": (KobAndersen, 3, 108, 1.2, (0.8, 0.2)),
    "soft-disks-2d": (SoftDisks2D, 2, 100, 0.765, (0.5, 0.5)),
    "ipl10-2d": (IPL10, 2, 100, 0.82, (0.5, 0.5)),
    "lj-2d": (lambda: LennardJones([[1.0, 1.5], [1.5, 0.5]], [[1.0, 0.8], [0.8, 0.88]]), 2, 100, 1.2, (0.65, 0.35)),
}


def start(model, seed=3):
    """A short Nose-Hoover liquid of the model (velocities zeroed: each replica draws its own)."""
    make, dim, n, rho, comp = MODELS[model]
    pot = make()
    s = builders.lattice(n, rho, dim, comp, seed=seed, jitter=0.02)
    s.thermalize(T0, seed)
    NoseHoover(DT, T0, 0.5).run(s, pot, 200)
    s.velocities = 0.0
    return s, pot


def replicas(s, seeds):
    out = []
    for seed in seeds:
        c = s.copy()
        c.thermalize(T0, seed)
        out.append(c)
    return out


def make_integrator(kind):
    return NVE(DT) if kind == "nve" else NoseHoover(DT, T0, 0.3)


class Recorder:
    """An observable stand-in: the step, time, energy and positions of every sample."""

    def __init__(self, every):
        self.every, self.samples = every, []

    def due(self, step):
        return step % self.every == 0

    def sample(self, system, step, result=None):
        self.samples.append((step, system.time, result.energy, system.positions.copy()))


@pytest.mark.parametrize("kind", ["nve", "nvt"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_batch_follows_the_sequential_trajectories_bit_for_bit(model, kind):
    s, pot = start(model)
    seeds = [5, 6, 7]
    sequential, seq_obs, seq_integ = replicas(s, seeds), [], []
    for c in sequential:            # one at a time, in two segments, as the ensemble runs them
        integ, obs = make_integrator(kind), Recorder(25)
        integ.run(c, pot, 120, observables=(obs,))
        integ.run(c, pot, 80, observables=(obs,))
        seq_obs.append(obs)
        seq_integ.append(integ)
    batched = replicas(s, seeds)
    batch = ReplicaBatch(batched, pot)
    integs = [make_integrator(kind) for _ in seeds]
    obs = [Recorder(25) for _ in seeds]
    stats = batch.run(integs, 120, observables=[(o,) for o in obs])
    batch.run(integs, 80, observables=[(o,) for o in obs])
    assert stats.steps == 120 and stats.rebuilds > len(seeds)       # replicas rebuilt on their own
    for r, (a, b) in enumerate(zip(sequential, batched)):
        np.testing.assert_array_equal(b.positions, a.positions)
        np.testing.assert_array_equal(b.images, a.images)
        np.testing.assert_array_equal(b.velocities, a.velocities)
        assert (b.step, b.time) == (a.step, a.time) == (s.step + 200, s.time + 200 * DT)
        assert integs[r].last_result.energy == seq_integ[r].last_result.energy
        np.testing.assert_array_equal(integs[r].last_result.forces, seq_integ[r].last_result.forces)
        np.testing.assert_array_equal(integs[r].last_result.virial, seq_integ[r].last_result.virial)
        if kind == "nvt":
            np.testing.assert_array_equal(integs[r].xi, seq_integ[r].xi)
            np.testing.assert_array_equal(integs[r].vxi, seq_integ[r].vxi)
        assert [x[:3] for x in obs[r].samples] == [x[:3] for x in seq_obs[r].samples]
        for x, y in zip(obs[r].samples, seq_obs[r].samples):
            np.testing.assert_array_equal(x[3], y[3])
    # the replicas moved apart: different seeds, different trajectories
    assert not np.array_equal(batched[0].positions, batched[1].positions)


def test_nve_batch_conserves_energy():
    """Smoothed KA (no force jump at r_c), N = 108, 2000 steps: every replica's total energy per
    particle fluctuates at velocity Verlet's O(dt^2) (the shadow Hamiltonian's, larger at this N than
    test_integrators' N = 256) without drift: the means of its first and last tenths agree."""
    pot = KobAndersen(smoothing="smooth")
    s = builders.lattice(108, 1.2, 3, (0.8, 0.2), seed=4, jitter=0.02)
    s.thermalize(T0, 4)
    NoseHoover(DT, T0, 0.5).run(s, pot, 400)
    systems = replicas(s, [1, 2, 3, 4])
    batch = ReplicaBatch(systems, pot)
    integs = [NVE(DT) for _ in systems]
    series = []
    for _ in range(100):
        batch.run(integs, 20)
        series.append([(i.last_result.energy + c.kinetic_energy()) / c.N for i, c in zip(integs, systems)])
    e = np.array(series)                       # (samples, replicas)
    w = len(e) // 10
    assert np.all(np.abs(e[-w:].mean(0) - e[:w].mean(0)) < 2e-4)
    assert np.all(e.std(0) < 1e-3)
    assert np.all(np.ptp(e, axis=0) > 0)       # each replica really moved


def test_batched_forces_are_the_energy_gradient_and_equal_one_system_evaluations():
    s, pot = start("ka-3d")
    systems = replicas(s, [1, 2])
    NVE(DT).run(systems[1], pot, 50)          # the replicas need not share positions
    systems[1].step, systems[1].time = systems[0].step, systems[0].time
    batch = ReplicaBatch(systems, pot)
    results = batch.evaluate()
    for c, res in zip(systems, results):
        one = pot.compute(c)
        assert res.energy == one.energy
        np.testing.assert_array_equal(res.forces, one.forces)
        np.testing.assert_array_equal(res.virial, one.virial)
    c, f = systems[1], results[1].forces
    h = 1e-6
    x = c.positions.copy()
    for i in (0, 17, 100):
        for a in range(3):
            e = []
            for sign in (1, -1):
                y = x.copy()
                y[i, a] += sign * h
                c.positions = y
                e.append(batch.evaluate()[1].energy)
            assert abs(-(e[0] - e[1]) / (2 * h) - f[i, a]) < 1e-5 * max(1.0, abs(f[i, a]))
    c.positions = x


def test_refuses_what_it_does_not_batch():
    s, pot = start("soft-disks-2d")
    systems = replicas(s, [1, 2])
    batch = ReplicaBatch(systems, pot)
    with pytest.raises(NotImplementedError, match="Langevin has no batched kernels"):
        batch.run([Langevin(DT, T0, 1.0, seed=1), Langevin(DT, T0, 1.0, seed=2)], 5)
    with pytest.raises(ValueError, match="differs from integrator 0"):
        batch.run([NVE(DT), NVE(2 * DT)], 5)
    with pytest.raises(ValueError, match="one per replica"):
        batch.run([NVE(DT)], 5)
    assert "pair potential" in batchable(NVE(DT), StillingerWeber())
    assert batchable(NoseHoover(DT, T0, 0.5), pot) is None
    other = builders.lattice(64, 0.765, 2, (0.5, 0.5), seed=1)
    with pytest.raises(ValueError, match="other particles"):
        ReplicaBatch([systems[0], other], pot)
    with pytest.raises(ValueError, match="distinct"):
        ReplicaBatch([systems[0], systems[0]], pot)
    late = systems[1].copy()
    late.step += 1
    with pytest.raises(ValueError, match="one clock"):
        ReplicaBatch([systems[0], late], pot)


def test_a_diverging_replica_is_named():
    s, pot = start("soft-disks-2d")
    systems = replicas(s, [1, 2])
    x = systems[1].positions.copy()
    x[3] = x[4] + 1e-7                       # an overlap: the r^-12 energy overflows
    systems[1].positions = x
    with pytest.raises(FloatingPointError, match="replica 1"):
        ReplicaBatch(systems, pot).run([NVE(DT), NVE(DT)], 3)
