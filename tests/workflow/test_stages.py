"""Every deck stage kind on a tiny deck: its results equal the Python API's on the same input
(bitwise where the arithmetic is the same), and studies over samples, restarts and summaries."""
import os
import re

import h5py
import numpy as np
import pytest

from pyglass import landscape
from pyglass.io.checkpoint import read_checkpoint
from pyglass.workflow.deck import DeckError, parse_deck
from pyglass.io.h5md import RESULTS_ROOT
from pyglass.workflow.run import RunInterrupted, run_deck, unit_path
from decks import deck as deck_text, md, stage, system
from helpers import Sink

from helpers import ROOT  # noqa: E402

# jitter 0.02 lattice spacings: at 0.1 the closest pairs sit at ~0.6 sigma, the first MD steps reach
# energies of 1e12 and launch particles to infinity (now an error: domain.require_finite_positions)
KA = {"model": "kob-andersen", "smoothing": "smooth"}
EQ = md("eq", kind="equilibrate", steps=40, dt=0.004, T=0.8, tau=0.4, temperature=0.8)
IS = stage("quench", "is", minimizer={"type": "fire", "ftol": 1e-11})


def ka_deck(*stages, head=(EQ, IS), n=64, study=None, output=None, run=None, placement=None) -> str:
    """n KA particles on a jittered lattice (or as `placement` says, e.g. {"generate": "random",
    "min_distance": 0.75}), `head` (equilibrated at T = 0.8, quenched), then `stages`; `run`: [run] keys
    beside the seed."""
    return deck_text(system(n=n, temperature=None, **(placement or {"jitter": 0.02})), *head, *stages, potential=KA,
                     study=study, output=output or {"thermo": 0}, run={"seed": 7, "progress": False, **(run or {})})


def run(tmp_path, text, name="out.h5", **kw):
    deck = parse_deck(text, str(tmp_path / "deck.toml"))
    out = str(tmp_path / name)
    run_deck(deck, output=out, stream=Sink(), handle_signals=False, **kw)
    return deck, out


def results(path, stage):
    with h5py.File(path, "r") as f:
        g = f[f"{RESULTS_ROOT}/{stage}"]
        return {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)}, dict(g.attrs)


def quenched(tmp_path, deck):
    """The inherent structure the deck's landscape stages saw: the checkpoint after the quench."""
    ck = read_checkpoint(str(tmp_path / "out.ckpt.h5"))
    assert ck.stage_index >= 2
    return ck.system, deck.build_potential()


LANDSCAPE = (stage("modes", "modes", k=10), stage("shear-modulus", "G"),
             stage("dipole-stiffness", "kappa", pairs="all", local=True), stage("dipole-stiffness", "rnd", n_pairs=20),
             stage("pseudoharmonic", "ph", n_starts=4, n_keep=2), stage("shear", "sh", gammas=[0.01, 0.02]))


def test_landscape_stages_equal_the_python_api(tmp_path):
    deck, out = run(tmp_path, ka_deck(*LANDSCAPE))
    system, pot = quenched(tmp_path, deck)
    m = landscape.lowest_modes(system, pot, k=10)
    r, attrs = results(out, "modes")
    assert r["eigenvalues"].shape == (10,) and r["participation_ratio"].shape == (10,)
    np.testing.assert_array_equal(r["eigenvalues"], m.eigenvalues)
    np.testing.assert_array_equal(r["participation_ratio"], m.participation_ratio)
    np.testing.assert_array_equal(r["participation"], m.participation_fractions(10))
    g, _ = results(out, "G")
    assert g["G"].shape == ()
    np.testing.assert_allclose(g["G"], landscape.shear_modulus(system, pot), rtol=1e-12)
    k, _ = results(out, "kappa")
    pairs = landscape.interacting_pairs(system, pot)
    np.testing.assert_array_equal(k["pairs"], pairs)
    np.testing.assert_allclose(k["kappa"], landscape.dipole_stiffness(system, pot, pairs), rtol=1e-10)
    np.testing.assert_allclose(k["kappa_local"], landscape.local_dipole_stiffness(system, pot), rtol=1e-10)
    rnd, rattrs = results(out, "rnd")
    np.testing.assert_array_equal(rnd["pairs"], landscape.random_pairs(system, pot, 20, int(rattrs["pair_seed"])))
    ph, _ = results(out, "ph")
    ref = landscape.pseudoharmonic_modes(system, pot, n_starts=4, n_keep=2)
    np.testing.assert_allclose(ph["stiffness"], ref.stiffness, rtol=1e-8)
    sh, _ = results(out, "sh")
    ref = landscape.shear_inherent_structures(system, pot, [0.01, 0.02])
    np.testing.assert_allclose(sh["stress_xy"], ref.stress_xy, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sh["nonaffine_magnitude"], ref.nonaffine_magnitude(), rtol=1e-6, atol=1e-10)


def test_landscape_stages_share_one_factorisation(tmp_path, monkeypatch):
    from pyglass.analysis.landscape import solvers
    made = []
    orig = solvers.PseudoInverse.__init__

    def counting(self, *a, **k):
        made.append(1)
        orig(self, *a, **k)
    monkeypatch.setattr(solvers.PseudoInverse, "__init__", counting)
    run(tmp_path, ka_deck(*LANDSCAPE[:4]))   # up to "ph"
    assert len(made) == 1


def test_isoconfigurational_overlap_and_is_trajectory(tmp_path):
    text = ka_deck(stage("modes", "modes", k=8),
                   stage("isoconfigurational", "iso", n_runs=3, T=0.8, dt=0.004, times=[0.04, 0.08], dw_interval=0.08,
                         batch=3),
                   stage("overlap", "cmp", a="modes/participation", b="iso/propensity", baseline_samples=5),
                   stage("inherent-structures", "ist", steps=20, every=10, integrator={"type": "nve", "dt": 0.004}))
    deck, out = run(tmp_path, text)
    system, pot = quenched(tmp_path, deck)
    iso, attrs = results(out, "iso")
    from pyglass.analysis.ensembles import IsoconfigurationalEnsemble
    # the stage ran its three runs as one replica batch (batch = 3); the API, one at a time
    ref = IsoconfigurationalEnsemble(system, pot, 3, 0.8, 0.004, seed=int(attrs["ensemble_seed"])).run([0.04, 0.08])
    assert iso["propensity"].shape == (2, 64)
    np.testing.assert_array_equal(iso["seeds"], ref.seeds)
    np.testing.assert_array_equal(iso["propensity"], ref.propensity)
    np.testing.assert_array_equal(iso["debye_waller_interval"], ref.debye_waller_over_interval(0.08))
    cmp_, _ = results(out, "cmp")
    from pyglass.analysis.observables.statistics import overlap
    modes, _ = results(out, "modes")
    expect = overlap(modes["participation"], iso["propensity"][-1], system.positions, system.box, 0.25, 3,
                     types=system.types)
    np.testing.assert_equal(cmp_["overlap"], expect)
    ist, _ = results(out, "ist")
    from pyglass.analysis.ensembles.inherent_structures import inherent_structure_trajectory
    from pyglass.engine.integrators import NVE
    from pyglass.engine.minimizers import default_quench_minimizer   # the stage's default quench
    tr = inherent_structure_trajectory(system.copy(), pot, NVE(0.004), 20, 10, minimizer=default_quench_minimizer())
    np.testing.assert_allclose(ist["energies"], tr.energies, rtol=1e-12)
    assert int(ist["n_transitions"]) == tr.n_transitions


def test_lattice_stage_runs_the_trsp_model(tmp_path):
    text = ka_deck(stage("lattice", "trsp", parameters=os.path.join(ROOT, "inputs", "trsp_ka.toml"), temperatures=[0.6],
                         L=6, t_max=20.0, n_runs=2))
    _, out = run(tmp_path, text)
    r, _ = results(out, "trsp")
    assert r["Q"].shape[0] == 1 and r["Q"].shape[1] == len(r["sample_times"])
    assert np.all(np.diff(r["Q"][0]) <= 1e-12) and r["Q"][0][0] <= 1.0
    k = int(np.argmax(r["chi4"][0]))   # flagged exactly when the largest chi4 is at the first or last time
    assert r["tau4_at_edge"].tolist() == [k in (0, len(r["chi4"][0]) - 1)]


STUDY = (stage("shear-modulus", "G"), stage("modes", "modes", k=4),
         stage("summary", "sum", fields=["G/G", "modes/eigenvalues"]))
DRAWN = {"samples": 2, "source": "trajectory", "draw_after": "eq", "spacing": 10}   # samples drawn after "eq"


def test_study_over_samples_with_summary(tmp_path):
    deck, out = run(tmp_path, ka_deck(*STUDY, study={"samples": 3}))
    gs = []
    for s in range(3):
        r, _ = results(unit_path(out, "", s), "G")
        gs.append(float(r["G"]))
    assert len(set(gs)) == 3   # independent samples
    with h5py.File(out, "r") as f:
        g = f[f"{RESULTS_ROOT}/sum/all/G.G"]
        assert g["mean"][()] == pytest.approx(np.mean(gs), rel=1e-12)
        assert g["low"][()] <= g["mean"][()] <= g["high"][()]
        assert g["n"][()] == 3
        ev = f[f"{RESULTS_ROOT}/sum/all/modes.eigenvalues/mean"][()]
        assert ev.shape == (4,)
        # the index links every sample's results
        assert float(f[f"{RESULTS_ROOT}/study/samples/all/s1/G/G"][()]) == gs[1]
        assert list(f[f"{RESULTS_ROOT}/study/status"].asstr()[()]) == ["complete"] * 3
    from pyglass.io.h5md import info   # pyglass info names each sample's file, one line each
    assert f"study/samples/all/s1 -> {os.path.basename(unit_path(out, '', 1))}:/{RESULTS_ROOT}" in info(out)


def test_isoconfigurational_first_samples_runs_the_ensemble_in_a_subset_of_a_study(tmp_path):
    """first_samples = 2 of 3: samples 0 and 1 hold the ensemble (the same as without the key), sample 2
    has none and the study completes."""
    dp = stage("isoconfigurational", "dp", n_runs=2, T=0.8, dt=0.004, times=[0.04])
    _, out = run(tmp_path, ka_deck({**dp, "first_samples": 2}, study={"samples": 3}))
    _, every = run(tmp_path, ka_deck(dp, study={"samples": 3}), name="every.h5")
    from pyglass.workflow.run import results as R
    units = R.open(out).units(status="complete")
    assert [u.run.has_stage("dp") for u in units] == [True, True, False]
    ref = R.open(every).units(status="complete")
    for u, v in zip(units[:2], ref[:2]):
        np.testing.assert_array_equal(u.run.stage("dp")["propensity"], v.run.stage("dp")["propensity"])


def test_study_state_points(tmp_path):
    deck, out = run(tmp_path, ka_deck(*STUDY, study={"samples": 1, "state": [
        {"label": "rho1.1", "set": {"system.density": 1.1}}, {"label": "rho1.3", "set": {"system.density": 1.3}}]}))
    assert [lab for lab, _ in deck.states] == ["rho1.1", "rho1.3"]
    lo, _ = results(unit_path(out, "rho1.1", 0), "G")
    hi, _ = results(unit_path(out, "rho1.3", 0), "G")
    assert float(hi["G"]) > float(lo["G"])   # denser glass is stiffer


@pytest.mark.parametrize("checkpoint", [20, 0])
def test_study_interrupted_then_restarted_equals_uninterrupted(tmp_path, checkpoint):
    """Stopped at step 20 of the first sample's MD. On a checkpoint step (the straight run also
    rebuilds its neighbour lists there) the restart is bit for bit; between checkpoint steps the
    restart rebuilds lists and ghosts that the straight run still carries from an earlier step, so
    force sums run in another order and the results agree to round-off only (ARCHITECTURE.md)."""
    text = ka_deck(*STUDY, study={"samples": 3}, output={"thermo": 0, "checkpoint": checkpoint})
    _, ref = run(tmp_path, text, name="ref.h5")
    with pytest.raises(RunInterrupted):
        run(tmp_path, text, name="cut.h5", stop_at_step=20)
    run(tmp_path, text, name="cut.h5", restart=str(tmp_path / "cut.ckpt.h5"))
    same = np.testing.assert_array_equal if checkpoint else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-8, atol=0))
    for s in range(3):
        a, _ = results(unit_path(ref, "", s), "modes")
        b, _ = results(unit_path(str(tmp_path / "cut.h5"), "", s), "modes")
        same(a["eigenvalues"], b["eigenvalues"])
    with h5py.File(ref, "r") as f, h5py.File(tmp_path / "cut.h5", "r") as g:
        same(f[f"{RESULTS_ROOT}/sum/all/G.G/values"][()], g[f"{RESULTS_ROOT}/sum/all/G.G/values"][()])


def test_restart_from_the_checkpoint_between_a_quench_and_md_equals_uninterrupted(tmp_path, monkeypatch):
    """Killed after the push-off quench's end-of-stage checkpoint, before the MD stage's first one:
    the restart starts the MD stage afresh (velocities drawn as in the uninterrupted run)."""
    from pyglass.workflow.stages.md import MD
    # after eq and the quench "is"
    text = ka_deck(md("eq2", kind="equilibrate", steps=40, dt=0.002, T=0.5, tau=0.2, temperature=0.5))
    _, ref = run(tmp_path, text, name="ref.h5")
    original = MD.run

    def killed(self, ctx):
        if self.name == "eq2":
            raise KeyboardInterrupt("killed")
        return original(self, ctx)
    monkeypatch.setattr(MD, "run", killed)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, text, name="cut.h5")
    monkeypatch.setattr(MD, "run", original)
    assert read_checkpoint(str(tmp_path / "cut.ckpt.h5")).stage_index == 2
    run(tmp_path, text, name="cut.h5", restart=str(tmp_path / "cut.ckpt.h5"))
    a = read_checkpoint(str(tmp_path / "ref.ckpt.h5")).system
    b = read_checkpoint(str(tmp_path / "cut.ckpt.h5")).system
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.velocities, b.velocities)


def test_study_samples_from_one_trajectory(tmp_path):
    deck, out = run(tmp_path, ka_deck(*STUDY, study=DRAWN))
    a, _ = results(unit_path(out, "", 0), "G")
    b, _ = results(unit_path(out, "", 1), "G")
    assert float(a["G"]) != float(b["G"])


def test_python_observable_receives_the_potential(tmp_path):
    text = ka_deck(md("prod", steps=10, integrator="nve", dt=0.004, T=None, tau=None,
                      observables=[{"type": "python", "class": "tests.helpers:ISEnergy", "every": 5}]))
    _, out = run(tmp_path, text)
    with h5py.File(out, "r") as f:
        e = f[f"{RESULTS_ROOT}/prod/python/energy"][()]
    assert np.isfinite(e) and e < 0


def test_shear_stage_paper3_protocol(tmp_path):
    text = ka_deck(stage("shear", "sh", protocol="affine-quench", gammas=[0.02, 0.04]), head=(EQ,))
    deck, out = run(tmp_path, text)
    ck = read_checkpoint(str(tmp_path / "out.ckpt.h5"))   # the equilibrium configuration X after "eq"
    ref = landscape.affine_quench_response(ck.system, deck.build_potential(), [0.02, 0.04])
    r, _ = results(out, "sh")
    np.testing.assert_allclose(r["stress_xy"], ref.stress, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(r["nonaffine_magnitude"], np.linalg.norm(ref.displacements, axis=2), rtol=1e-6,
                               atol=1e-9)
    assert float(r["stress_peak"]) == ref.stress_peak_strain
    assert r["max_force"].shape == (2,) and r["max_force"].max() <= 1e-10 and r["max_force_q"] <= 1e-10
    assert "participation_dq" not in r          # no modes asked


def _dense_participation(system, pot, sums):
    """p_i(N_m) of the N_m - d lowest non-zero modes by dense eigh of the Hessian, the d translations
    (the eigenvectors most parallel to them) removed: the reference for the stage's modes."""
    from pyglass.analysis.landscape.hessian import translation_basis
    w, v = np.linalg.eigh(landscape.hessian(system, pot).toarray())
    d = system.dim
    zero = np.argsort(np.sum((translation_basis(system.N, d).T @ v) ** 2, axis=0))[::-1][:d]
    keep = [k for k in range(len(w)) if k not in set(zero.tolist())]
    vecs = v[:, keep].T.reshape(len(keep), system.N, d)
    return np.array([np.einsum("kia,kia->i", vecs[:nm - d], vecs[:nm - d]) for nm in sums]), w[keep]


def test_shear_stage_modes_of_every_deformed_and_quenched_configuration(tmp_path):
    """Paper 3's p^dq: the stage's participation maps of X^q and of every X^dq(gamma) equal those of
    dense eigh on the configurations the protocol quenches to (tilted cells included)."""
    text = ka_deck(stage("shear", "sh", protocol="affine-quench", gammas=[0.0001, 0.05], modes=12,
                         mode_sums=[4, 5, 9, 15]), head=(EQ,))
    deck, out = run(tmp_path, text)
    pot = deck.build_potential()
    ck = read_checkpoint(str(tmp_path / "out.ckpt.h5"))
    ref = landscape.affine_quench_response(ck.system, pot, [0.0001, 0.05], keep_configurations=True)
    r, _ = results(out, "sh")
    assert r["participation_dq"].shape == (2, 4, 64) and r["participation_q"].shape == (4, 64)
    np.testing.assert_array_equal(r["mode_sums"], [4, 5, 9, 15])
    for conf, p, ev in [(ref.quenched, r["participation_q"], r["eigenvalues_q"])] + \
            [(c, r["participation_dq"][k], r["eigenvalues_dq"][k]) for k, c in enumerate(ref.configurations)]:
        p_ref, w_ref = _dense_participation(conf, pot, [4, 5, 9, 15])
        np.testing.assert_allclose(ev, w_ref[:12], rtol=1e-7)
        np.testing.assert_allclose(p, p_ref, atol=1e-7)
    assert ref.configurations[1].box.tilt_xy != 0.0        # the sheared cell's modes were computed


@pytest.mark.parametrize("extra,message", [
    ({"modes": 4}, 'only applies with protocol = "affine-quench"'),
    ({"protocol": "affine-quench", "mode_sums": [4]}, "only applies with modes > 0"),
    ({"protocol": "affine-quench", "modes": 4, "mode_sums": [3, 5]}, "N_m = 3 is outside 4..7"),
    ({"protocol": "affine-quench", "modes": 4, "mode_sums": [5, 5]}, "must be increasing"),
    ({"protocol": "affine-quench", "modes": 400}, "must be <= 189"),
])
def test_shear_stage_mode_keys_are_checked_before_any_work(tmp_path, extra, message):
    text = ka_deck(stage("shear", "sh", gammas=[0.01], **extra), head=(EQ,))
    with pytest.raises(DeckError, match=re.escape(message)):
        parse_deck(text, str(tmp_path / "deck.toml"))


SIGTERM_STUDY = deck_text(
    system(jitter=0.1, temperature=0.8),
    stage("quench", "push-off", minimizer={"type": "fire", "ftol": 1e-2}),
    md("eq", kind="equilibrate", steps=4000, thermo=500, dt=0.004, T=0.8, tau=0.4, temperature=0.8), IS,
    stage("shear-modulus", "G"), stage("summary", "sum", fields=["G/G"]),
    potential=KA, study={"samples": 3}, output={"thermo": 0, "checkpoint": 500},
    run={"seed": 3, "progress": False, "signal_check": 10})


def test_sigterm_in_a_study_then_restart_gives_the_uninterrupted_results(tmp_path):
    """A real SIGTERM while the second sample runs; --restart keeps the first, continues the second
    from its checkpoint and runs the third: every sample and the summary equal an uninterrupted run."""
    import signal
    import subprocess
    import sys
    import time
    (tmp_path / "deck.toml").write_text(SIGTERM_STUDY)
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "pyglass.workflow.cli", "run", "deck.toml"]
    subprocess.run(cmd + ["-o", "ref.h5", "-q"], cwd=tmp_path, env=env, check=True, timeout=300)
    proc = subprocess.Popen(cmd + ["-o", "cut.h5"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not (tmp_path / "cut.s1.ckpt.h5").exists() and time.time() - t0 < 120:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "SIGTERM" in out and "--restart" in out
    with h5py.File(tmp_path / "cut.h5", "r") as f:
        assert f["h5md/provenance"].attrs["status"] == b"interrupted"
    r = subprocess.run(cmd + ["-o", "cut.h5", "-q", "--restart", "cut.ckpt.h5"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for s in range(3):
        a, _ = results(str(tmp_path / f"ref.s{s}.h5"), "G")
        b, _ = results(str(tmp_path / f"cut.s{s}.h5"), "G")
        assert float(a["G"]) == float(b["G"]), s
    with h5py.File(tmp_path / "ref.h5", "r") as f, h5py.File(tmp_path / "cut.h5", "r") as g:
        assert g["h5md/provenance"].attrs["status"] == b"complete"
        np.testing.assert_array_equal(f[f"{RESULTS_ROOT}/sum/all/G.G/mean"][()], g[f"{RESULTS_ROOT}/sum/all/G.G/mean"][()])
    from h5md_check import h5md_problems   # the index file and a unit's file are H5MD 1.1
    assert h5md_problems(tmp_path / "cut.h5") == [] and h5md_problems(tmp_path / "cut.s1.h5") == []


def test_reanalysis_of_stored_frames(tmp_path):
    """[study] source = "frames": landscape stages over the frames of a LAMMPS dump, no MD."""
    from pyglass import builders, integrators, io as pio, minimizers, potentials
    pot = potentials.KobAndersen(smoothing="smooth")
    s = builders.random_packing(64, 1.2, 3, (0.8, 0.2), seed=5, min_distance=0.8)
    minimizers.FIRE(ftol=1e-2).minimize(s, pot)
    s.thermalize(0.8, 1)
    frames = []
    for k in range(2):
        integrators.NVE(0.004).run(s, pot, 50)
        pio.write_lammps_dump(s, tmp_path / "traj.dump", append=k > 0)
        frames.append(s.copy())
    text = deck_text({"file": "traj.dump"}, IS, stage("modes", "modes", k=6), potential=KA,
                     study={"samples": 2, "source": "frames"}, run={"progress": False})
    deck = parse_deck(text, str(tmp_path / "deck.toml"))
    out = str(tmp_path / "re.h5")
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    stored = [f for _, f in pio.read_lammps_dump(str(tmp_path / "traj.dump"))]
    for k in range(2):
        r, _ = results(unit_path(out, "", k), "modes")
        q = read_checkpoint(os.path.splitext(unit_path(out, "", k))[0] + ".ckpt.h5").system
        ref = stored[k]
        # frame k of the file (written wrapped into the box: compare unwrapped positions)
        np.testing.assert_allclose(ref.unwrapped_positions, frames[k].unwrapped_positions, atol=1e-12)
        minimizers.FIRE(ftol=1e-11).minimize(ref, deck.build_potential())
        np.testing.assert_array_equal(q.positions, ref.positions)                  # sample k = frame k
        np.testing.assert_array_equal(r["eigenvalues"], landscape.lowest_modes(q, deck.build_potential(), k=6).eigenvalues)
    a, _ = results(unit_path(out, "", 0), "modes")
    b, _ = results(unit_path(out, "", 1), "modes")
    assert not np.array_equal(a["eigenvalues"], b["eigenvalues"])   # two different frames


def test_softness_and_caging_softness_stages(tmp_path):
    """`softness` applies a saved model (its grid) and equals model.apply; `caging-softness` equals
    CagingPotential on the same configuration; both feed `overlap`."""
    from pyglass import softness as sft
    deck0 = parse_deck(ka_deck(), str(tmp_path / "d0.toml"))
    run_deck(deck0, output=str(tmp_path / "is.h5"), stream=Sink(), handle_signals=False)
    system = read_checkpoint(str(tmp_path / "is.ckpt.h5")).system
    sf = sft.StructureFunctions(mu=np.arange(0.1, 3.0, 0.1), r_max=3.0, angular=[])
    X = sf.compute(system)
    label = X[:, 10] > np.median(X[:, 10])          # a structural label the SVM can learn
    model = sft.train(X[label], X[~label], C=1.0, grid=sf.grid())
    model.save(tmp_path / "model")
    text = ka_deck(stage("softness", "S", model="model.json"), stage("caging-softness", "cage", T=0.8, c0=1.0, c1=0.1),
                   stage("overlap", "cmp", a="S/softness", b="cage/phi_r", baseline_samples=0))
    deck, out = run(tmp_path, text)
    r, attrs = results(out, "S")
    np.testing.assert_allclose(r["softness"], model.apply(system), rtol=1e-10, atol=1e-12)
    c, _ = results(out, "cage")
    cp = sft.CagingPotential(deck.build_potential(), 0.8)
    cp.fit_reference([system.positions], system.box, system.types)
    np.testing.assert_allclose(c["phi_r"], cp.compute(system), rtol=1e-10)
    np.testing.assert_allclose(c["softness"], 1.0 / (1.0 + 0.1 * c["phi_r"]))
    assert np.isfinite(results(out, "cmp")[0]["spearman"])


def test_units_of_a_drawn_study_are_dealt_by_state_point():
    from pyglass.workflow.run.study import deal_units
    units = [(k, j, f"s{j}", None, s) for k, (j, s) in enumerate((j, s) for j in range(3) for s in range(2))]
    by_state = [deal_units(units, 2, g, by_state=True) for g in range(2)]
    assert [{u[1] for u in mine} for mine in by_state] == [{0, 2}, {1}]   # each draw runs on one group
    assert sorted(u[0] for mine in by_state for u in mine) == list(range(6))
    plain = [deal_units(units, 2, g) for g in range(2)]
    assert [[u[0] for u in mine] for mine in plain] == [[0, 2, 4], [1, 3, 5]]
    assert deal_units(units[:2], 2, 1, by_state=True) == [units[1]]   # fewer states than groups: round robin


def test_drawn_samples_use_each_state_points_own_spacing(tmp_path):
    from pyglass.io.checkpoint import read_checkpoint
    from pyglass.workflow.run import checkpoint_path
    _, out = run(tmp_path, ka_deck(*STUDY, study={**DRAWN, "state": [{"label": "a"},
                                                                    {"label": "b", "set": {"study.spacing": 30}}]}))
    gap = {}
    for lab in ("a", "b"):
        t = [read_checkpoint(checkpoint_path(unit_path(out, lab, s))).system.time for s in range(2)]
        gap[lab] = t[1] - t[0]
    assert gap["b"] == pytest.approx(3 * gap["a"]) and gap["a"] > 0


def test_a_finished_drawn_study_takes_more_samples_without_redoing_its_draw(tmp_path):
    """Restarting a finished study with a larger study.samples (and nothing else changed) keeps the
    finished samples, continues the draw trajectory from its checkpoint, and gives the samples an
    uninterrupted run with that many samples gives."""
    from pyglass.io.checkpoint import RestartError
    _, ref = run(tmp_path, ka_deck(*STUDY, study={**DRAWN, "samples": 3}), name="ref.h5")
    _, out = run(tmp_path, ka_deck(*STUDY, study=DRAWN), name="out.h5")
    before = results(unit_path(out, "", 1), "G")[0]["G"]

    deck = parse_deck(ka_deck(*STUDY, study={**DRAWN, "samples": 3}), str(tmp_path / "deck.toml"))
    log = Sink()
    run_deck(deck, output=out, stream=log, handle_signals=False, restart=out)
    assert "continued from its checkpoint" in log.text and "stage 1 (eq)" not in log.text
    assert results(unit_path(out, "", 1), "G")[0]["G"] == before
    for s in range(3):
        assert results(unit_path(out, "", s), "G")[0]["G"] == results(unit_path(ref, "", s), "G")[0]["G"]
    other = parse_deck(ka_deck(*STUDY, study={**DRAWN, "samples": 4, "spacing": 20}), str(tmp_path / "deck.toml"))
    with pytest.raises(RestartError, match="another deck"):   # anything else changed: refused
        run_deck(other, output=out, stream=Sink(), handle_signals=False, restart=out)


def test_modes_auto_goes_factor_free_where_the_factor_does_not_fit(tmp_path, monkeypatch):
    """A factor that does not fit: an explicit factor method is refused when the deck is read (before
    any work); method = "auto" runs SLEPc's factor-free Krylov-Schur and records why."""
    pytest.importorskip("slepc4py")
    from pyglass.workflow.deck import DeckError
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "1e-6")
    # 750 rows: past the dense limit
    modes = stage("modes", "modes", k=4)
    with pytest.raises(DeckError, match=r'method.*needs about .* GiB.*method = "krylov"'):
        parse_deck(ka_deck({**modes, "method": "block"}, n=250), str(tmp_path / "deck.toml"))
    _, out = run(tmp_path, ka_deck(modes, n=250))
    r, attrs = results(out, "modes")
    assert attrs["method"] == "krylov" and "does not fit" in attrs["method_choice"]
    monkeypatch.setenv("PYGLASS_MEMORY_LIMIT_GIB", "64")
    _, out = run(tmp_path, ka_deck(modes, n=250), name="fits.h5")
    r2, attrs2 = results(out, "modes")
    assert attrs2["method"] == "block" and attrs2["method_choice"].startswith("auto: block")
    np.testing.assert_allclose(r["eigenvalues"], r2["eigenvalues"], rtol=1e-9)


CG_LANDSCAPE = (stage("shear-modulus", "G", method="cg"), stage("shear-modulus", "G_factor", method="factor"),
                stage("dipole-stiffness", "rnd", n_pairs=20, method="cg", tol=1e-7))


def test_landscape_stages_without_a_factor_equal_the_factor(tmp_path):
    """method = "cg" in the shear-modulus and dipole-stiffness stages: block PCG, stopped on G and kappa_ij,
    equal to the factor to the accuracy asked; the choice is recorded."""
    deck, out = run(tmp_path, ka_deck(*CG_LANDSCAPE))
    system, pot = quenched(tmp_path, deck)
    g, attrs = results(out, "G")
    assert attrs["method_choice"] == "as the deck says (cg)"
    np.testing.assert_allclose(g["G"], results(out, "G_factor")[0]["G"], rtol=1e-8)
    np.testing.assert_allclose(g["G"], landscape.shear_modulus(system, pot), rtol=1e-8)
    k, attrs = results(out, "rnd")
    assert attrs["method_choice"] == "as the deck says (cg)"
    np.testing.assert_allclose(k["kappa"], landscape.dipole_stiffness(system, pot, k["pairs"]), rtol=1e-7)


def test_quenched_modes_stage_equals_the_python_api_and_iso_writes_the_neighbour_graph(tmp_path):
    text = ka_deck(md("prod", steps=20, dt=0.004, T=0.8, tau=0.4,
                      observables=[{"type": "trajectory", "every": 5, "velocities": False}]),
                   stage("isoconfigurational", "iso", n_runs=2, T=0.8, dt=0.004, times=[0.04]),
                   stage("quenched-modes", "qm", n_runs=2, T=0.8, dt=0.004, steps=10, every=5, k=6, map_modes=4),
                   head=(EQ,))   # equilibrate only: the runs start from the liquid
    deck, out = run(tmp_path, text)
    from pyglass.analysis.ensembles import QuenchedModesEnsemble
    from pyglass.workflow.run import results as R
    ck = read_checkpoint(str(tmp_path / "out.ckpt.h5"))
    qm, attrs = results(out, "qm")
    ref = QuenchedModesEnsemble(ck.system, deck.build_potential(), 2, 0.8, 0.004, 10, 5, k=6, map_modes=4,
                                seed=int(attrs["ensemble_seed"])).run()
    for key in ("seeds", "energies", "max_force", "eigenvalues", "participation"):
        np.testing.assert_allclose(qm[key], getattr(ref, key), rtol=1e-10, atol=1e-12)
    iso, _ = results(out, "iso")
    from pyglass.analysis.observables.structure import neighbour_cutoffs, neighbour_pairs
    cut = neighbour_cutoffs(ck.system.positions, ck.system.box, ck.system.types)
    np.testing.assert_array_equal(iso["cutoffs"], cut)
    np.testing.assert_array_equal(iso["neighbour_pairs"], np.stack(neighbour_pairs(
        ck.system.positions, ck.system.box, ck.system.types, cut), 1))
    assert iso["energies"].shape == (2, 2)
    # the results API reads the stored frames in one go, unwrapped
    t, x = R.open(out).trajectory()
    assert len(t) == len(x) == 5
    from pyglass.io.snapshot import read_snapshot
    for k in (0, 4):
        np.testing.assert_allclose(x[k], read_snapshot(out, frame=k).unwrapped_positions, atol=1e-12)
    np.testing.assert_allclose(R.open(out).trajectory(unwrapped=False)[1][4], read_snapshot(out, frame=4).positions)
