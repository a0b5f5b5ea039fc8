# cython: language_level=3
# Caller: pyglass/engine/potentials/stillinger_weber.py (as pyglass._ext.threebody).
"""Stillinger-Weber three-body kernels: energy/forces/virial, the analytic Hessian (COO, with the
three-particle blocks), and the affine simple-shear derivatives.

Stillinger & Weber, PRB 31, 5262 (1985); docs/science.md §1:
    U = sum_{i<j} phi2(r_ij) + sum_i sum_{j<k} h(r_ij, r_ik, theta_jik)
    phi2(r) = A eps [B (sigma/r)^p - (sigma/r)^q] exp(sigma / (r - a sigma))
    h       = lambda eps (cos theta_jik - cos0)^2 exp(gamma sigma/(r_ij - a sigma)) exp(gamma sigma/(r_ik - a sigma))
both cut at r = a sigma. Positions are stored (M, 3) for local + ghost rows (z = 0 in 2D). The
neighbour list is FULL (every neighbour of each local particle, ghost rows included): each pair
appears twice (so two-body terms take half weight, or act on the centre only) and each triplet
once, centred on a local particle. Forces and shear derivatives that land on ghost rows are
folded onto their owners by the caller (Domain.fold_forces).

Three-body algebra. With u = r_j - r_i, v = r_k - r_i, r1 = |u|, r2 = |v|, n1 = u/r1, n2 = v/r2,
c = n1.n2, Q = (c - cos0)^2, P = E1 E2 (E(r) = exp(gamma sigma/(r - a sigma))):
    dc/du = (n2 - c n1)/r1,   dc/dv = (n1 - c n2)/r2
    d2c/dudu = [3c n1n1 - (n1n2 + n2n1) - c I]/r1^2
    d2c/dudv = [I - n1n1 - n2n2 + c n1n2]/(r1 r2)
    h_u  = Q' P c_u + Q E1' E2 n1
    h_uu = Q'' P c_u c_u + Q' P c_uu + Q' E1' E2 (c_u n1 + n1 c_u) + Q E2 [E1'' n1n1 + E1'/r1 (I - n1n1)]
    h_uv = Q'' P c_u c_v + Q' P c_uv + Q' E1 E2' c_u n2 + Q' E1' E2 n1 c_v + Q E1' E2' n1 n2
and the particle blocks follow from d/dr_i = -(d/du + d/dv), d/dr_j = d/du, d/dr_k = d/dv.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt, exp, pow

cnp.import_array()

# parameter vector layout
cdef enum:
    P_EPS = 0
    P_SIG = 1
    P_A = 2
    P_B = 3
    P_P = 4
    P_Q = 5
    P_CUT = 6       # a sigma
    P_LAM = 7
    P_GAM = 8
    P_COS0 = 9
    NPAR = 10
NPARAM = NPAR
cdef double EXP_MIN = -700.0   # exp() of anything below underflows: the term is zero


cdef inline double fpow(double s, double e) noexcept nogil:
    """s^e, by repeated multiplication when e is a small non-negative integer (p = 4, q = 0)."""
    cdef int k, n
    cdef double out
    if e >= 0.0 and e <= 16.0 and e == <double>(<int>e):
        n = <int>e
        out = 1.0
        for k in range(n):
            out *= s
        return out
    return pow(s, e)


cdef inline void sw_two(const double* p, double r, int order, double* out) noexcept nogil:
    """phi2 and its r-derivatives up to `order` (<= 2) into out[0..order]; zero at/after the cutoff."""
    cdef double w = r - p[P_CUT], arg, ex, e1, e2, s, sp, sq, P0, P1, P2, ae
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    if w >= 0.0:
        return
    arg = p[P_SIG] / w
    if arg < EXP_MIN:
        return
    ex = exp(arg)
    s = p[P_SIG] / r
    sp = p[P_B] * fpow(s, p[P_P])
    sq = fpow(s, p[P_Q])
    ae = p[P_A] * p[P_EPS]
    P0 = sp - sq
    out[0] = ae * P0 * ex
    if order >= 1:
        e1 = -arg / w                        # d/dr of sigma/w
        P1 = (-p[P_P] * sp + p[P_Q] * sq) / r
        out[1] = ae * ex * (P1 + P0 * e1)
        if order >= 2:
            e2 = e1 * e1 - 2.0 * e1 / w       # (exp)''/exp = e1^2 + d(e1)/dr, d(e1)/dr = 2 sigma/w^3
            P2 = (p[P_P] * (p[P_P] + 1.0) * sp - p[P_Q] * (p[P_Q] + 1.0) * sq) / (r * r)
            out[2] = ae * ex * (P2 + 2.0 * P1 * e1 + P0 * e2)


cdef inline void sw_radial(const double* p, double r, double* out) noexcept nogil:
    """E(r) = exp(gamma sigma/(r - a sigma)), E', E'' into out[0..2]; zero beyond the cutoff."""
    cdef double w = r - p[P_CUT], g, arg, ex
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    if w >= 0.0:
        return
    g = p[P_GAM] * p[P_SIG]
    arg = g / w
    if arg < EXP_MIN:
        return
    ex = exp(arg)
    out[0] = ex
    out[1] = -ex * arg / w
    out[2] = ex * (arg * arg / (w * w) + 2.0 * arg / (w * w))


cdef inline double triplet_grad(const double* p, const double* u, const double* v, double r1, double r2,
                                const double* E1, const double* E2, double* gu, double* gv) noexcept nogil:
    """Energy h of one triplet and its gradients with respect to u = r_j - r_i and v = r_k - r_i."""
    cdef double le = p[P_LAM] * p[P_EPS], c, dc, Q, Q1, P, a, b
    cdef double n1[3]
    cdef double n2[3]
    cdef int t
    for t in range(3):
        n1[t] = u[t] / r1
        n2[t] = v[t] / r2
    c = n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2]
    dc = c - p[P_COS0]
    Q = dc * dc
    Q1 = 2.0 * dc
    P = E1[0] * E2[0]
    for t in range(3):
        gu[t] = le * (Q1 * P * (n2[t] - c * n1[t]) / r1 + Q * E1[1] * E2[0] * n1[t])
        gv[t] = le * (Q1 * P * (n1[t] - c * n2[t]) / r2 + Q * E1[0] * E2[1] * n2[t])
    return le * Q * P


cdef inline void triplet_hess(const double* p, const double* u, const double* v, double r1, double r2,
                              const double* E1, const double* E2,
                              double* Huu, double* Huv, double* Hvv) noexcept nogil:
    """Second derivatives (3x3, row-major) of one triplet: Huu = d2h/du du, Huv[a,b] = d2h/du_a dv_b,
    Hvv = d2h/dv dv (see the module docstring)."""
    cdef double le = p[P_LAM] * p[P_EPS], c, dc, Q, Q1, P, dab, t1, t2, t3
    cdef double n1[3]
    cdef double n2[3]
    cdef double cu[3]
    cdef double cv[3]
    cdef int a, b
    for a in range(3):
        n1[a] = u[a] / r1
        n2[a] = v[a] / r2
    c = n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2]
    for a in range(3):
        cu[a] = (n2[a] - c * n1[a]) / r1
        cv[a] = (n1[a] - c * n2[a]) / r2
    dc = c - p[P_COS0]
    Q = dc * dc
    Q1 = 2.0 * dc
    P = E1[0] * E2[0]
    for a in range(3):
        for b in range(3):
            dab = 1.0 if a == b else 0.0
            # uu
            t1 = (3.0 * c * n1[a] * n1[b] - n1[a] * n2[b] - n2[a] * n1[b] - c * dab) / (r1 * r1)
            Huu[3 * a + b] = le * (2.0 * P * cu[a] * cu[b] + Q1 * P * t1
                                   + Q1 * E1[1] * E2[0] * (cu[a] * n1[b] + n1[a] * cu[b])
                                   + Q * E2[0] * (E1[2] * n1[a] * n1[b] + E1[1] / r1 * (dab - n1[a] * n1[b])))
            # vv
            t2 = (3.0 * c * n2[a] * n2[b] - n2[a] * n1[b] - n1[a] * n2[b] - c * dab) / (r2 * r2)
            Hvv[3 * a + b] = le * (2.0 * P * cv[a] * cv[b] + Q1 * P * t2
                                   + Q1 * E1[0] * E2[1] * (cv[a] * n2[b] + n2[a] * cv[b])
                                   + Q * E1[0] * (E2[2] * n2[a] * n2[b] + E2[1] / r2 * (dab - n2[a] * n2[b])))
            # uv
            t3 = (dab - n1[a] * n1[b] - n2[a] * n2[b] + c * n1[a] * n2[b]) / (r1 * r2)
            Huv[3 * a + b] = le * (2.0 * P * cu[a] * cv[b] + Q1 * P * t3
                                   + Q1 * E1[0] * E2[1] * cu[a] * n2[b]
                                   + Q1 * E1[1] * E2[0] * n1[a] * cv[b]
                                   + Q * E1[1] * E2[1] * n1[a] * n2[b])


cdef int gather(const double* xp, const int* nb, int start, int stop, int i, double cut2,
                int* idx, double* dr, double* rr) noexcept nogil:
    """Neighbours of i inside the cutoff: row index, separation (3), distance. Returns the count."""
    cdef int jj, j, n = 0
    cdef double dx, dy, dz, u2
    for jj in range(start, stop):
        j = nb[jj]
        dx = xp[3 * j] - xp[3 * i]
        dy = xp[3 * j + 1] - xp[3 * i + 1]
        dz = xp[3 * j + 2] - xp[3 * i + 2]
        u2 = dx * dx + dy * dy + dz * dz
        if u2 < cut2:
            idx[n] = j
            dr[3 * n] = dx
            dr[3 * n + 1] = dy
            dr[3 * n + 2] = dz
            rr[n] = sqrt(u2)
            n += 1
    return n


def max_neighbours(const int[::1] offsets):
    cdef int i, m = 0
    for i in range(offsets.shape[0] - 1):
        if offsets[i + 1] - offsets[i] > m:
            m = offsets[i + 1] - offsets[i]
    return m


def sw_compute(const double[:, ::1] x, int nlocal, const int[::1] offsets, const int[::1] neigh,
               const double[::1] params, double[:, ::1] f, double[::1] virial, double[::1] peratom):
    """Energy, forces (into f (M, 3), zeroed here, ghost rows included), virial W = sum r (x) f
    relative to each term's centre (virial[9], zeroed here) and, if len(peratom) > 0, per-row
    energies (pair energy half to each partner, triplet energy a third to each member, as LAMMPS).

    Per centre i the neighbours inside the cutoff are gathered with their unit vectors and radial
    factors; three-body forces on each neighbour are accumulated in a scratch row and scattered
    (and their virial r (x) f taken) once per neighbour."""
    cdef Py_ssize_t M = x.shape[0]
    cdef int mx = max_neighbours(offsets) + 1
    idx_arr = np.empty(mx, np.int32)
    dr_arr = np.empty(3 * mx)
    r_arr = np.empty(mx)
    e_arr = np.empty(3 * mx)
    n_arr = np.empty(3 * mx)
    fa_arr = np.empty(3 * mx)
    ea_arr = np.empty(mx)
    cdef int[::1] idx = idx_arr
    cdef double[::1] drv = dr_arr
    cdef double[::1] rv = r_arr
    cdef double[::1] Ev = e_arr
    cdef double[::1] nv = n_arr
    cdef double[::1] fav = fa_arr
    cdef double[::1] eav = ea_arr
    cdef int* ip = &idx[0]
    cdef double* dr = &drv[0]
    cdef double* rp = &rv[0]
    cdef double* Ep = &Ev[0]
    cdef double* un = &nv[0]
    cdef double* fa = &fav[0]
    cdef double* ea = &eav[0]
    cdef const double* p = &params[0]
    cdef double cut2 = params[P_CUT] * params[P_CUT]
    cdef double le = params[P_LAM] * params[P_EPS]
    cdef double cos0 = params[P_COS0]
    cdef double* fp = &f[0, 0]
    cdef const double* xp = &x[0, 0]
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    cdef bint want_pe = peratom.shape[0] > 0
    cdef bint three = le != 0.0
    cdef int i, n, a, b, t, j, k
    cdef double energy = 0.0, e3, e, fpair, c, dc, P, Q, ta, tb, Ea, Eap, Eb, Ebp, ra, rb
    cdef double ax, ay, az, bx, by, bz, gux, guy, guz, gvx, gvy, gvz, fax, fay, faz, h, w3
    cdef double W[9]
    cdef double out[3]
    for t in range(9):
        W[t] = 0.0
    with nogil:
        for t in range(M * 3):
            fp[t] = 0.0
        if want_pe:
            for t in range(peratom.shape[0]):
                peratom[t] = 0.0
        for i in range(nlocal):
            n = gather(xp, nb, offsets[i], offsets[i + 1], i, cut2, ip, dr, rp)
            for a in range(n):
                # two-body: every pair is listed from both ends; the force acts on the centre only
                sw_two(p, rp[a], 1, out)
                e = 0.5 * out[0]
                energy += e
                fpair = out[1] / rp[a]           # force on i is +phi' u/r (u = r_j - r_i)
                for t in range(3):
                    fp[3 * i + t] += fpair * dr[3 * a + t]
                for t in range(3):
                    for b in range(3):
                        W[3 * t + b] -= 0.5 * fpair * dr[3 * a + t] * dr[3 * a + b]
                if want_pe:
                    peratom[i] += e
                sw_radial(p, rp[a], Ep + 3 * a)
                for t in range(3):
                    un[3 * a + t] = dr[3 * a + t] / rp[a]
                    fa[3 * a + t] = 0.0
                ea[a] = 0.0
            if not three:
                continue
            # three-body (lambda eps factored out until the scatter)
            e3 = 0.0
            for a in range(n - 1):
                Ea = Ep[3 * a]
                if Ea == 0.0:
                    continue
                Eap = Ep[3 * a + 1]
                ra = rp[a]
                ax = un[3 * a]
                ay = un[3 * a + 1]
                az = un[3 * a + 2]
                fax = 0.0
                fay = 0.0
                faz = 0.0
                for b in range(a + 1, n):
                    Eb = Ep[3 * b]
                    if Eb == 0.0:
                        continue
                    Ebp = Ep[3 * b + 1]
                    rb = rp[b]
                    bx = un[3 * b]
                    by = un[3 * b + 1]
                    bz = un[3 * b + 2]
                    c = ax * bx + ay * by + az * bz
                    dc = c - cos0
                    P = Ea * Eb
                    Q = dc * dc
                    h = Q * P
                    e3 += h
                    ta = 2.0 * dc * P / ra
                    tb = 2.0 * dc * P / rb
                    w3 = Q * Eap * Eb
                    gux = ta * (bx - c * ax) + w3 * ax
                    guy = ta * (by - c * ay) + w3 * ay
                    guz = ta * (bz - c * az) + w3 * az
                    w3 = Q * Ea * Ebp
                    gvx = tb * (ax - c * bx) + w3 * bx
                    gvy = tb * (ay - c * by) + w3 * by
                    gvz = tb * (az - c * bz) + w3 * bz
                    fax -= gux
                    fay -= guy
                    faz -= guz
                    fa[3 * b] -= gvx
                    fa[3 * b + 1] -= gvy
                    fa[3 * b + 2] -= gvz
                    if want_pe:
                        ea[a] += h
                        ea[b] += h
                fa[3 * a] += fax
                fa[3 * a + 1] += fay
                fa[3 * a + 2] += faz
            energy += le * e3
            for a in range(n):
                j = ip[a]
                for t in range(3):
                    fa[3 * a + t] *= le
                for t in range(3):
                    fp[3 * j + t] += fa[3 * a + t]
                    fp[3 * i + t] -= fa[3 * a + t]
                    for b in range(3):
                        W[3 * t + b] += dr[3 * a + t] * fa[3 * a + b]
                if want_pe:
                    peratom[j] += le * ea[a] / 3.0
            if want_pe:
                peratom[i] += le * e3 / 3.0
    for t in range(9):
        virial[t] = W[t]
    return energy


def sw_hessian(const double[:, ::1] x, int nlocal, const int[::1] offsets, const int[::1] neigh,
               const long[::1] owner, const double[::1] params, int dim):
    """Analytic Hessian of the local particles in COO form (rows, cols, vals), indices into the
    dim*N vector (x0, y0, [z0], x1, ...), ghost rows mapped to their owners; duplicates are to be
    summed. Per centre i it emits the accumulated (i,i) block, the (i,j), (j,i), (j,j) blocks of
    each neighbour j, and the (j,k), (k,j) blocks of each neighbour pair of the three-body term."""
    cdef int mx = max_neighbours(offsets) + 1
    cdef double cut2 = params[P_CUT] * params[P_CUT]
    cdef const double* p = &params[0]
    cdef const double* xp = &x[0, 0]
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    idx_arr = np.empty(mx, np.int32)
    dr_arr = np.empty(3 * mx)
    r_arr = np.empty(mx)
    e_arr = np.empty(3 * mx)
    mij_arr = np.empty(9 * mx)
    mjj_arr = np.empty(9 * mx)
    cdef int[::1] idx = idx_arr
    cdef double[::1] drv = dr_arr
    cdef double[::1] rv = r_arr
    cdef double[::1] Ev = e_arr
    cdef double[::1] mijv = mij_arr
    cdef double[::1] mjjv = mjj_arr
    cdef int* ip = &idx[0]
    cdef double* dr = &drv[0]
    cdef double* rp = &rv[0]
    cdef double* Ep = &Ev[0]
    cdef double* Mij = &mijv[0]
    cdef double* Mjj = &mjjv[0]
    cdef int i, n, a, b, s, t, cnt
    cdef long long total = 0, pos = 0
    # count pass: exact number of blocks
    with nogil:
        for i in range(nlocal):
            n = gather(xp, nb, offsets[i], offsets[i + 1], i, cut2, ip, dr, rp)
            cnt = 0
            for a in range(n):
                sw_radial(p, rp[a], Ep + 3 * a)
                if Ep[3 * a] != 0.0:
                    cnt += 1
            total += 1 + 3 * n + cnt * (cnt - 1)
    cdef int dd = dim * dim
    rows_arr = np.empty(total * dd, np.int64)
    cols_arr = np.empty(total * dd, np.int64)
    vals_arr = np.empty(total * dd)
    cdef long long[::1] R = rows_arr
    cdef long long[::1] C = cols_arr
    cdef double[::1] V = vals_arr
    cdef double Mii[9]
    cdef double Huu[9]
    cdef double Huv[9]
    cdef double Hvv[9]
    cdef double out[3]
    cdef double K, L, nn
    cdef long oi, oj, ok
    with nogil:
        for i in range(nlocal):
            n = gather(xp, nb, offsets[i], offsets[i + 1], i, cut2, ip, dr, rp)
            oi = owner[i]
            for t in range(9):
                Mii[t] = 0.0
            for a in range(n):
                sw_radial(p, rp[a], Ep + 3 * a)
                # two-body, half weight per listing: K = phi'' nn + phi'/r (I - nn)
                sw_two(p, rp[a], 2, out)
                for s in range(3):
                    for t in range(3):
                        nn = dr[3 * a + s] * dr[3 * a + t] / (rp[a] * rp[a])
                        K = 0.5 * (out[2] * nn + out[1] / rp[a] * ((1.0 if s == t else 0.0) - nn))
                        Mii[3 * s + t] += K
                        Mjj[9 * a + 3 * s + t] = K
                        Mij[9 * a + 3 * s + t] = -K
            for a in range(n - 1):
                if Ep[3 * a] == 0.0:
                    continue
                for b in range(a + 1, n):
                    if Ep[3 * b] == 0.0:
                        continue
                    triplet_hess(p, dr + 3 * a, dr + 3 * b, rp[a], rp[b], Ep + 3 * a, Ep + 3 * b, Huu, Huv, Hvv)
                    oj = owner[ip[a]]
                    ok = owner[ip[b]]
                    for s in range(3):
                        for t in range(3):
                            Mii[3 * s + t] += Huu[3 * s + t] + Huv[3 * s + t] + Huv[3 * t + s] + Hvv[3 * s + t]
                            Mjj[9 * a + 3 * s + t] += Huu[3 * s + t]
                            Mjj[9 * b + 3 * s + t] += Hvv[3 * s + t]
                            # d2/dr_i,s dr_j,t = -(Huu + Hvu)[s,t],  d2/dr_i,s dr_k,t = -(Huv + Hvv)[s,t]
                            Mij[9 * a + 3 * s + t] -= Huu[3 * s + t] + Huv[3 * t + s]
                            Mij[9 * b + 3 * s + t] -= Huv[3 * s + t] + Hvv[3 * s + t]
                    for s in range(dim):
                        for t in range(dim):
                            R[pos] = oj * dim + s
                            C[pos] = ok * dim + t
                            V[pos] = Huv[3 * s + t]
                            pos += 1
                            R[pos] = ok * dim + t
                            C[pos] = oj * dim + s
                            V[pos] = Huv[3 * s + t]
                            pos += 1
            for s in range(dim):
                for t in range(dim):
                    R[pos] = oi * dim + s
                    C[pos] = oi * dim + t
                    V[pos] = Mii[3 * s + t]
                    pos += 1
            for a in range(n):
                oj = owner[ip[a]]
                for s in range(dim):
                    for t in range(dim):
                        R[pos] = oi * dim + s
                        C[pos] = oj * dim + t
                        V[pos] = Mij[9 * a + 3 * s + t]
                        pos += 1
                        R[pos] = oj * dim + t
                        C[pos] = oi * dim + s
                        V[pos] = Mij[9 * a + 3 * s + t]
                        pos += 1
                        R[pos] = oj * dim + s
                        C[pos] = oj * dim + t
                        V[pos] = Mjj[9 * a + 3 * s + t]
                        pos += 1
    return rows_arr[:pos], cols_arr[:pos], vals_arr[:pos]


def sw_shear(const double[:, ::1] x, int nlocal, const int[::1] offsets, const int[::1] neigh,
             const double[::1] params, double[:, ::1] xi):
    """Affine simple shear x -> x + g y: returns d2U/dg2 and fills xi (M, 3) (zeroed here, ghost
    rows to be folded) with d2U/dg dx = K . (y e_x) summed over terms, i.e. minus the derivative of
    the forces along the affine path. Every separation s changes by s_y e_x."""
    cdef int mx = max_neighbours(offsets) + 1
    cdef double cut2 = params[P_CUT] * params[P_CUT]
    cdef const double* p = &params[0]
    cdef const double* xp = &x[0, 0]
    cdef const int* nb = &neigh[0] if neigh.shape[0] > 0 else NULL
    cdef double* xip = &xi[0, 0]
    idx_arr = np.empty(mx, np.int32)
    dr_arr = np.empty(3 * mx)
    r_arr = np.empty(mx)
    e_arr = np.empty(3 * mx)
    cdef int[::1] idx = idx_arr
    cdef double[::1] drv = dr_arr
    cdef double[::1] rv = r_arr
    cdef double[::1] Ev = e_arr
    cdef int* ip = &idx[0]
    cdef double* dr = &drv[0]
    cdef double* rp = &rv[0]
    cdef double* Ep = &Ev[0]
    cdef Py_ssize_t M = x.shape[0]
    cdef int i, n, a, b, s, j, k
    cdef double d2 = 0.0, nn, K, uy, vy, tj, tk
    cdef double out[3]
    cdef double Huu[9]
    cdef double Huv[9]
    cdef double Hvv[9]
    with nogil:
        for s in range(M * 3):
            xip[s] = 0.0
        for i in range(nlocal):
            n = gather(xp, nb, offsets[i], offsets[i + 1], i, cut2, ip, dr, rp)
            for a in range(n):
                sw_radial(p, rp[a], Ep + 3 * a)
                sw_two(p, rp[a], 2, out)
                uy = dr[3 * a + 1]
                # column x of K = phi'' nn + phi'/r (I - nn); the pair is listed twice
                for s in range(3):
                    nn = dr[3 * a + s] * dr[3 * a] / (rp[a] * rp[a])
                    K = out[2] * nn + out[1] / rp[a] * ((1.0 if s == 0 else 0.0) - nn)
                    xip[3 * i + s] -= uy * K
                    if s == 0:
                        d2 += 0.5 * uy * uy * K
            for a in range(n - 1):
                if Ep[3 * a] == 0.0:
                    continue
                j = ip[a]
                uy = dr[3 * a + 1]
                for b in range(a + 1, n):
                    if Ep[3 * b] == 0.0:
                        continue
                    k = ip[b]
                    vy = dr[3 * b + 1]
                    triplet_hess(p, dr + 3 * a, dr + 3 * b, rp[a], rp[b], Ep + 3 * a, Ep + 3 * b, Huu, Huv, Hvv)
                    d2 += uy * uy * Huu[0] + 2.0 * uy * vy * Huv[0] + vy * vy * Hvv[0]
                    for s in range(3):
                        tj = uy * Huu[3 * s] + vy * Huv[3 * s]
                        tk = uy * Huv[s] + vy * Hvv[3 * s]
                        xip[3 * j + s] += tj
                        xip[3 * k + s] += tk
                        xip[3 * i + s] -= tj + tk
    return d2
