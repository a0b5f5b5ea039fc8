"""System and Box: the particles and the periodic cell.

Storage layout (one code path for serial and parallel runs):
  * coordinates are held in (capacity, 3) float64 arrays, z = 0 in 2D, so the Cython kernels
    are written once; the public views (`positions`, `velocities`) show only the first `dim`
    columns of the first `N` (local) rows;
  * rows N .. N + n_ghost hold ghost particles, periodic images (and, under MPI, neighbours'
    particles) that the domain refreshes each step;
  * positions are wrapped into the cell at every neighbour-list rebuild, and the integer image
    counters record the crossings, so `unwrapped_positions = positions + images @ h.T`.
"""
from __future__ import annotations

import itertools

import numpy as np

from pyglass._ext import neighbours as _nb
from pyglass.engine.comm import allsum, is_parallel

_SYSTEM_SERIAL = itertools.count()


class Box:
    """Periodic cell. Orthorhombic, plus an xy tilt (simple shear, Lees-Edwards images).

    Cell vectors are the columns of h: a = (Lx, 0, 0), b = (xy, Ly, 0), c = (0, 0, Lz); the
    origin is `lo` (default 0). In 2D, Lz is absent.
    """

    def __init__(self, lengths, tilt_xy: float = 0.0, lo=None):
        lengths = np.asarray(lengths, dtype=float).ravel()
        if lengths.size not in (2, 3):
            raise ValueError(f"box lengths must have 2 or 3 entries, got {lengths.size}")
        if not np.all(np.isfinite(lengths)) or np.any(lengths <= 0):
            raise ValueError(f"box lengths must be positive and finite, got {lengths.tolist()}")
        self.dim = lengths.size
        self.lengths = lengths
        self.tilt_xy = float(tilt_xy)
        self.lo = np.zeros(self.dim) if lo is None else np.asarray(lo, dtype=float).reshape(self.dim)

    @property
    def h(self) -> np.ndarray:
        """(3, 3) matrix of cell vectors as columns (z row/column is identity in 2D)."""
        h = np.eye(3)
        h[0, 0], h[1, 1] = self.lengths[0], self.lengths[1]
        if self.dim == 3:
            h[2, 2] = self.lengths[2]
        h[0, 1] = self.tilt_xy
        return h

    @property
    def h_inverse(self) -> np.ndarray:
        """Inverse of h, written out (h is upper triangular): no LAPACK call on hot paths."""
        lx, ly = self.lengths[0], self.lengths[1]
        hi = np.eye(3)
        hi[0, 0], hi[1, 1] = 1.0 / lx, 1.0 / ly
        if self.dim == 3:
            hi[2, 2] = 1.0 / self.lengths[2]
        hi[0, 1] = -self.tilt_xy / (lx * ly)
        return hi

    @property
    def volume(self) -> float:
        return float(np.prod(self.lengths))

    @property
    def plane_spacings(self) -> np.ndarray:
        """Distances between opposite faces (what a cutoff must fit into), per cell vector."""
        return 1.0 / np.linalg.norm(self.h_inverse, axis=1)[: self.dim]

    def copy(self) -> "Box":
        return Box(self.lengths.copy(), self.tilt_xy, self.lo.copy())

    def fractional(self, positions) -> np.ndarray:
        """Fractional coordinates s with r = lo + h s (first dim components)."""
        x = np.asarray(positions, float)
        x3 = np.zeros((len(x), 3))
        x3[:, : self.dim] = x
        return self.fractional_rows(x3)[:, : self.dim]

    def fractional_rows(self, x3) -> np.ndarray:
        """Fractional coordinates (n, 3) of rows of an (n, 3) C-contiguous position buffer
        (z = 0 in 2D), without a copy of the input: the decomposed domain's rebuilds."""
        lo3 = np.zeros(3)
        lo3[: self.dim] = self.lo
        out = np.empty((len(x3), 3))
        _nb.to_fractional(x3, len(x3), lo3, self.h_inverse, out)
        return out

    def minimum_image(self, dr) -> np.ndarray:
        """Shortest periodic image of separation vectors dr (..., dim)."""
        dr = np.array(dr, dtype=float)
        shape = dr.shape
        d3 = np.zeros((int(np.prod(shape[:-1])), 3))
        d3[:, : self.dim] = dr.reshape(-1, self.dim)
        h = self.h
        s = d3 @ self.h_inverse.T
        s -= np.round(s)
        return (s @ h.T)[:, : self.dim].reshape(shape)

    def __repr__(self):
        tilt = f", tilt_xy={self.tilt_xy:g}" if self.tilt_xy else ""
        return f"Box({self.lengths.tolist()}{tilt})"


class System:
    """Particles in a periodic box on this rank.

    Parameters
    ----------
    positions : (N, d) array
    box : Box or sequence of d lengths
    types : (N,) int type ids 0..n_types-1 (default all 0)
    type_names : names of the types (default 'A', 'B', ...)
    masses : per-type masses (default 1)
    velocities : (N, d) array (default zeros)
    images : (N, d) integer image counters (default zeros)
    """

    def __init__(self, positions, box, types=None, type_names=None, masses=None,
                 velocities=None, images=None, comm=None, ids=None):
        pos = np.asarray(positions, dtype=float)
        if not isinstance(box, Box):
            box = Box(box)
        if pos.ndim != 2 or pos.shape[1] != box.dim:
            raise ValueError(f"positions must have shape (N, {box.dim}) for a {box.dim}D box, got {pos.shape}")
        bad = np.flatnonzero(~np.all(np.isfinite(pos), axis=1))
        if bad.size:
            raise ValueError(f"particle {int(bad[0])} has a non-finite position {pos[bad[0]].tolist()}")
        n = len(pos)
        self.box = box
        self.dim = box.dim
        self.comm = comm
        types = np.zeros(n, np.int32) if types is None else np.ascontiguousarray(types, dtype=np.int32)
        if types.shape != (n,):
            raise ValueError(f"types must have shape ({n},), got {types.shape}")
        if n and types.min() < 0:
            raise ValueError(f"particle {int(np.argmin(types))} has a negative type id {int(types.min())}")
        n_types = int(types.max()) + 1 if n else 1
        if type_names is None:
            type_names = [chr(ord("A") + k) for k in range(n_types)]
        type_names = [str(t) for t in type_names]
        if len(type_names) < n_types:
            raise ValueError(f"{len(type_names)} type names given but type ids go up to {n_types - 1}")
        self.type_names = type_names
        masses = np.ones(len(type_names)) if masses is None else np.asarray(masses, dtype=float).ravel()
        if masses.size != len(type_names) or np.any(masses <= 0):
            raise ValueError(f"masses must be {len(type_names)} positive per-type values, got {masses.tolist()}")
        self.type_masses = masses
        self.types = types
        self.ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self._x = np.zeros((n, 3))
        self._x[:, : self.dim] = pos
        self._v = np.zeros((n, 3))
        if velocities is not None:
            vel = np.asarray(velocities, dtype=float)
            if vel.shape != pos.shape:
                raise ValueError(f"velocities must have shape {pos.shape}, got {vel.shape}")
            self._v[:, : self.dim] = vel
        self.images = np.zeros((n, self.dim), dtype=np.int64) if images is None else \
            np.array(images, dtype=np.int64).reshape(n, self.dim)
        self.step = 0
        self.time = 0.0
        self.n_ghost = 0
        self.ghost_source = np.zeros(0, np.int32)   # local row each ghost images (-1: another rank's)
        self.ghost_shift = np.zeros((0, 3))         # Cartesian shift of each ghost from its owner
        self.ghost_image = np.zeros((0, 3), np.int64)
        self.ghost_types = np.zeros(0, np.int32)
        self.ghost_ids = np.zeros(0, np.int64)      # particle id of each ghost
        self.per_particle = {}                      # extra (N, ...) arrays that migrate with particles
        self.serial = next(_SYSTEM_SERIAL)          # unique per System object (caches key on it)
        self._n_global = None
        self._version = 0   # bumped whenever positions are changed from outside an integrator

    # ----------------------------------------------------------------- sizes and views
    @property
    def N(self) -> int:
        return len(self.types)

    @property
    def n_global(self) -> int:
        """Number of particles over all ranks of `comm` (= N on one rank)."""
        if self._n_global is None:
            self._n_global = int(allsum(self.comm, self.N))
        return self._n_global

    @property
    def n_types(self) -> int:
        return len(self.type_names)

    @property
    def positions(self) -> np.ndarray:
        """(N, d) view of the (wrapped between list rebuilds) positions."""
        return self._x[: self.N, : self.dim]

    @positions.setter
    def positions(self, value):
        self._x[: self.N, : self.dim] = value
        self.touch()

    @property
    def velocities(self) -> np.ndarray:
        return self._v[:, : self.dim]

    @velocities.setter
    def velocities(self, value):
        self._v[:, : self.dim] = value

    @property
    def masses(self) -> np.ndarray:
        """(N,) per-particle masses."""
        return self.type_masses[self.types]

    def _mass_arrays(self):
        # cached per types array (migration and type changes assign a new array)
        cache = getattr(self, "_mass_cache", None)
        if cache is None or cache[0] is not self.types or len(cache[1]) != self.N:
            m = np.ascontiguousarray(self.type_masses[self.types], dtype=float)
            cache = (self.types, m, 1.0 / m)
            self._mass_cache = cache
        return cache

    @property
    def _mass(self) -> np.ndarray:
        return self._mass_arrays()[1]

    @property
    def _inv_mass(self) -> np.ndarray:
        return self._mass_arrays()[2]

    @property
    def unwrapped_positions(self) -> np.ndarray:
        img = np.zeros((self.N, 3))
        img[:, : self.dim] = self.images
        return (self._x[: self.N] + img @ self.box.h.T)[:, : self.dim]

    @property
    def density(self) -> float:
        return self.n_global / self.box.volume

    @property
    def dof(self) -> int:
        """Degrees of freedom with the total momentum fixed: d (N - 1), N over all ranks."""
        return self.dim * (self.n_global - 1)

    def touch(self):
        """Mark positions/box as changed from outside (forces neighbour-list rebuild)."""
        self._version += 1

    # ----------------------------------------------------------------- thermodynamics
    def kinetic_energy(self) -> float:
        return 0.5 * float(allsum(self.comm, float(np.sum(self.masses[:, None] * self._v[: self.N] ** 2))))

    def temperature(self) -> float:
        """Kinetic temperature 2K / (d (N-1)) (k_B = 1)."""
        return 2.0 * self.kinetic_energy() / self.dof

    def kinetic_tensor(self) -> np.ndarray:
        """sum_i m_i v_i v_i^T, (d, d)."""
        v = self.velocities
        return allsum(self.comm, (self.masses[:, None] * v).T @ v)

    def total_momentum(self) -> np.ndarray:
        return allsum(self.comm, (self.masses[:, None] * self.velocities).sum(axis=0))

    def zero_momentum(self):
        self._v[:, : self.dim] -= self.total_momentum() / allsum(self.comm, float(self.masses.sum()))

    def thermalize(self, T: float, seed: int):
        """Maxwell-Boltzmann velocities at temperature T with zero total momentum, rescaled so
        the kinetic temperature is exactly T. Reproducible from `seed`."""
        if T < 0:
            raise ValueError(f"temperature must be >= 0, got {T}")
        # drawn for every particle id, so the velocities do not depend on the decomposition
        rng = np.random.default_rng(seed)
        normal = rng.normal(size=(self.n_global, self.dim))
        self._v[:, : self.dim] = normal[self.ids] * np.sqrt(T / self.masses)[:, None]
        self.zero_momentum()
        t = self.temperature()
        if t > 0:
            self._v *= np.sqrt(T / t)

    # ----------------------------------------------------------------- periodicity
    def wrap(self):
        """Wrap local positions into the cell, updating the image counters."""
        s = self.box.fractional(self.positions)
        shift = np.floor(s).astype(np.int64)
        if np.any(shift):
            self.images += shift
            sh = np.zeros((self.N, 3))
            sh[:, : self.dim] = shift
            self._x[: self.N] -= sh @ self.box.h.T

    def set_box(self, box: Box, scale_positions: bool = True):
        """Change the cell; with scale_positions the particles move affinely with it."""
        if box.dim != self.dim:
            raise ValueError("the new box has a different dimension")
        if scale_positions:
            s = self.box.fractional(self.positions)
            x3 = np.zeros((self.N, 3))
            x3[:, : self.dim] = s
            self._x[: self.N] = x3 @ box.h.T
            self._x[: self.N, : self.dim] += box.lo
        self.box = box
        self.touch()

    # ----------------------------------------------------------------- copies
    def copy(self) -> "System":
        s = System(self.positions.copy(), self.box.copy(), self.types.copy(), list(self.type_names),
                   self.type_masses.copy(), self.velocities.copy(), self.images.copy(),
                   comm=self.comm, ids=self.ids.copy())
        s.step, s.time = self.step, self.time
        return s

    def select(self, rows) -> "System":
        """The particles at `rows` (indices or a boolean mask) as a new System on the same
        communicator; ids, step and time are kept."""
        s = System(self.positions[rows], self.box.copy(), self.types[rows], list(self.type_names),
                   self.type_masses.copy(), self.velocities[rows], self.images[rows], comm=self.comm,
                   ids=self.ids[rows])
        s.step, s.time = self.step, self.time
        return s

    def gather(self) -> "System":
        """The whole system in particle-id order, on every rank, as a serial System
        (on one rank: a copy)."""
        if not is_parallel(self.comm):
            s = self.copy()
            s.comm = None
            return s
        parts = self.comm.allgather((self.ids, self.positions.copy(), self.velocities.copy(),
                                     self.images.copy(), self.types.copy()))
        ids = np.concatenate([p[0] for p in parts])
        order = np.argsort(ids)
        cat = [np.concatenate([p[k] for p in parts])[order] for k in range(1, 5)]
        s = System(cat[0], self.box.copy(), cat[3], list(self.type_names), self.type_masses.copy(),
                   cat[1], cat[2], comm=None, ids=ids[order])
        s.step, s.time = self.step, self.time
        return s

    def __repr__(self):
        return (f"System(N={self.N}, dim={self.dim}, box={self.box!r}, "
                f"types={dict(zip(self.type_names, np.bincount(self.types, minlength=self.n_types).tolist()))})")
