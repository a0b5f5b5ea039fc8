# cython: language_level=3
"""Cell-binned Verlet lists over local + ghost particles, ghost refresh and force folding.

Half lists hold every interacting pair once: local-local pairs with j > i, and local-ghost pairs
where the ghost lies 'above' i (z, then y, then x), the LAMMPS newton-on rule: of the two copies
(i, image of j) and (j, image of i) of a pair across a boundary, exactly one passes. Full lists
(three-body terms) hold every neighbour of each local particle.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport floor

cnp.import_array()


def build_verlet_list(const double[:, ::1] x, const int[::1] types, int nlocal,
                      const double[:, ::1] list_cut2, double cell_size, bint half,
                      int[::1] offsets, int[::1] neigh):
    """Fill offsets (nlocal + 1) and neigh; returns the number of entries needed. If that exceeds
    len(neigh) the list is incomplete and the caller retries with a larger buffer."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, j, a, b, c, ci, cj, ck, cx, cy, cz, cell, n = 0, cap = neigh.shape[0]
    cdef double lo[3]
    cdef double hi[3]
    cdef int nc[3]
    cdef double dx, dy, dz, u
    for a in range(3):
        lo[a] = 1e300
        hi[a] = -1e300
    for i in range(M):
        for a in range(3):
            if x[i, a] < lo[a]:
                lo[a] = x[i, a]
            if x[i, a] > hi[a]:
                hi[a] = x[i, a]
    for a in range(3):
        nc[a] = max(1, <int>((hi[a] - lo[a]) / cell_size))
        if nc[a] > 2000:
            nc[a] = 2000
    cdef double inv[3]
    for a in range(3):
        inv[a] = nc[a] / (hi[a] - lo[a]) if hi[a] > lo[a] else 0.0
    cdef int ncells = nc[0] * nc[1] * nc[2]
    head_arr = np.full(ncells + 1, 0, dtype=np.int32)
    cellof_arr = np.empty(M, dtype=np.int32)
    order_arr = np.empty(M, dtype=np.int32)
    cdef int[::1] start = head_arr
    cdef int[::1] cellof = cellof_arr
    cdef int[::1] order = order_arr
    cdef int idx[3]
    with nogil:
        # counting sort of particles into cells
        for i in range(M):
            for a in range(3):
                idx[a] = <int>((x[i, a] - lo[a]) * inv[a])
                if idx[a] >= nc[a]:
                    idx[a] = nc[a] - 1
                if idx[a] < 0:
                    idx[a] = 0
            cell = (idx[2] * nc[1] + idx[1]) * nc[0] + idx[0]
            cellof[i] = cell
            start[cell + 1] += 1
        for cell in range(ncells):
            start[cell + 1] += start[cell]
        for i in range(M):
            order[start[cellof[i]]] = i
            start[cellof[i]] += 1
        for cell in range(ncells - 1, 0, -1):
            start[cell] = start[cell - 1]
        start[0] = 0
        for i in range(nlocal):
            offsets[i] = n
            cell = cellof[i]
            cx = cell % nc[0]
            cy = (cell // nc[0]) % nc[1]
            cz = cell // (nc[0] * nc[1])
            for c in range(max(cz - 1, 0), min(cz + 2, nc[2])):
                for b in range(max(cy - 1, 0), min(cy + 2, nc[1])):
                    for a in range(max(cx - 1, 0), min(cx + 2, nc[0])):
                        cj = (c * nc[1] + b) * nc[0] + a
                        for ck in range(start[cj], start[cj + 1]):
                            j = order[ck]
                            if j == i:
                                continue
                            dx = x[j, 0] - x[i, 0]
                            dy = x[j, 1] - x[i, 1]
                            dz = x[j, 2] - x[i, 2]
                            if half:
                                if j < nlocal:
                                    if j < i:
                                        continue
                                elif dz < 0 or (dz == 0 and (dy < 0 or (dy == 0 and dx < 0))):
                                    continue
                            u = dx * dx + dy * dy + dz * dz
                            if u < list_cut2[types[i], types[j]]:
                                if n < cap:
                                    neigh[n] = j
                                n += 1
        offsets[nlocal] = n
    return n


def max_displacement2(const double[:, ::1] x, const double[:, ::1] x0, int n):
    """Largest squared displacement of the first n rows since x0 (the last list build)."""
    cdef int i
    cdef double d, m = 0.0, dx, dy, dz
    with nogil:
        for i in range(n):
            dx = x[i, 0] - x0[i, 0]
            dy = x[i, 1] - x0[i, 1]
            dz = x[i, 2] - x0[i, 2]
            d = dx * dx + dy * dy + dz * dz
            if d > m:
                m = d
    return m


def update_ghosts(double[:, ::1] x, int nlocal, const int[::1] source, const double[:, ::1] shift):
    """Ghost g sits at x[source[g]] + shift[g]: refresh rows nlocal.. from their owners."""
    cdef int g, s, row
    with nogil:
        for g in range(source.shape[0]):
            s = source[g]
            row = nlocal + g
            x[row, 0] = x[s, 0] + shift[g, 0]
            x[row, 1] = x[s, 1] + shift[g, 1]
            x[row, 2] = x[s, 2] + shift[g, 2]


def fold_ghost_forces(double[:, ::1] f, int nlocal, const int[::1] source):
    """Add forces that landed on ghosts to their owners (reverse communication on one rank).
    Ghost sources are local rows, so a single pass suffices."""
    cdef int g
    with nogil:
        for g in range(source.shape[0]):
            f[source[g], 0] += f[nlocal + g, 0]
            f[source[g], 1] += f[nlocal + g, 1]
            f[source[g], 2] += f[nlocal + g, 2]


def fold_ghost_scalars(double[::1] e, int nlocal, const int[::1] source):
    cdef int g
    with nogil:
        for g in range(source.shape[0]):
            e[source[g]] += e[nlocal + g]
