"""Dynamics: MSD, self intermediate scattering F_s(q,t), non-Gaussian parameter α2, overlap Q(t),
χ4(t), S4(q,t) with the Ornstein–Zernike fit for ξ4, block χ4, D, the Stokes–Einstein exponent and
the reduced units a0, t0 (docs/science.md §2; paper 1 Methods; paper 2 App. D; paper 4 App. H).

Everything is computed from *unwrapped* positions (image counters), never from minimum-image
differences between distant frames. The kernels take displacement arrays dr (..., N, d); the
trajectory functions build dr for many time origins; the `SelfDynamics` observable accumulates the
same kernels on the fly on a block-logarithmic schedule.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from pyglass.analysis.observables.base import LogSchedule, Observable
from pyglass.analysis.observables.structure import _as_box, commensurate_wavevectors
from pyglass.registry import NUM, OBSERVABLES, Key, ObservableType


# ------------------------------------------------------------------------------ kernels
def _types(types, n):
    t = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
    if t.shape != (n,):
        raise ValueError(f"types must have shape ({n},), got {t.shape}")
    return t


def remove_com(dr, masses=None):
    """Displacements with the (mass-weighted) centre-of-mass displacement removed."""
    dr = np.asarray(dr, float)
    w = np.ones(dr.shape[-2]) if masses is None else np.asarray(masses, float)
    com = np.einsum("...nd,n->...d", dr, w) / w.sum()
    return dr - com[..., None, :]


def displacements(trajectory, lags, origins=None, remove_drift: bool = False, masses=None):
    """dr[l, o] = r(o + lag_l) - r(o) from an (frames, N, d) unwrapped trajectory, for every
    origin o (default: all origins that fit) and lag; returns list over lags of (n_origins, N, d)."""
    tr = np.asarray(trajectory, float)
    if tr.ndim != 3:
        raise ValueError(f"trajectory must have shape (frames, N, d), got {tr.shape}")
    out = []
    for lag in lags:
        lag = int(lag)
        o = np.arange(0, len(tr) - lag) if origins is None else np.asarray(origins)
        o = o[o + lag < len(tr)]
        dr = tr[o + lag] - tr[o]
        out.append(remove_com(dr, masses) if remove_drift else dr)
    return out


def mean_square(dr, types=None):
    """<|dr|²> over particles (and leading axes), per species: (n_types,)."""
    dr = np.asarray(dr, float)
    t = _types(types, dr.shape[-2])
    r2 = np.einsum("...d,...d->...", dr, dr).reshape(-1, dr.shape[-2])
    nt = int(t.max()) + 1
    return np.array([r2[:, t == a].mean() for a in range(nt)])


def alpha2_from_displacements(dr, dim=None):
    """α2 = d<Δr⁴> / ((d+2)<Δr²>²) − 1 (docs/science.md §2)."""
    dr = np.asarray(dr, float)
    d = dr.shape[-1] if dim is None else dim
    r2 = np.einsum("...d,...d->...", dr, dr)
    return float(d * np.mean(r2 ** 2) / ((d + 2) * np.mean(r2) ** 2) - 1.0)


def fs_from_displacements(dr, qvectors):
    """F_s = <cos(q·dr)> over particles, leading axes and the given wavevectors (m, d)."""
    dr = np.asarray(dr, float)
    qv = np.atleast_2d(np.asarray(qvectors, float))
    return float(np.mean(np.cos(dr.reshape(-1, dr.shape[-1]) @ qv.T)))


def overlap_from_displacements(dr, a: float = 0.3):
    """Q = (1/N) Σ_i Θ(a − |dr_i|) for each leading index: shape dr.shape[:-2]."""
    dr = np.asarray(dr, float)
    return np.mean(np.einsum("...d,...d->...", dr, dr) < a * a, axis=-1)


def q_shell(box, q: float, width: float = None, max_vectors: int = 200, seed: int = 0):
    """Commensurate wavevectors with | |q'| − q | < width/2 (default width 2π/L_min), at most
    `max_vectors` of them (random subset, seeded)."""
    box = _as_box(box)
    if width is None:
        width = 2 * np.pi / float(np.min(box.plane_spacings))
    qv = commensurate_wavevectors(box, q + width / 2, max(q - width / 2, 0.0))
    if len(qv) == 0:
        raise ValueError(f"no commensurate wavevector in the shell |q| = {q} ± {width / 2}")
    if len(qv) > max_vectors:
        qv = qv[np.random.default_rng(seed).choice(len(qv), max_vectors, replace=False)]
    return qv


# ------------------------------------------------------------------------------ trajectories
def _lags(n_frames, lags):
    if lags is None:
        return np.unique(np.r_[0, np.unique(np.logspace(0, np.log10(max(n_frames - 1, 1)), 40).astype(int))])
    return np.asarray(lags, int)


def msd(trajectory, types=None, lags=None, remove_drift: bool = False, masses=None):
    """Mean-square displacement per species averaged over all time origins ("window" average).
    Returns (lags (frames), msd (n_lags, n_types))."""
    tr = np.asarray(trajectory, float)
    lags = _lags(len(tr), lags)
    drs = displacements(tr, lags, remove_drift=remove_drift, masses=masses)
    return lags, np.array([mean_square(dr, types) for dr in drs])


def self_intermediate_scattering(trajectory, qvectors, lags=None, types=None, species=None):
    """F_s(q, lag) averaged over origins, particles (of `species` if given) and wavevectors."""
    tr = np.asarray(trajectory, float)
    lags = _lags(len(tr), lags)
    sel = slice(None) if species is None else (_types(types, tr.shape[1]) == species)
    return lags, np.array([fs_from_displacements(dr[:, sel], qvectors) for dr in displacements(tr, lags)])


def alpha2(trajectory, lags=None, types=None, species=None):
    tr = np.asarray(trajectory, float)
    lags = _lags(len(tr), lags)
    sel = slice(None) if species is None else (_types(types, tr.shape[1]) == species)
    out = [alpha2_from_displacements(dr[:, sel]) if lag > 0 else 0.0 for lag, dr in zip(lags, displacements(tr, lags))]
    return lags, np.array(out)


def relaxation_time(t, f, level: float = np.exp(-1)):
    """First time at which a decaying correlation f(t) crosses `level` (1/e: paper 1; 0.2: paper 2),
    linear interpolation in log t. Returns NaN if it never does within the data."""
    t, f = np.asarray(t, float), np.asarray(f, float)
    below = np.flatnonzero(f <= level)
    if below.size == 0:
        return float("nan")
    k = below[0]
    if k == 0:
        return float(t[0])
    t0, t1, f0, f1 = t[k - 1], t[k], f[k - 1], f[k]
    frac = (f0 - level) / (f0 - f1)
    if t0 > 0:
        return float(np.exp(np.log(t0) + frac * (np.log(t1) - np.log(t0))))
    return float(t0 + frac * (t1 - t0))


def at_time(times, values, t: float) -> np.ndarray:
    """A field recorded at increasing `times` (values (n_times, ...)) read at time t: linear in ln t
    between the two recorded times that bracket it (paper 3's propensity DP_i at t = tau_alpha, from an
    iso-configurational ensemble recorded on a grid around it). Never extrapolates: t outside the
    recorded times raises ValueError."""
    times, values = np.asarray(times, float), np.asarray(values, float)
    if times.ndim != 1 or len(times) == 0 or values.shape[:1] != times.shape:
        raise ValueError(f"at_time: values must have one row per time, got times {times.shape}, values "
                         f"{values.shape}")
    if times[0] <= 0 or np.any(np.diff(times) <= 0):
        raise ValueError(f"at_time: times must be positive and increasing, got {times.tolist()}")
    if not times[0] <= t <= times[-1]:
        raise ValueError(f"at_time: t = {t:g} is outside the recorded times [{times[0]:g}, {times[-1]:g}]")
    k = int(np.searchsorted(times, t, side="left"))
    if times[k] == t:
        return values[k].copy()
    w = (np.log(t) - np.log(times[k - 1])) / (np.log(times[k]) - np.log(times[k - 1]))
    return (1.0 - w) * values[k - 1] + w * values[k]


def log_relaxation_time_sd(t, f, f_sd, level: float = np.exp(-1)):
    """Standard deviation of ln τ (τ from `relaxation_time` at `level`) for a correlation whose values
    scatter by f_sd: the delta method, f_sd at the crossing over |df/d ln t| there, both interpolated
    between the two lags that bracket it. NaN where f never crosses `level` or crosses it at the first
    lag (no slope to read)."""
    t, f, f_sd = (np.asarray(a, float) for a in (t, f, f_sd))
    below = np.flatnonzero(f <= level)
    if below.size == 0 or below[0] == 0 or t[below[0] - 1] <= 0:
        return float("nan")
    k = below[0]
    slope = (f[k] - f[k - 1]) / (np.log(t[k]) - np.log(t[k - 1]))
    frac = (f[k - 1] - level) / (f[k - 1] - f[k])
    sd = f_sd[k - 1] + frac * (f_sd[k] - f_sd[k - 1])
    return float(sd / abs(slope)) if slope != 0 else float("nan")


def first_block_drift(t, fs, fs_first, fs_later, fs_sd, origins, level: float = 0.2, tau: float = None) -> dict:
    """Time-translation invariance of a relaxation (paper 2's equilibration test): F_s of the first
    block of time origins against the mean of the later blocks (SelfDynamics' fs_first_block and
    fs_later_blocks) at t = tau_alpha, in units of its sampling scatter: one origin's sd there
    (fs_origin_sd) times sqrt(1 + 1/(n - 1)), one origin against the mean of the other n - 1 (origins).
    Read at tau_alpha (F_s = `level`, or `tau` when given), log-linear in t, rather than as two
    tau_alphas: the first block alone need not reach `level` within its length.

    Returns {"z" (> 0: the first block relaxes more slowly), "dof" (n - 1: Student t, the sd comes from
    the n origins), "log_tau_sd" (one origin's sd of ln tau_alpha, for scale)}; {} where tau_alpha is not
    reached or lies before the first lag > 0, or with fewer than three origins."""
    t, fs = np.asarray(t, float), np.asarray(fs, float)
    tau = relaxation_time(t, fs, level) if tau is None else float(tau)
    ok = t > 0
    if not np.isfinite(tau) or tau <= t[ok][0]:
        return {}

    def at(y):   # log-linear in t
        return float(np.interp(np.log(tau), np.log(t[ok]), np.asarray(y, float)[ok]))

    n = int(round(at(origins)))
    sd = at(fs_sd)
    if n < 3 or not sd > 0:
        return {}
    return {"z": (at(fs_first) - at(fs_later)) / (sd * np.sqrt(1 + 1 / (n - 1))), "dof": n - 1,
            "log_tau_sd": log_relaxation_time_sd(t, fs, fs_sd, level)}


def ballistic_end(t, msd, temperature: float, dim: int = 3, mass: float = 1.0, drop: float = 0.5) -> float:
    """The end of the ballistic regime: the first lag time at which the MSD falls below `drop` times its
    ballistic value d (k_B T / m) t^2, log-log interpolated between the two lags around the crossing
    (paper 2, Fig. 9: near 0.1 t0). NaN if it never falls that low, or already has at the first lag."""
    t, msd = np.asarray(t, float), np.asarray(msd, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = msd / (dim * temperature / mass * t ** 2)
    ok = np.flatnonzero((t > 0) & (ratio < drop))
    if not len(ok) or ok[0] == 0:
        return np.nan
    k = ok[0]
    return float(np.exp(np.interp(np.log(drop), np.log(ratio[[k, k - 1]]), np.log(t[[k, k - 1]]))))


def fs_isotropic(dr, q: float):
    """F_s at wavenumber q averaged over all directions of q: <J0(q |dr|)> in 2D, <sin(q|dr|)/(q|dr|)>
    in 3D, over particles and the leading axes of dr (..., N, d). The limit of averaging cos(q.dr) over
    a dense shell of wavevectors of length q, without the shell's finite sampling."""
    from scipy.special import j0
    dr = np.asarray(dr, float)
    d = dr.shape[-1]
    x = float(q) * np.sqrt(np.einsum("...d,...d->...", dr, dr))
    if d == 2:
        return float(np.mean(j0(x)))
    if d == 3:
        return float(np.mean(np.sinc(x / np.pi)))
    raise ValueError(f"fs_isotropic: displacements must be 2D or 3D, got d = {d}")


def alpha2_peak_time(t, a2):
    """Time of the maximum of the non-Gaussian parameter: the vertex of the parabola in ln t through
    the largest sampled value and its two neighbours (the sampled time itself when the maximum is at
    either end, or NaN when nothing is finite)."""
    t, a2 = np.asarray(t, float), np.asarray(a2, float)
    ok = np.isfinite(a2) & (t > 0)
    t, a2 = t[ok], a2[ok]
    if len(t) == 0:
        return float("nan")
    k = int(np.argmax(a2))
    if k == 0 or k == len(t) - 1:
        return float(t[k])
    x = np.log(t[k - 1:k + 2])
    c2, c1, _ = np.polyfit(x, a2[k - 1:k + 2], 2)
    if c2 >= 0:      # flat top: no vertex
        return float(t[k])
    return float(np.exp(np.clip(-c1 / (2 * c2), x[0], x[2])))


class BlockDynamics:
    """F_s(q, t) and alpha2(t) of a stored trajectory, over the whole run and over consecutive blocks
    (`trajectory_dynamics`): t (lags), fs and alpha2 (whole run), fs_blocks and alpha2_blocks
    (n_blocks, n_lags), tau_alpha and tau_blocks (F_s = `level`), peak and peak_blocks (the alpha2
    maximum, `alpha2_peak_time`), block_length (time), q."""

    def __init__(self, t, fs, alpha2, fs_blocks, alpha2_blocks, level, block_length, q):
        self.t, self.fs, self.alpha2 = t, fs, alpha2
        self.fs_blocks, self.alpha2_blocks = fs_blocks, alpha2_blocks
        self.level, self.block_length, self.q = level, block_length, q
        self.tau_alpha = relaxation_time(t, fs, level)
        self.tau_blocks = np.array([relaxation_time(t, f, level) for f in fs_blocks])
        self.peak = alpha2_peak_time(t, alpha2)
        self.peak_blocks = np.array([alpha2_peak_time(t, a) for a in alpha2_blocks])

    @property
    def n_blocks(self) -> int:
        return len(self.fs_blocks)


def trajectory_dynamics(trajectory, frame_time: float, q: float, n_blocks: int, level: float = np.exp(-1),
                        n_lags: int = 40, origin_every: int = 1) -> BlockDynamics:
    """F_s(q, t) (direction-averaged, `fs_isotropic`) and alpha2(t) over all particles from an
    (frames, N, d) *unwrapped* trajectory of equally spaced frames `frame_time` apart, averaged over
    time origins (every `origin_every` frames): over the whole run (every origin o with o + lag inside
    it) and separately over each of `n_blocks` consecutive blocks of B = (frames - 1) // n_blocks frame
    intervals (block b spans frames bB .. (b + 1)B, so neighbouring blocks share their boundary frame;
    origin and o + lag inside the block). Lags are log-spaced frame counts up to B, so each block's
    F_s reaches the same times. Paper 1: tau_alpha at F_s(q*, t) = 1/e, q* the first peak of S(q); the
    blocks give its standard error."""
    tr = np.asarray(trajectory, float)
    if tr.ndim != 3:
        raise ValueError(f"trajectory must have shape (frames, N, d), got {tr.shape}")
    n_blocks, origin_every = int(n_blocks), int(origin_every)
    if n_blocks < 1 or origin_every < 1:
        raise ValueError(f"need n_blocks >= 1 and origin_every >= 1, got {n_blocks}, {origin_every}")
    frames, _, d = tr.shape
    block = (frames - 1) // n_blocks
    if block < 2:
        raise ValueError(f"{frames} frames cannot be cut into {n_blocks} blocks of at least 2 intervals")
    lags = np.unique(np.logspace(0, np.log10(block), int(n_lags)).astype(np.int64))

    def moments(first, last, lag):     # origins o with first <= o and o + lag <= last
        o = np.arange(first, last - lag + 1, origin_every)
        if len(o) == 0:
            return np.nan, np.nan, np.nan
        dr = tr[o + lag] - tr[o]
        r2 = np.einsum("ond,ond->on", dr, dr)
        return fs_isotropic(dr, q), float(r2.mean()), float(np.mean(r2 ** 2))

    def curves(first, last):
        m = np.array([moments(first, last, lag) for lag in lags])
        with np.errstate(invalid="ignore", divide="ignore"):
            a2 = d * m[:, 2] / ((d + 2) * m[:, 1] ** 2) - 1.0
        return m[:, 0], a2

    fs, a2 = curves(0, frames - 1)
    per = [curves(b * block, (b + 1) * block) for b in range(n_blocks)]
    return BlockDynamics(lags * float(frame_time), fs, a2, np.array([p[0] for p in per]),
                         np.array([p[1] for p in per]), level, block * float(frame_time), float(q))


def tau_alpha(t, fs):
    """(τα at F_s = 1/e, τα at F_s = 0.2). Paper 2 uses the second, on F_s of the largest species
    at its q_max: `SelfDynamics(..., q=q_max, species=<largest>).tau_alpha()` reads it directly."""
    return relaxation_time(t, fs, np.exp(-1)), relaxation_time(t, fs, 0.2)


def chi4(q_samples, n_particles: int):
    """χ4(t) = N Var(Q(t)) over samples (axis 0 = samples: origins, runs or trajectories)."""
    q = np.asarray(q_samples, float)
    return n_particles * q.var(axis=0)


class Peak(NamedTuple):
    """The maximum of a correlation sampled at lag times (`peak_in_log_time`). `edge` is "" when the
    largest sample lies between two others, else "first" or "last": the true maximum is then outside
    the lags, `time` is a bound on its time (an upper bound at the first lag, a lower bound at the
    last: the function is still rising there) and `height` a lower bound on its height; report it as
    such (τ4 > t)."""
    time: float
    height: float
    edge: str = ""

    @property
    def at_edge(self) -> bool:
        return bool(self.edge)


def peak_in_log_time(t, y) -> Peak:
    """The maximum of y(t) sampled at lag times t: the largest sample, refined by the parabola in ln t
    through it and its two neighbours (lags are log-spaced; when the parabola opens downwards its
    vertex lies between the neighbours). At the first or last lag, or beside a lag t <= 0, no
    refinement: the sample itself, with `edge` set at either end (see Peak). NaN samples are skipped."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"peak_in_log_time: t and y must be 1-D of equal length, got {t.shape} and {y.shape}")
    k = int(np.nanargmax(y))
    if k == 0 or k == len(y) - 1:
        return Peak(float(t[k]), float(y[k]), "first" if k == 0 else "last")
    if np.all(t[k - 1:k + 2] > 0) and np.all(np.isfinite(y[k - 1:k + 2])):
        x = np.log(t[k - 1:k + 2])
        c2, c1, c0 = np.polyfit(x, y[k - 1:k + 2], 2)
        if c2 < 0:
            xs = -c1 / (2 * c2)
            if x[0] <= xs <= x[2]:
                return Peak(float(np.exp(xs)), float(c0 + c1 * xs + c2 * xs * xs))
    return Peak(float(t[k]), float(y[k]))


def chi4_peak(t, chi) -> Peak:
    """(τ4, χ4*, edge): the time and height of the χ4 peak (`peak_in_log_time`); a peak at the last
    lag means χ4 is still rising there, τ4 beyond the window (report τ4 > t)."""
    return peak_in_log_time(t, chi)


def four_point_structure_factor(positions0, dr, box, q: float, a: float = 0.3, width=None,
                                max_vectors: int = 200, seed: int = 0):
    """S4(q,t) = (1/N)<W(q)W(−q)> − (1/N)|<W(q)>|², W(q) = Σ_i w_i e^{iq·r_i(0)}, w_i = Θ(a − |dr_i|).

    positions0: (S, N, d) initial positions of S samples (origins/runs); dr: (S, N, d) their
    displacements over the lag t. Averages over a q shell. (docs/science.md §2; paper 4.)"""
    x0 = np.asarray(positions0, float)
    dr = np.asarray(dr, float)
    if x0.ndim == 2:
        x0, dr = x0[None], dr[None]
    n = x0.shape[1]
    w = (np.einsum("snd,snd->sn", dr, dr) < a * a).astype(float)
    qv = q_shell(box, q, width, max_vectors, seed)
    ph = x0 @ qv.T                                                # (S, N, m)
    wc = np.einsum("sn,snm->sm", w, np.cos(ph))
    ws = np.einsum("sn,snm->sm", w, np.sin(ph))
    mean_sq = np.mean(wc ** 2 + ws ** 2, axis=0)                 # (m,)
    sq_mean = np.mean(wc, axis=0) ** 2 + np.mean(ws, axis=0) ** 2
    return float(np.mean(mean_sq - sq_mean) / n)


def ornstein_zernike_fit(q, s4, q_fit_max=None, sigma=None):
    """Fit S4(q) = S4(0) / (1 + (q ξ4)²) (scipy curve_fit) over q <= q_fit_max, weighted by the
    standard errors `sigma` of the S4 values when given (points with a non-finite or zero se left out).
    Returns (S4(0), ξ4, covariance)."""
    from scipy.optimize import curve_fit
    q, s4 = np.asarray(q, float), np.asarray(s4, float)
    m = np.isfinite(s4) & ((q <= q_fit_max) if q_fit_max is not None else True)
    if sigma is not None:
        sigma = np.asarray(sigma, float)
        m &= np.isfinite(sigma) & (sigma > 0)
    if m.sum() < 2:
        raise ValueError("ornstein_zernike_fit needs at least two finite S4 values in the fit range")
    p, cov = curve_fit(lambda x, s0, xi: s0 / (1 + (x * xi) ** 2), q[m], s4[m],
                       p0=(float(s4[m][0]), 1.0), bounds=([0, 0], [np.inf, np.inf]),
                       sigma=None if sigma is None else sigma[m], absolute_sigma=sigma is not None)
    return float(p[0]), float(p[1]), cov


def overlap_per_origin(trajectory, lags, origins, a: float = 0.3):
    """Q(t0, t) = fraction of the trajectory's particles with |r(t0 + t) - r(t0)| < a, for every origin
    frame t0 in `origins` and lag (in frames) in `lags`; NaN where t0 + t is past the last frame.
    trajectory: (F, N, d) unwrapped positions (e.g. inherent structures; select particles first).
    Returns (len(origins), len(lags)). chi4(t) = N Var_t0 Q (see `chi4`)."""
    x = np.asarray(trajectory)
    origins = np.asarray(origins, int)
    out = np.full((len(origins), len(lags)), np.nan)
    a2 = a * a
    for j, lag in enumerate(np.asarray(lags, int)):
        ok = origins + lag < len(x)
        o = origins[ok]
        for start in range(0, len(o), 256):          # chunks keep the (chunk, N, d) temporaries small
            oc = o[start:start + 256]
            dr = x[oc + lag].astype(float) - x[oc].astype(float)
            out[np.flatnonzero(ok)[start:start + 256], j] = np.mean(np.einsum("snd,snd->sn", dr, dr) < a2, axis=1)
    return out


def q_vectors_up_to(box, q_max: float):
    """Every reciprocal-lattice vector of the box with 0 < |q| <= q_max, and its |q|."""
    box = _as_box(box)
    d = box.dim
    lengths = np.asarray(box.lengths[:d], float)
    nmax = np.floor(q_max * lengths / (2 * np.pi)).astype(int)
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in nmax], indexing="ij")
    n = np.stack([g.ravel() for g in grids], axis=1)
    q = 2 * np.pi * n / lengths
    norm = np.linalg.norm(q, axis=1)
    keep = (norm > 0) & (norm <= q_max * (1 + 1e-12))
    return q[keep], norm[keep]


def four_point_shells(positions0, weights, box, q_max: float, decimals: int = 6):
    """Per-sample W(q) power on the shells of |q| for S4(q) = (1/N)(<|W(q)|²> - |<W(q)>|²),
    W(q) = sum_i w_i exp(i q . r_i(0)) (Eq. 34), 0 < |q| <= q_max.

    positions0: (S, N, d) origin positions; weights: (S, N) overlap indicators w_i.
    Returns (q shells (n_shells,), W (S, n_q) complex, shell index of each q vector (n_q,)) so that a
    caller can average any subset of the samples (`s4_from_modes`)."""
    x0 = np.asarray(positions0, float)
    w = np.asarray(weights, float)
    if x0.ndim == 2:
        x0, w = x0[None], w[None]
    qv, qn = q_vectors_up_to(box, q_max)
    shells, index = np.unique(np.round(qn, decimals), return_inverse=True)
    W = np.empty((len(x0), len(qv)), complex)
    for s in range(len(x0)):
        W[s] = w[s] @ np.exp(1j * (x0[s] @ qv.T))
    return shells, W, index


def s4_from_modes(W, index, n_particles: int, keep=None):
    """S4 on each shell from the samples `keep` (mask or indices; default all) of four_point_shells'
    W: (1/N)(<|W|²> - |<W>|²) averaged over the vectors of each shell."""
    W = np.asarray(W) if keep is None else np.asarray(W)[keep]
    per_q = (np.mean(np.abs(W) ** 2, axis=0) - np.abs(W.mean(axis=0)) ** 2) / n_particles
    n_shells = int(index.max()) + 1
    return np.bincount(index, per_q, n_shells) / np.bincount(index, None, n_shells)


def block_chi4(positions0, dr, box, n_blocks: int, a: float = 0.3):
    """χ4 of sub-boxes (paper 4, App. H): the box is cut into n_blocks^d cells by the initial
    positions; χ4(L_B) = <N_B> Var(Q_B) over cells and samples, L_B = L / n_blocks.
    Returns (L_B, χ4_B)."""
    box = _as_box(box)
    x0 = np.asarray(positions0, float)
    dr = np.asarray(dr, float)
    if x0.ndim == 2:
        x0, dr = x0[None], dr[None]
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    d = box.dim
    w = (np.einsum("snd,snd->sn", dr, dr) < a * a).astype(float)
    cell = np.floor((np.stack([box.fractional(x) for x in x0]) % 1.0) * n_blocks).astype(int)
    cell = np.minimum(cell, n_blocks - 1)
    idx = np.ravel_multi_index(tuple(cell[..., k] for k in range(d)), (n_blocks,) * d)   # (S, N)
    nc = n_blocks ** d
    qb, nb = [], []
    for s in range(len(x0)):
        cnt = np.bincount(idx[s], minlength=nc).astype(float)
        tot = np.bincount(idx[s], w[s], minlength=nc)
        ok = cnt > 0
        qb.append(tot[ok] / cnt[ok])
        nb.append(cnt[ok])
    qb, nb = np.concatenate(qb), np.concatenate(nb)
    return float(np.min(box.lengths[:d]) / n_blocks), float(nb.mean() * qb.var())


def diffusion_coefficient(t, msd_values, dim: int, t_min: float = None):
    """D from the long-time slope of the MSD: MSD ≈ 2 d D t, least squares over t >= t_min
    (default: the last half of the data)."""
    from scipy.stats import linregress
    t, m = np.asarray(t, float), np.asarray(msd_values, float)
    if t_min is None:
        t_min = t[len(t) // 2]
    sel = t >= t_min
    if sel.sum() < 2:
        raise ValueError(f"diffusion_coefficient: fewer than two points with t >= t_min={t_min}")
    return float(linregress(t[sel], m[sel]).slope / (2 * dim))


def stokes_einstein_exponent(D, tau):
    """ξ in D ∝ τα^(−ξ) from data at several temperatures (log-log least squares); paper 2 finds
    0.74–0.79. Returns (ξ, prefactor)."""
    from scipy.stats import linregress
    D, tau = np.asarray(D, float), np.asarray(tau, float)
    fit = linregress(np.log(tau), np.log(D))
    return float(-fit.slope), float(np.exp(fit.intercept))


def reduced_units(volume: float, n: int, T: float, dim: int = 3):
    """(a0, t0) with a0 = (V/N)^{1/d}, t0 = a0/√T (paper 2; m = k_B = 1)."""
    if not T > 0:
        raise ValueError(f"reduced_units: T must be > 0, got {T}")
    a0 = (volume / n) ** (1.0 / dim)
    return a0, a0 / np.sqrt(T)


# ------------------------------------------------------------------------------ on-the-fly observable
class SelfDynamics(Observable):
    """MSD per species, α2, F_s(q) and Q(a) accumulated on the fly over the time origins of a
    block-logarithmic schedule (each block start is an origin); F_s also from the first block alone
    and from the later ones (fs_first_block, fs_later_blocks: equal within noise when the liquid is
    time-translation invariant, paper 2's equilibration test) and the standard deviation of one
    origin's F_s over the origins (fs_origin_sd: the yardstick of that test). Displacements from
    unwrapped positions; optional centre-of-mass removal. Result keys: t, msd (n_lags, n_types),
    alpha2, fs, fs_origin_sd, origins (per lag), Q, chi4 (N Var Q over origins).

    species: None (default) averages F_s over every particle; a type id averages it over that
    species only (α2, Q and χ4 stay over all particles; the MSD is per species anyway). Paper 2,
    Sec. II B: "The correlators F_s and MSD are always understood to pertain to the largest
    particle species, and q_max corresponds to the position of the first peak of the static
    structure factor of the largest particle species"; τα is read from F_s = 0.2 by `tau_alpha()`.
    F_s is kept as a sum over particles and a count, so it reduces exactly over ranks."""

    needs = ("unwrapped",)
    state_attributes = ("_origin", "_masses", "_d")

    def __init__(self, schedule: LogSchedule, dt: float, q: float = None, box=None, a: float = 0.3,
                 remove_drift: bool = False, max_vectors: int = 100, seed: int = 0, species: int = None):
        if not isinstance(schedule, LogSchedule):
            raise ValueError("SelfDynamics needs a LogSchedule (block-logarithmic, multiple origins)")
        if species is not None and (isinstance(species, bool) or not isinstance(species, (int, np.integer))
                                    or species < 0):
            raise ValueError(f"SelfDynamics: species must be None or a type id >= 0, got {species!r}")
        if species is not None and q is None:
            raise ValueError("SelfDynamics: species selects the particles of F_s, which needs q")
        super().__init__(schedule)
        self.dt, self.a, self.remove_drift = float(dt), float(a), remove_drift
        self.q = None if q is None else float(q)
        self.species = None if species is None else int(species)
        self.qvectors = None if q is None else q_shell(box, q, max_vectors=max_vectors, seed=seed)
        self._origin = None

    def update(self, frame):
        sch = self.schedule
        origin = sch.origin(frame.step)
        # Under domain decomposition particles change ranks between an origin and a lag, and alpha2, Q
        # and chi4 are not sums over particles: every rank works on the whole system in id order (one
        # allgather per sample of a log schedule, collective: every rank samples the same steps) and
        # only rank 0 adds, so the reduction over ranks gives the serial result exactly.
        x, types, masses, ids = frame.unwrapped, frame.types, frame.masses, frame.ids
        weight = 1.0
        if frame.comm is not None and frame.comm.Get_size() > 1:
            parts = frame.comm.allgather((ids, x, types, masses))
            ids, x, types, masses = (np.concatenate([p[k] for p in parts]) for k in range(4))
            weight = 1.0 if frame.comm.Get_rank() == 0 else 0.0
        self._n_whole = len(x)     # chi4 = N Var Q with the whole system's N (not this rank's)
        if ids is not None:
            order = np.argsort(ids, kind="stable")
            x, types, masses = x[order], types[order], masses[order]
        if frame.step == origin:
            self._origin = x.copy()
            self._masses = masses
            return
        if self._origin is None:
            return
        k = sch.lag_index(frame.step)
        nl = len(sch.lags)
        dr = x - self._origin
        if self.remove_drift:
            dr = remove_com(dr, masses)
        t = types.astype(np.int64)
        nt = int(t.max()) + 1
        r2 = np.einsum("nd,nd->n", dr, dr)
        one = np.zeros(nl)
        one[k] = weight
        per = np.zeros((nl, nt))
        per[k] = weight * np.bincount(t, r2, minlength=nt) / np.bincount(t, minlength=nt)
        self.add("n", one)
        self.add("msd", per)
        self.add("r2", one * r2.mean())
        self.add("r4", one * np.mean(r2 ** 2))
        qv = np.mean(r2 < self.a ** 2)
        self.add("Q", one * qv)
        self.add("Q2", one * qv * qv)
        if self.qvectors is not None:
            sel = dr if self.species is None else dr[t == self.species]
            cos_sum = float(np.sum(np.cos(sel @ self.qvectors.T))) / len(self.qvectors) if len(sel) else 0.0
            self.add("fs_sum", one * cos_sum)
            self.add("fs_count", one * len(sel))
            if len(sel):   # origin-to-origin spread of F_s; its own origin count (a restart from an older
                self.add("fs_one_n", one)           # checkpoint lacks the early origins: no spread then)
                self.add("fs_one_sq", one * (cos_sum / len(sel)) ** 2)
            if origin == sch.start:   # the first block alone: against the rest, a time-translation check
                self.add("fs_first_sum", one * cos_sum)
                self.add("fs_first_count", one * len(sel))
        self._d = dr.shape[1]

    def finalize(self, acc):
        n = acc["n"]
        ok = n > 0
        lags = self.schedule.lags
        d = getattr(self, "_d", 3)
        out = {"t": lags[ok] * self.dt, "msd": acc["msd"][ok] / n[ok, None]}
        r2, r4 = acc["r2"][ok] / n[ok], acc["r4"][ok] / n[ok]
        out["alpha2"] = d * r4 / ((d + 2) * r2 ** 2) - 1
        q1, q2 = acc["Q"][ok] / n[ok], acc["Q2"][ok] / n[ok]
        out["Q"] = q1
        out["chi4"] = getattr(self, "_n_whole", self.n_particles or 0) * (q2 - q1 ** 2)
        if "fs_sum" in acc:
            cnt = acc["fs_count"][ok]
            if np.any(cnt == 0):
                raise ValueError(f"SelfDynamics: no particle of species {self.species} for F_s")
            out["fs"] = acc["fs_sum"][ok] / cnt
            m = n[ok]
            if "fs_one_sq" in acc and np.array_equal(acc["fs_one_n"][ok], m):   # every origin in the sums
                with np.errstate(invalid="ignore", divide="ignore"):   # fs: the mean over origins (equal counts)
                    var = (acc["fs_one_sq"][ok] / m - out["fs"] ** 2) * m / (m - 1)
                # clip: round-off can leave a tiny negative variance where all origins agree
                out["fs_origin_sd"] = np.where(m > 1, np.sqrt(np.clip(var, 0.0, None)), np.nan)
                out["origins"] = m
            if "fs_first_sum" in acc:
                c1 = acc["fs_first_count"][ok]
                rest = cnt - c1
                with np.errstate(invalid="ignore", divide="ignore"):
                    out["fs_first_block"] = np.where(c1 > 0, acc["fs_first_sum"][ok] / c1, np.nan)
                    out["fs_later_blocks"] = np.where(rest > 0, (acc["fs_sum"][ok] - acc["fs_first_sum"][ok]) / rest,
                                                      np.nan)
        return out

    def tau_alpha(self, level: float = 0.2, comm=None) -> float:
        """τα: the first time F_s(q, t) falls to `level` (paper 2: "We define the structural
        relaxation time τα according to F_s(τα; q_max) = 0.2"; 1/e for paper 1's convention), by
        `relaxation_time` (log-linear interpolation; NaN if F_s never gets there). Needs q (and,
        for paper 2, species = the largest species)."""
        if self.qvectors is None:
            raise ValueError("SelfDynamics.tau_alpha needs F_s: construct with q=")
        res = self.result(comm)
        return relaxation_time(res["t"], res["fs"], level)


# ================================================================================ deck registration

def _make_self_dynamics(params, ctx):
    return SelfDynamics(ctx.schedule, dt=ctx.integrator.dt, q=params["q"], box=ctx.system.box, a=params["a"],
                        remove_drift=params["remove_drift"], max_vectors=params["max_vectors"],
                        seed=params["seed"], species=params["species"])


OBSERVABLES.register("self-dynamics", ObservableType(_make_self_dynamics, {
    "q": Key(NUM, None, "wavenumber of F_s(q, t) (none: no F_s)", lo=0, lo_open=True),
    "a": Key(NUM, 0.3, "overlap length of Q(t)", lo=0, lo_open=True),
    "remove_drift": Key((bool,), False, "remove the centre-of-mass displacement"),
    "max_vectors": Key((int,), 100, "wavevectors averaged in F_s", lo=1),
    "seed": Key((int,), 0, "seed of the wavevector subset", lo=0),
    "species": Key((int,), None, "F_s of this species (type id) only, e.g. the largest particles whose "
                   "F_s(q_max, t) = 0.2 defines tau_alpha in paper 2 (default: all particles)", lo=0),
}, "MSD per species, alpha2, F_s(q,t), Q(t), chi4 over block-log time origins "
   "(pyglass.analysis.observables.SelfDynamics; log schedule)", ("log",)))
