"""Structure–dynamics statistics (SCIENCE.md §4): cluster overlap O_AB of two per-particle fields
(paper 3; paper 1 SI Figs. S6, S8) with its random-map baseline, Spearman rank correlation per
species (paper 2), mobile/immobile extremes per sphere, bootstrap confidence intervals (scipy).
"""
from __future__ import annotations

import numpy as np

from pyglass.observables.structure import _as_box, neighbour_cutoffs, neighbour_pairs


def _graph_pairs(positions, box, types, neighbours, cutoffs):
    if neighbours is not None:
        i, j = (np.asarray(a, np.int64) for a in neighbours)
        return i, j
    if cutoffs is None:
        cutoffs = neighbour_cutoffs(positions, box, types)
    return neighbour_pairs(positions, box, types, cutoffs)


def top_fraction(field, fraction: float):
    """(N,) bool mask of the round(fraction N) largest values (ties broken by index, stable)."""
    f = np.asarray(field, float)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"field has a non-finite value at particle {int(np.flatnonzero(~np.isfinite(f))[0])}")
    k = int(round(fraction * len(f)))
    mask = np.zeros(len(f), bool)
    mask[np.argsort(-f, kind="stable")[:k]] = True
    return mask


def clustered(mask, pairs, min_cluster: int):
    """Members of `mask` that belong to a connected cluster (through `pairs`, both ends in the mask)
    of at least `min_cluster` particles (scipy.sparse.csgraph.connected_components)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    mask = np.asarray(mask, bool)
    n = len(mask)
    i, j = pairs
    keep = mask[i] & mask[j]
    g = coo_matrix((np.ones(keep.sum()), (i[keep], j[keep])), shape=(n, n))
    _, label = connected_components(g, directed=False)
    size = np.bincount(label[mask], minlength=n)
    return mask & (size[label] >= int(min_cluster))


def overlap(field_a, field_b, positions, box, fraction: float = 0.25, min_cluster: int = 3,
            types=None, neighbours=None, cutoffs=None):
    """O_AB = 2/(N_A + N_B) Σ_j Θ_A(j) Θ_B(j), Θ = 1 for particles in the top `fraction` of the
    field that belong to a cluster of at least `min_cluster` such particles (paper 3: 25 %, > 2;
    paper 1: 10 %, n* >= 3 in 2D, 5 in 3D). Clusters connect neighbours: `neighbours` = (i, j)
    pairs, or pairs closer than `cutoffs` (default: first minima of the partial g(r) of this
    configuration). Returns NaN if neither field has a clustered particle."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    n = len(x)
    fa, fb = np.asarray(field_a, float), np.asarray(field_b, float)
    for name, f in (("field_a", fa), ("field_b", fb)):
        if f.shape != (n,):
            raise ValueError(f"{name} must have one value per particle ({n}), got shape {f.shape}")
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    ta = clustered(top_fraction(fa, fraction), pairs, min_cluster)
    tb = clustered(top_fraction(fb, fraction), pairs, min_cluster)
    tot = ta.sum() + tb.sum()
    return float(2.0 * np.sum(ta & tb) / tot) if tot else float("nan")


def overlap_random_baseline(field_a, positions, box, fraction: float = 0.25, min_cluster: int = 3,
                            n_samples: int = 200, seed: int = 0, types=None, neighbours=None, cutoffs=None):
    """Overlap of field_a with random maps (a random permutation of field_a over the particles, so
    the same count is selected): returns (mean, std, samples)."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    rng = np.random.default_rng(seed)
    fa = np.asarray(field_a, float)
    vals = np.array([overlap(fa, rng.permutation(fa), x, box, fraction, min_cluster, neighbours=pairs)
                     for _ in range(int(n_samples))])
    return float(np.nanmean(vals)), float(np.nanstd(vals)), vals


def spearman_by_species(field_a, field_b, types):
    """Spearman rank correlation of two per-particle fields for each species (paper 2).
    Returns {type id: (rho, p-value)}."""
    from scipy.stats import spearmanr
    a, b, t = np.asarray(field_a, float), np.asarray(field_b, float), np.asarray(types)
    out = {}
    for s in np.unique(t):
        res = spearmanr(a[t == s], b[t == s])
        out[int(s)] = (float(res.correlation if hasattr(res, "correlation") else res[0]),
                       float(res.pvalue if hasattr(res, "pvalue") else res[1]))
    return out


def extremes_per_sphere(field, positions, box, centres, radius: float, k: int = 5, mask=None):
    """For each centre (index into positions), the k particles with the largest and the k with the
    smallest field values within `radius` (optionally only particles in `mask`, e.g. the large
    species: paper 2). Returns lists of (top_indices, bottom_indices)."""
    from scipy.spatial import cKDTree
    box = _as_box(box)
    x = np.asarray(positions, float)
    f = np.asarray(field, float)
    allowed = np.ones(len(x), bool) if mask is None else np.asarray(mask, bool)
    if box.tilt_xy != 0:
        raise ValueError("extremes_per_sphere supports orthorhombic boxes only (tilt_xy = 0)")
    frac = (box.fractional(x) % 1.0) * box.lengths
    tree = cKDTree(frac, boxsize=box.lengths)
    out = []
    for c in np.atleast_1d(centres):
        idx = np.array(tree.query_ball_point(frac[int(c)], radius), dtype=np.int64)
        idx = idx[allowed[idx]]
        order = idx[np.argsort(f[idx], kind="stable")]
        out.append((order[::-1][:k], order[:k]))
    return out


def bootstrap_ci(samples, statistic=np.mean, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0,
                 method: str = "percentile"):
    """Bootstrap confidence interval of `statistic` over samples (scipy.stats.bootstrap).
    Returns (low, high)."""
    from scipy.stats import bootstrap
    data = np.asarray(samples, float)
    res = bootstrap((data,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                    random_state=np.random.default_rng(seed), method=method, vectorized=False)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
