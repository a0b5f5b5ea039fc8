"""Static structure: partial g(r) and its first minima, partial S(q) on commensurate wavevectors,
q_max, and neighbour pairs from the g(r) minima (docs/science.md §2, §4; paper 1 Methods).

Pair searches reuse the engine's ghost images and cell lists (`pyglass.engine.domain`,
`extensions/neighbours.pyx`), so tilted and small boxes are handled exactly: a pair closer than
r_max through several images is counted once per image, as g(r) requires.
"""
from __future__ import annotations

import numpy as np

from pyglass.engine.system import Box, System


def _as_box(box):
    return box if isinstance(box, Box) else Box(box)


def pair_vectors(positions, box, r_max: float, types=None):
    """All pairs (i < j, or one image of a self/duplicate pair) closer than r_max through any
    periodic image. Returns (i, j, dr) with dr = r_j(image) - r_i, shape (n_pairs, d)."""
    from pyglass.engine.potentials.base import NeighbourList
    box = _as_box(box)
    x = np.asarray(positions, float)
    if not r_max > 0:
        raise ValueError(f"r_max must be > 0, got {r_max}")
    n = len(x)
    s = System(x, box, np.zeros(n, np.int32) if types is None else types)
    nl = NeighbourList(np.full((s.n_types, s.n_types), float(r_max)), skin=0.0, half=True)
    nl.update(s)
    i, jrow = nl.pairs(s)
    dr = (s._x[jrow] - s._x[i])[:, : box.dim]
    j = s.domain.owner(jrow).astype(np.int64)
    # positions were wrapped inside the copy; displacements are unaffected
    return i, j, dr


def _check_types(types, n):
    types = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
    if types.shape != (n,):
        raise ValueError(f"types must have shape ({n},), got {types.shape}")
    return types


def _frames(frames, box, types):
    """(box, frames as (n_frames, N, d), types, n_types) from one frame or a stack."""
    fr = np.asarray(frames, float)
    if fr.ndim == 2:
        fr = fr[None]
    types = _check_types(types, fr.shape[1])
    return _as_box(box), fr, types, int(types.max()) + 1


def _shell_volume(r_lo, r_hi, dim):
    if dim == 2:
        return np.pi * (r_hi ** 2 - r_lo ** 2)
    return 4.0 / 3.0 * np.pi * (r_hi ** 3 - r_lo ** 3)


def radial_distribution(frames, box, types=None, r_max: float = 5.0, bins: int = 200):
    """Partial radial distribution functions g_ab(r), averaged over frames.

    frames: (N, d) or (n_frames, N, d). Returns (r, g) with r the bin centres (bins,) and g of
    shape (n_types, n_types, bins): g_ab(r) = V / (N_a N_b') * <n_ab(r)> / shell(r), where n_ab
    counts ordered pairs (i in a, j in b, j != i) and N_b' = N_b - δ_ab."""
    box, fr, types, nt = _frames(frames, box, types)
    n = fr.shape[1]
    counts_type = np.bincount(types, minlength=nt).astype(float)
    edges = np.linspace(0.0, float(r_max), int(bins) + 1)
    hist = np.zeros((nt, nt, int(bins)))
    for x in fr:
        i, j, dr = pair_vectors(x, box, r_max)
        r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
        keep = r < r_max
        ti, tj = types[i[keep]], types[j[keep]]
        k = np.minimum((r[keep] / r_max * bins).astype(np.int64), bins - 1)
        flat = np.bincount((ti * nt + tj) * bins + k, minlength=nt * nt * bins).reshape(nt, nt, bins)
        hist += flat + flat.transpose(1, 0, 2)   # each unordered pair counts for (a,b) and (b,a)
    shell = _shell_volume(edges[:-1], edges[1:], box.dim)
    nb = counts_type[None, :] - np.eye(nt)
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = counts_type[:, None, None] * nb[:, :, None] / box.volume * shell[None, None, :] * len(fr)
        g = np.where(norm > 0, hist / norm, 0.0)
    return 0.5 * (edges[:-1] + edges[1:]), g


def total_rdf(frames, box, r_max=5.0, bins=200):
    """Total g(r) (all particles as one species)."""
    r, g = radial_distribution(frames, box, None, r_max, bins)
    return r, g[0, 0]


def first_minimum(r, g, smooth: float = 1.5):
    """Position of the first minimum after the main peak of g(r) (Gaussian-smoothed by `smooth`
    bins to ignore histogram noise). Raises if no minimum is found in the range."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelmin
    r = np.asarray(r, float)
    gs = gaussian_filter1d(np.asarray(g, float), smooth) if smooth > 0 else np.asarray(g, float)
    peak = int(np.argmax(gs))
    mins = argrelmin(gs[peak:])[0]
    if mins.size == 0:
        raise ValueError("first_minimum: g(r) has no minimum after its first peak within r_max")
    return float(r[peak + mins[0]])


def first_peak(x, y, smooth: float = 0.0):
    """Position of the highest peak of y(x) (e.g. q_max of S(q))."""
    from scipy.ndimage import gaussian_filter1d
    y = np.asarray(y, float)
    ys = gaussian_filter1d(y, smooth) if smooth > 0 else y
    ok = np.isfinite(ys)
    return float(np.asarray(x)[ok][np.argmax(ys[ok])])


def first_sharp_peak(x, y, level: float = 1.0, smooth: float = 1.0, window: float = 0.0):
    """Position of the first peak of S(q): the first local maximum of y(x) (Gaussian-smoothed by
    `smooth` bins against noise) whose value exceeds `level` (1: below its first peak a dense liquid's
    S(q) stays under 1) and is the largest value within `window` of it in x (so that a wiggle of noise
    on the rising flank is not taken for the peak). The maximum is refined by the parabola through it
    and its two neighbours. Raises if there is none (paper 1 Methods: F_s is measured "at the first
    Bragg peak")."""
    from scipy.ndimage import gaussian_filter1d
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    ys = gaussian_filter1d(y, smooth) if smooth > 0 else y
    for k in range(1, len(ys) - 1):
        if ys[k] > level and ys[k] >= ys[k - 1] and ys[k] > ys[k + 1] \
                and ys[k] >= ys[np.abs(x - x[k]) <= window].max():
            c2, c1, _ = np.polyfit(x[k - 1:k + 2], ys[k - 1:k + 2], 2)
            return float(-c1 / (2 * c2)) if c2 < 0 else float(x[k])
    raise ValueError(f"first_sharp_peak: no maximum above {level} in x = [{x.min():g}, {x.max():g}]")


def neighbour_cutoffs(frames, box, types=None, r_max: float | None = None, bins: int = 200):
    """Per species-pair neighbour cutoffs = first minima of the partial g_ab(r) (paper 1)."""
    box = _as_box(box)
    if r_max is None:
        r_max = 0.49 * float(np.min(box.plane_spacings))
    r, g = radial_distribution(frames, box, types, r_max, bins)
    nt = g.shape[0]
    cut = np.zeros((nt, nt))
    for a in range(nt):
        for b in range(a, nt):
            cut[a, b] = cut[b, a] = first_minimum(r, g[a, b])
    return cut


def neighbour_pairs(positions, box, types=None, cutoffs=1.5):
    """Unique neighbour pairs (i < j) with |r_ij| < cutoffs[type_i, type_j] (scalar or table).
    Returns (i, j) int arrays."""
    x = np.asarray(positions, float)
    n = len(x)
    types = _check_types(types, n)
    cut = np.asarray(cutoffs, float)
    if cut.ndim == 0:
        cut = np.full((int(types.max()) + 1,) * 2, float(cut))
    i, j, dr = pair_vectors(x, box, float(cut.max()))
    r2 = np.einsum("ij,ij->i", dr, dr)
    keep = (r2 < cut[types[i], types[j]] ** 2) & (i != j)
    a, b = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    pairs = np.unique(np.stack([a, b], 1), axis=0) if keep.any() else np.zeros((0, 2), np.int64)
    return pairs[:, 0], pairs[:, 1]


def commensurate_wavevectors(box, q_max: float, q_min: float = 0.0):
    """All wavevectors q = 2π h^{-T} n (n integer, n != 0) with q_min <= |q| <= q_max; (m, d)."""
    box = _as_box(box)
    d = box.dim
    hinv_t = np.linalg.inv(box.h[:d, :d]).T * 2 * np.pi
    nmax = np.ceil(q_max / (2 * np.pi) * np.linalg.norm(box.h[:d, :d], axis=0)).astype(int) + 1
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in nmax], indexing="ij")
    nvec = np.stack([g.ravel() for g in grids], 1)
    q = nvec @ hinv_t.T
    qn = np.linalg.norm(q, axis=1)
    keep = (qn <= q_max) & (qn >= q_min) & (qn > 0)
    return q[keep]


def structure_factor(frames, box, types=None, q_max: float = 10.0, bins: int = 100, q_min: float = 0.0,
                     qvectors=None):
    """Partial static structure factors on commensurate wavevectors, binned in |q| shells.

    S_ab(q) = <Re ρ_a(q) ρ_b(-q)> / sqrt(N_a N_b), ρ_a(q) = Σ_{i in a} exp(-i q·r_i); the total
    S(q) = <|ρ(q)|²>/N. Returns (q, S_total (bins,), S_partial (nt, nt, bins)); empty bins NaN.
    `qvectors` (m, d) replaces the full commensurate set (e.g. freud's positive octant)."""
    box, fr, types, nt = _frames(frames, box, types)
    n = fr.shape[1]
    na = np.bincount(types, minlength=nt).astype(float)
    qv = commensurate_wavevectors(box, q_max, q_min) if qvectors is None else np.asarray(qvectors, float)
    qn = np.linalg.norm(qv, axis=1)
    edges = np.linspace(q_min, q_max, int(bins) + 1)
    k = np.clip(np.searchsorted(edges, qn, side="right") - 1, 0, bins - 1)
    cnt = np.bincount(k, minlength=bins).astype(float)
    s_tot = np.zeros(bins)
    s_par = np.zeros((nt, nt, bins))
    for x in fr:
        phase = x @ qv.T                                  # (N, m)
        c, s = np.cos(phase), np.sin(phase)
        rho_c = np.stack([c[types == a].sum(0) for a in range(nt)])   # (nt, m)
        rho_s = np.stack([s[types == a].sum(0) for a in range(nt)])
        for a in range(nt):
            for b in range(nt):
                val = (rho_c[a] * rho_c[b] + rho_s[a] * rho_s[b]) / np.sqrt(na[a] * na[b])
                s_par[a, b] += np.bincount(k, val, minlength=bins)
        tot = (rho_c.sum(0) ** 2 + rho_s.sum(0) ** 2) / n
        s_tot += np.bincount(k, tot, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        s_tot = np.where(cnt > 0, s_tot / (cnt * len(fr)), np.nan)
        s_par = np.where(cnt > 0, s_par / (cnt * len(fr)), np.nan)
    q = 0.5 * (edges[:-1] + edges[1:])
    return q, s_tot, s_par


def q_max(frames, box, types=None, species=None, q_range=(2.0, 12.0), bins: int = 100):
    """Position of the main peak of S(q) (of one species' partial if `species` is given, e.g.
    the largest species as in docs/science.md §2; else the total)."""
    q, st, sp = structure_factor(frames, box, types, q_max=q_range[1], bins=bins, q_min=q_range[0])
    y = st if species is None else sp[species, species]
    return first_peak(q, y)
