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
        if (tuple(box.lo) != lo or not np.allclose(box.lengths, c * np.asarray(lengths), rtol=1e-13, atol=0)
                or abs(box.tilt_xy - c * tilt) > 1e-13 * box.lengths[0]):
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
        return np.concatenate([s.types, s.types[s.ghost_source]]).astype(np.int32)

    def owner(self, rows: np.ndarray) -> np.ndarray:
        """Local particle index owning each row of the local+ghost buffer."""
        s = self.system
        rows = np.asarray(rows)
        return np.where(rows < s.N, rows, s.ghost_source[np.maximum(rows - s.N, 0)] if s.n_ghost else rows)

    def fold_forces(self, f_all: np.ndarray):
        _nb.fold_ghost_forces(f_all, self.system.N, self.system.ghost_source)

    def fold_scalars(self, e_all: np.ndarray):
        _nb.fold_ghost_scalars(e_all, self.system.N, self.system.ghost_source)


def domain_of(system) -> Domain:
    """The system's domain, created on first use."""
    d = getattr(system, "domain", None)
    if d is None:
        d = Domain(system)
        system.domain = d
    return d
