# cython: language_level=3
# Caller: pyglass/engine/integrators/base.py (as pyglass._ext.integrate).
"""Fused velocity-Verlet updates on the (N, 3) coordinate buffers, and the Nose-Hoover chain step."""
from libc.math cimport INFINITY, exp, fabs, isfinite


def kick(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass, double h, int n):
    """v += h f / m for the first n rows."""
    cdef int i
    cdef double c
    with nogil:
        for i in range(n):
            c = h * inv_mass[i]
            v[i, 0] += c * f[i, 0]
            v[i, 1] += c * f[i, 1]
            v[i, 2] += c * f[i, 2]


def drift(double[:, ::1] x, const double[:, ::1] v, double dt, int n):
    """x += dt v for the first n rows."""
    cdef int i
    with nogil:
        for i in range(n):
            x[i, 0] += dt * v[i, 0]
            x[i, 1] += dt * v[i, 1]
            x[i, 2] += dt * v[i, 2]


def twice_kinetic(const double[:, ::1] v, const double[::1] mass, int n):
    """sum_i m_i v_i^2."""
    cdef int i
    cdef double s = 0.0
    with nogil:
        for i in range(n):
            s += mass[i] * (v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2])
    return s


def kick_drift(double[:, ::1] v, double[:, ::1] x, const double[:, ::1] f, const double[::1] inv_mass3,
               double h, double dt, double scale, int n):
    """v <- scale v + h f / m (scale: a thermostat's rescaling, 1 without), x += dt v for the
    first n rows: an integrator's first half in one pass. inv_mass3 holds 1/m per component
    (3 n): the rows are walked as one flat array, so the loop vectorises."""
    cdef Py_ssize_t k, n3 = 3 * <Py_ssize_t>n
    cdef double* vp = &v[0, 0]
    cdef double* xp = &x[0, 0]
    cdef const double* fp = &f[0, 0]
    cdef const double* im = &inv_mass3[0]
    _check_rows(v.shape[0], x.shape[0], f.shape[0], inv_mass3.shape[0], n)
    with nogil:
        for k in range(n3):
            vp[k] = scale * vp[k] + h * im[k] * fp[k]
            xp[k] += dt * vp[k]


def kick_twice_kinetic(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass3,
                       const double[::1] mass3, double h, int n):
    """v += h f / m for the first n rows; returns sum_i m_i v_i^2 after the kick (a thermostat's
    second half needs it next). inv_mass3, mass3: per component (3 n)."""
    cdef Py_ssize_t k, n3 = 3 * <Py_ssize_t>n
    cdef double s = 0.0
    cdef double* vp = &v[0, 0]
    cdef const double* fp = &f[0, 0]
    cdef const double* im = &inv_mass3[0]
    cdef const double* m = &mass3[0]
    _check_rows(v.shape[0], v.shape[0], f.shape[0], min(inv_mass3.shape[0], mass3.shape[0]), n)
    with nogil:
        for k in range(n3):
            vp[k] += h * im[k] * fp[k]
        for k in range(n3):
            s += m[k] * vp[k] * vp[k]
    return s


def scale_rows(double[:, ::1] v, double scale, int n):
    """v *= scale for the first n rows."""
    cdef Py_ssize_t k
    cdef double* vp = &v[0, 0]
    if v.shape[0] < n:
        raise ValueError(f"{v.shape[0]} rows, {n} needed")
    with nogil:
        for k in range(3 * <Py_ssize_t>n):
            vp[k] *= scale


cdef inline void _check_rows(Py_ssize_t v_rows, Py_ssize_t x_rows, Py_ssize_t f_rows, Py_ssize_t masses,
                             int n) except *:
    if v_rows < n or x_rows < n or f_rows < n or masses < 3 * n:
        raise ValueError(f"{n} rows need velocities, positions and forces of at least {n} rows and "
                         f"{3 * n} per-component masses; got {v_rows}, {x_rows}, {f_rows}, {masses}")


def nhc_half_step(double[::1] xi, double[::1] vxi, const double[::1] Q, double T, double g, double ke2,
                  double dt):
    """One Trotter half step (dt/2) of a Nose-Hoover chain of M = len(vxi) links (xi, vxi updated
    in place, masses Q) coupled to g degrees of freedom whose twice-kinetic energy is ke2
    (Martyna et al., Mol. Phys. 87, 1117 (1996), Trotter splitting with dt/4 and dt/8 sub-steps).
    Returns the factor by which the thermostatted velocities must be scaled."""
    cdef int M = vxi.shape[0], k
    cdef double dt2 = 0.5 * dt, dt4 = 0.25 * dt, dt8 = 0.125 * dt, s, scale
    if M < 1 or xi.shape[0] != M or Q.shape[0] != M:
        raise ValueError(f"chain arrays must have one length >= 1, got {xi.shape[0]}, {M}, {Q.shape[0]}")
    vxi[M - 1] += dt4 * _chain_force(M - 1, vxi, Q, T, g, ke2)
    for k in range(M - 2, -1, -1):
        s = exp(-dt8 * vxi[k + 1])
        vxi[k] = (vxi[k] * s + dt4 * _chain_force(k, vxi, Q, T, g, ke2)) * s
    scale = exp(-dt2 * vxi[0])
    ke2 *= scale * scale
    for k in range(M):
        xi[k] += dt2 * vxi[k]
    for k in range(M - 1):
        s = exp(-dt8 * vxi[k + 1])
        vxi[k] = (vxi[k] * s + dt4 * _chain_force(k, vxi, Q, T, g, ke2)) * s
    vxi[M - 1] += dt4 * _chain_force(M - 1, vxi, Q, T, g, ke2)
    return scale


cdef inline double _chain_force(int k, const double[::1] vxi, const double[::1] Q, double T, double g,
                                double ke2) noexcept nogil:
    """The force on link k of the chain divided by its mass."""
    if k == 0:
        return (ke2 - g * T) / Q[0]
    return (Q[k - 1] * vxi[k - 1] * vxi[k - 1] - T) / Q[k]


# -- flat (N d) vectors of the minimizers ---------------------------------------------------------

def flat_forces(const double[:, ::1] f3, int n, int dim, double[::1] out):
    """out = the first n rows, first dim columns, of f3 as a flat (n dim) vector; returns max |out_i|,
    or inf when a component is not finite (one pass: the copy, the finiteness test and the norm)."""
    cdef int i, a
    cdef double m = 0.0, v
    cdef bint finite = True
    if out.shape[0] != n * dim:
        raise ValueError(f"flat force vector has {out.shape[0]} entries, expected {n * dim}")
    with nogil:
        for i in range(n):
            for a in range(dim):
                v = f3[i, a]
                out[i * dim + a] = v
                finite = finite and isfinite(v)
                v = fabs(v)
                if v > m:
                    m = v
    return m if finite else INFINITY


def move_along(double[:, ::1] x, const double[::1] d, double a, int n, int dim):
    """x[:n, :dim] += a d (d flat, n dim). Refuses (returns False, x untouched) when a d is not finite."""
    cdef int i, k
    cdef bint finite = True
    cdef double s
    if d.shape[0] != n * dim:
        raise ValueError(f"flat step has {d.shape[0]} entries, expected {n * dim}")
    with nogil:
        for k in range(n * dim):
            s = a * d[k]
            finite = finite and isfinite(s)
        if finite:
            for i in range(n):
                for k in range(dim):
                    x[i, k] += a * d[i * dim + k]
    return finite


def fire_powers(const double[::1] f, const double[::1] v):
    """(f . v, f . f) in one pass."""
    cdef Py_ssize_t k
    cdef double p = 0.0, ff = 0.0
    with nogil:
        for k in range(f.shape[0]):
            p += f[k] * v[k]
            ff += f[k] * f[k]
    return p, ff


def fire_kick(double[::1] v, const double[::1] f, const double[::1] inv_mass, double dt):
    """v += dt f / m (flat, per component masses); returns v . v after it."""
    cdef Py_ssize_t k
    cdef double vv = 0.0
    with nogil:
        for k in range(v.shape[0]):
            v[k] += dt * inv_mass[k] * f[k]
            vv += v[k] * v[k]
    return vv


def fire_mix(double[::1] v, const double[::1] f, double keep, double c):
    """v = keep v + c f (FIRE's mixing); returns max |v| after it."""
    cdef Py_ssize_t k
    cdef double m = 0.0, a
    with nogil:
        for k in range(v.shape[0]):
            v[k] = keep * v[k] + c * f[k]
            a = fabs(v[k])
            if a > m:
                m = a
    return m


def cg_dots(const double[::1] f, const double[::1] f_old):
    """(f . f, f . f_old, f_old . f_old) in one pass: the Polak-Ribiere coefficient's terms."""
    cdef Py_ssize_t k
    cdef double a = 0.0, b = 0.0, c = 0.0
    with nogil:
        for k in range(f.shape[0]):
            a += f[k] * f[k]
            b += f[k] * f_old[k]
            c += f_old[k] * f_old[k]
    return a, b, c


def cg_direction(double[::1] d, const double[::1] f, double beta):
    """d = f + beta d (the next conjugate direction); returns (f . d, max |d|)."""
    cdef Py_ssize_t k
    cdef double g = 0.0, m = 0.0, a
    with nogil:
        for k in range(d.shape[0]):
            d[k] = f[k] + beta * d[k]
            g += f[k] * d[k]
            a = fabs(d[k])
            if a > m:
                m = a
    return g, m


def langevin_o_drift(double[:, ::1] v, double[:, ::1] x, const double[:, ::1] noise, double c1, double c2,
                     const double[::1] sigma, const double[::1] mass, bint zero_momentum, double h, int n,
                     int dim):
    """BAOAB's O step and its second A: v = c1 v + c2 sigma R (noise R (n, dim), sigma = sqrt(T/m)
    per particle), then, with zero_momentum, the centre-of-mass velocity of these n particles
    removed, then x += h v."""
    cdef Py_ssize_t i
    cdef int a
    cdef double p[3]
    cdef double mtot = 0.0, s
    if v.shape[0] < n or x.shape[0] < n or noise.shape[0] < n or noise.shape[1] < dim or sigma.shape[0] < n \
            or mass.shape[0] < n or not 1 <= dim <= 3:
        raise ValueError("Langevin O step: arrays shorter than the particles")
    p[0] = p[1] = p[2] = 0.0
    with nogil:
        for i in range(n):
            s = c2 * sigma[i]
            for a in range(dim):
                v[i, a] = c1 * v[i, a] + s * noise[i, a]
                p[a] += mass[i] * v[i, a]
            mtot += mass[i]
        if zero_momentum and mtot > 0.0:
            for a in range(dim):
                p[a] /= mtot
            for i in range(n):
                for a in range(dim):
                    v[i, a] -= p[a]
        for i in range(n):
            for a in range(dim):
                x[i, a] += h * v[i, a]


def scale_kick(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass3, const double[::1] mass3,
               double scale, double h, int n):
    """v = scale v + h f / m for the first n rows (per-component masses); returns sum m v^2 after."""
    cdef Py_ssize_t k, n3 = 3 * <Py_ssize_t>n
    cdef double s = 0.0
    cdef double* vp = &v[0, 0]
    cdef const double* fp = &f[0, 0]
    cdef const double* im = &inv_mass3[0]
    cdef const double* m = &mass3[0]
    _check_rows(v.shape[0], v.shape[0], f.shape[0], min(inv_mass3.shape[0], mass3.shape[0]), n)
    with nogil:
        for k in range(n3):
            vp[k] = scale * vp[k] + h * im[k] * fp[k]
        for k in range(n3):
            s += m[k] * vp[k] * vp[k]
    return s


def scale_about_drift(double[:, ::1] x, const double[:, ::1] v, const double[::1] lo, double scale, double dt,
                      int n, int dim):
    """x = lo + scale (x - lo) + dt v for the first n rows, first dim columns (NPT's position step)."""
    cdef Py_ssize_t i
    cdef int a
    if x.shape[0] < n or v.shape[0] < n or lo.shape[0] < dim:
        raise ValueError("position step: arrays shorter than the particles")
    with nogil:
        for i in range(n):
            for a in range(dim):
                x[i, a] = lo[a] + scale * (x[i, a] - lo[a]) + dt * v[i, a]
