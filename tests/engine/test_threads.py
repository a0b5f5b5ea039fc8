"""BLAS threads per process (pyglass.engine.threads): every core for a serial run, the node's cores shared
among the MPI ranks on it, an explicit setting always winning."""
import json
import os
import subprocess
import sys

import pytest

from pyglass import threads

from helpers import ROOT  # noqa: E402
LAUNCH_VARS = threads.LOCAL_SIZE_VARS + threads.BLAS_ENV_VARS + (threads.OVERRIDE_VAR,)


def test_policy_from_the_launcher_environment():
    assert threads.blas_threads_wanted({}, cores=8) is None                      # serial: OpenBLAS's own
    assert threads.blas_threads_wanted({"OMPI_COMM_WORLD_LOCAL_SIZE": "2"}, cores=8) == 4
    assert threads.blas_threads_wanted({"MPI_LOCALNRANKS": "3"}, cores=8) == 2   # MPICH/Hydra
    assert threads.blas_threads_wanted({"SLURM_NTASKS_PER_NODE": "16(x2)"}, cores=8) == 1
    assert threads.blas_threads_wanted({"OMPI_COMM_WORLD_LOCAL_SIZE": "4"}, cores=2) == 1   # never 0
    # an explicit BLAS setting wins over the launcher
    assert threads.blas_threads_wanted({"OMPI_COMM_WORLD_LOCAL_SIZE": "2", "OMP_NUM_THREADS": "2"},
                                       cores=8) is None
    assert threads.blas_threads_wanted({"OMPI_COMM_WORLD_LOCAL_SIZE": "2", "PYGLASS_BLAS_THREADS": "3"},
                                       cores=8) == 3
    assert threads.ranks_on_node({"OMPI_COMM_WORLD_LOCAL_SIZE": "garbage"}) == 1


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_bad_override_names_the_variable(bad):
    with pytest.raises(ValueError, match="PYGLASS_BLAS_THREADS"):
        threads.blas_threads_wanted({"PYGLASS_BLAS_THREADS": bad})


def _threads_after_import(extra_env, modules="scipy.linalg"):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(extra_env)
    # scipy.linalg after pyglass: scipy's wheel may load its own OpenBLAS later, which must follow too
    code = f"import json, pyglass, {modules}, pyglass.engine.threads as t; print(json.dumps(t.blas_info()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info, "no BLAS library found loaded by numpy"
    return [lib["num_threads"] for lib in info], info


def test_import_applies_the_policy_to_the_loaded_blas():
    cores = threads.available_cores()
    shared, _ = _threads_after_import({"OMPI_COMM_WORLD_LOCAL_SIZE": "2"})
    assert set(shared) == {max(1, cores // 2)}
    assert set(_threads_after_import({"PYGLASS_BLAS_THREADS": "1"})[0]) == {1}


def test_landscape_keeps_a_bundled_blas_at_one_thread():
    """Two OpenBLAS pools in one process contend: after `import pyglass.analysis.landscape` only the system
    OpenBLAS (CHOLMOD, PETSc, numpy) may run several threads."""
    _, info = _threads_after_import({"PYGLASS_BLAS_THREADS": "2"}, modules="pyglass.analysis.landscape")
    bundled = [lib for lib in info if any(p in os.path.basename(lib["filepath"] or "")
                                          for p in threads.BUNDLED_BLAS_PREFIXES)]
    if not bundled:
        pytest.skip("scipy uses the system BLAS here (no bundled OpenBLAS)")
    assert {lib["num_threads"] for lib in bundled} == {1}
    assert {lib["num_threads"] for lib in info if lib not in bundled} == {2}


@pytest.mark.mpi
def test_ranks_share_the_cores_of_their_node():
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    if threads.applied is None:
        pytest.skip("BLAS threads set explicitly in the environment before pyglass was imported")
    expected = max(1, threads.available_cores() // local)
    assert threads.applied == expected
    assert {lib["num_threads"] for lib in threads.blas_info()} == {expected}
