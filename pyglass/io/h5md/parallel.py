"""How the ranks of a communicator write one H5MD file: the mode (serial, collective mpio, gathered
to rank 0) and the redistribution of particle rows by id."""
from __future__ import annotations

import h5py
import numpy as np

from pyglass.engine.comm import rank as comm_rank, size as comm_size
from pyglass.io._common import wrap_into_box


def parallel_mode(comm) -> str:
    """'serial' (one rank), 'mpio' (collective parallel HDF5) or 'gather' (rank 0 writes)."""
    if comm_size(comm) == 1:
        return "serial"
    return "mpio" if h5py.get_config().mpi else "gather"


def global_count(comm, n: int) -> int:
    return int(n) if comm_size(comm) == 1 else int(comm.allreduce(int(n)))


def redistribute(comm, ids, columns, n_global: int, to_root: bool):
    """Send per-particle rows to where they are written: rank 0 (to_root) or the rank owning the
    id block [r n / P, (r + 1) n / P). Returns (first id of this rank's block, rows sorted by id);
    `columns` is a float64 (n_local, k) array (integers up to 2^53 travel exactly)."""
    ids = np.asarray(ids, np.int64)
    columns = np.ascontiguousarray(columns, dtype=np.float64)
    k = columns.shape[1]
    size, rank = comm_size(comm), comm_rank(comm)
    if size == 1:
        order = np.argsort(ids, kind="stable")
        return 0, columns[order], ids[order]
    from mpi4py import MPI
    # the block of rank r starts at floor(r n / P): id i belongs to the last r with floor(r n / P) <= i
    n = max(n_global, 1)
    dest = np.zeros(len(ids), np.int64) if to_root else np.minimum((size * (ids + 1) + n - 1) // n - 1, size - 1)
    order = np.argsort(dest, kind="stable")
    send = np.ascontiguousarray(np.column_stack([ids[order].astype(np.float64), columns[order]]))
    counts = np.bincount(dest, minlength=size).astype(np.int64)
    recv_counts = np.empty(size, np.int64)
    comm.Alltoall(counts, recv_counts)
    recv = np.empty((int(recv_counts.sum()), k + 1))
    sdispl = np.concatenate([[0], np.cumsum(counts)[:-1]]) * (k + 1)
    rdispl = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]) * (k + 1)
    comm.Alltoallv([send, counts * (k + 1), sdispl, MPI.DOUBLE], [recv, recv_counts * (k + 1), rdispl, MPI.DOUBLE])
    rid = recv[:, 0].astype(np.int64)
    o = np.argsort(rid, kind="stable")
    first = 0 if to_root else rank * n_global // size
    return first, recv[o, 1:], rid[o]


def particle_columns(system, velocities=True, wrap=False):
    """(ids, float64 columns [position d | image d | species | velocity d]) of the local particles.
    wrap: positions moved into the cell, images adjusted (io._common.wrap_into_box); checkpoints
    keep the positions as they are in memory (bit-for-bit restarts)."""
    d = system.dim
    x, img = system.positions, system.images
    if wrap:
        x, img = wrap_into_box(system.box, x, img)
    cols = [x, img.astype(np.float64), system.types[:, None].astype(np.float64)]
    if velocities:
        cols.append(system.velocities)
    return system.ids, np.column_stack(cols) if system.N else np.zeros((0, 2 * d + 1 + (d if velocities else 0)))
