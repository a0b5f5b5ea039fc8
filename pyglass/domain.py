"""Ghost particles for one domain (on one rank: the periodic images of the whole box).

The domain keeps rows N.. of the system's coordinate buffer filled with every periodic image
(or, under MPI, neighbouring rank's particle) that lies within `ghost_cutoff` of the domain, so
the force kernels never apply a minimum-image convention and small boxes (images of a particle
within the cutoff of itself) are handled exactly. It also decides when positions must be
re-wrapped and ghosts re-identified: when some particle has moved more than skin/2 since the
last build, when the box or positions were changed from outside, or on request.
"""
from __future__ import annotations

import numpy as np

from pyglass._ext import neighbours as _nb


class Domain:
    def __init__(self, system):
        self.system = system
        self.ghost_cutoff = 0.0   # interaction cutoff + skin the ghosts must cover
        self.skin = 0.0
        self.build_id = 0         # incremented at every ghost rebuild; neighbour lists follow it
        self.freeze_ownership = False  # minimizers: no migration, particles keep their rank
        self._x0 = None
        self._built_version = None
        self._built_box = None

    def require(self, cutoff: float, skin: float):
        """Register a potential's interaction cutoff and neighbour skin."""
        if cutoff + skin > self.ghost_cutoff or skin > self.skin:
            self.ghost_cutoff = max(self.ghost_cutoff, cutoff + skin)
            self.skin = max(self.skin, skin)
            self._built_version = None

    # ---------------------------------------------------------------------------------
    def needs_rebuild(self) -> bool:
        s = self.system
        if self._built_version != s._version or self._x0 is None or len(self._x0) != s.N:
            return True
        box = s.box
        if self._built_box != (tuple(box.lengths), box.tilt_xy, tuple(box.lo)):
            return self._needs_rebuild_scaled(box)
        return _nb.max_displacement2(s._x, self._x0, s.N) > (0.5 * self.skin) ** 2

    def _needs_rebuild_scaled(self, box) -> bool:
        """The box was rescaled uniformly by c since the build (NPT, positions scaled with it).
        In the frame scaled back by 1/c, a pair now closer than r_c was closer than
        r_c / c + 2 max|d| at the build (d: displacement in that frame), so lists and ghosts stay
        valid while 2 max|d| <= skin - r_c (1/c - 1), with r_c <= ghost_cutoff. Any other box
        change rebuilds."""
        lengths, tilt, lo = self._built_box
        c = box.lengths[0] / lengths[0]
        if (tuple(box.lo) != lo or not np.allclose(box.lengths, c * np.asarray(lengths), rtol=1e-12, atol=0)
                or abs(box.tilt_xy - c * tilt) > 1e-12 * box.lengths[0]):
            return True
        budget = self.skin - self.ghost_cutoff * (1.0 / c - 1.0)
        if budget <= 0:
            return True
        s = self.system
        lo3 = np.zeros(3)
        lo3[: s.dim] = box.lo
        d = (s._x[: s.N] - lo3) * (1.0 / c) + lo3 - self._x0
        return float(np.max(np.einsum("ij,ij->i", d, d))) > (0.5 * budget) ** 2

    def update(self) -> bool:
        """Make ghosts current; returns True if they were rebuilt (neighbour lists must follow)."""
        if self.needs_rebuild():
            self.rebuild()
            return True
        s = self.system
        if self._built_box != (tuple(s.box.lengths), s.box.tilt_xy, tuple(s.box.lo)):
            s.ghost_shift = np.ascontiguousarray(s.ghost_image.astype(float) @ s.box.h.T)
        _nb.update_ghosts(s._x, s.N, s.ghost_source, s.ghost_shift)
        return False

    def rebuild(self):
        s = self.system
        box = s.box
        spacings = box.plane_spacings
        s.wrap()
        frac = np.zeros((s.N, 3))
        frac[:, : s.dim] = box.fractional(s.positions)
        source = np.arange(s.N, dtype=np.int64)
        image = np.zeros((s.N, 3), dtype=np.int64)
        # sweep dimension by dimension (x, then y with x-ghosts, then z with all): corner and
        # edge images come out of the later sweeps; c > 1 (box thinner than the cutoff) simply
        # adds more than one layer of images.
        for k in range(s.dim):
            c = self.ghost_cutoff / spacings[k]
            nmax = int(np.ceil(c))
            sk = frac[source, k] + image[:, k]
            new_src, new_img = [source], [image]
            for n in range(1, nmax + 1):
                for sign in (1, -1):
                    shifted = sk + sign * n
                    keep = (shifted >= -c) & (shifted < 1.0 + c)
                    if np.any(keep):
                        img = image[keep].copy()
                        img[:, k] += sign * n
                        new_src.append(source[keep])
                        new_img.append(img)
            source = np.concatenate(new_src)
            image = np.concatenate(new_img)
        ghost_source = source[s.N:].astype(np.int32)
        ghost_image = image[s.N:]
        s.ghost_types = s.types[ghost_source]
        s.ghost_ids = s.ids[ghost_source]
        shift = ghost_image.astype(float) @ box.h.T
        m = s.N + len(ghost_source)
        if s._x.shape[0] != m:
            x = np.zeros((m, 3))
            x[: s.N] = s._x[: s.N]
            s._x = x
        s.ghost_source = ghost_source
        s.ghost_image = ghost_image
        s.ghost_shift = np.ascontiguousarray(shift)
        s.n_ghost = len(ghost_source)
        _nb.update_ghosts(s._x, s.N, s.ghost_source, s.ghost_shift)
        self._x0 = s._x[: s.N].copy()
        self._built_version = s._version
        self._built_box = (tuple(box.lengths), box.tilt_xy, tuple(box.lo))
        self.build_id += 1

    # ---------------------------------------------------------------------------------
    @property
    def all_types(self) -> np.ndarray:
        s = self.system
        return np.concatenate([s.types, s.ghost_types]).astype(np.int32)

    def owner(self, rows: np.ndarray) -> np.ndarray:
        """Local particle index owning each row of the local+ghost buffer."""
        s = self.system
        rows = np.asarray(rows)
        return np.where(rows < s.N, rows, s.ghost_source[np.maximum(rows - s.N, 0)] if s.n_ghost else rows)

    def fold_forces(self, f_all: np.ndarray):
        _nb.fold_ghost_forces(f_all, self.system.N, self.system.ghost_source)

    def fold_scalars(self, e_all: np.ndarray):
        _nb.fold_ghost_scalars(e_all, self.system.N, self.system.ghost_source)


class DecomposedDomain(Domain):
    """One rank's domain of a spatially decomposed system (LAMMPS-style).

    The cell is cut into a Cartesian grid of P_x x P_y (x P_z) domains in fractional coordinates.
    A rank owns the particles inside its domain; at each rebuild particles that left are migrated
    to their new owner, and ghosts are gathered by sweeps along x, then y, then z: in each
    direction a rank sends the particles (local and ghosts from earlier sweeps) within the ghost
    cutoff of that face to its neighbour, shifted by a cell vector when the face is the periodic
    boundary. When the cutoff exceeds a domain's width, the received ghosts are forwarded again
    (several swaps), so thin domains are handled exactly. A grid dimension with one rank sends to
    itself, which reproduces the periodic images of the serial path.

    Each step the swaps are replayed to refresh ghost coordinates (forward communication), and in
    reverse to add forces that landed on ghosts to their owners (reverse communication)."""

    def __init__(self, system, comm):
        super().__init__(system)
        from mpi4py import MPI  # noqa: F401  (fail early if mpi4py is missing)
        self.comm = comm
        self.grid = self.grid_for(system.box, comm.Get_size())
        periods = [True] * len(self.grid)
        self.cart = comm.Create_cart(self.grid, periods=periods, reorder=False)
        self.coords = np.array(self.cart.Get_coords(self.cart.Get_rank()))
        self.neighbours = [self.cart.Shift(k, 1) for k in range(len(self.grid))]  # (left, right)
        self.swaps = []

    @staticmethod
    def grid_for(box, n_ranks):
        """Processor grid minimising the domain surface for this box (ties: more cuts along x)."""
        dim = box.dim
        best, best_area = None, np.inf
        for px in range(1, n_ranks + 1):
            if n_ranks % px:
                continue
            rest = n_ranks // px
            for py in range(1, rest + 1):
                if rest % py or (dim == 2 and py != rest):
                    continue
                pz = rest // py
                g = (px, py, pz)[:dim]
                w = box.lengths / np.array(g)
                area = sum(np.prod(np.delete(w, k)) for k in range(dim)) if dim == 3 else w.sum()
                if area < best_area - 1e-12:
                    best, best_area = g, area
        return list(best)

    # ---------------------------------------------------------------------------------
    def needs_rebuild(self) -> bool:
        from pyglass.comm import anytrue
        return anytrue(self.comm, super().needs_rebuild())

    def update(self) -> bool:
        if self.needs_rebuild():
            self.rebuild()
            return True
        self.forward(self.system._x)
        return False

    def forward(self, x):
        """Refresh ghost rows of x (M, 3) from their owners. Shifts are taken from the current
        cell, so a uniformly rescaled box (NPT) keeps its ghosts between rebuilds. Swaps with
        oneself (a grid dimension of one rank: periodic images) are plain copies."""
        h = self.system.box.h
        me = self.cart.Get_rank()
        for sw in self.swaps:
            dst = x[sw["recv_start"]: sw["recv_start"] + sw["recv_count"]]
            shift = np.ascontiguousarray(sw["fshift"] * h[:, sw["dim"]])
            if sw["dest"] == me:
                _nb.gather_rows_shifted(x, sw["send_rows"], shift, dst)
            else:
                buf = np.empty((len(sw["send_rows"]), 3))
                _nb.gather_rows_shifted(x, sw["send_rows"], shift, buf)
                self.cart.Sendrecv(buf, dest=sw["dest"], recvbuf=dst, source=sw["source"])

    def _reverse(self, arr):
        a2 = arr.reshape(len(arr), -1)
        me = self.cart.Get_rank()
        for sw in reversed(self.swaps):
            send = a2[sw["recv_start"]: sw["recv_start"] + sw["recv_count"]]
            if sw["dest"] != me:
                recv = np.empty((len(sw["send_rows"]), a2.shape[1]))
                self.cart.Sendrecv(np.ascontiguousarray(send), dest=sw["source"], recvbuf=recv, source=sw["dest"])
                send = recv
            _nb.add_rows(a2, sw["send_rows"], np.ascontiguousarray(send))

    def fold_forces(self, f_all):
        self._reverse(f_all)

    def fold_scalars(self, e_all):
        self._reverse(e_all)

    # ---------------------------------------------------------------------------------
    def _migrate(self):
        """Send particles that left this domain to the neighbour that now owns them."""
        s = self.system
        arrays = {"x": s._x[: s.N].copy(), "v": s._v[: s.N].copy(), "images": s.images, "types": s.types,
                  "ids": s.ids, **{"pp_" + k: v for k, v in s.per_particle.items()}}
        for k, p in enumerate(self.grid):
            if p == 1:
                continue
            frac = s.box.fractional(arrays["x"][:, : s.dim])[:, k]
            centre = (self.coords[k] + 0.5) / p
            d = frac - centre
            d -= np.round(d)
            left, right = d < -0.5 / p, d >= 0.5 / p
            stay = ~(left | right)
            lo_rank, hi_rank = self.neighbours[k]
            got_from_right = self.cart.sendrecv({n: a[left] for n, a in arrays.items()}, dest=lo_rank, source=hi_rank)
            got_from_left = self.cart.sendrecv({n: a[right] for n, a in arrays.items()}, dest=hi_rank, source=lo_rank)
            arrays = {n: np.concatenate([a[stay], got_from_right[n], got_from_left[n]]) for n, a in arrays.items()}
        frac = s.box.fractional(arrays["x"][:, : s.dim])
        lo, hi = self.coords / np.array(self.grid), (self.coords + 1) / np.array(self.grid)
        d = frac - (lo + hi) / 2
        d -= np.round(d)
        stray = np.flatnonzero(np.any(np.abs(d) > 0.5 / np.array(self.grid) + 1e-12, axis=1))
        if stray.size:
            raise RuntimeError(f"particle id {int(arrays['ids'][stray[0]])} moved by more than one domain between "
                               "neighbour-list rebuilds (time step too large, or positions set without touch())")
        n = len(arrays["ids"])
        s._x = np.zeros((n, 3))
        s._x[:] = arrays["x"]
        s._v = np.ascontiguousarray(arrays["v"])
        s.images, s.types, s.ids = arrays["images"], arrays["types"].astype(np.int32), arrays["ids"]
        s.per_particle = {k[3:]: v for k, v in arrays.items() if k.startswith("pp_")}

    def _wrap_to_domain(self):
        """Move each local particle to the periodic image nearest its domain's centre (updating
        image counters), so ghost bands computed from raw coordinates are right even for
        particles that have strayed out of their domain while ownership was frozen."""
        s = self.system
        g = np.zeros(s.dim)
        g[: len(self.grid)] = self.grid
        centre = (self.coords + 0.5) / np.array(self.grid)
        n = np.round(s.box.fractional(s.positions) - centre).astype(np.int64)
        if np.any(n):
            s.images += n
            sh = np.zeros((s.N, 3))
            sh[:, : s.dim] = n
            s._x[: s.N] -= sh @ s.box.h.T

    def _stray(self, frac):
        """How far (in fractional units, per dimension, max over ranks) local particles lie
        outside this rank's domain: ghosts must reach that much further when ownership is frozen."""
        g = np.array(self.grid)
        d = frac[:, : len(g)] - (self.coords + 0.5) / g
        d -= np.round(d)
        out = np.max(np.maximum(np.abs(d) - 0.5 / g, 0.0), axis=0) if len(d) else np.zeros(len(g))
        from mpi4py import MPI
        res = np.empty_like(out)
        self.comm.Allreduce(np.ascontiguousarray(out), res, op=MPI.MAX)
        return res

    def rebuild(self):
        s = self.system
        if not self.freeze_ownership:
            s.wrap()
            self._migrate()
        self._wrap_to_domain()
        box = s.box
        h = box.h
        spacings = box.plane_spacings
        x = s._x[: s.N].copy()
        frac = np.zeros((s.N, 3))
        frac[:, : s.dim] = box.fractional(x[:, : s.dim])
        types, ids = s.types.copy(), s.ids.copy()
        source = np.arange(s.N, dtype=np.int64)   # local row imaged by each row (-1: remote)
        image = np.zeros((s.N, 3), np.int64)
        stray = self._stray(frac) if self.freeze_ownership else np.zeros(s.dim)
        self.swaps = []
        me = self.cart.Get_rank()
        for k in range(s.dim):
            p = self.grid[k]
            lo, hi = self.coords[k] / p, (self.coords[k] + 1) / p
            c = self.ghost_cutoff / spacings[k] + stray[k]
            nswap = int(np.ceil(c * p - 1e-12))
            base = np.arange(len(x))
            lo_rank, hi_rank = self.neighbours[k]
            for direction in (1, -1):
                send_set = base
                dest, src = (hi_rank, lo_rank) if direction == 1 else (lo_rank, hi_rank)
                at_edge = self.coords[k] == (p - 1 if direction == 1 else 0)
                fshift = -direction if at_edge else 0
                for _ in range(nswap):
                    band = frac[send_set, k] >= hi - c if direction == 1 else frac[send_set, k] < lo + c
                    rows = send_set[band]
                    shift = fshift * h[:, k]
                    img = image[rows].copy()
                    img[:, k] += fshift
                    payload = (x[rows] + shift, types[rows], ids[rows], img,
                               np.where(source[rows] >= 0, source[rows], -1) if dest == me else np.full(len(rows), -1))
                    got = self.cart.sendrecv(payload, dest=dest, source=src)
                    start = len(x)
                    x = np.concatenate([x, got[0]])
                    # ghosts keep continuous (unwrapped) fractional coordinates next to this domain
                    f_new = np.zeros((len(got[0]), 3))
                    f_new[:, : s.dim] = box.fractional(got[0][:, : s.dim])
                    frac = np.concatenate([frac, f_new])
                    types = np.concatenate([types, got[1]])
                    ids = np.concatenate([ids, got[2]])
                    image = np.concatenate([image, got[3]])
                    source = np.concatenate([source, got[4]])
                    self.swaps.append({"dest": dest, "source": src, "send_rows": rows.astype(np.intp),
                                       "fshift": fshift, "dim": k,
                                       "recv_start": start, "recv_count": len(got[0])})
                    send_set = np.arange(start, len(x))
        s._x = np.ascontiguousarray(x)
        s.n_ghost = len(x) - s.N
        s.ghost_types = types[s.N:].astype(np.int32)
        s.ghost_ids = ids[s.N:]
        s.ghost_image = image[s.N:]
        s.ghost_source = source[s.N:].astype(np.int32)
        s.ghost_shift = np.zeros((s.n_ghost, 3))  # not used on this path: swaps carry the shifts
        self._x0 = s._x[: s.N].copy()
        self._built_version = s._version
        self._built_box = (tuple(box.lengths), box.tilt_xy, tuple(box.lo))
        self.build_id += 1

    def owner(self, rows):
        raise NotImplementedError("ghost rows of a decomposed system may belong to other ranks: use system.ghost_ids")


def domain_of(system) -> Domain:
    """The system's domain, created on first use (decomposed when system.comm has several ranks)."""
    d = getattr(system, "domain", None)
    if d is None:
        from pyglass.comm import is_parallel
        d = DecomposedDomain(system, system.comm) if is_parallel(system.comm) else Domain(system)
        system.domain = d
    return d
