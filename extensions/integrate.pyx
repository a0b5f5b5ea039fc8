# cython: language_level=3
# distutils: depends = extensions/replicas.pxd extensions/integrate_kernels.h
# Callers: pyglass/engine/integrators/ (as pyglass._ext.integrate), pyglass/engine/replicas.py (the
# replica-batch half steps).
"""Fused velocity-Verlet updates on the (N, 3) coordinate buffers, and the Nose-Hoover chain step.

Each update used by NVE and Nose-Hoover is written once, out of line, in
extensions/integrate_kernels.h, and called both by the one-system functions and by the
replica-batch functions (`*_replicas`), which loop over the rows of a replica table
(extensions/replicas.pxd): a batch runs the same machine code as its replicas one at a time."""
from libc.math cimport INFINITY, exp, fabs, isfinite
from replicas cimport *



cdef extern from "integrate_kernels.h" nogil:
    void _kick_rows "pg_kick_rows"(double* v, const double* f, const double* inv_mass, double h, Py_ssize_t n)
    double _twice_kinetic "pg_twice_kinetic"(const double* v, const double* mass, Py_ssize_t n)
    void _kick_drift "pg_kick_drift"(double* v, double* x, const double* f, const double* im, double h, double dt,
                                     double scale, Py_ssize_t n3)
    double _kick_twice_kinetic "pg_kick_twice_kinetic"(double* v, const double* f, const double* im,
                                                       const double* m, double h, Py_ssize_t n3)
    void _scale "pg_scale"(double* v, double scale, Py_ssize_t n3)
    double _nhc_half_step "pg_nhc_half_step"(double* xi, double* vxi, const double* Q, int M, double T, double g,
                                             double ke2, double dt)


def kick(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass, double h, int n):
    """v += h f / m for the first n rows."""
    if v.shape[0] < n or f.shape[0] < n or inv_mass.shape[0] < n:
        raise ValueError(f"{n} rows need velocities, forces and masses of at least {n} rows")
    if n <= 0:
        return
    with nogil:
        _kick_rows(&v[0, 0], &f[0, 0], &inv_mass[0], h, n)


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
    cdef double s = 0.0
    if v.shape[0] < n or mass.shape[0] < n:
        raise ValueError(f"{n} rows need velocities and masses of at least {n} rows")
    if n <= 0:
        return 0.0
    with nogil:
        s = _twice_kinetic(&v[0, 0], &mass[0], n)
    return s


def kick_drift(double[:, ::1] v, double[:, ::1] x, const double[:, ::1] f, const double[::1] inv_mass3,
               double h, double dt, double scale, int n):
    """v <- scale v + h f / m (scale: a thermostat's rescaling, 1 without), x += dt v for the
    first n rows: an integrator's first half in one pass. inv_mass3 holds 1/m per component
    (3 n): the rows are walked as one flat array, so the loop vectorises."""
    _check_rows(v.shape[0], x.shape[0], f.shape[0], inv_mass3.shape[0], n)
    if n <= 0:
        return
    with nogil:
        _kick_drift(&v[0, 0], &x[0, 0], &f[0, 0], &inv_mass3[0], h, dt, scale, 3 * <Py_ssize_t>n)


def kick_twice_kinetic(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass3,
                       const double[::1] mass3, double h, int n):
    """v += h f / m for the first n rows; returns sum_i m_i v_i^2 after the kick (a thermostat's
    second half needs it next). inv_mass3, mass3: per component (3 n)."""
    cdef double s = 0.0
    _check_rows(v.shape[0], v.shape[0], f.shape[0], min(inv_mass3.shape[0], mass3.shape[0]), n)
    if n <= 0:
        return 0.0
    with nogil:
        s = _kick_twice_kinetic(&v[0, 0], &f[0, 0], &inv_mass3[0], &mass3[0], h, 3 * <Py_ssize_t>n)
    return s


def scale_rows(double[:, ::1] v, double scale, int n):
    """v *= scale for the first n rows."""
    if v.shape[0] < n:
        raise ValueError(f"{v.shape[0]} rows, {n} needed")
    if n <= 0:
        return
    with nogil:
        _scale(&v[0, 0], scale, 3 * <Py_ssize_t>n)


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
    cdef int M = vxi.shape[0]
    if M < 1 or xi.shape[0] != M or Q.shape[0] != M:
        raise ValueError(f"chain arrays must have one length >= 1, got {xi.shape[0]}, {M}, {Q.shape[0]}")
    return _nhc_half_step(&xi[0], &vxi[0], &Q[0], M, T, g, ke2, dt)



# -- replica batches: one call per half step for R replicas (pyglass/engine/replicas.py) ----------

cdef inline void _check_batch(const Py_ssize_t[:, ::1] table, Py_ssize_t masses, int n) except *:
    if table.shape[1] != RT_COLUMNS or n < 1 or masses < 3 * n:
        raise ValueError(f"a replica table of {RT_COLUMNS} columns and {3 * n} per-component masses "
                         f"for {n} particles; got {table.shape[1]} columns, {masses} masses")


cdef inline void _check_chains(Py_ssize_t R, const double[:, ::1] xi, const double[:, ::1] vxi,
                               const double[::1] Q, const double[::1] ke2) except *:
    if xi.shape[0] < R or vxi.shape[0] < R or ke2.shape[0] < R or xi.shape[1] != Q.shape[0] \
            or vxi.shape[1] != Q.shape[0] or Q.shape[0] < 1:
        raise ValueError(f"{R} replicas need ({R}, chain) chain positions and velocities, chain masses "
                         f"and {R} kinetic energies")


def kick_drift_replicas(const Py_ssize_t[:, ::1] table, const double[::1] inv_mass3, double h, double dt, int n):
    """kick_drift (no rescaling) for every replica of the table: NVE's first half."""
    cdef Py_ssize_t r
    cdef const Py_ssize_t* row
    _check_batch(table, inv_mass3.shape[0], n)
    with nogil:
        for r in range(table.shape[0]):
            row = &table[r, 0]
            _kick_drift(<double*>row[RT_V], <double*>row[RT_X], <const double*>row[RT_F], &inv_mass3[0], h, dt,
                        1.0, 3 * <Py_ssize_t>n)


def kick_replicas(const Py_ssize_t[:, ::1] table, const double[::1] inv_mass, double h, int n):
    """kick for every replica of the table: NVE's second half (per-particle 1/m, n entries)."""
    cdef Py_ssize_t r
    cdef const Py_ssize_t* row
    _check_batch(table, 3 * inv_mass.shape[0], n)
    with nogil:
        for r in range(table.shape[0]):
            row = &table[r, 0]
            _kick_rows(<double*>row[RT_V], <const double*>row[RT_F], &inv_mass[0], h, n)


def nhc_first_half_replicas(const Py_ssize_t[:, ::1] table, const double[::1] mass, const double[::1] inv_mass3,
                            double h, double dt, int n, double[:, ::1] xi, double[:, ::1] vxi, const double[::1] Q,
                            double T, double g, double[::1] ke2, bint kinetic_known):
    """NoseHoover._first_half for every replica: the chain half step on twice the kinetic energy
    (ke2[r] as the last rescaling left it if kinetic_known, else summed here and stored), then
    rescale, half kick and drift in one pass."""
    cdef Py_ssize_t r, R = table.shape[0]
    cdef int M = Q.shape[0]
    cdef double scale
    cdef const Py_ssize_t* row
    _check_batch(table, inv_mass3.shape[0], n)
    _check_chains(R, xi, vxi, Q, ke2)
    if mass.shape[0] < n:
        raise ValueError(f"{n} particle masses needed")
    with nogil:
        for r in range(R):
            row = &table[r, 0]
            if not kinetic_known:
                ke2[r] = _twice_kinetic(<const double*>row[RT_V], &mass[0], n)
            scale = _nhc_half_step(&xi[r, 0], &vxi[r, 0], &Q[0], M, T, g, ke2[r], dt)
            _kick_drift(<double*>row[RT_V], <double*>row[RT_X], <const double*>row[RT_F], &inv_mass3[0], h, dt,
                        scale, 3 * <Py_ssize_t>n)


def nhc_second_half_replicas(const Py_ssize_t[:, ::1] table, const double[::1] inv_mass3, const double[::1] mass3,
                             double h, double dt, int n, double[:, ::1] xi, double[:, ::1] vxi,
                             const double[::1] Q, double T, double g, double[::1] ke2):
    """NoseHoover._second_half for every replica: half kick with the kinetic energy it leaves, the
    chain half step, rescale; ke2[r] = twice the kinetic energy after the rescaling (the next first
    half reuses it)."""
    cdef Py_ssize_t r, R = table.shape[0]
    cdef int M = Q.shape[0]
    cdef double scale, k2
    cdef const Py_ssize_t* row
    _check_batch(table, min(inv_mass3.shape[0], mass3.shape[0]), n)
    _check_chains(R, xi, vxi, Q, ke2)
    with nogil:
        for r in range(R):
            row = &table[r, 0]
            k2 = _kick_twice_kinetic(<double*>row[RT_V], <const double*>row[RT_F], &inv_mass3[0], &mass3[0], h,
                                     3 * <Py_ssize_t>n)
            scale = _nhc_half_step(&xi[r, 0], &vxi[r, 0], &Q[0], M, T, g, k2, dt)
            _scale(<double*>row[RT_V], scale, 3 * <Py_ssize_t>n)
            ke2[r] = k2 * scale * scale


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
