# cython: language_level=3
# Caller: pyglass/engine/integrators/base.py (as pyglass._ext.integrate).
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
