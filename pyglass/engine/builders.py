"""Initial configurations: lattices and random packings at a given density and composition."""
from __future__ import annotations

import numpy as np

from pyglass.engine.system import Box, System

JITTER_MAX = 0.25   # lattice spacings; neighbours could touch at 1 / (2 sqrt(3)) = 0.289


def _composition_types(n, composition, rng):
    fractions = np.asarray(composition, float)
    if np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"composition must be non-negative fractions summing to 1, got {fractions.tolist()}")
    counts = np.floor(fractions * n).astype(int)
    counts[0] += n - counts.sum()
    types = np.repeat(np.arange(len(fractions)), counts).astype(np.int32)
    return rng.permutation(types)


def lattice(n: int, density: float, dim: int = 3, composition=(1.0,), seed: int = 0,
            jitter: float = 0.0, type_names=None, masses=None) -> System:
    """n particles on a simple cubic/square lattice filling a cubic box at `density`, species
    assigned at random in the given fractions. `jitter`: the rms displacement per component, in
    lattice spacings, drawn uniformly from [-sqrt(3) jitter, sqrt(3) jitter] so that the closest
    approach, at least a (1 - 2 sqrt(3) jitter), does not shrink with n (a Gaussian's tail put
    particles of N = 10^5 so close that the first MD steps blew up)."""
    if n < 1 or density <= 0 or dim not in (2, 3):
        raise ValueError(f"lattice needs n >= 1, density > 0 and dim 2 or 3 (got {n}, {density}, {dim})")
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1.0 / dim)
    m = int(np.ceil(n ** (1.0 / dim) - 1e-9))
    grid = np.stack(np.meshgrid(*[np.arange(m)] * dim, indexing="ij"), -1).reshape(-1, dim)[:n]
    a = side / m
    x = (grid + 0.5) * a
    if not 0 <= jitter <= JITTER_MAX:
        raise ValueError(f"lattice: jitter must be in [0, {JITTER_MAX}] lattice spacings, got {jitter}")
    if jitter:
        x += rng.uniform(-1.0, 1.0, size=x.shape) * (np.sqrt(3.0) * jitter * a)
    return System(x % side, Box([side] * dim), _composition_types(n, composition, rng), type_names, masses)


def random_packing(n: int, density: float, dim: int = 3, composition=(1.0,), seed: int = 0,
                   min_distance: float = 0.8, type_names=None, masses=None, max_tries: int = 2000) -> System:
    """Random sequential placement with no two particles closer than min_distance (a fast start
    for soft potentials; quench or push off with FIRE before MD). Raises if the density is too
    high for min_distance."""
    if n < 1 or density <= 0 or dim not in (2, 3):
        raise ValueError(f"random_packing needs n >= 1, density > 0 and dim 2 or 3 (got {n}, {density}, {dim})")
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1.0 / dim)
    ncell = max(1, int(side / min_distance))
    cell = side / ncell
    grid: dict = {}
    x = np.empty((n, dim))
    offsets = np.stack(np.meshgrid(*[np.arange(-1, 2)] * dim, indexing="ij"), -1).reshape(-1, dim)
    d2 = min_distance ** 2
    for i in range(n):
        for _ in range(max_tries):
            p = rng.random(dim) * side
            c = (p // cell).astype(int) % ncell
            ok = True
            for off in offsets:
                for j in grid.get(tuple((c + off) % ncell), ()):
                    dr = x[j] - p
                    dr -= side * np.round(dr / side)
                    if dr @ dr < d2:
                        ok = False
                        break
                if not ok:
                    break
            if ok:
                x[i] = p
                grid.setdefault(tuple(c), []).append(i)
                break
        else:
            raise ValueError(f"random_packing: could not place particle {i} of {n} at density {density} "
                             f"with min_distance {min_distance}; lower min_distance or start from a lattice")
    return System(x, Box([side] * dim), _composition_types(n, composition, rng), type_names, masses)
