"""MPI helpers: reductions that are no-ops on one rank, replica groups, and distributing a system.

Every function takes the communicator a system lives on (`system.comm`, None = serial), so the
serial path and the parallel path are one code. mpi4py is imported only when a communicator is
actually used.
"""
from __future__ import annotations

import sys

import numpy as np


def size(comm) -> int:
    return 1 if comm is None else comm.Get_size()


def rank(comm) -> int:
    return 0 if comm is None else comm.Get_rank()


def is_parallel(comm) -> bool:
    return comm is not None and comm.Get_size() > 1


def _allreduce_scalar(comm, value, op):
    """Reduce one number through a buffer (no pickling: these run every MD step); ints stay ints."""
    is_int = isinstance(value, (bool, int, np.integer))
    buf = np.array([value], dtype=np.int64 if is_int else np.float64)
    out = np.empty_like(buf)
    comm.Allreduce(buf, out, op=op)
    return int(out[0]) if is_int else float(out[0])


def allsum(comm, value):
    """Sum over ranks of a scalar or array (returned as the same kind)."""
    if not is_parallel(comm):
        return value
    from mpi4py import MPI
    if np.isscalar(value):
        return _allreduce_scalar(comm, value, MPI.SUM)
    arr = np.ascontiguousarray(value, dtype=float)
    out = np.empty_like(arr)
    comm.Allreduce(arr, out, op=MPI.SUM)
    return out


def allmax(comm, value):
    if not is_parallel(comm):
        return value
    from mpi4py import MPI
    return _allreduce_scalar(comm, value, MPI.MAX)


def anytrue(comm, flag: bool) -> bool:
    if not is_parallel(comm):
        return bool(flag)
    from mpi4py import MPI
    return bool(_allreduce_scalar(comm, int(bool(flag)), MPI.MAX))


def split_replicas(comm, ranks_per_replica: int):
    """Split `comm` into groups of `ranks_per_replica` consecutive ranks (ensemble parallelism).

    Returns (group_comm, group_index, n_groups). 4 ranks with ranks_per_replica = 2 give two
    replicas, each decomposed over two domains."""
    if comm is None:
        return None, 0, 1
    p = comm.Get_size()
    if ranks_per_replica < 1 or p % ranks_per_replica:
        raise ValueError(f"ranks_per_replica = {ranks_per_replica} must divide the number of ranks ({p})")
    group = comm.Get_rank() // ranks_per_replica
    return comm.Split(color=group, key=comm.Get_rank()), group, p // ranks_per_replica


def processor_grid(box, n_ranks: int) -> list[int]:
    """Cartesian grid of `n_ranks` domains minimising the domain surface for this box (ties: more
    cuts along x). The one choice `distribute` and the decomposed domain both use."""
    dim = box.dim
    best, best_area = None, np.inf
    for px in range(1, n_ranks + 1):
        if n_ranks % px:
            continue
        rest = n_ranks // px
        for py in range(1, rest + 1):
            if rest % py or (dim == 2 and py != rest):
                continue
            pz = rest // py
            g = (px, py, pz)[:dim]
            w = box.lengths / np.array(g)
            area = sum(np.prod(np.delete(w, k)) for k in range(dim)) if dim == 3 else w.sum()
            if area < best_area - 1e-12:
                best, best_area = g, area
    return list(best)


def distribute(system, comm):
    """The part of a whole `system` (identical on every rank) that this rank owns under the spatial
    decomposition of `comm`. Particle ids are kept, so `gather()` restores particle order."""
    system.comm = comm
    if not is_parallel(comm):
        return system
    grid = processor_grid(system.box, comm.Get_size())
    cart = comm.Create_cart(grid, periods=[True] * len(grid), reorder=False)
    coords = np.array(cart.Get_coords(cart.Get_rank()))
    cart.Free()
    s = system.box.fractional(system.positions) % 1.0
    cell = np.minimum((s * grid).astype(int), np.array(grid) - 1)
    local = system.select(np.all(cell == coords, axis=1))
    local._n_global = system.N
    return local


def abort_on_exception(comm=None):
    """Install an excepthook that prints 'rank r: message' and aborts every rank (no hang when
    one rank fails)."""
    if comm is None:
        try:
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
        except ImportError:
            return
    if comm.Get_size() == 1:
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.write(f"rank {comm.Get_rank()}: {kind.__name__}: {value}\n")
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook
