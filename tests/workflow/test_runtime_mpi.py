"""Parallel runtime: collective HDF5 frames from several ranks, decks on 2 ranks (decomposed and as
replicas, restart bit for bit), and a failure on one rank ending every rank.

Run the MPI tests with
  mpirun -n 2 python -m pytest -q --with-mpi -m mpi tests/test_runtime_mpi.py
The rank-failure test is a plain test: it starts its own `mpirun -n 2`.
"""
import io
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from decks import deck, md, system
from helpers import ROOT  # noqa: E402


def _world():
    from mpi4py import MPI
    return MPI.COMM_WORLD


def _shared_dir(comm, name):
    """A fresh folder every rank agrees on."""
    import tempfile
    path = tempfile.mkdtemp(prefix=f"pyglass-{name}-") if comm.Get_rank() == 0 else None
    return comm.bcast(path, root=0)


@pytest.mark.mpi
@pytest.mark.parametrize("mode", ["mpio", "gather"])
def test_parallel_frames_from_two_ranks(mode):
    """Each rank owns an arbitrary subset of particles (rank 1: none in the last frame);
    the file holds every frame in particle-id order."""
    comm = _world()
    if mode == "mpio" and not h5py.get_config().mpi:
        pytest.skip("h5py without MPI")
    from pyglass import builders
    from pyglass.io.h5md import H5MDWriter
    from pyglass.engine.system import System
    rank, size = comm.Get_rank(), comm.Get_size()
    whole = builders.lattice(50, 1.0, 3, (0.6, 0.4), seed=4)
    whole.thermalize(1.0, 5)
    folder = _shared_dir(comm, "frames")
    path = os.path.join(folder, "frames.h5")
    rng = np.random.default_rng(11)
    owners = [rng.integers(0, size, 50), rng.integers(0, size, 50), np.zeros(50, int)]

    def part(k, shift):
        mine = np.flatnonzero(owners[k] == rank)[::-1]   # reversed: rows not in id order
        s = System(whole.positions[mine] + shift, whole.box, whole.types[mine], whole.type_names,
                   whole.type_masses, whole.velocities[mine], whole.images[mine] + k, comm=comm,
                   ids=whole.ids[mine])
        s.step, s.time = 10 * k, 0.1 * k
        return s

    # ranks' provenance may differ (a date at a second boundary): the file holds rank 0's
    w = H5MDWriter(path, part(0, 0.0), comm, mode=mode, provenance={"date": f"rank {rank}"})
    assert w.mode == mode
    for k in range(3):
        w.write_frame(part(k, 0.01 * k), velocities=(k != 1))
        w.append_thermo(10 * k, 0.1 * k, {c: float(k) for c in ("temperature", "potential_energy", "kinetic_energy",
                                                               "total_energy", "pressure", "conserved_energy")}, 0)
    w.close()
    comm.Barrier()
    if rank == 0:
        with h5py.File(path, "r") as f:
            g = f["particles/all"]
            assert g["position/step"][()].tolist() == [0, 10, 20]
            for k in range(3):
                np.testing.assert_array_equal(g["position/value"][k], whole.positions + 0.01 * k)
                np.testing.assert_array_equal(g["image/value"][k], whole.images + k)
                np.testing.assert_array_equal(g["species/value"][k], whole.types)
            assert g["velocity/step"][()].tolist() == [0, 20]
            np.testing.assert_array_equal(g["velocity/value"][1], whole.velocities)
            np.testing.assert_array_equal(g["mass"][()], whole.masses)
            assert f["observables/thermo/temperature/value"][()].tolist() == [0.0, 1.0, 2.0]
            assert f["h5md/provenance"].attrs["date"] == b"rank 0"
        shutil.rmtree(folder)
    comm.Barrier()


def _deck(rpr):
    """256 KA particles, 200 steps of production with frames and checkpoints every 50 steps."""
    return deck(system(n=256), md(), output={"trajectory": 50, "checkpoint": 50}, run={"ranks_per_replica": rpr})


def _run(comm, folder, name, rpr, **kw):
    from pyglass.workflow.deck import parse_deck
    from pyglass.workflow.run import RunInterrupted, run_deck
    deck = parse_deck(_deck(rpr), os.path.join(folder, "deck.toml"))
    out = os.path.join(folder, name + ".h5")
    try:
        run_deck(deck, comm, output=out, stream=io.StringIO(), handle_signals=False, **kw)
    except RunInterrupted:
        pass
    return out


@pytest.mark.mpi
def test_decomposed_deck_restart_is_bit_for_bit():
    """On 2 ranks (decomposed): 200 steps straight == 100 + restart + 100; frames match a serial run."""
    comm = _world()
    from pyglass.io.checkpoint import read_checkpoint
    folder = _shared_dir(comm, "deck")
    out_a = _run(comm, folder, "a", 0)
    out_b = _run(comm, folder, "b", 0, stop_at_step=100)
    _run(comm, folder, "b", 0, restart=out_b[:-3] + ".ckpt.h5")
    if comm.Get_rank() == 0:
        a, b = read_checkpoint(out_a[:-3] + ".ckpt.h5"), read_checkpoint(out_b[:-3] + ".ckpt.h5")
        assert a.n_ranks == comm.Get_size()
        assert np.array_equal(a.system.positions, b.system.positions)
        assert np.array_equal(a.system.velocities, b.system.velocities)
        with h5py.File(out_a, "r") as fa, h5py.File(out_b, "r") as fb:
            assert np.array_equal(fa["particles/all/position/value"][()], fb["particles/all/position/value"][()])
            assert fa["particles/all/position/step"][()].tolist() == [0, 50, 100, 150, 200]
            assert fa["h5md/provenance"].attrs["n_ranks"] == comm.Get_size()
        from h5md_check import h5md_problems
        assert h5md_problems(out_a) == []   # collective writes make the same H5MD layout
        # the same deck on one rank: the decomposition changes only rounding
        out_s = _run(None, folder, "serial", 0)
        with h5py.File(out_a, "r") as fa, h5py.File(out_s, "r") as fs:
            np.testing.assert_allclose(fa["particles/all/position/value"][1], fs["particles/all/position/value"][1],
                                       atol=1e-8)
        shutil.rmtree(folder)
    comm.Barrier()


@pytest.mark.mpi
def test_replicas_write_their_own_files():
    comm = _world()
    folder = _shared_dir(comm, "rep")
    _run(comm, folder, "r", 1)
    comm.Barrier()
    if comm.Get_rank() == 0:
        files = [os.path.join(folder, f"r.rep{k}.h5") for k in range(comm.Get_size())]
        frames = []
        for f in files:
            with h5py.File(f, "r") as h:
                assert h["h5md/provenance"].attrs["status"] == b"complete"
                assert h["h5md/provenance"].attrs["n_ranks"] == 1
                frames.append(h["particles/all/velocity/value"][0])
        assert not np.array_equal(frames[0], frames[1])   # replica seeds differ
        shutil.rmtree(folder)
    comm.Barrier()


FAIL = """
import sys, time
from mpi4py import MPI
from pyglass.workflow.cli import install_mpi_excepthook
comm = MPI.COMM_WORLD
install_mpi_excepthook(comm)
if comm.Get_rank() == 1:
    time.sleep(0.5)
    raise RuntimeError("boom on rank one only")
comm.Barrier()          # rank 0 would wait here forever
print("rank 0 passed the barrier", flush=True)
"""


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_", "HYDRA_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=ROOT)
    return env


def test_exception_on_one_rank_ends_every_rank(tmp_path):
    if shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    script = tmp_path / "fail.py"
    script.write_text(FAIL)
    t0 = time.time()
    r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", sys.executable, str(script)], capture_output=True,
                       text=True, env=_clean_env(), timeout=60)
    assert time.time() - t0 < 30
    assert r.returncode != 0
    assert "rank 1: RuntimeError: boom on rank one only" in r.stderr
    assert "passed the barrier" not in r.stdout


def test_cli_run_under_mpirun(tmp_path):
    """`mpirun -n 2 pyglass run` with a mistake in the deck: one message from rank 0, exit 2, no
    traceback; a good deck runs and records 2 ranks."""
    if shutil.which("mpirun") is None:
        pytest.skip("no mpirun")
    (tmp_path / "bad.toml").write_text(_deck(0).replace("tau = 0.5", "tau = -0.5"))
    cmd = ["mpirun", "-n", "2", "--oversubscribe", sys.executable, "-m", "pyglass.workflow.cli", "run"]
    r = subprocess.run(cmd + ["bad.toml"], cwd=tmp_path, capture_output=True, text=True, env=_clean_env(),
                       timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.count("stage[1].integrator.tau") == 1
    (tmp_path / "good.toml").write_text(_deck(0))
    r = subprocess.run(cmd + ["good.toml", "-o", "good.h5"], cwd=tmp_path, capture_output=True, text=True,
                       env=_clean_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "good.h5", "r") as f:
        assert f["h5md/provenance"].attrs["n_ranks"] == 2
        assert f["particles/all/position/value"].shape == (5, 256, 3)
