# Caller: pyglass/engine/potentials/pair.py, through extensions/pair.pyx (cimports it).
# Pair-potential laws shared by the MD force kernel (pair.pyx) and the landscape kernels.
#
# Every model is written once, as a scalar inline function of u = r^2 (no square root in the force
# loop) that fills out[0..order] with phi, dphi/du, d2phi/du2, d3phi/du3 and never branches on the
# data, so the compiler vectorises the loops that call it: pair_phi_block evaluates one law over a
# block of pairs with the same parameters (the force kernel's type blocks, the landscape's pairs
# grouped by type pair), pair_phi one pair. The conversions to r-derivatives (phi' = 2 r phi_u,
# phi'' = 2 phi_u + 4 u phi_uu, phi''' = 12 r phi_uu + 8 r u phi_uuu) live in one place:
# pair.pyx:pair_derivatives.
#
# Parameter block per type pair: NPARAM doubles, p[0] = cutoff^2 (interaction zero beyond; callers
# mask, the laws do not look at it).
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
    # s^m as a plain product: with a constant m (the IPL dispatch in pair_phi_block) the compiler
    # unrolls it completely and the calling loop vectorises (a squaring loop, m >>= 1, has a trip
    # count the compiler cannot see and kept the IPL loop scalar: 6.5 against 2.4 ns per pair)
    cdef double r = 1.0
    cdef int k
    for k in range(m):
        r *= s
    return r


cdef inline void _poly(const double* c, int deg, double u, int order, double* out) noexcept nogil:
    # adds sum_k c[k] u^k and its first `order` u-derivatives (order <= 3), Horner
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


cdef inline void _power_terms(double t, double iu, int m, int order, double* out) noexcept nogil:
    # adds t = a s^m (s = sigma^2/u) and its u-derivatives: d/du s^m = -m s^m / u
    out[0] += t
    if order >= 1:
        out[1] += -m * t * iu
    if order >= 2:
        out[2] += m * (m + 1) * t * iu * iu
    if order >= 3:
        out[3] += -m * (m + 1) * (m + 2) * t * iu * iu * iu


cdef inline void _zero(int order, double* out) noexcept nogil:
    out[0] = 0.0
    if order >= 1:
        out[1] = 0.0
    if order >= 2:
        out[2] = 0.0
    if order >= 3:
        out[3] = 0.0


cdef inline void _lj(const double* p, int deg, double u, int order, double* out) noexcept nogil:
    # deg: the polynomial's degree (2, or less where the higher coefficients are zero)
    cdef double iu = 1.0 / u
    cdef double s = p[2] * iu
    cdef double s3 = s * s * s
    _zero(order, out)
    _power_terms(p[1] * s3 * s3, iu, 6, order, out)
    _power_terms(-p[1] * s3, iu, 3, order, out)
    _poly(p + 3, deg, u, order, out)


cdef inline void _ipl(const double* p, int m, int deg, double u, int order, double* out) noexcept nogil:
    # deg: the polynomial's degree (3, or less where the higher coefficients are zero)
    cdef double iu = 1.0 / u
    _zero(order, out)
    _power_terms(p[1] * _ipow(p[2] * iu, m), iu, m, order, out)
    _poly(p + 4, deg, u, order, out)


cdef inline void _lj_poly(const double* p, double u, int order, double* out) noexcept nogil:
    # both branches, then a select: branch-free, so the block loop vectorises
    cdef double core[4]
    cdef double tail[4]
    cdef double iu = 1.0 / u
    cdef double s = p[2] * iu
    cdef double s3 = s * s * s
    cdef bint in_core = u < p[3]
    cdef int a
    _zero(order, core)
    _power_terms(p[1] * s3 * s3, iu, 6, order, core)
    _power_terms(-p[1] * s3, iu, 3, order, core)
    core[0] += p[4]
    _zero(order, tail)
    _poly(p + 5, 5, u, order, tail)
    _power_terms(p[11] * s3 * s3, iu, 6, order, tail)
    _power_terms(p[12] * s3, iu, 3, order, tail)
    for a in range(order + 1):
        out[a] = core[a] if in_core else tail[a]


cdef inline void _lj_sf(const double* p, double u, int order, double* out) noexcept nogil:
    # + c r with r = sqrt(u): d/du r = 1/(2r), d2 = -1/(4 r^3), d3 = 3/(8 r^5)
    cdef double iu = 1.0 / u
    cdef double s = p[2] * iu
    cdef double s3 = s * s * s
    cdef double r = sqrt(u)
    cdef double c = p[4]
    _zero(order, out)
    _power_terms(p[1] * s3 * s3, iu, 6, order, out)
    _power_terms(-p[1] * s3, iu, 3, order, out)
    out[0] += p[3] + c * r
    if order >= 1:
        out[1] += 0.5 * c / r
    if order >= 2:
        out[2] += -0.25 * c / (r * u)
    if order >= 3:
        out[3] += 0.375 * c / (r * u * u)


cdef inline void _law(int model, const double* p, int m, int deg, double u, int order,
                      double* out) noexcept nogil:
    # m: IPL's exponent, deg: LJ's or IPL's polynomial degree, passed separately so callers can
    # make them constants
    if model == MODEL_LJ:
        _lj(p, deg, u, order, out)
    elif model == MODEL_IPL:
        _ipl(p, m, deg, u, order, out)
    elif model == MODEL_LJ_POLY:
        _lj_poly(p, u, order, out)
    elif model == MODEL_LJ_SF:
        _lj_sf(p, u, order, out)


cdef inline int _full_degree(int model) noexcept nogil:
    return 2 if model == MODEL_LJ else 3


cdef inline void pair_phi(int model, const double* p, double u, int order, double* out) noexcept nogil:
    """phi and its u-derivatives up to `order` for one pair (inside the cutoff)."""
    _law(model, p, <int>p[3] if model == MODEL_IPL else 0, _full_degree(model), u, order, out)


cdef inline void _store(int q, int order, const double* out, double* o0, double* o1, double* o2,
                        double* o3) noexcept nogil:
    o0[q] = out[0]
    if order >= 1:
        o1[q] = out[1]
    if order >= 2:
        o2[q] = out[2]
    if order >= 3:
        o3[q] = out[3]


cdef inline void _block(int model, const double* p, int m, int deg, int n, const double* u, int order,
                        double* o0, double* o1, double* o2, double* o3) noexcept nogil:
    # the force kernel's blocks are whole groups of four: a trip count with its low bits known to
    # be zero vectorises without a remainder loop; other callers' remainders follow
    cdef int q, n4 = n & ~3
    cdef double out[4]
    for q in range(n4):
        _law(model, p, m, deg, u[q], order, out)
        _store(q, order, out, o0, o1, o2, o3)
    for q in range(n4, n):
        _law(model, p, m, deg, u[q], order, out)
        _store(q, order, out, o0, o1, o2, o3)


cdef inline bint _constant_polynomial(const double* c, int deg) noexcept nogil:
    """Whether the coefficients c[1..deg] are all zero (a shifted law: only c[0])."""
    cdef int k
    for k in range(1, deg + 1):
        if c[k] != 0.0:
            return False
    return True


cdef inline void pair_phi_block(int model, const double* p, int n, const double* u, int order,
                                double* o0, double* o1, double* o2, double* o3) noexcept nogil:
    """phi (o0) and its u-derivatives (o1.. up to `order`; unused ones may be NULL) for n pairs
    sharing the parameter block p, all inside the cutoff or masked by the caller. The force
    kernel's cases (order 1; IPL's exponents of r^-12 and r^-10; LJ and IPL with a constant
    smoothing polynomial, i.e. shifted, or a full one) pass model, order, m and the polynomial's
    degree as literal constants, so the law is straight-line code in the loop (s^m unrolled, no
    terms of zero coefficients: the same values) and the loop vectorises."""
    cdef int m = <int>p[3] if model == MODEL_IPL else 0
    if order == 1 and model == MODEL_LJ:
        if _constant_polynomial(p + 3, 2):
            _block(MODEL_LJ, p, 0, 0, n, u, 1, o0, o1, o2, o3)
        else:
            _block(MODEL_LJ, p, 0, 2, n, u, 1, o0, o1, o2, o3)
    elif order == 1 and model == MODEL_IPL and m == 6:
        if _constant_polynomial(p + 4, 3):
            _block(MODEL_IPL, p, 6, 0, n, u, 1, o0, o1, o2, o3)
        else:
            _block(MODEL_IPL, p, 6, 3, n, u, 1, o0, o1, o2, o3)
    elif order == 1 and model == MODEL_IPL and m == 5:
        _block(MODEL_IPL, p, 5, 3, n, u, 1, o0, o1, o2, o3)
    elif order == 1 and model == MODEL_LJ_POLY:
        _block(MODEL_LJ_POLY, p, 0, 0, n, u, 1, o0, o1, o2, o3)
    elif order == 1 and model == MODEL_LJ_SF:
        _block(MODEL_LJ_SF, p, 0, 0, n, u, 1, o0, o1, o2, o3)
    else:
        _block(model, p, m, _full_degree(model), n, u, order, o0, o1, o2, o3)
