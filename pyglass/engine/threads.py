"""BLAS threads per process.

The landscape's sparse Cholesky factorisations (CHOLMOD, supernodal: dense BLAS-3 on each
supernode) and its multi-column block solves run in OpenBLAS, which the install provides in its
pthreads build (Makefile): a serial run uses every core of the machine. Under mpirun several ranks
share a node, and every rank running one BLAS thread per core would oversubscribe the cores (the
MD engine's ranks then wait on each other's spinning BLAS threads). So at import pyglass gives each
rank cores // ranks-on-this-node BLAS threads (at least 1).

An explicit OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or PYGLASS_BLAS_THREADS always wins (the first
two are read by OpenBLAS itself when it loads; the last one is applied here). When pyglass sets the
count it also exports OPENBLAS_NUM_THREADS, so BLAS copies loaded later (scipy's wheel bundles its
own OpenBLAS) and child processes follow it.
"""
from __future__ import annotations

import os

# Set by the launchers: Open MPI's mpirun, MPICH/Hydra, MVAPICH2, SLURM's srun.
LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE",
                   "SLURM_NTASKS_PER_NODE")
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
OVERRIDE_VAR = "PYGLASS_BLAS_THREADS"
applied: int | None = None   # the count set by configure_blas_threads (None: left as loaded)


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def ranks_on_node(environ=None) -> int:
    """Ranks of this job on this node, from the launcher's environment (1 outside mpirun)."""
    environ = os.environ if environ is None else environ
    for var in LOCAL_SIZE_VARS:
        value = environ.get(var, "").split("(")[0]    # SLURM may write '2(x3)'
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def blas_threads_wanted(environ=None, cores: int | None = None) -> int | None:
    """BLAS threads this process should use, or None to leave OpenBLAS as it loaded (the user set
    OPENBLAS_NUM_THREADS/OMP_NUM_THREADS, or a serial run, where OpenBLAS takes every core)."""
    environ = os.environ if environ is None else environ
    override = environ.get(OVERRIDE_VAR, "")
    if override:
        if not override.isdigit() or int(override) < 1:
            raise ValueError(f"{OVERRIDE_VAR} must be a positive integer, got {override!r}")
        return int(override)
    if any(environ.get(var) for var in BLAS_ENV_VARS):
        return None
    local = ranks_on_node(environ)
    if local <= 1:
        return None
    return max(1, (available_cores() if cores is None else cores) // local)


def blas_info() -> list[dict]:
    """threadpoolctl's view of the BLAS libraries loaded in this process (library, threads)."""
    from threadpoolctl import threadpool_info
    return [{k: d.get(k) for k in ("internal_api", "num_threads", "threading_layer", "filepath")}
            for d in threadpool_info() if d.get("user_api") == "blas"]


# scipy's wheel bundles its own OpenBLAS; its thread pool is kept to one thread (see below).
BUNDLED_BLAS_PREFIXES = ("libscipy_openblas",)


def single_blas_pool():
    """Keep copies of OpenBLAS other than the system one (scipy's wheel bundles its own) at one
    thread. Two OpenBLAS thread pools in one process contend: each pool's threads spin after
    their work while the other pool computes. ARPACK (scipy) alternating with CHOLMOD solves
    (system OpenBLAS) ran 1.6x slower with both pools at two threads than with one (2D N = 10^5).
    Called once scipy is loaded (pyglass.analysis.landscape)."""
    from threadpoolctl import threadpool_info, threadpool_limits
    loaded = {d.get("prefix") for d in threadpool_info()}
    limits = {p: 1 for p in BUNDLED_BLAS_PREFIXES if p in loaded}
    if limits:
        threadpool_limits(limits=limits)
    return limits


def configure_blas_threads(environ=None) -> int | None:
    """Apply `blas_threads_wanted` to the loaded BLAS (called once at `import pyglass`)."""
    global applied
    environ = os.environ if environ is None else environ
    wanted = applied = blas_threads_wanted(environ)
    if wanted is not None:
        # Copies of OpenBLAS loaded later (scipy's wheel bundles its own) read the variable when
        # they load; those loaded already (numpy's) are limited through threadpoolctl.
        environ["OPENBLAS_NUM_THREADS"] = str(wanted)
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=wanted, user_api="blas")
    return wanted
