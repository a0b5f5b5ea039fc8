"""Structure–dynamics statistics (docs/science.md §4): cluster overlap O_AB of two per-particle fields
(paper 3; paper 1 SI §4 / Fig. S6, the Debye–Waller metric) with its random-map baseline, the
IR-in-mode-clusters score of paper 1 SI §5 / Fig. S8 (`ir_mode_overlap`), Spearman rank correlation per
species (paper 2), mobile/immobile extremes per sphere (confidence intervals: pyglass.analysis.statistics).
"""
from __future__ import annotations

from dataclasses import dataclass, field as _dc_field

import numpy as np

from pyglass.analysis.observables.structure import _as_box, neighbour_cutoffs, neighbour_pairs


def _graph_pairs(positions, box, types, neighbours, cutoffs):
    if neighbours is not None:
        i, j = (np.asarray(a, np.int64) for a in neighbours)
        return i, j
    if cutoffs is None:
        cutoffs = neighbour_cutoffs(positions, box, types)
    return neighbour_pairs(positions, box, types, cutoffs)


TIES = ("include", "random")


def top_fraction(field, fraction: float, ties: str = "include", seed: int = 0):
    """(N,) bool mask of the particles whose value is "within the top `fraction`" of the field
    (paper 3: "the value of A_j is within the top 25%"; paper 1 SI: "the top 10% highest values").

    k = round(fraction N). Neither paper says how equal values at the threshold are treated, so
    ties are never broken by particle index (which would bias the selection to low ids):
    ties='include' (default) keeps every particle whose value equals the k-th largest, so the mask
    can hold more than k particles (a field of many equal values, e.g. an IR probability that is
    0 for most particles, then selects all of them: threshold such fields with a level instead);
    ties='random' keeps exactly k, choosing among the tied particles at random (reproducible from
    `seed`)."""
    f = np.asarray(field, float)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"field has a non-finite value at particle {int(np.flatnonzero(~np.isfinite(f))[0])}")
    k = int(round(fraction * len(f)))
    if k == 0:
        return np.zeros(len(f), bool)
    threshold = np.partition(f, len(f) - k)[len(f) - k]
    above = f > threshold
    tied = np.flatnonzero(f == threshold)
    if ties == "include":
        return above | (f == threshold)
    need = k - int(above.sum())
    mask = above.copy()
    mask[np.random.default_rng(seed).choice(tied, need, replace=False)] = True
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


def _check_field(name, f, n):
    f = np.asarray(f, float)
    if f.shape != (n,):
        raise ValueError(f"{name} must have one value per particle ({n}), got shape {f.shape}")
    return f


def _overlap_masks(ta, tb):
    tot = ta.sum() + tb.sum()
    return float(2.0 * np.sum(ta & tb) / tot) if tot else float("nan")


def overlap(field_a, field_b, positions, box, fraction: float = 0.25, min_cluster: int = 3,
            types=None, neighbours=None, cutoffs=None, ties: str = "include", seed: int = 0):
    """O_AB = 2/(N_A + N_B) Σ_j Θ_A(j) Θ_B(j), Θ = 1 for particles in the top `fraction` of the
    field that belong to a cluster of at least `min_cluster` such particles (paper 3: "within the
    top 25% and belongs to a cluster of more than two particles", i.e. fraction=0.25,
    min_cluster=3; paper 1 SI §4, the Debye–Waller metric: 10 %, n* = 3 in 2D, 5 in 3D). Clusters
    connect neighbours: `neighbours` = (i, j) pairs, or pairs closer than `cutoffs` (default: first
    minima of the partial g(r) of this configuration). Ties at the threshold: `top_fraction`.
    Returns NaN if neither field has a clustered particle."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    n = len(x)
    fa, fb = _check_field("field_a", field_a, n), _check_field("field_b", field_b, n)
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    ta = clustered(top_fraction(fa, fraction, ties, seed), pairs, min_cluster)
    tb = clustered(top_fraction(fb, fraction, ties, seed + 1), pairs, min_cluster)
    return _overlap_masks(ta, tb)


def overlaps(field_a, fields_b, positions, box, fraction: float = 0.25, min_cluster: int = 3,
             types=None, neighbours=None, cutoffs=None, ties: str = "include", seed: int = 0) -> np.ndarray:
    """O_AB of one field A against several fields B (a sequence or an (m, N) array), on one
    neighbour graph: e.g. paper 3's O_DW,p(N_m) and O_|d|,p(N_m) over a list of N_m, with
    fields_b = [modes.participation_fractions(nm, count_zero_modes=True) for nm in n_modes]."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    n = len(x)
    fa = _check_field("field_a", field_a, n)
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    ta = clustered(top_fraction(fa, fraction, ties, seed), pairs, min_cluster)
    out = []
    for k, fb in enumerate(fields_b):
        fb = _check_field(f"fields_b[{k}]", fb, n)
        out.append(_overlap_masks(ta, clustered(top_fraction(fb, fraction, ties, seed + 1), pairs, min_cluster)))
    return np.array(out)


def overlap_random_baseline(field_a, positions, box, fraction: float = 0.25, min_cluster: int = 3,
                            n_samples: int = 200, seed: int = 0, types=None, neighbours=None, cutoffs=None,
                            ties: str = "include"):
    """Overlap of field_a with random maps (a random permutation of field_a over the particles, so
    the same count is selected): returns (mean, std, samples)."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    rng = np.random.default_rng(seed)
    fa = np.asarray(field_a, float)
    vals = np.array([overlap(fa, rng.permutation(fa), x, box, fraction, min_cluster, neighbours=pairs,
                             ties=ties, seed=seed + 2 * k)
                     for k in range(int(n_samples))])
    return float(np.nanmean(vals)), float(np.nanstd(vals)), vals


# ------------------------------------------------------------------ paper 1 SI §5: IR vs mode clusters
IR_LEVEL = 0.01          # paper 1: particles "with >= 0.01 probability of meeting our IR condition"
MODE_THRESHOLD = 0.028   # paper 1 SI §5: "above a threshold of 0.028 in the units of Fig. 3"
IR_MIN_CLUSTER = 5       # paper 1 SI §5: "a cluster of particles if 5 or more particles form a domain"


@dataclass
class IRModeOverlap:
    """Paper 1 SI §5 overlap of one configuration. `score` is the percentage of IR-cluster
    particles that lie in mode clusters (NaN when there is no IR cluster); `ir_clusters` and
    `mode_clusters` are the (N,) masks; `random_scores` the same score for random maps (empty
    unless asked for), with their mean and standard deviation."""
    score: float
    n_ir: int
    n_ir_clustered: int
    n_mode_clustered: int
    ir_clusters: np.ndarray
    mode_clusters: np.ndarray
    random_scores: np.ndarray = _dc_field(default_factory=lambda: np.zeros(0))

    @property
    def random_mean(self) -> float:
        r = self.random_scores[np.isfinite(self.random_scores)]
        return float(r.mean()) if len(r) else float("nan")

    @property
    def random_std(self) -> float:
        r = self.random_scores[np.isfinite(self.random_scores)]
        return float(r.std()) if len(r) else float("nan")

    @property
    def random_mean_zero_filled(self) -> float:
        """Mean score of the random maps, a map with no cluster scoring 0 (paper 1's baseline: it
        finds no IR particle inside a mode cluster)."""
        return float(np.mean(np.nan_to_num(self.random_scores, nan=0.0))) if len(self.random_scores) else float("nan")

    @property
    def chance_level(self) -> float:
        """Percentage of all particles inside mode clusters: the overlap an IR map placed at random
        would have on average (the chance level the score is compared with)."""
        return 100.0 * float(self.mode_clusters.sum()) / len(self.mode_clusters)


def _percent_inside(a, b):
    na = int(a.sum())
    return 100.0 * float(np.sum(a & b)) / na if na else float("nan")


def ir_mode_overlap(ir_probability, participation, positions, box, ir_level: float = IR_LEVEL,
                    mode_threshold: float = MODE_THRESHOLD, min_cluster: int = IR_MIN_CLUSTER,
                    random_samples: int = 0, randomise: str = "ir", seed: int = 0, types=None,
                    neighbours=None, cutoffs=None) -> IRModeOverlap:
    """Paper 1 SI §5 ("Correlation between IR particles and mode maps"), quoted:

    "We first define a cluster of particles if 5 or more particles form a domain for which there is
    at least one nearest neighbour particle that belongs to the domain for each particle that lies
    in the domain. We do this for both the particles in the mode map that lie in the "non-blue"
    areas (those above a threshold of 0.028 in the units of Fig.3 of the text) as well as for the
    IR particles. We define "overlap" as the % fraction of IR particles in clusters that coincide
    with the particles that exist in the clusters of the mode map. [...] for each configuration we
    generate a map at random that contains the same number of particles as in the IR map for that
    given configuration. Using the same algorithm, we also compare the resulting overlap with the
    particles in the mode-map."

    IR particles: ir_probability >= ir_level (0.01, main text: "≥ 0.01 probability of meeting our
    IR condition"); mode particles: participation > mode_threshold (0.028). The participation map
    is the sum over the lowest modes of |e_i|^2 with unit-normalised modes (Modes.
    participation_fractions); its mean is n_modes/N, 0.029 for the paper's 30 modes and N = 1024,
    so 0.028 is about the mean there: for another N or mode count scale it (our reading, the paper
    does not say). Clusters connect nearest neighbours (`neighbours` pairs, or pairs closer than
    `cutoffs`, default the first minima of the partial g(r)).

    random_samples > 0 adds the random-map baseline: randomise='ir' (the paper's) places as many
    particles as the IR map holds (before clustering) at random and scores them against the mode
    clusters; randomise='mode' instead places as many particles as the mode map holds (before
    clustering) at random (equivalently: thresholds a shuffled participation field) and scores the
    IR clusters against their clusters."""
    box = _as_box(box)
    x = np.asarray(positions, float)
    n = len(x)
    p_ir = _check_field("ir_probability", ir_probability, n)
    part = _check_field("participation", participation, n)
    if randomise not in ("ir", "mode"):
        raise ValueError(f"randomise must be 'ir' or 'mode', got {randomise!r}")
    if int(min_cluster) < 1:
        raise ValueError(f"min_cluster must be >= 1, got {min_cluster}")
    pairs = _graph_pairs(x, box, types, neighbours, cutoffs)
    ir = p_ir >= ir_level
    mode = part > mode_threshold
    ir_c = clustered(ir, pairs, min_cluster)
    mode_c = clustered(mode, pairs, min_cluster)
    rand = []
    rng = np.random.default_rng(seed)
    for _ in range(int(random_samples)):
        m = np.zeros(n, bool)
        if randomise == "ir":
            m[rng.choice(n, int(ir.sum()), replace=False)] = True
            rand.append(_percent_inside(clustered(m, pairs, min_cluster), mode_c))
        else:
            m[rng.choice(n, int(mode.sum()), replace=False)] = True
            rand.append(_percent_inside(ir_c, clustered(m, pairs, min_cluster)))
    return IRModeOverlap(_percent_inside(ir_c, mode_c), int(ir.sum()), int(ir_c.sum()), int(mode_c.sum()),
                         ir_c, mode_c, np.array(rand, float))


def clustered_percent(mask, pairs, min_cluster: int = IR_MIN_CLUSTER, random_samples: int = 0,
                      seed: int = 0):
    """Percentage of the particles of `mask` that lie in clusters (through `pairs`) of at least
    `min_cluster` of them, and the mean of the same over `random_samples` random masks holding as many
    particles (NaN when there are none): how much more clustered a map is than chance (paper 1, Fig. 1:
    IR forms domains)."""
    mask = np.asarray(mask, bool)
    n, k = len(mask), int(mask.sum())
    ours = _percent_inside(mask, clustered(mask, pairs, min_cluster))
    rng = np.random.default_rng(seed)
    rand = []
    for _ in range(int(random_samples)):
        m = np.zeros(n, bool)
        m[rng.choice(n, k, replace=False)] = True
        rand.append(_percent_inside(m, clustered(m, pairs, min_cluster)))
    return ours, (float(np.mean(rand)) if rand else float("nan"))


def retained_fraction(initial, later) -> float:
    """Fraction of the particles of the mask `initial` that are also in `later` (NaN if `initial` is
    empty): e.g. how much of a mode-cluster map survives a change of inherent structure."""
    a, b = np.asarray(initial, bool), np.asarray(later, bool)
    na = int(a.sum())
    return float(np.sum(a & b)) / na if na else float("nan")


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
