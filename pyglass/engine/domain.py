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
from pyglass.engine.comm import anytrue, is_parallel, processor_grid


_EMPTY_F64 = np.zeros(0)

#: a particle this many box lengths from the origin at a rebuild means the run diverged (no real
#: trajectory moves that far: unwrapped diffusive displacements stay within a few box lengths)
RUNAWAY_BOX_LENGTHS = 1e6


def require_finite_positions(system):
    """Stop a diverged run at the next rebuild with the particle named: a particle launched to
    infinity, or 10^6 box lengths away (a time step too large for the forces), has no neighbours,
    so its energy stays finite and nothing else would notice; wrapping it would overflow the image
    counters. Collective under MPI (every rank raises)."""
    x = system._x
    limit = RUNAWAY_BOX_LENGTHS * float(np.max(system.box.lengths))
    i = _nb.first_runaway_row(x, system.N, limit)              # also catches NaN
    if anytrue(system.comm, i >= 0):
        if i >= 0:
            where = f"particle {i} (id {int(system.ids[i])}) is at {x[i, : system.dim].tolist()}"
        else:
            where = "a particle on another rank has a non-finite position"
        raise FloatingPointError(f"{where} at step {system.step}: the run diverged (too large a time "
                                 "step for the forces, or overlapping particles?)")


def cell_shifts(images, box) -> np.ndarray:
    """Cartesian shifts (n, 3) of whole-cell image counters (n, 3): images @ h.T. An orthorhombic
    cell (no tilt) needs one product per entry, exact as the matrix product's, without its
    per-call cost."""
    if box.tilt_xy == 0.0:
        lengths = np.ones(3)
        lengths[: box.dim] = box.lengths
        out = np.empty((len(images), 3))
        _nb.orthorhombic_shifts(images, len(images), lengths, out)
        return out
    return np.ascontiguousarray(images.astype(float) @ box.h.T)


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
        self._source = np.empty(0, np.int32)           # periodic_images' output, kept between rebuilds
        self._image = np.empty((0, 3), np.int64)
        self._geometry_key = self._geometry_value = None

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
        change rebuilds. Runs every NPT step: plain floats and one kernel pass."""
        lengths, tilt, lo = self._built_box
        c = float(box.lengths[0]) / lengths[0]
        if tuple(box.lo) != lo or abs(box.tilt_xy - c * tilt) > 1e-12 * box.lengths[0]:
            return True
        for new_length, built in zip(box.lengths, lengths):      # as np.allclose(rtol=1e-12, atol=0)
            if not abs(new_length - c * built) <= 1e-12 * abs(c * built):
                return True
        budget = self.skin - self.ghost_cutoff * (1.0 / c - 1.0)
        if budget <= 0:
            return True
        s = self.system
        lo3 = np.zeros(3)
        lo3[: s.dim] = box.lo
        return _nb.max_scaled_displacement2(s._x, self._x0, s.N, lo3, 1.0 / c) > (0.5 * budget) ** 2

    def update(self) -> bool:
        """Make ghosts current; returns True if they were rebuilt (neighbour lists must follow).
        The rebuild test of needs_rebuild, with the common step (same box, every particle within
        skin/2 of where it was at the build: refresh the ghosts) in one kernel call."""
        s = self.system
        if self._built_version == s._version and self._x0 is not None and len(self._x0) == s.N:
            box = s.box
            if self._built_box == (tuple(box.lengths), box.tilt_xy, tuple(box.lo)):
                if _nb.refresh_ghosts(s._x, self._x0, s.N, (0.5 * self.skin) ** 2, s.ghost_source, s.ghost_shift):
                    return False
            elif not self._needs_rebuild_scaled(box):
                s.ghost_shift = cell_shifts(s.ghost_image, box)
                _nb.update_ghosts(s._x, s.N, s.ghost_source, s.ghost_shift)
                return False
        self.rebuild()
        return True

    #: every ghost is an image of a local particle (ghost_source), so a kernel may fold ghost
    #: forces onto their owners itself (one rank); decomposed domains fold by communication
    folds_locally = True

    def _geometry(self, box):
        """(reach in cell lengths per axis (3,), cell lengths (3,) or None with tilt, lo (3,),
        h^-1) for this box and ghost cutoff, cached: a rebuild in an unchanged box makes none."""
        key = (tuple(box.lengths), box.tilt_xy, tuple(box.lo), self.ghost_cutoff)
        if self._geometry_key != key:
            reach = np.zeros(3)
            reach[: box.dim] = self.ghost_cutoff / box.plane_spacings
            lengths = None
            if box.tilt_xy == 0.0:
                lengths = np.ones(3)
                lengths[: box.dim] = box.lengths
            lo3 = np.zeros(3)
            lo3[: box.dim] = box.lo
            self._geometry_key, self._geometry_value = key, (reach, lengths, lo3, box.h_inverse)
        return self._geometry_value

    def rebuild(self):
        s = self.system
        box = s.box
        n = s.N
        reach, lengths, lo3, h_inv = self._geometry(box)
        require_finite_positions(s)
        frac = np.empty((n, 3))
        if lengths is None:
            s.wrap()
        else:
            _nb.to_fractional(s._x, n, lo3, h_inv, frac)
            if n:
                _nb.wrap_orthorhombic(s._x, n, s.dim, frac, lengths, s.images)
        _nb.to_fractional(s._x, n, lo3, h_inv, frac)
        # every periodic image within the ghost cutoff, swept axis by axis (a Cython kernel)
        while True:
            count = _nb.periodic_images(frac, n, s.dim, reach, self._source, self._image)
            if count >= 0:
                break
            cap = max(2 * len(self._source), 2 * -count)
            self._source, self._image = np.empty(cap, np.int32), np.empty((cap, 3), np.int64)
        n_ghost = count - n
        if s._x.shape[0] != count:
            x = np.empty((count, 3))
            x[:n] = s._x[:n]
            s._x = x
        s.ghost_source = np.empty(n_ghost, np.int32)
        s.ghost_image = np.empty((n_ghost, 3), np.int64)
        s.ghost_types = np.empty(n_ghost, np.int32)
        s.ghost_ids = np.empty(n_ghost, np.int64)
        if lengths is None:
            s.ghost_shift = cell_shifts(self._image[n:count], box)
        else:
            s.ghost_shift = np.empty((n_ghost, 3))
        s.n_ghost = n_ghost
        # ghost tables, shifts and coordinates in one pass
        _nb.ghost_tables(self._source, self._image, n, count, s.types, s.ids,
                         _EMPTY_F64 if lengths is None else lengths, s.ghost_source, s.ghost_image,
                         s.ghost_types, s.ghost_ids, s.ghost_shift, s._x)
        self._x0 = s._x[:n].copy()
        self._built_version = s._version
        self._built_box = (tuple(box.lengths), box.tilt_xy, tuple(box.lo))
        self.build_id += 1

    # ---------------------------------------------------------------------------------
    @property
    def all_types(self) -> np.ndarray:
        s = self.system
        return np.concatenate([s.types, s.ghost_types]).astype(np.int32, copy=False)

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
        self.grid = processor_grid(system.box, comm.Get_size())
        periods = [True] * len(self.grid)
        self.cart = comm.Create_cart(self.grid, periods=periods, reorder=False)
        self.coords = np.array(self.cart.Get_coords(self.cart.Get_rank()))
        self.neighbours = [self.cart.Shift(k, 1) for k in range(len(self.grid))]  # (left, right)
        self.swaps, self.stages = [], []
        self._shift_key = None
        self._table = np.empty((0, self._NCOL))   # ghost table, reused between rebuilds

    # ---------------------------------------------------------------------------------
    def needs_rebuild(self) -> bool:
        return anytrue(self.comm, super().needs_rebuild())

    folds_locally = False

    def update(self) -> bool:
        if self.needs_rebuild():
            self.rebuild()
            return True
        self.forward(self.system._x)
        return False

    # -- per-step communication ------------------------------------------------------------
    # Swaps are grouped in stages (dimension k, forwarding round): the two directions of a stage
    # are independent, so both messages are posted at once and completed together (one
    # synchronisation per stage instead of two). Tags are the direction, so a partner that is
    # both the left and the right neighbour (two ranks along k) matches them unambiguously.

    def _shifts(self):
        """Cell shift of each swap for the current box (cached: the box changes only under NPT)."""
        key = (tuple(self.system.box.lengths), self.system.box.tilt_xy)
        if self._shift_key != key:
            h = self.system.box.h
            self._swap_shifts = np.array([sw["fshift"] * h[:, sw["dim"]] for sw in self.swaps]).reshape(-1, 3)
            self._shift_key = key
        return self._swap_shifts

    def forward(self, x):
        """Refresh ghost rows of x (M, 3) from their owners. Shifts are taken from the current
        cell, so a uniformly rescaled box (NPT) keeps its ghosts between rebuilds. Swaps with
        oneself (a grid dimension of one rank: periodic images) are plain copies."""
        from mpi4py import MPI
        shifts = self._shifts()
        for stage in self.stages:
            requests = []
            for i in stage:
                sw = self.swaps[i]
                dst = x[sw["recv_start"]: sw["recv_start"] + sw["recv_count"]]
                if sw["self"]:
                    _nb.gather_rows_shifted(x, sw["send_rows"], shifts[i], dst)
                else:
                    requests.append(self.cart.Irecv(dst, source=sw["source"], tag=sw["tag"]))
            for i in stage:
                sw = self.swaps[i]
                if not sw["self"]:
                    buf = sw["send_buffer"]
                    _nb.gather_rows_shifted(x, sw["send_rows"], shifts[i], buf)
                    requests.append(self.cart.Isend(buf, dest=sw["dest"], tag=sw["tag"]))
            if requests:
                MPI.Request.Waitall(requests)

    def _reverse(self, arr):
        """Add ghost rows of arr (M,) or (M, c) onto their owners' rows (the swaps replayed
        backwards; additions in a fixed order, so results do not depend on message timing)."""
        from mpi4py import MPI
        a2 = arr.reshape(len(arr), -1)
        ncol = a2.shape[1]
        for stage in reversed(self.stages):
            requests, received = [], {}
            for i in stage:
                sw = self.swaps[i]
                if not sw["self"]:
                    buf = sw["fold_buffers"].get(ncol)
                    if buf is None:   # reused every step until the next rebuild
                        buf = sw["fold_buffers"][ncol] = np.empty((len(sw["send_rows"]), ncol))
                    received[i] = buf
                    requests.append(self.cart.Irecv(buf, source=sw["dest"], tag=sw["tag"]))
            for i in stage:
                sw = self.swaps[i]
                if not sw["self"]:
                    ghosts = a2[sw["recv_start"]: sw["recv_start"] + sw["recv_count"]]
                    requests.append(self.cart.Isend(ghosts, dest=sw["source"], tag=sw["tag"]))
            if requests:
                MPI.Request.Waitall(requests)
            for i in reversed(stage):
                sw = self.swaps[i]
                ghosts = received[i] if i in received else a2[sw["recv_start"]: sw["recv_start"] + sw["recv_count"]]
                _nb.add_rows(a2, sw["send_rows"], ghosts)   # both are contiguous row blocks

    def fold_forces(self, f_all):
        self._reverse(f_all)

    def fold_scalars(self, e_all):
        self._reverse(e_all)

    # -- rebuild: migration and ghost identification ------------------------------------------
    def _exchange(self, outgoing, ncol):
        """Send each (dest, tag, rows (n, ncol) float64) of `outgoing` and receive the matching
        message from each (source, tag) in the same list order: [(dest, source, tag, rows)].
        Message sizes need not be known in advance (probe). Returns the received arrays."""
        from mpi4py import MPI
        requests = [self.cart.Isend(np.ascontiguousarray(rows), dest=dest, tag=tag)
                    for dest, _, tag, rows in outgoing]
        received = []
        status = MPI.Status()
        for _, source, tag, _ in outgoing:
            self.cart.Probe(source=source, tag=tag, status=status)
            buf = np.empty(status.Get_count(MPI.DOUBLE))
            self.cart.Recv(buf, source=source, tag=tag)
            received.append(buf.reshape(-1, ncol))
        MPI.Request.Waitall(requests)
        return received

    def _migrate(self):
        """Send particles that left this domain to the neighbour that now owns them (per grid
        dimension, both directions at once). Only the movers (a few per cent of the particles per
        rebuild) are packed: every per-particle array travels as float64 columns of one message
        (ids and counters are exact below 2^53)."""
        s = self.system
        fields = {"x": s._x[: s.N], "v": s._v[: s.N], "images": s.images, "types": s.types, "ids": s.ids,
                  **{"pp_" + k: v for k, v in s.per_particle.items()}}
        fields = {name: np.asarray(a) for name, a in fields.items()}
        layout = [(name, a.dtype, a.shape[1:], int(np.prod(a.shape[1:], dtype=int))) for name, a in fields.items()]
        ncol = sum(w for *_, w in layout)

        def pack(mask):
            n = int(mask.sum())
            return np.hstack([fields[name][mask].reshape(n, width).astype(np.float64)
                              for name, _, _, width in layout]) if ncol else np.zeros((n, 0))

        for k, p in enumerate(self.grid):
            if p == 1:
                continue
            d = s.box.fractional_rows(fields["x"])[:, k] - (self.coords[k] + 0.5) / p
            d -= np.round(d)
            left, right = d < -0.5 / p, d >= 0.5 / p
            lo_rank, hi_rank = self.neighbours[k]
            from_right, from_left = self._exchange([(lo_rank, hi_rank, 10, pack(left)),
                                                    (hi_rank, lo_rank, 11, pack(right))], ncol)
            stay = np.flatnonzero(~(left | right))
            incoming = np.concatenate([from_right, from_left])
            c = 0
            for name, dtype, shape, width in layout:   # one copy of each array: stayers, then arrivals
                out = np.empty((len(stay) + len(incoming),) + shape, dtype)
                np.take(fields[name], stay, axis=0, out=out[: len(stay)])
                out[len(stay):] = incoming[:, c: c + width].reshape((len(incoming),) + shape)
                fields[name] = out
                c += width
        s._x = np.ascontiguousarray(fields["x"])
        s._v = np.ascontiguousarray(fields["v"])
        s.images, s.types, s.ids = fields["images"], np.asarray(fields["types"], np.int32), fields["ids"]
        s.per_particle = {k[3:]: v for k, v in fields.items() if k.startswith("pp_")}

    def _wrap_to_domain(self):
        """Move each local particle to the periodic image nearest its domain's centre (updating
        image counters), so ghost bands computed from raw coordinates are right even for
        particles that have strayed out of their domain while ownership was frozen. Returns the
        fractional coordinates (N, 3) after the move."""
        s = self.system
        frac = s.box.fractional_rows(s._x[: s.N])
        g = np.array(self.grid)
        centre, half = np.zeros(3), np.zeros(3)
        centre[: len(g)] = (self.coords + 0.5) / g
        half[: len(g)] = 0.5 / g
        # just migrated (ownership not frozen): every particle must lie in this domain
        stray = _nb.wrap_to_domain(s._x, s.N, s.box.h, frac, centre, half, s.dim, len(g),
                                   not self.freeze_ownership, s.images)
        if stray >= 0:
            raise RuntimeError(f"particle id {int(s.ids[stray])} moved by more than one domain between "
                               "neighbour-list rebuilds (time step too large, or positions set without touch())")
        return frac

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

    # ghost table columns: position, fractional position, type, id, image counters, local source
    _X, _F, _TYPE, _ID, _IMG, _SRC, _NCOL = slice(0, 3), slice(3, 6), 6, 7, slice(8, 11), 11, 12

    def rebuild(self):
        s = self.system
        require_finite_positions(s)
        if not self.freeze_ownership:   # no s.wrap(): migration is periodic-aware, and
            self._migrate()             # _wrap_to_domain puts every particle at its domain's image
        frac = self._wrap_to_domain()
        box = s.box
        h = box.h
        spacings = box.plane_spacings
        stray = self._stray(frac) if self.freeze_ownership else np.zeros(s.dim)
        n = s.N
        if len(self._table) < max(2 * n, 64):   # grows (rarely) and is kept: no allocation per rebuild
            self._table = np.empty((max(2 * n, 64), self._NCOL))
        table = self._table
        table[:n, self._X] = s._x[:n]
        table[:n, self._F] = frac
        table[:n, self._TYPE] = s.types
        table[:n, self._ID] = s.ids
        table[:n, self._IMG] = 0
        table[:n, self._SRC] = np.arange(n)
        rows_used = n
        scratch = np.empty(0, np.intp)
        self.swaps, self.stages = [], []
        me = self.cart.Get_rank()
        for k in range(s.dim):
            p = self.grid[k]
            lo, hi = self.coords[k] / p, (self.coords[k] + 1) / p
            c = self.ghost_cutoff / spacings[k] + stray[k]
            nswap = int(np.ceil(c * p - 1e-12))
            lo_rank, hi_rank = self.neighbours[k]
            send_sets = {1: (0, rows_used), -1: (0, rows_used)}   # candidate rows: a contiguous range
            for _ in range(nswap):
                stage, outgoing, sends = [], [], {}
                for direction in (1, -1):
                    dest, src = (hi_rank, lo_rank) if direction == 1 else (lo_rank, hi_rank)
                    fshift = -direction if self.coords[k] == (p - 1 if direction == 1 else 0) else 0
                    first, last = send_sets[direction]
                    lower, upper = (hi - c, np.inf) if direction == 1 else (-np.inf, lo + c)
                    if len(scratch) < last - first:
                        scratch = np.empty(2 * (last - first), np.intp)
                    count = _nb.select_band(table, first, last, self._F.start + k, lower, upper, scratch)
                    rows = scratch[:count].copy()
                    add = np.zeros(self._NCOL)
                    add[self._X] = fshift * h[:, k]
                    add[self._F.start + k] = add[self._IMG.start + k] = fshift
                    payload = np.empty((count, self._NCOL))
                    _nb.gather_rows_shifted(table, rows, add, payload)
                    if dest != me:   # remote ghosts have no local source row
                        payload[:, self._SRC] = -1
                    sends[direction] = (rows, fshift, dest, src, payload)
                    if dest != me:
                        outgoing.append((dest, src, 0 if direction == 1 else 1, payload))
                received = iter(self._exchange(outgoing, self._NCOL)) if outgoing else iter(())
                for direction in (1, -1):
                    rows, fshift, dest, src, payload = sends[direction]
                    got = payload if dest == me else next(received)
                    if rows_used + len(got) > len(table):
                        table = self._table = np.concatenate([table[:rows_used],
                                                              np.empty((rows_used + 2 * len(got), self._NCOL))])
                    start = rows_used
                    table[start: start + len(got)] = got
                    rows_used += len(got)
                    stage.append(len(self.swaps))
                    self.swaps.append({"dest": dest, "source": src, "send_rows": rows,
                                       "fshift": fshift, "dim": k, "tag": 0 if direction == 1 else 1,
                                       "self": dest == me, "recv_start": start, "recv_count": len(got),
                                       "send_buffer": np.empty((len(rows), 3)), "fold_buffers": {}})
                    send_sets[direction] = (start, rows_used)
                self.stages.append(stage)
        self._shift_key = None
        s._x = np.ascontiguousarray(table[:rows_used, self._X])
        s.n_ghost = rows_used - n
        ghosts = table[n:rows_used]
        s.ghost_types = ghosts[:, self._TYPE].astype(np.int32)
        s.ghost_ids = ghosts[:, self._ID].astype(np.int64)
        s.ghost_image = ghosts[:, self._IMG].astype(np.int64)
        s.ghost_source = ghosts[:, self._SRC].astype(np.int32)
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
        d = DecomposedDomain(system, system.comm) if is_parallel(system.comm) else Domain(system)
        system.domain = d
    return d
