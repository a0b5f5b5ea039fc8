"""Studies and restarts across rank layouts.

The MPI test runs under `mpirun -n 2 pytest --with-mpi -m mpi`: a study of 4 samples on 2 replica
groups gives the per-sample results of the serial run. The plain tests start their own mpirun: a
checkpoint written on 2 ranks restarts on 1 and on 4 ranks and agrees with the uninterrupted run to
round-off."""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import pytest

from pyglass.workflow.deck import parse_deck
from pyglass.io.h5md import RESULTS_ROOT
from pyglass.workflow.run import run_deck, unit_path

from helpers import ROOT  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests"))   # helpers, h5md_check
from helpers import Sink  # noqa: E402
from decks import stage  # noqa: E402
from test_stages import DRAWN, EQ, IS, STUDY, ka_deck  # noqa: E402


def _g_and_modes(path):
    with h5py.File(path, "r") as f:
        return float(f[f"{RESULTS_ROOT}/G/G"][()]), f[f"{RESULTS_ROOT}/modes/eigenvalues"][()]


@pytest.mark.mpi(min_size=2)
def test_study_on_two_replica_groups_equals_serial():
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp() if comm.Get_rank() == 0 else None, root=0)
    text = ka_deck(*STUDY, study={"samples": 4}, run={"ranks_per_replica": 1})
    deck = parse_deck(text, os.path.join(folder, "deck.toml"))
    run_deck(deck, comm, output=os.path.join(folder, "par.h5"), stream=Sink(), handle_signals=False)
    comm.Barrier()
    if comm.Get_rank() == 0:
        run_deck(deck, None, output=os.path.join(folder, "ser.h5"), stream=Sink(), handle_signals=False)
        for s in range(4):
            gp, mp = _g_and_modes(unit_path(os.path.join(folder, "par.h5"), "", s))
            gs, ms = _g_and_modes(unit_path(os.path.join(folder, "ser.h5"), "", s))
            assert gp == gs
            np.testing.assert_array_equal(mp, ms)
        with h5py.File(os.path.join(folder, "par.h5"), "r") as f, h5py.File(os.path.join(folder, "ser.h5"), "r") as g:
            np.testing.assert_array_equal(f[f"{RESULTS_ROOT}/sum/all/G.G/values"][()],
                                          g[f"{RESULTS_ROOT}/sum/all/G.G/values"][()])
        shutil.rmtree(folder)
    comm.Barrier()


@pytest.mark.mpi(min_size=2)
def test_drawn_study_dealt_by_state_point_writes_every_draw_file():
    """Samples drawn from one trajectory per state point, two state points on two replica groups: each
    group runs one state point whole and writes its draw file (the only record of the draw's stages,
    e.g. a production run's dynamics), the same file a serial run writes."""
    from mpi4py import MPI
    from pyglass.io.h5md import path_status
    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp() if comm.Get_rank() == 0 else None, root=0)
    study = {**DRAWN, "state": [{"label": "a"}, {"label": "b", "set": {"study.spacing": 20}}]}
    deck = parse_deck(ka_deck(*STUDY, study=study, output={"thermo": 10},    # the draw records its energies
                              run={"ranks_per_replica": 1}), os.path.join(folder, "deck.toml"))
    run_deck(deck, comm, output=os.path.join(folder, "par.h5"), stream=Sink(), handle_signals=False)
    comm.Barrier()
    try:            # the other rank waits for rank 0's checks, failed or not
        if comm.Get_rank() == 0:
            run_deck(deck, None, output=os.path.join(folder, "ser.h5"), stream=Sink(), handle_signals=False)
            for lab in ("a", "b"):
                par, ser = (os.path.join(folder, f"{name}.{lab}.draw.h5") for name in ("par", "ser"))
                assert path_status(par) == "complete", lab
                with h5py.File(par, "r") as f, h5py.File(ser, "r") as g:
                    u = f["observables/thermo/potential_energy/value"][()]
                    assert len(u) >= 4
                    np.testing.assert_array_equal(u, g["observables/thermo/potential_energy/value"][()])
            shutil.rmtree(folder)
    finally:
        comm.Barrier()


@pytest.mark.mpi(min_size=2)
def test_study_restart_deals_out_only_the_units_left():
    """A restart on 2 replica groups with units 1 and 3 of 4 missing runs one on each group (not both
    on the group that first owned them), with the serial results."""
    import json
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp() if comm.Get_rank() == 0 else None, root=0)
    text = ka_deck(*STUDY, study={"samples": 4}, run={"ranks_per_replica": 1})
    deck = parse_deck(text, os.path.join(folder, "deck.toml"))
    out = os.path.join(folder, "par.h5")
    if comm.Get_rank() == 0:
        run_deck(deck, None, output=out, stream=Sink(), handle_signals=False)
        reference = {s: _g_and_modes(unit_path(out, "", s)) for s in (1, 3)}
        for s in (1, 3):
            os.remove(unit_path(out, "", s))
            os.remove(os.path.splitext(unit_path(out, "", s))[0] + ".ckpt.h5")
    comm.Barrier()
    run_deck(deck, comm, restart=out, output=out, stream=Sink(), handle_signals=False)
    comm.Barrier()
    if comm.Get_rank() == 0:
        replicas = []
        for s in (1, 3):
            path = unit_path(out, "", s)
            g, modes = _g_and_modes(path)
            assert g == reference[s][0]
            np.testing.assert_array_equal(modes, reference[s][1])
            with h5py.File(path, "r") as f:
                replicas.append(json.loads(f["h5md/provenance"].attrs["seeds"])["replica"])
        assert sorted(replicas) == [0, 1]
        shutil.rmtree(folder)
    comm.Barrier()


MD_DECK = """
[system]
generate = "lattice"
n = 500
density = 1.2
composition = [0.8, 0.2]
jitter = 0.05
temperature = 0.8

[potential]
model = "kob-andersen"

[[stage]]
name = "eq"
kind = "equilibrate"
steps = 300
thermo = 0
[stage.integrator]
type = "nosehoover"
dt = 0.004
T = 0.8
tau = 0.4

[[stage]]
name = "is"
kind = "quench"
[stage.minimizer]
type = "fire"
ftol = 1e-9

[output]
thermo = 50

[run]
seed = 11
progress = false
"""


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "HYDRA_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=ROOT,
               OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def _pyglass(n, *args, cwd):
    cmd = ([] if n == 1 else ["mpirun", "-n", str(n), "--oversubscribe"]) + [sys.executable, "-m", "pyglass.workflow.cli",
                                                                            "run", "-q", *args]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def test_checkpoint_from_two_ranks_restarts_on_one_and_four(tmp_path):
    if shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    (tmp_path / "deck.toml").write_text(MD_DECK)
    _pyglass(1, "deck.toml", "-o", "ref.h5", cwd=tmp_path)
    r = _pyglass(2, "deck.toml", "-o", "cut.h5", "--stop-at", "150", cwd=tmp_path)
    assert "checkpoint at step 150" in r.stdout
    for n in (1, 4):
        shutil.copy(tmp_path / "cut.ckpt.h5", tmp_path / f"cut{n}.ckpt.h5")
        shutil.copy(tmp_path / "cut.h5", tmp_path / f"cut{n}.h5")
        _pyglass(n, "deck.toml", "-o", f"cut{n}.h5", "--restart", f"cut{n}.ckpt.h5", cwd=tmp_path)
    with h5py.File(tmp_path / "ref.h5", "r") as f:
        ref_e = f["observables/thermo/potential_energy/value"][()]
        ref_is = f[f"{RESULTS_ROOT}/is"].attrs["quench_energy"]
    for n in (1, 4):
        with h5py.File(tmp_path / f"cut{n}.h5", "r") as f:
            e = f["observables/thermo/potential_energy/value"][()]
            assert f["h5md/provenance"].attrs["status"] == b"complete"
            assert e.shape == ref_e.shape
            np.testing.assert_allclose(e, ref_e, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(f[f"{RESULTS_ROOT}/is"].attrs["quench_energy"], ref_is, rtol=1e-9)


@pytest.mark.mpi(min_size=2)
def test_landscape_stages_on_a_decomposed_system_equal_serial():
    """One replica of 2 ranks: the system is decomposed for MD and quench; landscape stages gather it
    and compute on the first rank; results agree with the serial run to round-off."""
    from mpi4py import MPI
    from test_stages import LANDSCAPE
    comm = MPI.COMM_WORLD
    folder = comm.bcast(tempfile.mkdtemp() if comm.Get_rank() == 0 else None, root=0)
    stages = LANDSCAPE[:4] + (
        stage("isoconfigurational", "iso", n_runs=2, T=0.8, dt=0.004, times=[0.04]),
        stage("overlap", "cmp", a="modes/participation", b="iso/propensity", baseline_samples=3),
        stage("shear", "sh", gammas=[0.01]))
    push_off = stage("quench", "push-off", minimizer={"type": "fire", "ftol": 1e-2})
    text = ka_deck(*stages, head=(push_off, EQ, IS), n=216,          # no overlaps: a short push-off
                   placement={"generate": "random", "min_distance": 0.75})
    deck = parse_deck(text, os.path.join(folder, "deck.toml"))
    run_deck(deck, comm, output=os.path.join(folder, "par.h5"), stream=Sink(), handle_signals=False)
    comm.Barrier()
    if comm.Get_rank() == 0:
        run_deck(deck, None, output=os.path.join(folder, "ser.h5"), stream=Sink(), handle_signals=False)
        with h5py.File(os.path.join(folder, "par.h5"), "r") as f, h5py.File(os.path.join(folder, "ser.h5"), "r") as g:
            for name in ("modes/eigenvalues", "G/G", "kappa/kappa", "rnd/kappa", "iso/propensity", "cmp/spearman",
                         "sh/stress_xy"):
                np.testing.assert_allclose(f[f"{RESULTS_ROOT}/{name}"][()], g[f"{RESULTS_ROOT}/{name}"][()],
                                           rtol=1e-6, err_msg=name)
        shutil.rmtree(folder)
    comm.Barrier()


@pytest.mark.mpi(min_size=2)
def test_structure_functions_and_softness_independent_of_the_rank_count():
    """Structure functions of a system decomposed over the ranks (gathered, as the stages do) equal
    the serial ones bitwise, and so does a trained model's softness."""
    from mpi4py import MPI

    from pyglass import builders, softness
    from pyglass.engine.comm import distribute
    comm = MPI.COMM_WORLD
    serial = builders.random_packing(400, 1.2, 3, (0.8, 0.2), seed=11, min_distance=0.7)
    sf = softness.StructureFunctions(r_max=3.0, mu=np.arange(1, 61) * 0.05, r_max_angular=2.5)
    X = sf.compute(serial)
    decomposed = distribute(serial.copy(), comm)
    Xd = sf.compute(decomposed.gather())
    np.testing.assert_array_equal(Xd, X)
    rng = np.random.default_rng(0)
    model = softness.train(X[rng.random(len(X)) < 0.5], X[rng.random(len(X)) < 0.5], C=0.1, seed=3, grid=sf)
    np.testing.assert_array_equal(model.apply(decomposed.gather()), model.apply(serial))
