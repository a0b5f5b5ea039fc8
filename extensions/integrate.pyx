# cython: language_level=3
"""Fused velocity-Verlet updates on the (N, 3) coordinate buffers, and the Nose-Hoover chain step."""
from libc.math cimport exp


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
