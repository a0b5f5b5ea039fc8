"""Periodic hypercubic lattice and its rearranging clusters (paper Sec. IV, VI).

Sites are stored in row-major order.  A 2D lattice is handled as a 3D one of shape
(L, L, 1) inside the Cython loop, so one code path serves d = 2 and d = 3.  Lengths are in
lattice spacings (the paper takes the spacing equal to the first peak of g_AA(r)).
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["PeriodicLattice", "Clusters"]


class Clusters:
    """The set of m-site clusters that may rearrange together.

    m = 1: every site is its own cluster.  m = 4: nearest-neighbour square plaquettes
    (paper Sec. IV, "inspired by T1 events"), one orientation per lattice plane, so a site
    belongs to z = 4 plaquettes in 2D and z = 12 in 3D (App. D).

    Attributes
    ----------
    sites : (N_c, m) int32, the member sites of each cluster (anchor first)
    orientation : (N_c,) int32, index into ``offsets``
    anchor : (N_c, 3) int32, lattice coordinates of the anchor site (padded to 3)
    offsets : list of (m, d) int arrays, member offsets from the anchor per orientation
    site_clusters : (N, z) int32, the clusters that contain each site
    z : clusters per site
    """

    def __init__(self, lattice: "PeriodicLattice", m: int):
        if m not in (1, 4):
            raise ValueError(f"m must be 1 (single-site) or 4 (square plaquettes), got m={m!r}")
        if m == 4 and lattice.L < 3:
            raise ValueError(f"L={lattice.L} is too small for m=4 plaquettes (need L >= 3)")
        d = lattice.d
        if m == 1:
            offsets = [np.zeros((1, d), dtype=np.int64)]
        else:
            offsets = []
            for a, b in itertools.combinations(range(d), 2):
                ea = np.eye(d, dtype=np.int64)[a]
                eb = np.eye(d, dtype=np.int64)[b]
                offsets.append(np.array([0 * ea, ea, eb, ea + eb]))
        coords = lattice.coords
        sites, orient, anchor = [], [], []
        for o, off in enumerate(offsets):
            members = np.stack([lattice.index(coords + off[k]) for k in range(m)], axis=1)
            sites.append(members)
            orient.append(np.full(lattice.N, o))
            anchor.append(coords)
        self.m = m
        self.offsets = offsets
        self.sites = np.ascontiguousarray(np.concatenate(sites), dtype=np.int32)
        self.orientation = np.ascontiguousarray(np.concatenate(orient), dtype=np.int32)
        anchor = np.concatenate(anchor)
        self.anchor = np.zeros((len(anchor), 3), dtype=np.int32)
        self.anchor[:, :d] = anchor
        self.n = len(self.sites)
        # invert the membership table: every site lies in the same number z of clusters
        flat = self.sites.ravel()
        order = np.argsort(flat, kind="stable")
        self.z = m * len(offsets)
        self.site_clusters = np.ascontiguousarray(
            (order // m).reshape(lattice.N, self.z), dtype=np.int32)

    @property
    def n_orientations(self) -> int:
        return len(self.offsets)


class PeriodicLattice:
    """A d-dimensional periodic lattice of side L (d = 2 or 3)."""

    def __init__(self, L: int, d: int):
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)):
            raise ValueError(f"L must be a positive integer, got L={L!r}")
        if L < 2:
            raise ValueError(f"L must be a positive integer >= 2, got L={L}")
        if d not in (2, 3):
            raise ValueError(f"d must be 2 or 3, got d={d!r}")
        self.L = int(L)
        self.d = int(d)
        self.shape = (self.L,) * self.d
        self.shape3 = self.shape + (1,) * (3 - self.d)
        self.N = self.L ** self.d
        self.coords = np.stack(np.unravel_index(np.arange(self.N), self.shape), axis=1).astype(np.int64)

    def index(self, coords: np.ndarray) -> np.ndarray:
        """Site index of (possibly out-of-box) integer coordinates, wrapped periodically."""
        return np.ravel_multi_index(tuple(np.mod(coords, self.L).T), self.shape)

    def minimum_image(self, delta: np.ndarray) -> np.ndarray:
        """Wrap integer displacement vectors to the nearest periodic image."""
        delta = np.mod(delta, self.L)
        return np.where(delta > self.L / 2, delta - self.L, delta)

    def distance(self, delta: np.ndarray) -> np.ndarray:
        """Minimum-image Euclidean length of integer displacement vectors (..., d)."""
        return np.sqrt(np.sum(self.minimum_image(delta).astype(float) ** 2, axis=-1))

    def displacement_distances(self) -> np.ndarray:
        """Grid of shape ``self.shape``: minimum-image length of each displacement vector."""
        return self.distance(self.coords).reshape(self.shape)

    def clusters(self, m: int) -> Clusters:
        return Clusters(self, m)
