# cython: language_level=3
# Caller: pyglass/analysis/lattice/model.py (as pyglass._ext.lattice).
"""Hot loops of the TRSP lattice model (pyglass.analysis.lattice).

Two pieces live here:

* ``SumTree``: a binary sum tree over the rearrangement rates of all clusters.  Selecting
  the next event (Gillespie's direct method) and updating one rate are both O(log N_c),
  and every internal node is recomputed from its two children (never updated by adding
  deltas), so round-off does not accumulate however long the run.
* ``GillespieEngine``: the continuous-time event loop.  Each event (i) draws the waiting
  time dt = -ln(u)/W from the total rate W, (ii) selects the rearranging cluster c with
  probability w_c/W, (iii) applies the detailed-balanced softness kick on the finite region
  around c (paper Eqs. 10, 17, 19 restricted as described in docs/lattice.md):

      dS_Omega = a + M x_{Omega+shell} + F xi,     x = S - mu,  xi ~ N(0, 1)

  with a, M, F precomputed in Python per cluster orientation, and (iv) recomputes the rates
  of every cluster that contains a changed site.  The cost per event depends only on the
  size of the kick region, not on the lattice size.

Random numbers come in pre-drawn buffers from numpy's Generator (Python side), so runs are
reproducible from one seed and the loop itself stays free of Python calls.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport exp, log

cnp.import_array()


cdef class SumTree:
    """Binary sum tree: leaves hold non-negative weights, node k holds tree[2k] + tree[2k+1].

    ``select(u)`` with u uniform in [0, total) returns leaf i with probability w_i / total.
    """
    cdef public double[::1] tree
    cdef public Py_ssize_t size
    cdef public Py_ssize_t n

    def __init__(self, Py_ssize_t n):
        if n < 1:
            raise ValueError("SumTree: number of leaves must be >= 1")
        cdef Py_ssize_t size = 1
        while size < n:
            size *= 2
        self.size = size
        self.n = n
        self.tree = np.zeros(2 * size, dtype=np.float64)

    def build(self, double[::1] weights):
        """Set all leaves at once and rebuild internal nodes (O(N))."""
        cdef Py_ssize_t i
        if weights.shape[0] != self.n:
            raise ValueError("SumTree.build: weights has wrong length")
        for i in range(self.size):
            self.tree[self.size + i] = weights[i] if i < self.n else 0.0
        for i in range(self.size - 1, 0, -1):
            self.tree[i] = self.tree[2 * i] + self.tree[2 * i + 1]

    cdef inline void set_leaf(self, Py_ssize_t i, double w) noexcept nogil:
        cdef Py_ssize_t k = i + self.size
        self.tree[k] = w
        k >>= 1
        while k >= 1:
            self.tree[k] = self.tree[2 * k] + self.tree[2 * k + 1]
            k >>= 1

    cdef inline Py_ssize_t find(self, double u) noexcept nogil:
        cdef Py_ssize_t k = 1
        cdef double left
        while k < self.size:
            left = self.tree[2 * k]
            # go left when u falls in the left sum, or when the right subtree is empty
            # (guards against u >= total from round-off)
            if u < left or self.tree[2 * k + 1] <= 0.0:
                k = 2 * k
            else:
                u -= left
                k = 2 * k + 1
        return k - self.size

    def update(self, Py_ssize_t i, double w):
        if i < 0 or i >= self.n:
            raise IndexError("SumTree.update: leaf index out of range")
        self.set_leaf(i, w)

    def select(self, double u):
        return self.find(u)

    def leaf(self, Py_ssize_t i):
        return self.tree[self.size + i]

    @property
    def total(self):
        return self.tree[1]


cdef class GillespieEngine:
    """State and event loop of one TRSP trajectory (see module docstring)."""
    # lattice
    cdef public double[::1] S
    cdef int Lx, Ly, Lz
    cdef Py_ssize_t N, Nc, m, z
    cdef int[:, ::1] cluster_sites
    cdef int[:, ::1] site_clusters
    cdef int[::1] cluster_orientation
    cdef int[:, ::1] anchor_coords
    # kick operators per orientation
    cdef int[:, :, ::1] region_offsets
    cdef int[::1] n_kicked
    cdef int[::1] n_region
    cdef double[:, ::1] mean_kick
    cdef double[:, :, ::1] response
    cdef double[:, :, ::1] noise
    # bare rate law w_c = prefactor * exp(gamma0 X - delta0 X^2), X = cluster mean softness
    cdef double mu, prefactor, gamma0, delta0
    cdef public SumTree tree
    cdef long[::1] stamp
    cdef long[::1] node_stamp
    cdef long[::1] front
    cdef long event_id
    cdef public double t
    cdef public double sum_S
    cdef public double integral_sum_S
    cdef public double integral_time
    # work buffers
    cdef long[::1] idx
    cdef double[::1] x
    cdef double[::1] dS

    def __init__(self, double[::1] S, shape, int[:, ::1] cluster_sites, int[:, ::1] site_clusters,
                 int[::1] cluster_orientation, int[:, ::1] anchor_coords,
                 int[:, :, ::1] region_offsets, int[::1] n_kicked, int[::1] n_region,
                 double[:, ::1] mean_kick, double[:, :, ::1] response, double[:, :, ::1] noise,
                 double mu, double prefactor, double gamma0, double delta0):
        self.S = S
        self.Lx, self.Ly, self.Lz = shape
        self.N = S.shape[0]
        if self.N != self.Lx * self.Ly * self.Lz:
            raise ValueError("GillespieEngine: field size does not match the lattice shape")
        self.cluster_sites = cluster_sites
        self.site_clusters = site_clusters
        self.cluster_orientation = cluster_orientation
        self.anchor_coords = anchor_coords
        self.Nc = cluster_sites.shape[0]
        self.m = cluster_sites.shape[1]
        self.z = site_clusters.shape[1]
        self.region_offsets = region_offsets
        self.n_kicked = n_kicked
        self.n_region = n_region
        self.mean_kick = mean_kick
        self.response = response
        self.noise = noise
        self.mu = mu
        self.prefactor = prefactor
        self.gamma0 = gamma0
        self.delta0 = delta0
        self.tree = SumTree(self.Nc)
        self.stamp = np.full(self.Nc, -1, dtype=np.int64)
        self.node_stamp = np.full(2 * self.tree.size, -1, dtype=np.int64)
        self.front = np.zeros(max(region_offsets.shape[1], 1) * self.z + 1, dtype=np.int64)
        self.event_id = 0
        self.t = 0.0
        self.integral_sum_S = 0.0
        self.integral_time = 0.0
        cdef Py_ssize_t max_region = region_offsets.shape[1]
        self.idx = np.zeros(max_region, dtype=np.int64)
        self.x = np.zeros(max_region, dtype=np.float64)
        self.dS = np.zeros(max_region, dtype=np.float64)
        self.rebuild()

    cdef inline double cluster_mean(self, Py_ssize_t c) noexcept nogil:
        cdef Py_ssize_t k
        cdef double s = 0.0
        for k in range(self.m):
            s += self.S[self.cluster_sites[c, k]]
        return s / self.m

    cdef inline double cluster_rate(self, double X) noexcept nogil:
        return self.prefactor * exp(self.gamma0 * X - self.delta0 * X * X)

    def rebuild(self):
        """Recompute every cluster rate and the field sum from S (O(N))."""
        cdef Py_ssize_t c, i
        rates = np.empty(self.Nc, dtype=np.float64)
        cdef double[::1] r = rates
        for c in range(self.Nc):
            r[c] = self.cluster_rate(self.cluster_mean(c))
        self.tree.build(r)
        cdef double s = 0.0
        for i in range(self.N):
            s += self.S[i]
        self.sum_S = s

    def rates(self):
        """Current rates of all clusters (copy)."""
        return np.asarray(self.tree.tree[self.tree.size:self.tree.size + self.Nc]).copy()

    @property
    def total_rate(self):
        return self.tree.tree[1]

    def cluster_means(self):
        out = np.empty(self.Nc)
        cdef Py_ssize_t c
        for c in range(self.Nc):
            out[c] = self.cluster_mean(c)
        return out

    def advance(self, double t_stop, double[::1] uniforms, double[:, ::1] normals,
                double[::1] log_time, int[::1] log_cluster, double[::1] log_x_before,
                double[::1] log_x_after, Py_ssize_t snapshot_every,
                double[:, ::1] snapshots, double[::1] snapshot_weight, bint selection_linear=False):
        """Run events until the next one would fall after ``t_stop`` or the buffers run out.

        Uses two uniforms and one row of ``normals`` per event.  Returns
        ``(n_events, n_snapshots, reached_stop)``; when ``reached_stop`` the clock is set to
        ``t_stop`` (the discarded waiting time is harmless: waiting times are memoryless).
        Every ``snapshot_every``-th event the post-event field is copied into ``snapshots``
        with weight 1/W (the expected waiting time in that state: App. F 2's
        waiting-time weighting, in its Rao-Blackwellised form).
        ``selection_linear`` replaces the tree search by an O(N_c) scan (benchmarks only).
        """
        cdef Py_ssize_t max_events = min(uniforms.shape[0] // 2, normals.shape[0], log_time.shape[0])
        cdef Py_ssize_t n_done = 0, n_snap = 0, max_snap = snapshots.shape[0]
        cdef Py_ssize_t c, o, k, j, nk, nr, site, cl, q, node, n_front, n_next
        cdef double W, dt, u, X, acc, dsum
        cdef int ax, ay, az, cx, cy, cz
        cdef bint reached = False
        cdef double* row
        cdef double* xp
        cdef double* zp
        with nogil:
            while n_done < max_events:
                W = self.tree.tree[1]
                if W <= 0.0:
                    reached = True
                    break
                dt = -log(1.0 - uniforms[2 * n_done]) / W
                if self.t + dt > t_stop:
                    self.integral_sum_S += self.sum_S * (t_stop - self.t)
                    self.integral_time += t_stop - self.t
                    self.t = t_stop
                    reached = True
                    break
                self.integral_sum_S += self.sum_S * dt
                self.integral_time += dt
                self.t += dt
                u = uniforms[2 * n_done + 1] * W
                if selection_linear:
                    acc = 0.0
                    c = self.Nc - 1
                    for q in range(self.Nc):
                        acc += self.tree.tree[self.tree.size + q]
                        if u < acc:
                            c = q
                            break
                else:
                    c = self.tree.find(u)
                log_time[n_done] = self.t
                log_cluster[n_done] = <int> c
                log_x_before[n_done] = self.cluster_mean(c)
                # --- gather the kick region around the cluster's anchor (periodic wrap)
                o = self.cluster_orientation[c]
                nk = self.n_kicked[o]
                nr = self.n_region[o]
                ax = self.anchor_coords[c, 0]
                ay = self.anchor_coords[c, 1]
                az = self.anchor_coords[c, 2]
                for k in range(nr):
                    cx = (ax + self.region_offsets[o, k, 0]) % self.Lx
                    cy = (ay + self.region_offsets[o, k, 1]) % self.Ly
                    cz = (az + self.region_offsets[o, k, 2]) % self.Lz
                    self.idx[k] = (cx * self.Ly + cy) * self.Lz + cz
                    self.x[k] = self.S[self.idx[k]] - self.mu
                # --- dS = a + M x + F xi  (Eqs. 10, 17, 19 on the truncated region)
                dsum = 0.0
                xp = &self.x[0]
                zp = &normals[n_done, 0]
                for k in range(nk):
                    row = &self.response[o, k, 0]
                    acc = self.mean_kick[o, k]
                    for j in range(nr):
                        acc = acc + row[j] * xp[j]
                    row = &self.noise[o, k, 0]
                    for j in range(nk):
                        acc = acc + row[j] * zp[j]
                    self.dS[k] = acc
                for k in range(nk):
                    self.S[self.idx[k]] += self.dS[k]
                    dsum += self.dS[k]
                self.sum_S += dsum
                # --- refresh the rates of every cluster containing a changed site
                # leaves first, then each level's distinct parents once (shared ancestors of
                # the touched clusters are recomputed once, not once per leaf)
                self.event_id += 1
                n_front = 0
                for k in range(nk):
                    site = self.idx[k]
                    for j in range(self.z):
                        cl = self.site_clusters[site, j]
                        if self.stamp[cl] != self.event_id:
                            self.stamp[cl] = self.event_id
                            node = cl + self.tree.size
                            self.tree.tree[node] = self.cluster_rate(self.cluster_mean(cl))
                            self.front[n_front] = node >> 1
                            n_front += 1
                while n_front > 0 and self.front[0] >= 1:
                    n_next = 0
                    for j in range(n_front):
                        node = self.front[j]
                        if self.node_stamp[node] != self.event_id:
                            self.node_stamp[node] = self.event_id
                            self.tree.tree[node] = self.tree.tree[2 * node] + self.tree.tree[2 * node + 1]
                            if node > 1:
                                self.front[n_next] = node >> 1
                                n_next += 1
                    n_front = n_next
                log_x_after[n_done] = self.cluster_mean(c)
                n_done += 1
                if snapshot_every > 0 and n_snap < max_snap and (self.event_id % snapshot_every) == 0:
                    for k in range(self.N):
                        snapshots[n_snap, k] = self.S[k]
                    snapshot_weight[n_snap] = 1.0 / self.tree.tree[1]
                    n_snap += 1
        return n_done, n_snap, reached
