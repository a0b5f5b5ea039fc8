"""Structure functions for ML softness (paper 4, App. A; Cubuk et al. 2015, Schoenholz et al. 2016).

Radial, per neighbour species X (columns species-major, then μ):
    G_X(i; μ) = Σ_{j∈X, r_ij < r_max} exp[−(r_ij − μ)² / (2σ²)]
Angular, per unordered pair of neighbour species {X, Y} (then per (ξ, λ, ζ)):
    Ψ_XY(i; ξ, λ, ζ) = Σ_{j<k; r_ij, r_ik < r_max_angular} exp[−(r_ij² + r_ik² + r_jk²)/ξ²] (1 + λ cos θ_jik)^ζ
with j, k one of each species (j of X and k of Y or the reverse). Sums run over every periodic image
within the cutoff: the pair search uses the engine's ghost images and neighbour lists, so boxes
thinner than 2 r_max are exact (each image counts). Loops are in `extensions/softness.pyx`.
Option cutoff="cosine" (Behler's symmetry functions as in DScribe's ACSF): each radial term times
f_c(r_ij) (rc = r_max), each triplet times f_c(r_ij) f_c(r_ik) f_c(r_jk) (rc = r_max_angular), with
f_c(r) = [cos(π r / rc) + 1] / 2 below rc and 0 beyond.
See docs/softness.md for the default grid and which parts are our choice.
"""
from __future__ import annotations

import functools
import math
from time import perf_counter

import numpy as np

from pyglass._ext import softness as _sf
from pyglass.engine.system import System

#: paper 4, App. A: "σ = 0.05 σ_AA, μ = 0.05 σ_AA, 0.10 σ_AA, ..., 5.0 σ_AA, and r_max = 5.0 σ_AA"
PAPER_SIGMA = 0.05
PAPER_MU = tuple(np.round(0.05 * np.arange(1, 101), 10))
PAPER_R_MAX = 5.0


def default_angular():
    """Our choice of the 22 (ξ, λ, ζ) per species pair (66 in a binary mixture; paper 4 App. A
    gives the count, 66, "as in [21]", not the values): ξ ∈ {1.0, 1.25, 1.5} × ζ ∈ {1, 2, 4},
    plus ζ = 16 at ξ ∈ {1.0, 1.25}; each with λ = −1 and +1."""
    xz = [(xi, z) for xi in (1.0, 1.25, 1.5) for z in (1, 2, 4)] + [(1.0, 16), (1.25, 16)]
    return tuple((xi, lam, z) for xi, z in xz for lam in (-1.0, 1.0))


#: triplets with r_ij, r_ik < r_max (paper 4, Eq. A2) unless r_max_angular is given. 3.0 has
#: (5/3)^6 ~ 20x fewer triplets and changes the default columns by at most 6% of their mean
#: (ξ = 1.5, λ = +1), median 6e-4 (3D KA-like, ρ = 1.2): an approximation of the paper's functions,
#: no longer needed for speed (docs/softness.md).
FAST_R_MAX_ANGULAR = 3.0

#: the cutoff factor of each term: "hard" (paper 4: a plain sum inside the cutoff) or "cosine"
#: (Behler's f_c, as DScribe's ACSF)
CUTOFFS = ("hard", "cosine")


def _system_of(system, positions=None):
    """A private serial copy (the neighbour lists built here must not touch the caller's domain)."""
    if not isinstance(system, System):
        raise TypeError(f"expected a pyglass System, got {type(system).__name__}")
    if system.comm is not None and system.comm.Get_size() > 1:
        raise ValueError("structure functions work on a whole system: pass system.gather() "
                         "(every rank gets the same result)")
    x = system.positions if positions is None else np.asarray(positions, float)
    if x.shape != (system.N, system.dim):
        raise ValueError(f"positions must have shape {(system.N, system.dim)}, got {x.shape}")
    return System(x.copy(), system.box.copy(), system.types.copy(), list(system.type_names))


def _full_list(s, r_cut):
    """A full neighbour list of the private copy `s` at r_cut (both kernels read it)."""
    from pyglass.engine.potentials.base import NeighbourList
    nt = s.n_types
    nl = NeighbourList(np.full((nt, nt), float(r_cut)), skin=0.0, half=False)
    nl.update(s)
    return nl


def _radial_sums(s, centres, width, r_max, cosine=False, nl=None):
    """The radial kernel on a private copy `s`: (N, n_types, n_centres); cosine: times f_c(r_ij).
    nl: a full list of `s` with cutoff >= r_max (built here if None)."""
    c = np.ascontiguousarray(centres, dtype=float)
    order = np.argsort(c, kind="stable")        # the kernel windows sorted centres
    c = np.ascontiguousarray(c[order])
    step = float(c[1] - c[0]) if len(c) > 1 else 0.0
    if not (step > 0 and np.array_equal(c, c[0] + step * np.arange(len(c)))):
        step = 0.0                              # not evenly spaced to the bit: bisection
    nt = s.n_types
    if nl is None:
        nl = _full_list(s, r_max)
    types_all = np.ascontiguousarray(s.domain.all_types, dtype=np.int32)
    G = np.zeros((s.N, nt * len(c)))
    w = np.empty(max(len(c), 1))
    _sf.radial_full(s._x, types_all, nl.order, nl.offsets, nl.neighbours, s.N, float(r_max) ** 2, c,
                    0.5 / float(width) ** 2, G, w, float(r_max) if cosine else 0.0, step)
    G *= 2.0 ** -_sf.SHIFT          # the kernel sums e^x 2^SHIFT (no subnormal terms); exact
    G = G.reshape(s.N, nt, len(c))
    if np.any(order != np.arange(len(c))):
        G[:, :, order] = G.copy()
    return G


def _clocked(fn):
    """fn with its wall time added to StructureFunctions.seconds_computing, list builds left out
    (NeighbourList.seconds_building counts them): two clock reads per call, for run profiles
    (pyglass.workflow.run.profile)."""
    from pyglass.engine.potentials.base import NeighbourList

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0, built0 = perf_counter(), NeighbourList.seconds_building
        try:
            return fn(*args, **kwargs)
        finally:
            StructureFunctions.seconds_computing += (perf_counter() - t0
                                                     - (NeighbourList.seconds_building - built0))
    return wrapper


@_clocked
def gaussian_rows(system, centres, width, r_max, positions=None):
    """Σ_{j∈X, r_ij<r_max} exp[−(r_ij − c_k)²/(2 width²)] for every particle i, neighbour species X
    and centre c_k: (N, n_types, n_centres). The radial kernel; also the local g_i(r) of the
    caging-potential softness (pyglass.analysis.softness.caging)."""
    return _radial_sums(_system_of(system, positions), centres, width, r_max)


class StructureFunctions:
    """Radial and angular structure functions of every particle (freud-like: parameters here,
    `compute(system)` returns the (N, M) array; `names`, `n_radial`, `grid()` describe columns).

    sigma, mu, r_max: radial Gaussians (defaults: paper 4, App. A: σ = 0.05, μ = 0.05 ... 5.0,
    r_max = 5.0, 100 per species). angular: sequence of (ξ, λ, ζ) (ζ a non-negative integer),
    default `default_angular()` (our choice, 22 per species pair); () for radial only.
    r_max_angular: cutoff on r_ij and r_ik of the triplets; None (default) = r_max as in paper 4
    Eq. (A2). cutoff: "hard" (default, paper 4's plain sums) or "cosine" (Behler's f_c factors, the
    form of DScribe's ACSF; see the module docstring)."""

    #: wall seconds this process has spent computing structure functions (and gaussian_rows), list
    #: builds excluded; process-wide, read by run profiles
    seconds_computing = 0.0

    def __init__(self, sigma: float = PAPER_SIGMA, mu=PAPER_MU, r_max: float = PAPER_R_MAX,
                 angular=None, r_max_angular: float | None = None, cutoff: str = "hard"):
        self.sigma = float(sigma)
        self.mu = np.ascontiguousarray(mu, dtype=float).ravel()
        self.r_max = float(r_max)
        if not (self.sigma > 0 and self.r_max > 0 and self.mu.size > 0):
            raise ValueError("StructureFunctions needs sigma > 0, r_max > 0 and at least one mu")
        ang = default_angular() if angular is None else tuple(tuple(a) for a in angular)
        for a in ang:
            if len(a) != 3 or not a[0] > 0 or float(a[2]) != int(a[2]) or a[2] < 0:
                raise ValueError(f"angular functions are (xi > 0, lambda, zeta integer >= 0), got {a}")
        self.angular = tuple((float(a[0]), float(a[1]), int(a[2])) for a in ang)
        self.r_max_angular = self.r_max if r_max_angular is None else float(r_max_angular)
        if self.angular and not self.r_max_angular > 0:
            raise ValueError(f"r_max_angular must be > 0, got {r_max_angular}")
        if cutoff not in CUTOFFS:
            raise ValueError(f"cutoff must be one of {CUTOFFS}, got {cutoff!r}")
        self.cutoff = cutoff
        self._kernel = "auto"       # angular kernel: "auto" (fused where it applies) or "general"
        self._type_names = None
        self._features = None

    # ---------------------------------------------------------------- description
    @property
    def n_angular_per_pair(self) -> int:
        return len(self.angular)

    def _need_types(self):
        if self._type_names is None:
            raise RuntimeError("column names depend on the species: call compute(system) first")
        return self._type_names

    @property
    def species_pairs(self):
        """Unordered neighbour-species pairs (a ≤ b) in column order."""
        nt = len(self._need_types())
        return [(a, b) for a in range(nt) for b in range(a, nt)]

    @property
    def n_radial(self) -> int:
        return len(self._need_types()) * self.mu.size

    @property
    def n_features(self) -> int:
        return self.n_radial + len(self.species_pairs) * len(self.angular)

    @property
    def names(self) -> np.ndarray:
        tn = self._need_types()
        rad = [f"G_{x}(mu={m:.4g})" for x in tn for m in self.mu]
        ang = [f"Psi_{tn[a]}{tn[b]}(xi={xi:g},lambda={lam:+g},zeta={z:d})"
               for a, b in self.species_pairs for xi, lam, z in self.angular]
        return np.array(rad + ang)

    @property
    def features(self) -> np.ndarray:
        if self._features is None:
            raise RuntimeError("no structure functions yet: call compute(system)")
        return self._features

    def grid(self) -> dict:
        """JSON-ready description of the columns (stored with a trained model)."""
        cos = self.cutoff == "cosine"
        return {"sigma": self.sigma, "mu": self.mu.tolist(), "r_max": self.r_max,
                "angular": [list(a) for a in self.angular], "r_max_angular": self.r_max_angular,
                "cutoff": self.cutoff,
                "type_names": None if self._type_names is None else list(self._type_names),
                "radial": "sum_{j in X, r_ij < r_max} exp(-(r_ij - mu)^2 / (2 sigma^2))"
                          + (" f_c(r_ij; r_max)" if cos else ""),
                "angular_form": "sum_{j<k; r_ij, r_ik < r_max_angular} exp(-(r_ij^2 + r_ik^2 + r_jk^2)"
                                " / xi^2) (1 + lambda cos theta_jik)^zeta"
                                + (" f_c(r_ij) f_c(r_ik) f_c(r_jk)" if cos else ""),
                **({"f_c": "(cos(pi r / rc) + 1) / 2 for r < rc, else 0"} if cos else {})}

    @classmethod
    def from_grid(cls, grid: dict) -> "StructureFunctions":
        """The structure functions a `grid()` describes (a model file's grid: checked by check_grid)."""
        check_grid(grid)
        sf = cls(grid["sigma"], grid["mu"], grid["r_max"], grid["angular"], grid["r_max_angular"],
                 grid.get("cutoff", "hard"))
        if grid.get("type_names") is not None:
            sf._type_names = list(grid["type_names"])
        return sf

    def n_columns_for(self, n_types: int) -> int:
        """Feature columns for `n_types` species (radial per species, angular per species pair)."""
        return n_types * self.mu.size + n_types * (n_types + 1) // 2 * len(self.angular)

    def memory_estimate(self, n: int, dim: int, density: float, n_types: int) -> float:
        """Bytes `compute` takes on N particles at this number density: the (N, M) features, the rows
        (particles and the periodic images within the cutoff) and the neighbour lists (a half list at
        r_max, a full one at r_max_angular)."""
        n, dim, density = max(int(n), 1), int(dim), float(density)
        side = (n / density) ** (1.0 / dim)
        ball = (math.pi * 4.0 / 3.0) if dim == 3 else math.pi
        r_rows = max(self.r_max, self.r_max_angular if self.angular else 0.0)
        rows = density * (side + 2 * r_rows) ** dim
        pairs = n * density * ball * self.r_max ** dim / 2
        if self.angular:
            pairs += n * density * ball * self.r_max_angular ** dim
        return 8.0 * n * self.n_columns_for(n_types) + 64.0 * rows + 8.0 * pairs


    # ---------------------------------------------------------------- computation
    @_clocked
    def compute(self, system, positions=None) -> np.ndarray:
        """(N, M) structure functions of `system` (or of `positions` in its box, e.g. an inherent
        structure). Columns: radial (species-major, then μ), then angular (species pair, then
        (ξ, λ, ζ))."""
        s = _system_of(system, positions)
        self._type_names = list(system.type_names)
        nl = _full_list(s, max(self.r_max, self.r_max_angular if self.angular else 0.0))
        self._features = np.hstack([self._radial(s, nl), self._angular(s, nl)])
        return self._features

    @_clocked
    def compute_radial(self, system, positions=None) -> np.ndarray:
        """The radial block only: (N, n_radial)."""
        self._type_names = list(system.type_names)
        return self._radial(_system_of(system, positions))

    @_clocked
    def compute_angular(self, system, positions=None) -> np.ndarray:
        """The angular block only: (N, n_pairs * len(angular))."""
        self._type_names = list(system.type_names)
        return self._angular(_system_of(system, positions))

    def _radial(self, s, nl=None):
        return _radial_sums(s, self.mu, self.sigma, self.r_max, self.cutoff == "cosine", nl).reshape(s.N, -1)

    def _angular(self, s, nl=None):
        pairs = self.species_pairs
        if not self.angular:
            return np.zeros((s.N, 0))
        nt = s.n_types
        nlist = _full_list(s, self.r_max_angular) if nl is None else nl
        xis = sorted({a[0] for a in self.angular})
        lzs = sorted({(a[1], a[2]) for a in self.angular})
        n_lanes = -(-len(lzs) // _sf.LANES) * _sf.LANES    # padding lanes (0, 0): (1 + 0)^0 = 1
        lam = np.zeros(n_lanes)
        zeta = np.zeros(n_lanes, np.int32)
        lam[:len(lzs)] = [l for l, _ in lzs]
        zeta[:len(lzs)] = [z for _, z in lzs]
        pidx = np.zeros((nt, nt), np.int32)
        for k, (a, b) in enumerate(pairs):
            pidx[a, b] = pidx[b, a] = k
        acc = np.zeros((s.N, len(pairs) * len(xis) * n_lanes))
        args = (s._x, np.ascontiguousarray(s.domain.all_types, dtype=np.int32), nlist.order,
                nlist.offsets, nlist.neighbours, s.N, nt, self.r_max_angular ** 2)
        gam = 1.0 / np.asarray(xis) ** 2
        recipe = self._fused_recipe(xis, lzs, n_lanes) if self._kernel == "auto" else None
        if recipe is not None:
            kind, nsq, used = recipe
            _sf.angular_fused(*args, gam, lam, kind, nsq, used, pidx, acc)
        else:
            _sf.angular_lanes(*args, gam, lam, zeta, pidx, acc,
                              self.r_max_angular if self.cutoff == "cosine" else 0.0)
        acc = acc.reshape(s.N, len(pairs), len(xis), n_lanes)
        fn_xi = [xis.index(a[0]) for a in self.angular]
        fn_lz = [lzs.index((a[1], a[2])) for a in self.angular]
        psi = np.ascontiguousarray(acc[:, :, fn_xi, fn_lz]).reshape(s.N, -1)
        psi *= 2.0 ** -_sf.SHIFT
        return psi

    def _fused_recipe(self, xis, lzs, n_lanes):
        """The fused kernel's slot recipes (kind, nsq, used) for this grid, or None where only the
        general kernel applies: the cosine cutoff, no AVX-512 build, more distinct ξ than it holds,
        a ζ that is not 0 or a power of two, or exponentials that could underflow (s ≤ 6 r_max_angular²)."""
        if (self.cutoff != "hard" or not _sf.HAVE_FUSED or len(xis) > _sf.FUSED_MAXXI
                or min(xis) ** -2 * 6 * self.r_max_angular ** 2 > _sf.FUSED_MAX_ARG):
            return None
        kind = np.zeros(n_lanes, np.int32)          # padding slots: p = 1
        nsq = np.zeros(n_lanes, np.int32)
        prev = None                                 # (λ, ζ) of the last slot with ζ > 0 in this tile
        for q, (lam, z) in enumerate(lzs):
            if q % _sf.LANES == 0:
                prev = None
            if z == 0:
                continue
            if z & (z - 1):
                return None                         # not a power of two: general kernel
            if prev is not None and prev[0] == lam and z % prev[1] == 0:
                kind[q], nsq[q] = 2, (z // prev[1]).bit_length() - 1
            else:
                kind[q], nsq[q] = 1, z.bit_length() - 1
            prev = (lam, z)
        wanted = {(a[0], (a[1], a[2])) for a in self.angular}
        used = np.zeros((len(xis), n_lanes // _sf.LANES), np.uint32)
        for u, xi in enumerate(xis):
            for q, lz in enumerate(lzs):
                if (xi, lz) in wanted:
                    used[u, q // _sf.LANES] |= 1 << (q % _sf.LANES)
        return kind, nsq, used.ravel()

    def __repr__(self):
        return (f"StructureFunctions(sigma={self.sigma}, {self.mu.size} mu in [{self.mu.min():g}, "
                f"{self.mu.max():g}], r_max={self.r_max}, {len(self.angular)} angular per species pair, "
                f"r_max_angular={self.r_max_angular}, cutoff={self.cutoff!r})")


def check_grid(grid):
    """ValueError naming the first entry of a stored grid (a model file's) that is missing or out of
    range: sigma, mu (1..MAX_CENTRES finite centres), r_max, angular [(xi, lambda, zeta)], r_max_angular,
    type_names. Bounds keep every kernel finite (1/sigma^2, 1/xi^2) and its loops short (zeta)."""
    if not isinstance(grid, dict):
        raise ValueError(f"grid must be a table, got {type(grid).__name__}")

    def number(key, lo, hi, value=None):
        v = grid.get(key) if value is None else value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ValueError(f"grid {key} must be a number in [{lo:g}, {hi:g}], got {v!r}"[:200])
        return float(v)

    for key in ("sigma", "mu", "r_max", "angular", "r_max_angular"):
        if key not in grid:
            raise ValueError(f"grid has no {key!r}")
    number("sigma", MIN_WIDTH, MAX_RANGE)
    r_max = number("r_max", MIN_WIDTH, MAX_RANGE)
    mu = grid["mu"]
    if not isinstance(mu, list) or not 1 <= len(mu) <= MAX_CENTRES:
        raise ValueError(f"grid mu must be a list of 1..{MAX_CENTRES} centres")
    for m in mu:
        number("mu", -r_max, 2 * r_max, m)
    if grid["r_max_angular"] is not None:
        number("r_max_angular", MIN_WIDTH, MAX_RANGE)
    ang = grid["angular"]
    if not isinstance(ang, list) or len(ang) > MAX_CENTRES:
        raise ValueError(f"grid angular must be a list of at most {MAX_CENTRES} [xi, lambda, zeta]")
    for a in ang:
        if not isinstance(a, list) or len(a) != 3:
            raise ValueError(f"grid angular entries are [xi, lambda, zeta], got {a!r}"[:200])
        number("angular xi", MIN_WIDTH, MAX_RANGE, a[0])
        number("angular lambda", -1, 1, a[1])
        if number("angular zeta", 0, MAX_ZETA, a[2]) != int(a[2]):
            raise ValueError(f"grid angular zeta must be an integer, got {a[2]!r}")
    if grid.get("cutoff", "hard") not in ("hard", "cosine"):
        raise ValueError(f"grid cutoff must be 'hard' or 'cosine', got {grid.get('cutoff')!r}"[:200])
    names = grid.get("type_names")
    if names is not None and not (isinstance(names, list) and 0 < len(names) <= 1 << 16
                                  and all(isinstance(t, str) for t in names)):
        raise ValueError("grid type_names must be a list of species names")


MIN_WIDTH = 1e-6      # sigma, xi, cutoffs: 1/width^2 stays finite
MAX_RANGE = 1e6
MAX_CENTRES = 100_000
MAX_ZETA = 256        # (1 + lambda cos theta)^zeta is a loop of zeta multiplications
