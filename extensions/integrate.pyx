# cython: language_level=3
"""Fused velocity-Verlet updates on the (N, 3) coordinate buffers."""


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


def kick_drift(double[:, ::1] v, double[:, ::1] x, const double[:, ::1] f, const double[::1] inv_mass,
               double h, double dt, double scale, int n):
    """v <- scale v (a thermostat's rescaling; skipped when scale is 1), v += h f / m, x += dt v
    for the first n rows: an integrator's first half in one pass."""
    cdef int i
    cdef double c
    with nogil:
        if scale != 1.0:
            for i in range(n):
                v[i, 0] *= scale
                v[i, 1] *= scale
                v[i, 2] *= scale
        for i in range(n):
            c = h * inv_mass[i]
            v[i, 0] += c * f[i, 0]
            v[i, 1] += c * f[i, 1]
            v[i, 2] += c * f[i, 2]
            x[i, 0] += dt * v[i, 0]
            x[i, 1] += dt * v[i, 1]
            x[i, 2] += dt * v[i, 2]


def kick_twice_kinetic(double[:, ::1] v, const double[:, ::1] f, const double[::1] inv_mass,
                       const double[::1] mass, double h, int n):
    """v += h f / m for the first n rows; returns sum_i m_i v_i^2 after the kick (a thermostat's
    second half needs it next)."""
    cdef int i
    cdef double c, s = 0.0
    with nogil:
        for i in range(n):
            c = h * inv_mass[i]
            v[i, 0] += c * f[i, 0]
            v[i, 1] += c * f[i, 1]
            v[i, 2] += c * f[i, 2]
        for i in range(n):
            s += mass[i] * (v[i, 0] * v[i, 0] + v[i, 1] * v[i, 1] + v[i, 2] * v[i, 2])
    return s


def scale_rows(double[:, ::1] v, double scale, int n):
    """v *= scale for the first n rows."""
    cdef int i
    with nogil:
        for i in range(n):
            v[i, 0] *= scale
            v[i, 1] *= scale
            v[i, 2] *= scale
