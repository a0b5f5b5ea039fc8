"""Potential base class, the neighbour list it owns, and the result of one evaluation."""
from __future__ import annotations

import math
from time import perf_counter
from dataclasses import dataclass, field

import numpy as np

from pyglass._ext import neighbours as _nb
from pyglass.engine.comm import allsum, is_parallel
from pyglass.engine.domain import domain_of


@dataclass
class ForceResult:
    """One evaluation. forces (N, d) in particle order; virial W = sum_pairs r_ij (x) f_ij (d, d),
    so the pressure tensor is (sum m v v + W) / V; per_particle_energy (N,) if requested."""
    energy: float
    forces: np.ndarray
    virial: np.ndarray
    per_particle_energy: np.ndarray | None = None

    def pressure(self, system) -> float:
        """Instantaneous pressure from this result and the system's velocities."""
        return float(np.trace(system.kinetic_tensor() + self.virial)) / (system.dim * system.box.volume)

    def stress(self, system) -> np.ndarray:
        """Pressure tensor (d, d), positive in compression; the shear stress is -stress[0, 1]."""
        return (system.kinetic_tensor() + self.virial) / system.box.volume


class NeighbourList:
    """Verlet list (half or full) on the system's local + ghost particles, with a skin.

    Rebuilt whenever the domain re-identifies ghosts (a particle moved more than skin/2, or the
    positions/box changed from outside)."""

    #: wall seconds this process has spent in list builds, with the ghost rebuild that triggered
    #: each (process-wide, read by run profiles: pyglass.workflow.run.profile); one clock read per
    #: update and one per build, nothing per particle
    seconds_building = 0.0

    def __init__(self, cutoffs: np.ndarray, skin: float, half: bool = True, pad: bool = False):
        cutoffs = np.asarray(cutoffs, float)
        if skin < 0:
            raise ValueError(f"neighbour skin must be >= 0, got {skin}")
        self.cutoffs = cutoffs
        self.skin = float(skin)
        self.half = half
        self.pad = pad      # type groups padded to multiples of 4 (the pair force kernel's layout)
        self.list_cut2 = np.ascontiguousarray((cutoffs + skin) ** 2)
        self.max_cutoff = float(cutoffs.max())
        self.offsets = np.zeros(1, np.int32)   # CSR offsets over cell-sorted rows (M + 1)
        self.order = np.zeros(0, np.int32)     # rows of the local + ghost buffer in cell order
        self.neighbours = np.zeros(0, np.int32)
        self.segments = np.zeros(1, np.int32)  # start of each type's group per sorted row (M * ntypes + 1)
        self.types_all = np.zeros(0, np.int32)
        self.sorted_types = np.zeros(1, np.int32)
        self.active = np.zeros(0, np.int32)
        self.row_position = np.zeros(0, np.int32)
        self._build_id = None
        self._system_id = None
        self.n_builds = 0

    def update(self, system):
        t0 = perf_counter()
        domain = domain_of(system)
        domain.require(self.max_cutoff, self.skin)
        domain.update()
        if self._build_id != domain.build_id or self._system_id != system.serial:
            self.build(system)
            self._build_id = domain.build_id
            self._system_id = system.serial
            NeighbourList.seconds_building += perf_counter() - t0

    def build(self, system):
        n = system.N
        m = n + system.n_ghost
        if system.n_types > self.list_cut2.shape[0]:
            raise ValueError(f"the system has {system.n_types} particle types but the potential "
                             f"defines parameters for {self.list_cut2.shape[0]}")
        self.types_all = domain_of(system).all_types
        self.offsets = np.empty(m + 1, np.int32)     # written whole by the builder
        self.order = np.empty(m, np.int32)
        self.segments = np.empty(m * self.list_cut2.shape[0] + 1, np.int32)
        cap = max(len(self.neighbours), 64 * n + 16)
        while True:
            neigh = np.empty(cap, np.int32)
            count = _nb.build_verlet_list(system._x, self.types_all, n, self.list_cut2,
                                          self.max_cutoff + self.skin, self.half, self.order,
                                          self.offsets, self.segments, neigh, self.pad)
            if count <= cap:
                break
            cap = int(count * 1.2) + 16
        self.neighbours = neigh
        # fixed until the next build: the rows' types in cell order (plus the padding row M), each
        # row's sorted position, and the sorted positions with neighbours (kernels loop over these)
        self.sorted_types = np.empty(m + 1, np.int32)
        self.row_position = np.empty(m, np.int32)
        active = np.empty(m, np.int32)
        self.active = active[: _nb.list_layout(self.order, self.offsets, self.types_all, self.sorted_types,
                                               self.row_position, active)]
        self.n_builds += 1

    def row_csr(self, system):
        """The list as CSR over local particle rows: (offsets (N + 1), neighbour rows), cached per
        build. For kernels that index by particle row rather than in cell-sorted order."""
        if getattr(self, "_row_csr_build", None) != self.n_builds:
            i, j = self.pairs(system)
            order = np.argsort(i, kind="stable")
            offsets = np.zeros(system.N + 1, np.int32)
            np.cumsum(np.bincount(i, minlength=system.N), out=offsets[1:])
            self._row_csr = (offsets, np.ascontiguousarray(j[order], dtype=np.int32))
            self._row_csr_build = self.n_builds
        return self._row_csr

    def pairs(self, system):
        """(i, j_row) arrays of listed pairs: i a local particle, j_row a row of the local + ghost
        buffer (system._x). The list itself is stored in cell-sorted order (`order`)."""
        counts = np.diff(self.offsets)
        i = np.repeat(self.order.astype(np.int64), counts)
        k = self.neighbours[: self.offsets[-1]]
        real = k < len(self.order)            # drop the padding entries (index M)
        return i[real], self.order[k[real]].astype(np.int64)


class Potential:
    """An interaction law. Subclasses implement `compute`; energy/forces are shortcuts.

    Convention for all potentials: forces are returned in particle order, shape (N, d);
    energies are totals (not per particle)."""

    name = "potential"
    dim = None  # 2, 3, or None for both

    def compute(self, system, per_particle: bool = False) -> ForceResult:
        raise NotImplementedError

    def energy(self, system) -> float:
        return self.compute(system).energy

    def forces(self, system) -> np.ndarray:
        return self.compute(system).forces

    def check_system(self, system):
        if self.dim is not None and system.dim != self.dim:
            raise ValueError(f"{self.name} is a {self.dim}D model but the system is {system.dim}D")
        min_spacing = float(np.min(system.box.plane_spacings))
        if min_spacing <= 0:
            raise ValueError("degenerate box")

    def describe(self) -> dict:
        """Parameters for provenance in output files."""
        return {"name": self.name}

    def incompatibility(self, dim: int, n_types: int):
        """(what, message) if a system of dimension `dim` with `n_types` species cannot use this
        potential ('dim' or 'species'), else None. Decks check generated systems with it before any
        work, and the runner checks systems read from files (one check, two moments)."""
        if self.dim is not None and dim is not None and dim != self.dim:
            return "dim", f"is {dim}-dimensional but the potential is {self.dim}-dimensional"
        cut = getattr(self, "cutoffs", None)
        if cut is not None and n_types is not None and n_types > np.shape(cut)[0]:
            return "species", f"has {n_types} species but the potential defines {np.shape(cut)[0]}"
        return None


def finish_result(potential, system, energy, f_all, virial9, peratom, per_particle, folded=False) -> ForceResult:
    """Common tail of every kernel-backed compute(): fold ghost forces (and per-particle energies)
    onto their owners (forces unless the kernel did, `folded`), sum energy and virial over ranks,
    wrap as a ForceResult (forces3 keeps the internal (M, 3) buffer for the integrators; its ghost
    rows are not written when the kernel folded), and stop on non-finite values naming the particle."""
    domain = system.domain
    if not folded:
        domain.fold_forces(f_all)
    d = system.dim
    if is_parallel(system.comm):   # each term was computed on exactly one rank: one reduction
        total = allsum(system.comm, np.append(np.asarray(virial9, float).reshape(-1), energy))
        virial9, energy = total[:9], float(total[9])
    # the (d, d) block of the fresh (3, 3) or (9,) virial buffer: a view, no copy
    result = ForceResult(energy, f_all[: system.N, :d], virial9.reshape(3, 3)[:d, :d])
    result.forces3 = f_all
    if per_particle:
        domain.fold_scalars(peratom)
        result.per_particle_energy = peratom[: system.N].copy()
    if not math.isfinite(energy) or energy > 1e250:
        check_finite(ForceResult(np.inf, result.forces, result.virial), system, f" in {potential.name}")
    return result


def check_finite(result: ForceResult, system, where: str = ""):
    """Raise a clear error naming the particle (and step) if forces or energy are not finite."""
    bad = np.flatnonzero(~np.all(np.isfinite(result.forces), axis=1))
    if bad.size or not np.isfinite(result.energy):
        i = int(bad[0]) if bad.size else -1
        what = f"particle {i} (id {int(system.ids[i])})" if i >= 0 else "the total energy"
        raise FloatingPointError(f"non-finite force/energy on {what} at step {system.step}{where}; "
                                 "overlapping particles or too large a time step?")
