# cython: language_level=3
# distutils: depends = extensions/neighbours_simd.h extensions/replicas.pxd
# Callers: pyglass/engine/potentials/base.py, engine/domain.py, engine/system.py (as pyglass._ext.neighbours).
"""Cell-binned Verlet lists over local + ghost particles, ghost refresh and force folding.

Half lists hold every interacting pair once: j is listed with i only when it lies 'above' i
(dz > 0, or dz = 0 and dy > 0, or ... dx > 0; exact duplicates by sorted index), LAMMPS's
newton-on rule applied to every pair: of the two copies (i, image of j) and (j, image of i) of a
pair across a boundary exactly one passes, and only half the cell stencil need be searched. Full lists
(three-body terms) hold every neighbour of each local particle.
"""
import numpy as np
cimport numpy as cnp
from libc.string cimport memcpy
from libc.math cimport ceil, fabs, floor, nearbyint, sqrt
from replicas cimport *

cnp.import_array()

cdef extern from "neighbours_simd.h" nogil:
    int select_row(const double* xs, const double* ys, const double* zs, const int* ts, int r0, int r1,
                   int k, double xi, double yi, double zi, const double* cut2, int ntypes, int check,
                   int* hits, int* hit_types, int n)
    int group_by_type(const int* hits, const int* hit_types, int count, int ntypes, int pad, int pad_index,
                      int* out, int* starts)

cdef enum:
    REACH = 2   # cells of 1/REACH of the list cutoff, a +-REACH stencil: 2 beat 1 and 3 (KA N = 1000: 0.35 ms per build against 0.48 and 0.34; N = 8000: 2.8 against 3.7 and 3.2 ms; A/B in one process)


cdef inline double _gap_to_cell(double v, double lo, double width, int c) noexcept nogil:
    """Distance from coordinate v to the cell [lo + c width, lo + (c + 1) width] along one axis
    (0 inside, and for a flat axis of width 0)."""
    cdef double a = lo + c * width
    cdef double g = a - v
    if v - (a + width) > g:
        g = v - (a + width)
    return g if g > 0.0 else 0.0


def build_verlet_list(const double[:, ::1] x, const int[::1] types, int nlocal,
                      const double[:, ::1] list_cut2, double cell_size, bint half,
                      int[::1] order, int[::1] offsets, int[::1] segments, int[::1] neigh,
                      bint pad=False):
    """Verlet list in cell-sorted order, for memory locality in the force loops.

    order (len M, filled here) lists the rows of x (local + ghost) sorted by cell; list entries and
    offsets refer to positions k in that order (row = order[k]). offsets has length M + 1: the
    neighbours of sorted particle k are neigh[offsets[k]:offsets[k+1]] (empty for ghosts), grouped
    by type: segments (length M * ntypes + 1) holds where each type's group starts,
    segments[k * ntypes + t]. With `pad`, each group is padded to a multiple of 4 entries with the
    index M (a padding row the pair force kernel places far away; NeighbourList.pairs() drops it),
    so the SIMD kernel reads whole groups of four. Returns the number of entries needed; if that
    exceeds len(neigh) the caller retries larger (entries are written only while they fit)."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, j, k, kk, a, b, c, cj, cx, cy, cz, cell, n = 0, cap = neigh.shape[0]
    cdef double lo[3]
    cdef double hi[3]
    cdef int nc[3]
    cdef double xi, yi, zi
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
        # cells of at least 1/REACH of the list cutoff: a +-REACH cell stencil covers it
        nc[a] = max(1, <int>((hi[a] - lo[a]) / (cell_size / REACH)))
        if nc[a] > 1000:
            nc[a] = 1000
    cdef double inv[3]
    cdef double width[3]
    for a in range(3):
        inv[a] = nc[a] / (hi[a] - lo[a]) if hi[a] > lo[a] else 0.0
        width[a] = (hi[a] - lo[a]) / nc[a]
    cdef double reach2 = 0.0, rem, dymin, dzmin
    cdef int ntypes_list = list_cut2.shape[0]
    cdef int xa, xb
    for a in range(list_cut2.shape[0]):
        for b in range(list_cut2.shape[1]):
            if list_cut2[a, b] > reach2:
                reach2 = list_cut2[a, b]
    cdef int ncells = nc[0] * nc[1] * nc[2]
    cdef bint planar = hi[2] == lo[2]
    start_arr = np.zeros(ncells + 1, dtype=np.int32)
    cellof_arr = np.empty(M, dtype=np.int32)
    xs_arr = np.empty((3, M + 8))          # sorted coordinates, SoA (select_row reads 8 at a time)
    cdef int[::1] start = start_arr
    cdef int[::1] cellof = cellof_arr
    cdef int idx[3]
    cdef int ti, t, m
    cdef bint check
    cdef int r0, r1
    cdef double* xs0 = <double*> cnp.PyArray_DATA(xs_arr)
    cdef double* xs1 = xs0 + M + 8
    cdef double* xs2 = xs1 + M + 8
    ts_arr = np.zeros(M + 8, dtype=np.int32)
    cdef int[::1] ts = ts_arr
    # one particle's hits and their types, then grouped by type and padded (room for 8 more:
    # the SIMD code stores whole vectors)
    work_arr = np.empty((3, M + 4 * ntypes_list + 16), dtype=np.int32)
    cdef int* hits = <int*> cnp.PyArray_DATA(work_arr)
    cdef int* hit_types = hits + M + 4 * ntypes_list + 16
    cdef int* grouped = hit_types + M + 4 * ntypes_list + 16
    starts_arr = np.empty(ntypes_list, dtype=np.int32)
    cdef int* starts = <int*> cnp.PyArray_DATA(starts_arr)
    cdef int h
    cdef const double* cut2row
    with nogil:
        # counting sort of rows into cells
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
        for k in range(M):
            xs0[k] = x[order[k], 0]
            xs1[k] = x[order[k], 1]
            xs2[k] = x[order[k], 2]
            ts[k] = types[order[k]]
        for k in range(M):
            offsets[k] = n
            for t in range(ntypes_list):
                segments[k * ntypes_list + t] = n
            i = order[k]
            if i >= nlocal:
                continue
            xi = xs0[k]
            yi = xs1[k]
            zi = xs2[k]
            ti = ts[k]
            cut2row = &list_cut2[ti, 0]
            cell = cellof[i]
            cx = cell % nc[0]
            cy = (cell // nc[0]) % nc[1]
            cz = cell // (nc[0] * nc[1])
            h = 0
            # half lists search only cells that can hold particles 'above' i: binning is monotone,
            # so dz > 0 implies a cell layer >= i's (and, for planar systems, dy > 0 a row >= i's).
            # The ordering rule is needed only where dz (or dy) can have either sign.
            # Cell rows out of reach of the list sphere at their nearest y and z are skipped; the
            # others are searched over the stencil's whole x-range (trimming each row to the
            # sphere's x-extent halved the candidates but cost more in square roots and floors
            # than the SIMD test saves: builds 389 -> 323 us at KA N = 1000, 3.61 -> 2.71 ms at
            # N = 8000, A/B in one process on AMD Zen 4).
            for c in range((cz if half else max(cz - REACH, 0)), min(cz + REACH + 1, nc[2])):
                dzmin = _gap_to_cell(zi, lo[2], width[2], c)
                for b in range((cy if half and planar else max(cy - REACH, 0)), min(cy + REACH + 1, nc[1])):
                    rem = reach2 - dzmin * dzmin
                    dymin = _gap_to_cell(yi, lo[1], width[1], b)
                    rem = rem - dymin * dymin
                    if rem < 0.0:
                        continue
                    xa = max(cx - REACH, 0)
                    xb = min(cx + REACH, nc[0] - 1)
                    cj = (c * nc[1] + b) * nc[0]
                    check = half and (c == cz and (not planar or b == cy))   # else all are 'above' i
                    r0 = start[cj + xa]
                    r1 = start[cj + xb + 1] if xb >= xa else r0
                    h = select_row(xs0, xs1, xs2, &ts[0], r0, r1, k, xi, yi, zi, cut2row, ntypes_list,
                                   check, hits, hit_types, h)
            # i's neighbours grouped by type (in the order found), so kernels see constant
            # parameters per group, and (pad) each group filled to a multiple of 4 with the padding row M
            m = group_by_type(hits, hit_types, h, ntypes_list, pad, <int>M, grouped, starts)
            for t in range(ntypes_list):
                segments[k * ntypes_list + t] = n + starts[t]
            if n + m <= cap:
                memcpy(&neigh[n], grouped, m * sizeof(int))
            n += m                      # past cap: the caller retries with a larger list
        offsets[M] = n
        segments[M * ntypes_list] = n
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


def gather_rows_shifted(const double[:, ::1] x, const Py_ssize_t[::1] rows, const double[::1] shift,
                        double[:, ::1] out):
    """out[g] = x[rows[g]] + shift (ghost swaps: packing, or a copy when a rank swaps with itself)."""
    cdef Py_ssize_t g, r, c, nc = x.shape[1]
    with nogil:
        for g in range(rows.shape[0]):
            r = rows[g]
            for c in range(nc):
                out[g, c] = x[r, c] + shift[c]


def add_rows(double[:, ::1] arr, const Py_ssize_t[::1] rows, const double[:, ::1] vals):
    """arr[rows[g]] += vals[g] (reverse communication: ghost forces onto the rows they came from)."""
    cdef Py_ssize_t g, r, c, nc = arr.shape[1]
    with nogil:
        for g in range(rows.shape[0]):
            r = rows[g]
            for c in range(nc):
                arr[r, c] += vals[g, c]


def to_fractional(const double[:, ::1] x, Py_ssize_t n, const double[::1] lo, const double[:, ::1] h_inv,
                  double[:, ::1] out):
    """out[i] = h_inv (x[i] - lo) for the first n rows (h_inv upper triangular, (3, 3))."""
    cdef Py_ssize_t i
    cdef double a, b, c
    with nogil:
        for i in range(n):
            a = x[i, 0] - lo[0]
            b = x[i, 1] - lo[1]
            c = x[i, 2] - lo[2]
            out[i, 0] = h_inv[0, 0] * a + h_inv[0, 1] * b + h_inv[0, 2] * c
            out[i, 1] = h_inv[1, 1] * b + h_inv[1, 2] * c
            out[i, 2] = h_inv[2, 2] * c


def wrap_to_domain(double[:, ::1] x, Py_ssize_t n, const double[:, ::1] h, double[:, ::1] frac,
                   const double[::1] centre, const double[::1] half, int dim, int ngrid, bint check,
                   cnp.int64_t[:, ::1] images):
    """Move each of the first n particles by whole cells to the periodic image nearest `centre`
    (fractional, per dimension < dim): frac -= k, x -= h k, images += k with k = round(frac - centre)
    (half to even, as numpy). With `check`, returns the first row still farther than half + 1e-12
    from the centre along one of the first ngrid dimensions (a particle outside this domain),
    else -1."""
    cdef Py_ssize_t i, a, stray = -1
    cdef double k[3]
    cdef double d
    with nogil:
        for i in range(n):
            k[0] = k[1] = k[2] = 0.0
            for a in range(dim):
                k[a] = nearbyint(frac[i, a] - centre[a])
            if k[0] != 0.0 or k[1] != 0.0 or k[2] != 0.0:
                for a in range(dim):
                    frac[i, a] -= k[a]
                    images[i, a] += <cnp.int64_t>k[a]
                x[i, 0] -= h[0, 0] * k[0] + h[0, 1] * k[1] + h[0, 2] * k[2]
                x[i, 1] -= h[1, 1] * k[1] + h[1, 2] * k[2]
                x[i, 2] -= h[2, 2] * k[2]
            if check and stray < 0:
                for a in range(ngrid):
                    d = frac[i, a] - centre[a]
                    if d > half[a] + 1e-12 or -d > half[a] + 1e-12:
                        stray = i
    return stray


def select_band(const double[:, ::1] table, Py_ssize_t first, Py_ssize_t last, Py_ssize_t col,
                double lower, double upper, Py_ssize_t[::1] rows):
    """rows[:count] = the rows r in [first, last) with lower <= table[r, col] < upper (ghost
    bands of a domain face); returns count. rows must hold last - first entries."""
    cdef Py_ssize_t r, count = 0
    cdef double v
    with nogil:
        for r in range(first, last):
            v = table[r, col]
            rows[count] = r
            count += (v >= lower) & (v < upper)   # branch-free: the test is data-dependent
    return count



def periodic_images(const double[:, ::1] frac, Py_ssize_t n, int dim, const double[::1] reach,
                    int[::1] source, cnp.int64_t[:, ::1] image):
    """The periodic images of n particles (fractional coordinates frac) within reach[k] cell
    lengths of the cell along each of the first dim axes, swept axis by axis (x, then y with the
    x-images, then z with all), so edge and corner images come out of the later sweeps and
    reach > 1 (a cell thinner than the cutoff) adds several layers. Rows [0, n) are the particles
    themselves; each later row r is the image of particle source[r] shifted by image[r] cells. In
    each sweep the images are appended shift by shift (+1, -1, +2, -2, ...), each in the order of
    the rows so far. Returns the number of rows, or, when source/image are too short, minus a
    lower bound of the number needed (the caller retries larger)."""
    cdef Py_ssize_t cap = source.shape[0], count = n, rows, r, total
    cdef int k, shift, sign, nmax
    cdef double c, shifted
    if image.shape[0] < cap:
        cap = image.shape[0]
    if cap < n:
        return -n
    with nogil:
        for r in range(n):
            source[r] = <int>r
            image[r, 0] = image[r, 1] = image[r, 2] = 0
        for k in range(dim):
            if count > cap:     # an earlier sweep overflowed: rows past cap were not written
                break
            c = reach[k]
            nmax = <int>ceil(c)
            rows = count
            for shift in range(1, nmax + 1):
                for sign in range(2):
                    for r in range(rows):
                        # the arithmetic of the whole-array form: (frac + image) + shift, both in doubles
                        shifted = (frac[source[r], k] + <double>image[r, k]) + <double>(shift if sign == 0 else -shift)
                        if shifted >= -c and shifted < 1.0 + c:
                            if count < cap:
                                source[count] = source[r]
                                image[count, 0] = image[r, 0]
                                image[count, 1] = image[r, 1]
                                image[count, 2] = image[r, 2]
                                image[count, k] += shift if sign == 0 else -shift
                            count += 1
    return count if count <= cap else -count


def first_runaway_row(const double[:, ::1] x, Py_ssize_t n, double limit):
    """The first of the first n rows with a coordinate not strictly inside (-limit, limit) (NaN
    included), or -1."""
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if not (fabs(x[i, 0]) < limit and fabs(x[i, 1]) < limit and fabs(x[i, 2]) < limit):
                bad = i
                break
    return bad


def orthorhombic_shifts(const cnp.int64_t[:, ::1] image, Py_ssize_t n, const double[::1] lengths,
                        double[:, ::1] out):
    """out[g, a] = image[g, a] * lengths[a] for the first n rows: the Cartesian shift of whole-cell
    image counters in a cell without tilt (one exact product per entry)."""
    cdef Py_ssize_t g
    with nogil:
        for g in range(n):
            out[g, 0] = <double>image[g, 0] * lengths[0]
            out[g, 1] = <double>image[g, 1] * lengths[1]
            out[g, 2] = <double>image[g, 2] * lengths[2]


cdef bint _refresh_ghosts(double* x, const double* x0, int nlocal, double limit2, const int* source,
                          Py_ssize_t n_ghost, const double* shift) noexcept nogil:
    """refresh_ghosts on raw (rows, 3) buffers (shared with the replica batch)."""
    cdef Py_ssize_t i, g, s, row
    cdef double d, m = 0.0, dx, dy, dz
    for i in range(nlocal):
        dx = x[3 * i] - x0[3 * i]
        dy = x[3 * i + 1] - x0[3 * i + 1]
        dz = x[3 * i + 2] - x0[3 * i + 2]
        d = dx * dx + dy * dy + dz * dz
        if d > m:
            m = d
    if m > limit2:
        return False
    for g in range(n_ghost):
        s = source[g]
        row = nlocal + g
        x[3 * row] = x[3 * s] + shift[3 * g]
        x[3 * row + 1] = x[3 * s + 1] + shift[3 * g + 1]
        x[3 * row + 2] = x[3 * s + 2] + shift[3 * g + 2]
    return True


def refresh_ghosts(double[:, ::1] x, const double[:, ::1] x0, int nlocal, double limit2,
                   const int[::1] source, const double[:, ::1] shift):
    """One step of a serial domain: if no local particle has moved more than sqrt(limit2) since
    x0 (the last build), refresh the ghost rows from their owners (update_ghosts) and return True;
    otherwise touch nothing and return False (the caller rebuilds)."""
    cdef bint within
    if x.shape[0] < nlocal + source.shape[0] or x0.shape[0] < nlocal or shift.shape[0] < source.shape[0]:
        raise ValueError(f"{nlocal} particles and {source.shape[0]} ghosts need as many rows")
    if nlocal == 0 and source.shape[0] == 0:
        return True
    with nogil:
        within = _refresh_ghosts(&x[0, 0], &x0[0, 0] if nlocal else NULL, nlocal, limit2,
                                 &source[0] if source.shape[0] else NULL, source.shape[0],
                                 &shift[0, 0] if source.shape[0] else NULL)
    return within


def refresh_ghosts_replicas(const Py_ssize_t[:, ::1] table, int nlocal, double limit2, cnp.uint8_t[::1] within):
    """refresh_ghosts for every replica of a replica table (extensions/replicas.pxd) in one call:
    within[r] = 1 where replica r's ghosts were refreshed, 0 where it must rebuild. Returns the
    number of replicas that must rebuild."""
    cdef Py_ssize_t r, R = table.shape[0], stale = 0
    cdef const Py_ssize_t* row
    if table.shape[1] != RT_COLUMNS or within.shape[0] < R:
        raise ValueError(f"{R} replicas need {RT_COLUMNS} table columns and {R} flags")
    with nogil:
        for r in range(R):
            row = &table[r, 0]
            within[r] = _refresh_ghosts(<double*>row[RT_X], <const double*>row[RT_X0], nlocal, limit2,
                                        <const int*>row[RT_GHOST_SOURCE], row[RT_N_GHOST],
                                        <const double*>row[RT_GHOST_SHIFT])
            stale += not within[r]
    return stale


def wrap_orthorhombic(double[:, ::1] x, Py_ssize_t n, int dim, const double[:, ::1] frac,
                      const double[::1] lengths, cnp.int64_t[:, ::1] images):
    """Wrap the first n rows into a cell without tilt: k = floor(frac) per axis (< dim),
    x -= k L, images += k (System.wrap's arithmetic)."""
    cdef Py_ssize_t i
    cdef int a
    cdef double k
    with nogil:
        for i in range(n):
            for a in range(dim):
                k = floor(frac[i, a])
                if k != 0.0:
                    images[i, a] += <cnp.int64_t>k
                    x[i, a] -= k * lengths[a]


def ghost_tables(const int[::1] source, const cnp.int64_t[:, ::1] image, Py_ssize_t n, Py_ssize_t count,
                 const int[::1] types, const cnp.int64_t[::1] ids, const double[::1] lengths,
                 int[::1] ghost_source, cnp.int64_t[:, ::1] ghost_image, int[::1] ghost_types,
                 cnp.int64_t[::1] ghost_ids, double[:, ::1] ghost_shift, double[:, ::1] x):
    """From periodic_images' rows [n, count): each ghost's source row, image counters, type, id
    and, with cell lengths (no tilt; empty lengths: ghost_shift is given), its Cartesian shift,
    and the ghost rows x[n + g] = x[source] + shift: a serial rebuild's tables in one pass."""
    cdef Py_ssize_t g, r
    cdef int src
    cdef bint shifts = lengths.shape[0] == 3
    with nogil:
        for g in range(count - n):
            r = n + g
            src = source[r]
            ghost_source[g] = src
            ghost_image[g, 0] = image[r, 0]
            ghost_image[g, 1] = image[r, 1]
            ghost_image[g, 2] = image[r, 2]
            ghost_types[g] = types[src]
            ghost_ids[g] = ids[src]
            if shifts:
                ghost_shift[g, 0] = <double>image[r, 0] * lengths[0]
                ghost_shift[g, 1] = <double>image[r, 1] * lengths[1]
                ghost_shift[g, 2] = <double>image[r, 2] * lengths[2]
            x[n + g, 0] = x[src, 0] + ghost_shift[g, 0]
            x[n + g, 1] = x[src, 1] + ghost_shift[g, 1]
            x[n + g, 2] = x[src, 2] + ghost_shift[g, 2]


def list_layout(const int[::1] order, const int[::1] offsets, const int[::1] types, int[::1] sorted_types,
                int[::1] row_position, int[::1] active):
    """What the force kernels read beside a cell-sorted list, fixed until the next build:
    sorted_types[k] = types[order[k]] (and 0 for the padding row M), row_position[order[k]] = k, and
    active[:count] the sorted positions with neighbours. Returns count."""
    cdef Py_ssize_t k, M = order.shape[0], count = 0
    if sorted_types.shape[0] < M + 1 or row_position.shape[0] < M or active.shape[0] < M or offsets.shape[0] < M + 1:
        raise ValueError("list layout arrays are shorter than the list's rows")
    with nogil:
        for k in range(M):
            sorted_types[k] = types[order[k]]
            row_position[order[k]] = <int>k
            active[count] = <int>k
            count += offsets[k + 1] > offsets[k]
        sorted_types[M] = 0
    return count


def max_scaled_displacement2(const double[:, ::1] x, const double[:, ::1] x0, int n, const double[::1] lo,
                             double inv_c):
    """Largest squared displacement of the first n rows since x0 in the frame scaled back by 1/c
    about lo: |(x - lo) / c + lo - x0|^2 (a uniformly rescaled box, NPT)."""
    cdef int i, a
    cdef double d, m = 0.0, e
    with nogil:
        for i in range(n):
            d = 0.0
            for a in range(3):
                e = (x[i, a] - lo[a]) * inv_c + lo[a] - x0[i, a]
                d += e * e
            if d > m:
                m = d
    return m
