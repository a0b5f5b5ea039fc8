"""Pair potentials on type-pair parameter tables, and the model catalogue built on them.

Every law is a function of u = r^2 evaluated in Cython (extensions/pairmodels.pxd), so the same
definition feeds the force loop and the landscape code's derivatives phi', phi'', phi'''.
Smoothing polynomials (shift, or phi, phi', phi'' -> 0 at the cutoff) are solved for in one place,
`smoothing_polynomial`, from the stated continuity conditions; no coefficient is typed in.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from pyglass._ext import pair as _pair
from pyglass.engine.potentials.base import NeighbourList, Potential, finish_result
from pyglass.registry import POTENTIALS

NPARAM = _pair.PARAMS_PER_PAIR
_EMPTY_F64, _EMPTY_I32 = np.zeros(0), np.zeros(0, np.int32)
MODELS = _pair.MODELS
SMOOTHING = ("none", "shift", "force-shift", "smooth", "linear-force-shift")
_SMOOTHING_ORDER = {"none": -1, "shift": 0, "force-shift": 1, "smooth": 2}


def _pair_table(n_types, values, name):
    """Symmetric (n, n) table from a scalar, a full matrix, or a dict {'AB': value}."""
    a = np.asarray(values, dtype=float)
    if a.ndim == 0:
        return np.full((n_types, n_types), float(a))
    if a.shape != (n_types, n_types):
        raise ValueError(f"{name} must be a scalar or a {n_types}x{n_types} table, got shape {a.shape}")
    if not np.allclose(a, a.T):
        raise ValueError(f"{name} table must be symmetric, got {a.tolist()}")
    return a.copy()


def smoothing_polynomial(core, u_c: float, order: int, degree: int | None = None) -> np.ndarray:
    """Coefficients c_k of sum_k c_k u^k (k = 0..order) such that core(u) + poly and its first
    `order` u-derivatives vanish at u_c (equivalently the first `order` r-derivatives at r_c).

    core(u, k) must return the k-th u-derivative of the unsmoothed law."""
    if order < 0:
        return np.zeros(0)
    n = order + 1 if degree is None else degree + 1
    a = np.zeros((order + 1, n))
    b = np.zeros(order + 1)
    for k in range(order + 1):
        for j in range(k, n):
            a[k, j] = math.perm(j, k) * u_c ** (j - k)
        b[k] = -core(u_c, k)
    return np.linalg.solve(a, b)


def _inverse_power_u(a, sigma2, m):
    """a (sigma^2/u)^m and its u-derivatives, as core(u, k) for smoothing_polynomial."""
    def core(u, k):
        coef = a * (sigma2 / u) ** m
        for i in range(k):
            coef *= -(m + i) / u
        return coef
    return core


class PairPotential(Potential):
    """Generic pair potential on a parameter table (see extensions/pairmodels.pxd for layouts)."""

    def __init__(self, model: str, params: np.ndarray, cutoffs: np.ndarray, type_names=None,
                 skin: float = 0.3, name: str = "pair", description: dict | None = None):
        if model not in MODELS:
            raise ValueError(f"unknown pair model {model!r}; known: {sorted(MODELS)}")
        params = np.ascontiguousarray(params, dtype=float)
        n = params.shape[0]
        if params.shape != (n, n, NPARAM):
            raise ValueError(f"parameter table must have shape (n, n, {NPARAM}), got {params.shape}")
        self.model = model
        self._model_code = MODELS[model]
        self.params = params
        self.cutoffs = np.asarray(cutoffs, float)
        self.params[..., 0] = self.cutoffs ** 2
        self.type_names = list(type_names) if type_names is not None else [chr(65 + k) for k in range(n)]
        self.n_types = n
        self.name = name
        self.skin = float(skin)
        self._description = dict(description or {})
        self.neighbour_list = NeighbourList(self.cutoffs, self.skin, half=True, pad=True)
        self._scratch = np.empty((2, 0, 4))
        self._checked_box = self._checked_serial = None

    @property
    def cutoff(self) -> float:
        return float(self.cutoffs.max())

    def replica(self) -> "PairPotential":
        """The same law (parameter table shared, not copied) with its own neighbour list and kernel
        scratch: one per replica of a replica batch (engine.integrators.replicas), whose systems
        move apart and rebuild at different steps."""
        twin = copy.copy(self)
        twin.neighbour_list = NeighbourList(self.cutoffs, self.skin, half=True, pad=True)
        twin._scratch = np.empty((2, 0, 4))
        twin._checked_box = twin._checked_serial = None
        return twin

    def ensure_scratch(self, rows: int) -> np.ndarray:
        """The force kernel's sorted-row scratch (2, >= rows + 1, 4), grown when a rebuild needs more
        rows (kept between steps: no allocation per step)."""
        if self._scratch.shape[1] < rows + 1:
            self._scratch = np.empty((2, rows + 1 + rows // 4, 4))
        return self._scratch

    def describe(self) -> dict:
        d = {"name": self.name, "model": self.model, "type_names": self.type_names,
             "cutoffs": self.cutoffs.tolist(), "skin": self.skin}
        d.update(self._description)
        return d

    def _check_types(self, system):
        if system.n_types > self.n_types:
            raise ValueError(f"{self.name}: the system has species {system.type_names} but the potential "
                             f"has parameters for {self.type_names} only")

    def compute(self, system, per_particle: bool = False) -> ForceResult:
        if system.box is not self._checked_box or system.serial != self._checked_serial:
            self.check_system(system)      # once per system and box (NPT makes a new box per step)
            self._checked_box, self._checked_serial = system.box, system.serial
        if system.n_types > self.n_types:
            self._check_types(system)
        nl = self.neighbour_list
        nl.update(system)
        m = system.N + system.n_ghost
        scratch = self.ensure_scratch(m)        # the kernel's sorted rows (coordinates, forces)
        f_all = np.empty((m, 3))
        vir = np.empty(9)                       # written whole by the kernel
        pe = np.zeros(m) if per_particle else _EMPTY_F64
        fold = system.domain.folds_locally      # one rank: the kernel folds ghost forces itself
        energy = _pair.compute_pair_forces(system._x, nl.sorted_types, system.N, nl.order, nl.active,
                                           nl.segments, nl.neighbours, self.params.reshape(-1), self.n_types,
                                           self._model_code, f_all, vir, pe, scratch[0], scratch[1],
                                           system.ghost_source if fold else _EMPTY_I32, nl.row_position)
        return finish_result(self, system, energy, f_all, vir, pe, per_particle, folded=fold)

    def pair_derivatives(self, type_a, type_b, r, order: int = 2) -> np.ndarray:
        """phi, phi', ... up to `order` (<= 3) of pairs (type_a, type_b) at distances r: (order+1, n)."""
        r = np.ascontiguousarray(np.atleast_1d(r), dtype=float)
        ta = np.ascontiguousarray(np.broadcast_to(type_a, r.shape), dtype=np.int32)
        tb = np.ascontiguousarray(np.broadcast_to(type_b, r.shape), dtype=np.int32)
        if not 0 <= order <= 3:
            raise ValueError("order must be 0..3")
        return _pair.pair_derivatives(self._model_code, self.params, ta, tb, r, order)

    def pair_energy(self, type_a, type_b, r):
        return self.pair_derivatives(type_a, type_b, r, order=0)[0]

    @property
    def cutoff_continuity(self) -> int:
        """Highest derivative order k such that phi, ..., phi^(k) all vanish at every cutoff (-1: phi
        itself jumps), measured on the law just inside r_c. Inherent-structure work (Hessians, IS
        trajectories counting jumps dU > 1e-5, paper 2) needs k >= 2: with k < 1 the force jump at
        r_c splits basins into near-degenerate minima."""
        if not hasattr(self, "_continuity"):
            k = -1
            for order in range(4):
                ok = True
                for a in range(self.n_types):
                    for b in range(self.n_types):
                        rc = self.cutoffs[a, b]
                        d = self.pair_derivatives(a, b, np.array([rc * (1 - 1e-13)]), order=order)[order, 0]
                        scale = abs(self.pair_derivatives(a, b, np.array([0.9 * rc]), order=order)[order, 0]) + 1e-300
                        ok &= abs(d) <= 1e-6 * scale
                if not ok:
                    break
                k = order
            self._continuity = k
        return self._continuity


# ======================================================================== model catalogue

@POTENTIALS.register("lennard-jones")
def LennardJones(epsilon, sigma, cutoff=2.5, smoothing: str = "shift", type_names=("A", "B"),
                 relative_cutoff: bool = True, skin: float = 0.3, name="lj") -> PairPotential:
    """phi = 4 eps [(sigma/r)^12 - (sigma/r)^6] + smoothing polynomial, cut at `cutoff` (in units of
    sigma_ab if relative_cutoff). smoothing: 'none', 'shift' (LAMMPS pair_modify shift yes),
    'force-shift' (phi, phi' -> 0 via c0 + c2 r^2), 'smooth' (phi, phi', phi'' -> 0 via
    c0 + c2 r^2 + c4 r^4) or 'linear-force-shift' (phi - phi(r_c) - phi'(r_c)(r - r_c): LAMMPS
    lj/smooth/linear, HOOMD force_shifted_lj, RUMD's shifted force)."""
    n = len(type_names)
    eps = _pair_table(n, epsilon, "epsilon")
    sig = _pair_table(n, sigma, "sigma")
    if smoothing not in SMOOTHING:
        raise ValueError(f"smoothing must be one of {SMOOTHING}, got {smoothing!r}")
    rc = _pair_table(n, cutoff, "cutoff") * (sig if relative_cutoff else 1.0)
    params = np.zeros((n, n, NPARAM))
    if smoothing == "linear-force-shift":
        for a in range(n):
            for b in range(n):
                e4, s2, r_c = 4 * eps[a, b], sig[a, b] ** 2, rc[a, b]
                phi_c = e4 * ((s2 / r_c ** 2) ** 6 - (s2 / r_c ** 2) ** 3)
                dphi_c = e4 * (-12 * (s2 / r_c ** 2) ** 6 + 6 * (s2 / r_c ** 2) ** 3) / r_c
                params[a, b, 1:5] = e4, s2, -phi_c + dphi_c * r_c, -dphi_c
        return PairPotential("lj_sf", params, rc, type_names, skin, name,
                             {"epsilon": eps.tolist(), "sigma": sig.tolist(), "smoothing": smoothing})
    for a in range(n):
        for b in range(n):
            e4, s2 = 4 * eps[a, b], sig[a, b] ** 2
            core12, core6 = _inverse_power_u(e4, s2, 6), _inverse_power_u(-e4, s2, 3)
            c = smoothing_polynomial(lambda u, k: core12(u, k) + core6(u, k), rc[a, b] ** 2,
                                     _SMOOTHING_ORDER[smoothing])
            params[a, b, 1:3] = e4, s2
            params[a, b, 3:3 + len(c)] = c
    return PairPotential("lj", params, rc, type_names, skin, name,
                         {"epsilon": eps.tolist(), "sigma": sig.tolist(), "smoothing": smoothing})


@POTENTIALS.register("kob-andersen")
def KobAndersen(cutoff: float = 2.5, smoothing: str = "shift", skin: float = 0.3) -> PairPotential:
    """Kob-Andersen 80:20 LJ mixture (docs/science.md §1): eps_AA=1, eps_AB=1.5, eps_BB=0.5,
    sigma_AA=1, sigma_AB=0.8, sigma_BB=0.88, cut at 2.5 sigma_ab and shifted (as LAMMPS
    `pair_modify shift yes`). smoothing='smooth' gives the C2-continuous variant for Hessian work."""
    return LennardJones([[1.0, 1.5], [1.5, 0.5]], [[1.0, 0.8], [0.8, 0.88]], cutoff, smoothing,
                        ("A", "B"), True, skin, name="kob-andersen")


@POTENTIALS.register("mblj")
def MBLJ(epsilon, sigma, cutoff, smoothing: str = "shift", type_names=("A", "B"),
         skin: float = 0.3) -> PairPotential:
    """Modified binary LJ (paper 2; Schroder & Dyre 2020): the KA form with weakened AA/BB
    interactions. Its epsilon/sigma tables and cutoff are not stated in paper 2 [unverified], so
    they are required arguments (deck keys), never defaults."""
    return LennardJones(epsilon, sigma, cutoff, smoothing, type_names, True, skin, name="mblj")


@POTENTIALS.register("inverse-power")
def InversePower(n: int, epsilon=1.0, sigma=1.0, cutoff=2.5, smoothing="shift", type_names=("A", "B"),
                 relative_cutoff: bool = True, skin: float = 0.3, name="ipl") -> PairPotential:
    """phi = eps (sigma/r)^n (n even) + smoothing polynomial in r^2 (up to r^6)."""
    if n <= 0 or n % 2:
        raise ValueError(f"inverse-power exponent n must be a positive even integer, got {n}")
    q = smoothing if isinstance(smoothing, int) else _SMOOTHING_ORDER.get(smoothing)
    if q is None or q > 3:
        raise ValueError(f"smoothing must be one of {SMOOTHING} or an int 0..3, got {smoothing!r}")
    nt = len(type_names)
    eps = _pair_table(nt, epsilon, "epsilon")
    sig = _pair_table(nt, sigma, "sigma")
    rc = _pair_table(nt, cutoff, "cutoff") * (sig if relative_cutoff else 1.0)
    params = np.zeros((nt, nt, NPARAM))
    for a in range(nt):
        for b in range(nt):
            c = smoothing_polynomial(_inverse_power_u(eps[a, b], sig[a, b] ** 2, n // 2), rc[a, b] ** 2, q)
            params[a, b, 1:4] = eps[a, b], sig[a, b] ** 2, n // 2
            params[a, b, 4:4 + len(c)] = c
    return PairPotential("ipl", params, rc, type_names, skin, name,
                         {"n": n, "epsilon": eps.tolist(), "sigma": sig.tolist(), "smoothing": smoothing})


@POTENTIALS.register("soft-disks-2d")
def SoftDisks2D(cutoff: float = 4.5, smoothing: str = "shift", skin: float = 0.3) -> PairPotential:
    """2D soft disks of papers 1 and 3: u_ab = (sigma_ab/r)^12, sigma = 1, 1.2, 1.4 (50:50).
    The cutoff (in sigma_11, absolute) follows Perera & Harrowell [unverified]; 'smooth' for Hessians."""
    pot = InversePower(12, 1.0, [[1.0, 1.2], [1.2, 1.4]], cutoff, smoothing, ("A", "B"),
                       relative_cutoff=False, skin=skin, name="soft-disks-2d")
    pot.dim = 2
    return pot


@POTENTIALS.register("soft-spheres-3d")
def SoftSpheres3D(cutoff: float = math.sqrt(3.0), skin: float = 0.3) -> PairPotential:
    """3D soft spheres (paper 1 SI): (sigma_ab/r)^12, sigma = 1, 1.1, 1.2, cut at sqrt(3) sigma_ab with
    A + B r^2 added so u(r_c) = u'(r_c) = 0 [unverified smoothing]."""
    pot = InversePower(12, 1.0, [[1.0, 1.1], [1.1, 1.2]], cutoff, "force-shift", ("A", "B"),
                       relative_cutoff=True, skin=skin, name="soft-spheres-3d")
    pot.dim = 3
    return pot


@POTENTIALS.register("ipl10")
def IPL10(n: int = 10, q: int = 3, x_c: float = 1.48, lambdas=((1.0, 1.18), (1.18, 1.4)),
          epsilon: float = 1.0, skin: float = 0.3) -> PairPotential:
    """Lerner's IPL model (paper 2): eps[(lambda/r)^n + sum_{l=0..q} c_2l (r/lambda)^2l] for
    r/lambda <= x_c; c_2l make phi and its first q derivatives vanish at x_c. 2D or 3D."""
    return InversePower(n, epsilon, lambdas, x_c, q, ("A", "B"), True, skin, name="ipl10")


@POTENTIALS.register("sticky-spheres")
def StickySpheres(lambdas=((1.0, 1.18), (1.18, 1.4)), epsilon: float = 1.0, x_c: float = 1.2 * 2 ** (1 / 6),
                  continuity: int = 2, form: str = "polynomial", skin: float = 0.3) -> PairPotential:
    """Sticky spheres, CSS variant (paper 2): LJ 4 eps[(lambda/r)^12 - (lambda/r)^6] for
    x = r/lambda <= 2^(1/6); beyond, with form = 'polynomial', an even polynomial in x (degree
    4 continuity + 2) that matches the LJ core's value and first `continuity` derivatives at 2^(1/6)
    and vanishes with as many derivatives at x_c; with form = 'lj-tail' (continuity 2 only), eps[a x^-12
    - b x^-6 + c0 + c2 x^2 + c4 x^4 + c6 x^6] under the same six conditions: the form of the paper's
    own code (KGonzalezLopez/hoomd-blue, EvaluatorPairStickySpheres.h, by paper 2's first author).
    Coefficients are solved here from the conditions, never typed in."""
    if form not in ("polynomial", "lj-tail"):
        raise ValueError(f"sticky-spheres form must be 'polynomial' or 'lj-tail', got {form!r}")
    if form == "lj-tail" and continuity != 2:
        raise ValueError("sticky-spheres form = 'lj-tail' has six coefficients: continuity must be 2")
    nt = 2
    lam = _pair_table(nt, lambdas, "lambdas")
    if x_c <= 2 ** (1 / 6):
        raise ValueError(f"sticky-sphere cutoff x_c must exceed 2^(1/6), got {x_c}")
    if continuity not in (1, 2):
        raise ValueError("continuity must be 1 or 2")
    params = np.zeros((nt, nt, NPARAM))
    for a in range(nt):
        for b in range(nt):
            l2, e4 = lam[a, b] ** 2, 4 * epsilon
            us, uc = 2 ** (1 / 3) * l2, x_c ** 2 * l2
            c12, c6 = _inverse_power_u(e4, l2, 6), _inverse_power_u(-e4, l2, 3)
            if form == "lj-tail":   # basis s^6, s^3, 1, u, u^2, u^3 (s = lambda^2/u)
                basis = [_inverse_power_u(1.0, l2, 6), _inverse_power_u(1.0, l2, 3)] + \
                    [(lambda j: lambda u, k: math.perm(j, k) * u ** (j - k) if j >= k else 0.0)(j) for j in range(4)]
                rows, rhs = [], []
                for k in range(3):
                    rows += [[f(us, k) for f in basis], [f(uc, k) for f in basis]]
                    rhs += [c12(us, k) + c6(us, k), 0.0]
                c = np.linalg.solve(np.array(rows, float), np.array(rhs))
                params[a, b, 1:5] = e4, l2, us, 0.0
                params[a, b, 5:9] = c[2:]
                params[a, b, 11:13] = c[:2]
                continue
            deg = 2 * continuity + 1
            rows, rhs = [], []
            for k in range(continuity + 1):
                rows.append([math.perm(j, k) * us ** (j - k) if j >= k else 0 for j in range(deg + 1)])
                rhs.append(c12(us, k) + c6(us, k))
                rows.append([math.perm(j, k) * uc ** (j - k) if j >= k else 0 for j in range(deg + 1)])
                rhs.append(0.0)
            c = np.linalg.solve(np.array(rows, float), np.array(rhs))
            params[a, b, 1:5] = e4, l2, us, 0.0
            params[a, b, 5:5 + len(c)] = c
    return PairPotential("lj_poly", params, x_c * lam, ("A", "B"), skin, "sticky-spheres",
                         {"lambdas": lam.tolist(), "epsilon": epsilon, "x_c": x_c, "continuity": continuity,
                          "form": form})
