"""Ensembles: iso-configurational runs (seeds, reproducibility, wrapping invariance, fields) and
inherent-structure ensembles and trajectories."""
from collections import namedtuple

import numpy as np
import pytest

from pyglass import builders, ensembles, integrators, potentials
from pyglass.analysis.observables import NeighbourLoss

MinResult = namedtuple("MinResult", "converged reason energy max_force iterations")


class ScipyMinimizer:
    """Test stand-in with the pyglass.engine.minimizers contract (L-BFGS from scipy)."""

    def minimize(self, system, potential):
        from scipy.optimize import minimize
        d = system.dim

        def f(x):
            system.positions = x.reshape(-1, d)
            r = potential.compute(system)
            return r.energy, -r.forces.ravel()

        nit = 0
        for _ in range(20):   # restarts until the force criterion holds
            res = minimize(f, system.positions.ravel().copy(), jac=True, method="L-BFGS-B",
                           options={"gtol": 1e-9, "ftol": 0.0, "maxiter": 5000})
            system.positions = res.x.reshape(-1, d)
            r = potential.compute(system)
            fmax = float(np.abs(r.forces).max())
            nit += res.nit
            if fmax < 1e-5:
                break
        return MinResult(fmax < 1e-5, res.message, r.energy, fmax, nit)


@pytest.fixture(scope="module")
def liquid():
    s = builders.random_packing(64, 0.75, 2, (0.5, 0.5), seed=11, min_distance=0.85)
    pot = potentials.SoftDisks2D(cutoff=2.5)
    s.thermalize(0.8, 0)
    integrators.NoseHoover(0.005, 0.8, 0.5).run(s, pot, 600)
    s.velocities = 0.0
    return s, pot


CUT = np.array([[1.4, 1.55], [1.55, 1.75]])


def test_contract_shapes_and_fields(liquid):
    s, pot = liquid
    ens = ensembles.IsoconfigurationalEnsemble(s, pot, n_runs=4, T=0.8, dt=0.005, seed=7, cutoffs=CUT)
    res = ens.run(times=[0.5, 2.0])
    assert res.propensity.shape == res.debye_waller.shape == res.ir_probability.shape == (2, s.N)
    dr = res.displacements
    assert dr.shape == (4, 2, s.N, 2)
    assert np.allclose(res.propensity, np.mean(np.sum(dr ** 2, -1), 0))
    assert np.allclose(res.propensity_abs, np.mean(np.linalg.norm(dr, axis=-1), 0))
    assert np.allclose(res.debye_waller, np.var(dr[..., 0], 0) + np.var(dr[..., 1], 0))
    assert np.all(res.propensity[1].mean() > res.propensity[0].mean())
    t4 = res.reorganisation_times
    assert np.allclose(res.ir_probability, [(t4 <= t + 1e-9).mean(0) for t in res.times])
    assert len(set(res.seeds.tolist())) == 4
    assert np.array_equal(s.velocities, np.zeros_like(s.velocities))   # the input is not modified


def test_neighbour_relative_propensity_against_a_loop(liquid):
    s, pot = liquid
    res = ensembles.IsoconfigurationalEnsemble(s, pot, n_runs=3, T=0.8, dt=0.005, seed=2, cutoffs=CUT).run([0.5, 1.0])
    dr, pairs = res.displacements, res.neighbour_pairs
    naive = np.zeros(res.propensity_abs.shape)
    for i in range(s.N):
        nb = [b if a == i else a for a, b in pairs if i in (a, b)]
        for r in range(dr.shape[0]):
            for t in range(dr.shape[1]):
                cage = dr[r, t, nb].mean(0) if nb else 0.0
                naive[t, i] += np.linalg.norm(dr[r, t, i] - cage) / dr.shape[0]
    assert len(pairs) > s.N
    assert np.allclose(res.propensity_relative, naive)
    # a uniform drift of every particle leaves the cage-relative motion unchanged
    shifted = ensembles.isoconfigurational.neighbour_relative_propensity(dr + np.array([3.0, -1.0]), pairs)
    assert np.allclose(shifted, res.propensity_relative)


def test_member_reproducible_from_recorded_seed(liquid):
    s, pot = liquid
    res = ensembles.IsoconfigurationalEnsemble(s, pot, 3, T=0.8, dt=0.005, seed=5, cutoffs=CUT).run([1.0])
    again = ensembles.IsoconfigurationalEnsemble(s, pot, 1, T=0.8, dt=0.005, seeds=[res.seeds[2]],
                                                 cutoffs=CUT).run([1.0])
    assert np.array_equal(again.displacements[0], res.displacements[2])
    assert np.array_equal(again.first_loss_times[0], res.first_loss_times[2])
    # by hand: thermalize with the seed, run NVE
    m = s.copy()
    m.thermalize(0.8, int(res.seeds[2]))
    x0 = m.unwrapped_positions
    integrators.NVE(0.005).run(m, pot, 200)
    assert np.allclose(m.unwrapped_positions - x0, res.displacements[2, 0], atol=1e-12)


def test_zero_momentum_draw_has_the_right_temperature():
    s = builders.random_packing(400, 0.5, 2, (0.5, 0.5), seed=1, min_distance=0.7, masses=[1.0, 2.0])
    v = []
    for seed in ensembles.member_seeds(3, 10):
        s.thermalize(0.4, int(seed))
        assert np.allclose(s.total_momentum(), 0.0, atol=1e-12)
        assert s.temperature() == pytest.approx(0.4, rel=1e-12)
        v.append(s.velocities.copy())
    v = np.array(v)
    for t, m in ((0, 1.0), (1, 2.0)):
        var = v[:, s.types == t].var()
        n = v[:, s.types == t].size
        assert var == pytest.approx(0.4 / m, rel=4 * np.sqrt(2 / n))


def test_propensity_unchanged_by_wrapping(liquid):
    s, pot = liquid
    shifted = s.copy()
    rng = np.random.default_rng(0)
    shift = rng.integers(-3, 4, size=(s.N, 2))
    shifted.images = shifted.images + shift      # same physical state, different unwrapped origin
    a = ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, seed=1, cutoffs=CUT).run([1.5])
    b = ensembles.IsoconfigurationalEnsemble(shifted, pot, 2, T=0.8, dt=0.005, seed=1, cutoffs=CUT).run([1.5])
    assert np.allclose(a.propensity, b.propensity, atol=1e-10)
    assert np.allclose(a.debye_waller, b.debye_waller, atol=1e-10)
    assert np.array_equal(a.ir_probability, b.ir_probability)


def test_ir_tracker_agrees_with_offline_counter(liquid):
    """The ensemble's in-run neighbour checks equal an offline NeighbourLoss over saved frames."""
    s, pot = liquid
    ens = ensembles.IsoconfigurationalEnsemble(s, pot, 1, T=1.5, dt=0.005, seed=3, cutoffs=CUT, check_every=0.05)
    res = ens.run([3.0])
    m = s.copy()
    m.thermalize(1.5, int(res.seeds[0]))
    off = NeighbourLoss(m.positions, m.box, m.types, CUT)
    integ = integrators.NVE(0.005)
    for k in range(60):
        integ.run(m, pot, 10)
        off.observe(m.positions, m.box, (k + 1) * 0.05)
    assert np.allclose(off.first_loss_time, res.first_loss_times[0], atol=1e-9)
    assert np.array_equal(off.failed, res.failed[0])
    assert off.max_lost.max() >= 1


def test_errors(liquid):
    s, pot = liquid
    ens = ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, cutoffs=CUT)
    with pytest.raises(ValueError, match="increasing"):
        ens.run([2.0, 1.0])
    with pytest.raises(ValueError, match="multiples of dt"):
        ens.run([0.0012])
    with pytest.raises(ValueError, match="integrator"):
        ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, integrator="nph", cutoffs=CUT)
    with pytest.raises(ValueError, match="seeds"):
        ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, seeds=[1], cutoffs=CUT)


def test_nvt_npt_members_and_default_cutoffs(liquid):
    s, pot = liquid
    ens = ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, seed=2, integrator="nvt", tau=0.5)
    assert ens.cutoffs.shape == (2, 2) and np.all((ens.cutoffs > 1.1) & (ens.cutoffs < 2.2))
    res = ens.run([0.5])
    assert np.all(np.isfinite(res.propensity))
    with pytest.raises(ValueError, match="pressure P"):
        ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, integrator="npt", cutoffs=CUT)
    npt = ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, seed=2, integrator="npt", P=10.0,
                                               tau=0.5, tau_P=2.0, cutoffs=CUT).run([0.5])
    assert np.all(np.isfinite(npt.propensity)) and not np.array_equal(npt.propensity, res.propensity)


ISO_FIELDS = ("displacements", "reorganised", "first_loss_times", "failed", "never_recovered", "energies",
              "propensity", "propensity_abs", "propensity_relative", "debye_waller", "ir_probability")


@pytest.mark.parametrize("integrator", ["nve", "nvt"])
def test_batched_runs_equal_the_runs_one_at_a_time(liquid, integrator):
    """Replica batches (batch = 2 of 5 runs: chunks 2, 2, 1; batch = 8: all five at once) give the
    sequential ensemble's fields bit for bit: same seeds, same trajectories."""
    s, pot = liquid
    kw = dict(T=1.5, dt=0.005, seed=4, cutoffs=CUT, integrator=integrator, tau=0.5, check_every=0.05)
    one = ensembles.IsoconfigurationalEnsemble(s, pot, 5, **kw).run([0.25, 1.0, 1.5])
    for batch in (2, 8):
        ens = ensembles.IsoconfigurationalEnsemble(s, pot, 5, batch=batch, **kw)
        assert ens.batch == batch and ens.batch_refused is None
        res = ens.run([0.25, 1.0, 1.5])
        np.testing.assert_array_equal(res.seeds, one.seeds)
        for field in ISO_FIELDS:
            np.testing.assert_array_equal(getattr(res, field), getattr(one, field), err_msg=field)
    assert np.isfinite(one.first_loss_times[:, 0]).any() and np.ptp(one.displacements[:, -1]) > 0


def test_batch_falls_back_to_one_at_a_time_with_a_message(liquid):
    s, pot = liquid
    kw = dict(T=0.8, dt=0.005, seed=2, integrator="npt", P=10.0, tau=0.5, tau_P=2.0, cutoffs=CUT)
    with pytest.warns(UserWarning, match="one at a time: NPT has no batched kernels"):
        ens = ensembles.IsoconfigurationalEnsemble(s, pot, 2, batch=4, **kw)
    assert ens.batch == 1 and "NPT" in ens.batch_refused
    np.testing.assert_array_equal(ens.run([0.25]).displacements,
                                  ensembles.IsoconfigurationalEnsemble(s, pot, 2, **kw).run([0.25]).displacements)
    with pytest.raises(ValueError, match="batch"):
        ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, cutoffs=CUT, batch=0)


# ------------------------------------------------------------------ inherent structures
def test_inherent_structure_ensemble(liquid):
    s, _ = liquid
    pot = potentials.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    ise = ensembles.InherentStructureEnsemble(s, pot, T_p=0.8, dt=0.005, per_chain=2, interval=0.5, n_chains=2,
                                              minimizer=ScipyMinimizer(), seed=4)
    res = ise.run()
    assert len(res) == 4 and res.positions.shape == (4, s.N, 2)
    for q, e in zip(res.samples, res.energies):
        r = pot.compute(q)
        assert r.energy == pytest.approx(e, rel=1e-10)
        assert np.abs(r.forces).max() < 1e-5
    assert res.energies[0] != res.energies[2]          # independent chains
    assert np.array_equal(res.chain, [0, 0, 1, 1]) and np.all(np.diff(res.parent_times[:2]) > 0)


def test_inherent_structure_trajectory(liquid):
    s, _ = liquid
    pot = potentials.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    m = s.copy()
    m.thermalize(0.8, 9)
    traj = ensembles.inherent_structure_trajectory(m, pot, integrators.NoseHoover(0.005, 0.8, 0.5), steps=60,
                                                   every=10, keep_positions=True)   # the default quench (CG to 1e-10)
    assert len(traj.energies) == 7 and traj.times[-1] == pytest.approx(m.time)
    for x, e in zip(traj.positions, traj.energies):
        q = m.copy()
        q.positions = x
        assert pot.energy(q) == pytest.approx(e, rel=1e-12)
    jumps = np.abs(np.diff(traj.energies)) > 1e-5
    assert np.array_equal(traj.transitions, jumps)
    assert traj.rate == pytest.approx(jumps.sum() / (traj.times[-1] - traj.times[0]))
    a0 = (m.box.volume / m.N) ** 0.5
    assert traj.reduced_rate() == pytest.approx(traj.rate * 0.1 * a0 / np.sqrt(0.8) * 1000 / m.N)


def test_inherent_structure_trajectory_in_segments(liquid):
    """Three segments of 20 steps (quench every 10) 200 steps apart are the unsegmented trajectories of the
    same MD run glued together: jumps across a gap are not transitions, and the rate is per quenched
    time (3 x 20 dt), not per wall of the run."""
    s, _ = liquid
    pot = potentials.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    m = s.copy()
    m.thermalize(1.5, 3)
    a, b = m.copy(), m.copy()
    tr = ensembles.inherent_structure_trajectory(a, pot, integrators.NVE(0.005), steps=20, every=10, segments=3, gap=200)
    assert np.array_equal(tr.segment, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    parts = []
    for k in range(3):
        if k:
            integrators.NVE(0.005).run(b, pot, 200)
        parts.append(ensembles.inherent_structure_trajectory(b, pot, integrators.NVE(0.005), steps=20, every=10))
    np.testing.assert_allclose(tr.energies, np.concatenate([p.energies for p in parts]), rtol=1e-12)
    np.testing.assert_allclose(np.diff(tr.times[[2, 3]]), 200 * 0.005)
    assert abs(tr.energies[3] - tr.energies[2]) > 1e-5 and not tr.transitions[2] and not tr.transitions[5]
    assert tr.n_transitions == sum(p.n_transitions for p in parts)
    assert tr.span == pytest.approx(3 * 20 * 0.005)
    assert tr.rate == pytest.approx(tr.n_transitions / (3 * 20 * 0.005))
    with pytest.raises(ValueError, match="segments"):
        ensembles.inherent_structure_trajectory(m.copy(), pot, integrators.NVE(0.005), steps=2, every=1, segments=0)


def test_debye_waller_over_interval_is_time_variance_averaged_over_runs():
    """Paper 3's DWF (variance of the position over t <= t_DW per run, averaged over runs) against a
    naive loop, on synthetic member data; paper 1's `debye_waller` (variance over runs) is unchanged."""
    from pyglass.analysis.ensembles.isoconfigurational import IsoconfigurationalResult
    rng = np.random.default_rng(0)
    times = np.array([1.0, 2.0, 3.0, 10.0])
    members = [{"dr": rng.normal(size=(4, 5, 2)), "reorganised": np.zeros((4, 5), bool),
                "first_loss_time": np.full((5, 5), np.inf), "failed": np.zeros((5, 5), int), "never_recovered": np.zeros((5, 5), int),
                "energies": np.zeros(5)} for _ in range(3)]
    res = IsoconfigurationalResult(times, [1, 2, 3], members, 4)
    got = res.debye_waller_over_interval(3.0)
    naive = np.zeros(5)
    for m in members:
        for i in range(5):
            pts = np.vstack([np.zeros(2), m["dr"][:3, i]])             # origin + t = 1, 2, 3
            naive[i] += np.sum(pts.var(axis=0)) / 3
    np.testing.assert_allclose(got, naive, rtol=1e-12)
    np.testing.assert_allclose(res.debye_waller[0], np.stack([m["dr"][0] for m in members]).var(0).sum(-1))
    with pytest.raises(ValueError, match="two samples"):
        res.debye_waller_over_interval(0.5)


def test_inherent_structure_trajectory_warns_about_a_non_smooth_cutoff(liquid):
    """Paper 2 counts IS jumps dU > 1e-5: a shifted cutoff (force jump) fakes some, so the IS
    trajectory warns unless phi, phi', phi'' vanish at r_c (Potential.cutoff_continuity >= 2)."""
    import warnings
    s, shifted = liquid
    assert shifted.cutoff_continuity == 0
    with pytest.warns(UserWarning, match="cutoff_continuity"):
        ensembles.inherent_structure_trajectory(s.copy(), shifted, integrators.NVE(0.005), steps=2, every=2)
    smooth = potentials.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ensembles.inherent_structure_trajectory(s.copy(), smooth, integrators.NVE(0.005), steps=2, every=2)


def test_count_new_minima_counts_first_visits_only():
    """Jumps 0->1 (new), 1->0, 0->1 (returns), 1->2 (new), 2->2+1e-7 (no jump), ->0 (return), ->3 (new),
    ->1+5e-6 (a return: within epsilon of a visited minimum)."""
    from pyglass.analysis.ensembles import ISTrajectory, count_new_minima
    e = [0.0, 1.0, 0.0, 1.0, 2.0, 2.0 + 1e-7, 0.0, 3.0, 1.0 + 5e-6]

    def jumps(u, eps, segment=None):
        return ISTrajectory(np.arange(len(u)), u, eps, 1, 1.0, 1.0, 3, segment=segment).transitions

    assert count_new_minima(e, jumps(e, 1e-5), 1e-5) == 3
    assert count_new_minima(e, jumps(e, 1e-8), 1e-8) == 5       # now 2 + 1e-7 and 1 + 5e-6 are minima of their own
    assert count_new_minima([1.0], jumps([1.0], 1e-5)) == 0
    u = [0.0, 1.0, 2.0, 3.0]
    assert count_new_minima(u, jumps(u, 1e-5, [0, 0, 1, 1])) == 2   # 1 -> 2 spans a gap
    with pytest.raises(ValueError, match="4 energies need 3 transition flags"):
        count_new_minima(u, [True])


def test_transition_rate_spread_over_segments():
    """Three segments of 4 quenches with 1, 3 and 2 jumps (and a jump across each gap, not counted): the
    spread is the rate's standard error over the segments, 2 x sd(1, 3, 2) / (2 sqrt 3); one segment:
    Poisson, rate / sqrt(8) for its 8 jumps."""
    from pyglass.analysis.ensembles import transition_rate_spread
    u = np.array([0, 1, 1, 1, 5, 6, 7, 8, 20, 21, 21, 22], float)
    seg = np.repeat([0, 1, 2], 4)
    tr = (np.abs(np.diff(u)) > 1e-5) & (seg[1:] == seg[:-1])
    spread, frac = transition_rate_spread(2.0, tr, seg)
    assert frac == 6 / 9
    assert spread == pytest.approx(2.0 * 1.0 / (2.0 * np.sqrt(3)))
    one = np.abs(np.diff(u)) > 1e-5
    assert transition_rate_spread(2.0, one, np.zeros(12, int)) == (pytest.approx(2.0 / np.sqrt(8)), 8 / 11)


def test_isoconfigurational_records_the_energy_and_the_initial_neighbour_graph(liquid):
    """Each run's total energy per particle at the start and at each time (NVE: conserved to the
    integrator's error; against the by-hand run), and the neighbour pairs of the start."""
    from pyglass.analysis.observables.structure import neighbour_pairs
    s, pot = liquid
    res = ensembles.IsoconfigurationalEnsemble(s, pot, 2, T=0.8, dt=0.005, seed=4, cutoffs=CUT).run([0.5, 1.0])
    assert res.energies.shape == (2, 3)
    m = s.copy()
    m.thermalize(0.8, int(res.seeds[1]))
    e0 = (pot.compute(m).energy + m.kinetic_energy()) / m.N
    integrators.NVE(0.005).run(m, pot, 200)
    e1 = (pot.compute(m).energy + m.kinetic_energy()) / m.N
    assert res.energies[1, 0] == pytest.approx(e0, rel=1e-12) and res.energies[1, 2] == pytest.approx(e1, rel=1e-10)
    assert np.abs(res.energies[:, -1] - res.energies[:, 0]).max() < 1e-3
    i, j = neighbour_pairs(s.positions, s.box, s.types, CUT)
    assert np.array_equal(res.neighbour_pairs, np.stack([i, j], 1)) and np.array_equal(res.cutoffs, CUT)


def test_quenched_modes_member_equals_the_by_hand_run_and_dense_modes():
    """Every quench of a run: its energy and participation map against a run by hand (thermalised
    with the recorded seed, NVE, CG quench, modes from the dense Hessian); column 0 is the start's
    inherent structure in every run; the renormalised map is the maximum over all of them."""
    from pyglass import landscape, minimizers
    s = builders.random_packing(36, 0.75, 2, (0.5, 0.5), seed=3, min_distance=0.85)
    pot = potentials.SoftDisks2D(cutoff=2.5, smoothing="smooth")
    s.thermalize(0.5, 1)
    integrators.NoseHoover(0.005, 0.5, 0.5).run(s, pot, 200)
    ens = ensembles.QuenchedModesEnsemble(s, pot, n_runs=2, T=0.5, dt=0.005, steps=40, every=20, k=6,
                                          map_modes=4, seed=9)
    res = ens.run()
    assert res.energies.shape == (2, 3) and res.participation.shape == (2, 3, 36) and res.eigenvalues.shape == (2, 3, 6)
    np.testing.assert_array_equal(res.times, [0.0, 0.1, 0.2])

    def by_hand(config):
        q = config.copy()
        r = minimizers.ConjugateGradient(ftol=1e-10).minimize(q, pot)
        w, v = np.linalg.eigh(landscape.hessian(q, pot).toarray())
        v = v[:, 2:2 + 6].T.reshape(6, 36, 2)        # the two translations have the lowest |w|
        return r.energy, w[2:8], np.einsum("kia,kia->i", v[:4], v[:4])
    e, w, p = by_hand(s)
    for run in range(2):
        assert res.energies[run, 0] == pytest.approx(e, rel=1e-12)
        np.testing.assert_allclose(res.eigenvalues[run, 0], w, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(res.participation[run, 0], p, atol=1e-8)
    m = s.copy()
    m.thermalize(0.5, int(res.seeds[1]))
    integ = integrators.NVE(0.005)
    for col in (1, 2):
        integ.run(m, pot, 20)
        e, w, p = by_hand(m)
        assert res.energies[1, col] == pytest.approx(e, rel=1e-10)
        np.testing.assert_allclose(res.participation[1, col], p, atol=1e-6)
    assert res.max_force.max() <= 1e-10
    np.testing.assert_array_equal(res.renormalised_map(), res.participation.reshape(-1, 36).max(0))
    np.testing.assert_array_equal(res.renormalised_map([0]), res.participation[0].max(0))
    assert res.changes().shape == (2, 2)
    with pytest.raises(ValueError, match="multiple of every"):
        ensembles.QuenchedModesEnsemble(s, pot, 1, 0.5, 0.005, steps=30, every=20)
    with pytest.raises(ValueError, match="map_modes"):
        ensembles.QuenchedModesEnsemble(s, pot, 1, 0.5, 0.005, steps=20, every=20, k=4, map_modes=5)
