# Pair-potential laws shared by the MD force kernel (pair.pyx) and the landscape kernels.
#
# Every model is written as a function of u = r^2 so no square root is needed in the force loop.
# pair_phi fills out[0..order] with phi, dphi/du, d2phi/du2, d3phi/du3; the conversions to
# r-derivatives (phi' = 2 r phi_u, phi'' = 2 phi_u + 4 u phi_uu, phi''' = 12 r phi_uu + 8 r u phi_uuu)
# live in one place: pair.pyx:pair_derivatives.
#
# Parameter block per type pair: NPARAM doubles, p[0] = cutoff^2 (interaction zero beyond).
#   MODEL_LJ         p[1]=4 eps, p[2]=sigma^2, p[3..5]= c0, c2, c4: phi = 4eps(s^6 - s^3) + c0 + c2 u + c4 u^2,
#                    s = sigma^2/u (shifted LJ: c2 = c4 = 0; smoothed LJ: all three)
#   MODEL_IPL        p[1]=eps, p[2]=sigma^2, p[3]=m (integer, phi ~ r^-2m), p[4..7]=c0, c2, c4, c6 (poly in u)
#   MODEL_LJ_POLY    p[1]=4 eps, p[2]=sigma^2, p[3]=u_switch, p[4]=c_core (constant added to the LJ core),
#                    p[5..10] = polynomial in u (degree 5) plus p[11] s^6 + p[12] s^3 (s = sigma^2/u), used
#                    for u_switch <= u < cutoff^2 (sticky spheres; p[11] = p[12] = 0: the pure polynomial)
#   MODEL_LJ_SF      p[1]=4 eps, p[2]=sigma^2, p[3]=c0, p[4]=c_r: phi = 4eps(s^6 - s^3) + c0 + c_r r, the
#                    shifted-force cutoff linear in r (LAMMPS lj/smooth/linear, HOOMD force_shifted_lj, RUMD)

from libc.math cimport sqrt

cdef enum:
    NPARAM = 14
    MODEL_LJ = 0
    MODEL_IPL = 1
    MODEL_LJ_POLY = 2
    MODEL_LJ_SF = 3


cdef inline double _ipow(double s, int m) noexcept nogil:
    cdef double r = 1.0
    while m > 0:
        if m & 1:
            r *= s
        s *= s
        m >>= 1
    return r


cdef inline void _poly(const double* c, int deg, double u, int order, double* out) noexcept nogil:
    # Horner for sum_k c[k] u^k and its first `order` derivatives (order <= 3)
    cdef int k
    cdef double p0 = 0.0, p1 = 0.0, p2 = 0.0, p3 = 0.0
    for k in range(deg, -1, -1):
        p3 = p3 * u + 3.0 * p2
        p2 = p2 * u + 2.0 * p1
        p1 = p1 * u + p0
        p0 = p0 * u + c[k]
    out[0] += p0
    if order >= 1:
        out[1] += p1
    if order >= 2:
        out[2] += p2
    if order >= 3:
        out[3] += p3


cdef inline void _inverse_power(double a, double s, int m, double u, int order, double* out) noexcept nogil:
    # a * s^m with s = sigma^2/u; d/du s^m = -m s^m / u
    cdef double t = a * _ipow(s, m)
    cdef double iu = 1.0 / u
    out[0] += t
    if order >= 1:
        out[1] += -m * t * iu
    if order >= 2:
        out[2] += m * (m + 1) * t * iu * iu
    if order >= 3:
        out[3] += -m * (m + 1) * (m + 2) * t * iu * iu * iu


cdef inline void _linear_in_r(double c, double u, int order, double* out) noexcept nogil:
    # c r with r = sqrt(u): d/du r = 1/(2r), d2 = -1/(4 r^3), d3 = 3/(8 r^5)
    cdef double r = sqrt(u)
    out[0] += c * r
    if order >= 1:
        out[1] += 0.5 * c / r
    if order >= 2:
        out[2] += -0.25 * c / (r * u)
    if order >= 3:
        out[3] += 0.375 * c / (r * u * u)


cdef inline void pair_phi(int model, const double* p, double u, int order, double* out) noexcept nogil:
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    out[3] = 0.0
    cdef double s
    if model == MODEL_LJ:
        s = p[2] / u
        _inverse_power(p[1], s, 6, u, order, out)
        _inverse_power(-p[1], s, 3, u, order, out)
        _poly(p + 3, 2, u, order, out)
    elif model == MODEL_IPL:
        s = p[2] / u
        _inverse_power(p[1], s, <int>p[3], u, order, out)
        _poly(p + 4, 3, u, order, out)
    elif model == MODEL_LJ_POLY:
        if u < p[3]:
            s = p[2] / u
            _inverse_power(p[1], s, 6, u, order, out)
            _inverse_power(-p[1], s, 3, u, order, out)
            out[0] += p[4]
        else:
            _poly(p + 5, 5, u, order, out)
            if p[11] != 0.0 or p[12] != 0.0:
                s = p[2] / u
                _inverse_power(p[11], s, 6, u, order, out)
                _inverse_power(p[12], s, 3, u, order, out)
    elif model == MODEL_LJ_SF:
        s = p[2] / u
        _inverse_power(p[1], s, 6, u, order, out)
        _inverse_power(p[1] * -1.0, s, 3, u, order, out)
        out[0] += p[3]
        _linear_in_r(p[4], u, order, out)
