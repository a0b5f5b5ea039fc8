/* Caller: pyglass/engine/integrators/ and pyglass/engine/replicas.py, through extensions/integrate.pyx. */
/* The velocity-Verlet and Nose-Hoover-chain updates of NVE and NoseHoover, each written once on
 * (rows, 3) buffers walked as flat arrays (per-component masses, so the loops vectorise).
 *
 * Both the one-system kernels (kick, kick_drift, ...) and the replica-batch kernels (*_replicas,
 * one call for R replicas) call these functions, and they are kept out of line (noinline): an
 * inlined copy may be vectorised or contracted into fused multiply-adds differently (-ffast-math,
 * a constant rescaling of 1 folded away, a reduction reassociated), which changes the last bit of a
 * velocity and, through chaos, the trajectory. One copy of the machine code makes a replica of a
 * batch and the same system run alone compute the same numbers. */
#ifndef PYGLASS_INTEGRATE_KERNELS_H
#define PYGLASS_INTEGRATE_KERNELS_H
#include <math.h>
#include <stddef.h>

#define PG_OUT_OF_LINE static __attribute__((noinline))

/* v += h f / m over n rows (per-particle 1/m) */
PG_OUT_OF_LINE void pg_kick_rows(double* v, const double* f, const double* inv_mass, double h, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const double c = h * inv_mass[i];
        v[3 * i] += c * f[3 * i];
        v[3 * i + 1] += c * f[3 * i + 1];
        v[3 * i + 2] += c * f[3 * i + 2];
    }
}

/* sum_i m_i v_i^2 over n rows (per-particle m) */
PG_OUT_OF_LINE double pg_twice_kinetic(const double* v, const double* mass, ptrdiff_t n) {
    double s = 0.0;
    for (ptrdiff_t i = 0; i < n; i++)
        s += mass[i] * (v[3 * i] * v[3 * i] + v[3 * i + 1] * v[3 * i + 1] + v[3 * i + 2] * v[3 * i + 2]);
    return s;
}

/* v <- scale v + h f / m, x += dt v over n3 components (per-component 1/m) */
PG_OUT_OF_LINE void pg_kick_drift(double* v, double* x, const double* f, const double* im, double h, double dt,
                                  double scale, ptrdiff_t n3) {
    for (ptrdiff_t k = 0; k < n3; k++) {
        v[k] = scale * v[k] + h * im[k] * f[k];
        x[k] += dt * v[k];
    }
}

/* v += h f / m over n3 components; returns sum m v^2 after the kick */
PG_OUT_OF_LINE double pg_kick_twice_kinetic(double* v, const double* f, const double* im, const double* m, double h,
                                            ptrdiff_t n3) {
    double s = 0.0;
    for (ptrdiff_t k = 0; k < n3; k++)
        v[k] += h * im[k] * f[k];
    for (ptrdiff_t k = 0; k < n3; k++)
        s += m[k] * v[k] * v[k];
    return s;
}

/* v *= scale over n3 components */
PG_OUT_OF_LINE void pg_scale(double* v, double scale, ptrdiff_t n3) {
    for (ptrdiff_t k = 0; k < n3; k++)
        v[k] *= scale;
}

/* the force on link k of a Nose-Hoover chain divided by its mass */
static inline double pg_chain_force(int k, const double* vxi, const double* Q, double T, double g, double ke2) {
    if (k == 0)
        return (ke2 - g * T) / Q[0];
    return (Q[k - 1] * vxi[k - 1] * vxi[k - 1] - T) / Q[k];
}

/* One Trotter half step (dt/2) of a Nose-Hoover chain of M links (xi, vxi updated, masses Q) coupled
 * to g degrees of freedom with twice-kinetic energy ke2 (Martyna et al., Mol. Phys. 87, 1117 (1996),
 * dt/4 and dt/8 sub-steps). Returns the factor by which the thermostatted velocities are scaled. */
PG_OUT_OF_LINE double pg_nhc_half_step(double* xi, double* vxi, const double* Q, int M, double T, double g,
                                       double ke2, double dt) {
    const double dt2 = 0.5 * dt, dt4 = 0.25 * dt, dt8 = 0.125 * dt;
    double s, scale;
    vxi[M - 1] += dt4 * pg_chain_force(M - 1, vxi, Q, T, g, ke2);
    for (int k = M - 2; k >= 0; k--) {
        s = exp(-dt8 * vxi[k + 1]);
        vxi[k] = (vxi[k] * s + dt4 * pg_chain_force(k, vxi, Q, T, g, ke2)) * s;
    }
    scale = exp(-dt2 * vxi[0]);
    ke2 *= scale * scale;
    for (int k = 0; k < M; k++)
        xi[k] += dt2 * vxi[k];
    for (int k = 0; k < M - 1; k++) {
        s = exp(-dt8 * vxi[k + 1]);
        vxi[k] = (vxi[k] * s + dt4 * pg_chain_force(k, vxi, Q, T, g, ke2)) * s;
    }
    vxi[M - 1] += dt4 * pg_chain_force(M - 1, vxi, Q, T, g, ke2);
    return scale;
}

#endif
