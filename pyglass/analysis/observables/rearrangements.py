"""Rearrangements: p_hop (paper 5, Eq. 2; Candelier et al.) and lost-neighbour irreversible
reorganisation (paper 1 and its Fig. S1).

p_hop(i, t) = sqrt( <(r_i − <r_i>_B)²>_A · <(r_i − <r_i>_A)²>_B ),  A = [t − Δt/2, t],
B = [t, t + Δt/2] (docs/science.md §2). Window means come from cumulative sums, so the whole
(frames, N) field costs O(frames N d) numpy work. Paper 5 prints an extra square root on each
factor; the usual form is used (units of length², compared with an MSD threshold).
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.observables.base import Observable
from pyglass.analysis.observables.structure import neighbour_pairs


def phop(trajectory, window: int):
    """p_hop for every frame and particle from an (frames, N, d) *unwrapped* trajectory.

    `window` is Δt in frames (even; each half window A, B holds window/2 + 1 frames sharing the
    frame t). Frames closer than window/2 to either end, where a half window does not fit, are NaN.
    Returns (frames, N)."""
    tr = np.asarray(trajectory, float)
    if tr.ndim != 3:
        raise ValueError(f"trajectory must have shape (frames, N, d), got {tr.shape}")
    window = int(window)
    if window < 2 or window % 2:
        raise ValueError(f"window must be an even number of frames >= 2, got {window}")
    h = window // 2
    nf = len(tr)
    out = np.full(tr.shape[:2], np.nan)
    if nf < window + 1:
        return out
    c1 = np.concatenate([np.zeros((1,) + tr.shape[1:]), np.cumsum(tr, axis=0)])
    r2 = np.einsum("fnd,fnd->fn", tr, tr)
    c2 = np.concatenate([np.zeros((1, tr.shape[1])), np.cumsum(r2, axis=0)])
    t = np.arange(h, nf - h)
    m = h + 1
    mean_a = (c1[t + 1] - c1[t - h]) / m           # frames t-h .. t
    mean_b = (c1[t + h + 1] - c1[t]) / m           # frames t .. t+h
    sq_a = (c2[t + 1] - c2[t - h]) / m
    sq_b = (c2[t + h + 1] - c2[t]) / m
    # <(r - c)^2>_A = <r^2>_A - 2 c·<r>_A + c^2
    va = sq_a - 2 * np.einsum("tnd,tnd->tn", mean_b, mean_a) + np.einsum("tnd,tnd->tn", mean_b, mean_b)
    vb = sq_b - 2 * np.einsum("tnd,tnd->tn", mean_a, mean_b) + np.einsum("tnd,tnd->tn", mean_a, mean_a)
    out[t] = np.sqrt(np.maximum(va * vb, 0.0))
    return out


def phop_threshold(t, msd_values, alpha2_values):
    """p_c = MSD at the peak of α2 (paper 5; Smessaert & Rottler). Returns (p_c, t*)."""
    a = np.asarray(alpha2_values, float)
    k = int(np.nanargmax(a))
    return float(np.asarray(msd_values, float)[k]), float(np.asarray(t, float)[k])


def hops(phop_values, threshold: float):
    """Boolean (frames, N) mask p_hop > threshold (NaN frames are False)."""
    p = np.asarray(phop_values, float)
    return np.nan_to_num(p, nan=-np.inf) > threshold


class NeighbourLoss(Observable):
    """Lost-neighbour irreversible reorganisation (paper 1).

    Neighbours are the pairs closer than the species-pair cutoff (first minimum of g_ab(r)) in the
    reference configuration. At each sample a neighbour is *lost* while its distance exceeds
    cutoff + hysteresis (hysteresis defaults to 0 as in paper 1 [unverified]). Recorded per particle:
      lost      current number of lost initial neighbours
      max_lost  the largest number lost so far
      first_loss_time[x-1]  time at which x initial neighbours were first lost (x = 1..max_x), inf if never
      failed[x-1]  Fig. S1's n: the minimum, over the rest of the trajectory, of the number of the
                   neighbours lost at that first time that are still lost (−1 if x never reached)
      never_recovered[x-1]  the other reading of the SI's words: the number of those neighbours that
                   are never back within the cutoff at any later sample, each on its own
                   (<= failed; −1 if x never reached)
    A particle is irreversibly reorganised once it has lost `threshold` (4) neighbours.
    """

    needs = ("positions",)
    per_particle = True

    def __init__(self, reference_positions, box, types=None, cutoffs=None, schedule=None,
                 threshold: int = 4, max_x: int = 5, hysteresis: float = 0.0, pairs=None):
        super().__init__(schedule)
        x0 = np.asarray(reference_positions, float)
        n = len(x0)
        self.types = np.zeros(n, np.int64) if types is None else np.asarray(types, np.int64)
        if cutoffs is None:
            raise ValueError("NeighbourLoss needs cutoffs= (per species-pair first minima of g(r))")
        if pairs is None:
            pairs = neighbour_pairs(x0, box, self.types, cutoffs)
        self.i, self.j = (np.asarray(p, np.int64) for p in pairs)
        cut = np.asarray(cutoffs, float)
        if cut.ndim == 0:
            cut = np.full((int(self.types.max()) + 1,) * 2, float(cut))
        self.pair_cut2 = (cut[self.types[self.i], self.types[self.j]] + hysteresis) ** 2
        if int(threshold) < 1 or int(max_x) < int(threshold):
            raise ValueError(f"need 1 <= threshold <= max_x, got threshold={threshold}, max_x={max_x}")
        self.threshold, self.max_x = int(threshold), int(max_x)
        self.n = n
        self.n_initial = np.bincount(self.i, minlength=n) + np.bincount(self.j, minlength=n)
        self.reset()

    def reset(self):
        n, X, P = self.n, self.max_x, len(self.i)
        self.lost = np.zeros(n, np.int64)
        self.max_lost = np.zeros(n, np.int64)
        self.first_loss_time = np.full((X, n), np.inf)
        self.failed = np.full((X, n), -1, np.int64)
        self._mark_i = np.zeros((X, P), bool)    # pair lost at particle i's first x-loss
        self._mark_j = np.zeros((X, P), bool)
        self._back = np.zeros((X, P), bool)      # a marked pair seen within the cutoff since

    def lost_pairs(self, positions, box):
        x = np.asarray(positions, float)
        dr = box.minimum_image(x[self.j] - x[self.i])
        return np.einsum("pd,pd->p", dr, dr) > self.pair_cut2

    def update(self, frame):
        self.observe(frame.positions, frame.box, frame.time)

    def observe(self, positions, box, time: float):
        """Update the counters with one configuration at `time`."""
        n = self.n
        lostp = self.lost_pairs(positions, box)
        lost = np.bincount(self.i, lostp, minlength=n).astype(np.int64) + \
            np.bincount(self.j, lostp, minlength=n).astype(np.int64)
        self.lost = lost
        self.max_lost = np.maximum(self.max_lost, lost)
        for x in range(1, self.max_x + 1):
            new = (lost >= x) & np.isinf(self.first_loss_time[x - 1])
            if new.any():
                self.first_loss_time[x - 1, new] = time
                self._mark_i[x - 1] |= new[self.i] & lostp
                self._mark_j[x - 1] |= new[self.j] & lostp
                self.failed[x - 1, new] = lost[new]
            seen = np.isfinite(self.first_loss_time[x - 1])
            if seen.any():
                still = np.bincount(self.i, self._mark_i[x - 1] & lostp, minlength=n) + \
                    np.bincount(self.j, self._mark_j[x - 1] & lostp, minlength=n)
                self.failed[x - 1, seen] = np.minimum(self.failed[x - 1, seen], still[seen])
                self._back[x - 1] |= (self._mark_i[x - 1] | self._mark_j[x - 1]) & ~lostp

    @property
    def never_recovered(self):
        """(max_x, N): of the neighbours lost at the first x-loss, how many never came back (−1: x
        never reached). A pair marked for both its particles counts for each."""
        n, out = self.n, np.full((self.max_x, self.n), -1, np.int64)
        for x in range(1, self.max_x + 1):
            gone = ~self._back[x - 1]
            cnt = np.bincount(self.i, self._mark_i[x - 1] & gone, minlength=n) + \
                np.bincount(self.j, self._mark_j[x - 1] & gone, minlength=n)
            seen = np.isfinite(self.first_loss_time[x - 1])
            out[x - 1, seen] = cnt[seen]
        return out

    @property
    def reorganised(self):
        """(N,) bool: lost >= threshold neighbours at some sample."""
        return self.max_lost >= self.threshold

    @property
    def reorganisation_time(self):
        """(N,) time of the first loss of the threshold-th neighbour (inf if never)."""
        return self.first_loss_time[self.threshold - 1]

    def result(self, comm=None):
        return {"max_lost": self.max_lost.copy(), "first_loss_time": self.first_loss_time.copy(),
                "failed": self.failed.copy(), "never_recovered": self.never_recovered, "reorganised": self.reorganised,
                "n_initial_neighbours": self.n_initial.copy()}


def recovery_histogram(failed):
    """Fig. S1: for each x, the distribution over observations of n (neighbours lost at the first
    x-loss that failed to be recovered later). failed: (..., max_x, N) from NeighbourLoss (runs
    stacked in the leading axes). Returns P (max_x, n_max + 1), row x-1 = P(n | x) (NaN rows where
    x was never reached), and the number of observations per x."""
    f = np.asarray(failed)
    X = f.shape[-2]
    f = np.moveaxis(f, -2, 0).reshape(X, -1)
    n_max = max(int(f.max()), 0)
    hist = np.stack([np.bincount(f[x][f[x] >= 0], minlength=n_max + 1) for x in range(X)]).astype(float)
    tot = hist.sum(1)
    with np.errstate(invalid="ignore"):
        return np.where(tot[:, None] > 0, hist / tot[:, None], np.nan), tot.astype(int)
