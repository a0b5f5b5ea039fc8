"""A point-by-point check of an HDF5 file against the H5MD 1.1 layout
(https://www.nongnu.org/h5md/h5md.html; de Buyl, Colberg & Hoefling, CPC 185, 1546 (2014)).

`h5md_problems(path)` returns a list of human-readable violations (empty: the file conforms). It
checks what H5MD readers (MDAnalysis, pyh5md, VMD's h5md plugin) rely on:

  * /h5md: attribute `version`, an integer array [1, 1]; groups `author` (attribute `name`) and
    `creator` (attributes `name`, `version`); every string attribute under /h5md is a
    fixed-length string (H5MD 1.1);
  * /particles/<group>: a `box` group with an integer scalar `dimension` (1..3) and a `boundary`
    string array of `dimension` entries, each "periodic" or "none"; `edges` (required when a
    boundary is periodic) of shape (d,) or (d, d), or time-dependent (F, d) / (F, d, d);
  * every element is either a dataset (time-independent) or a group with `value` and `step`
    (and optionally `time`): `step` an integer dataset of F entries, strictly increasing, or an
    integer scalar (fixed interval, optional `offset`); `time` float, F entries or scalar; value's
    first axis F;
  * particle elements agree on N and d: position/velocity/force/image (F, N, d) or (N, d),
    species/mass/id/charge (F, N) or (N,); image, species and id are integers;
  * /observables: every child is an element, or a group of elements (per-particle-group
    observables); nothing else (analysis results belong outside /observables);
  * the root holds only h5md, particles, observables, parameters, connectivity and groups named in
    `extra_roots` (a package's own group).
"""
import h5py
import numpy as np

H5MD_ROOTS = ("h5md", "particles", "observables", "parameters", "connectivity")
VECTOR_ELEMENTS = ("position", "velocity", "force", "image")
SCALAR_ELEMENTS = ("species", "mass", "id", "charge")


def _is_fixed_string(attr_id) -> bool:
    t = attr_id.get_type()
    return isinstance(t, h5py.h5t.TypeStringID) and not t.is_variable_str()


def _string_values(v):
    v = np.atleast_1d(v)
    return [x.decode() if isinstance(x, bytes) else str(x) for x in v.tolist()]


class _Checker:
    def __init__(self, f, extra_roots):
        self.f, self.extra_roots, self.problems = f, tuple(extra_roots), []

    def bad(self, where, what):
        self.problems.append(f"{where}: {what}")

    # -- /h5md -------------------------------------------------------------------------
    def h5md(self):
        f = self.f
        if "h5md" not in f:
            return self.bad("/", "no /h5md group")
        h = f["h5md"]
        v = h.attrs.get("version")
        if v is None:
            self.bad("/h5md", "no 'version' attribute")
        else:
            v = np.asarray(v)
            if not np.issubdtype(v.dtype, np.integer) or v.shape != (2,) or v.tolist() != [1, 1]:
                self.bad("/h5md", f"version must be an integer array [1, 1], got {v!r} ({v.dtype})")
        for grp, keys in (("author", ("name",)), ("creator", ("name", "version"))):
            if grp not in h:
                self.bad("/h5md", f"no '{grp}' group")
                continue
            for k in keys:
                if k not in h[grp].attrs:
                    self.bad(f"/h5md/{grp}", f"no '{k}' attribute")

        def strings(name, obj):
            for k in obj.attrs:
                aid = obj.attrs.get_id(k)
                if aid.get_type().get_class() == h5py.h5t.STRING and not _is_fixed_string(aid):
                    self.bad(f"{obj.name}@{k}", "string attribute is variable-length; H5MD 1.1 asks for fixed-length")
        strings("h5md", h)
        h.visititems(strings)

    # -- elements ----------------------------------------------------------------------
    def element(self, where, obj):
        """(kind, frames or None, per-frame shape) of an element, checking its structure."""
        if isinstance(obj, h5py.Dataset):
            return "fixed", None, obj.shape
        if not isinstance(obj, h5py.Group) or not isinstance(obj.get("value"), h5py.Dataset):
            self.bad(where, "neither a dataset nor a group with a 'value' dataset")
            return None, None, None
        value = obj["value"]
        if not value.shape:
            self.bad(where, "time-dependent 'value' must have a frame axis")
            return None, None, None
        n = value.shape[0]
        if n == 0:   # legal HDF5, but readers index frame 0 (MDAnalysis: IndexError)
            self.bad(where, "time-dependent element with no entries (create an element when first written)")
        if not np.issubdtype(value.dtype, np.number):
            self.bad(f"{where}/value", f"dtype {value.dtype} is not numeric")
        if "step" not in obj:
            self.bad(where, "time-dependent element without 'step'")
        else:
            st = obj["step"]
            if not np.issubdtype(st.dtype, np.integer):
                self.bad(f"{where}/step", f"dtype {st.dtype} is not an integer type")
            elif st.shape == ():
                if int(st[()]) <= 0:
                    self.bad(f"{where}/step", "a fixed step interval must be positive")
            elif st.shape != (n,):
                self.bad(f"{where}/step", f"shape {st.shape}, value has {n} entries")
            elif n > 1 and np.any(np.diff(st[()]) <= 0):
                self.bad(f"{where}/step", "steps are not strictly increasing")
        if "time" in obj:
            tm = obj["time"]
            if not np.issubdtype(tm.dtype, np.number):
                self.bad(f"{where}/time", f"dtype {tm.dtype} is not numeric")
            elif tm.shape not in ((), (n,)):
                self.bad(f"{where}/time", f"shape {tm.shape}, value has {n} entries")
        if "unit" in value.attrs and value.attrs.get_id("unit").get_type().get_class() != h5py.h5t.STRING:
            self.bad(f"{where}/value@unit", "unit must be a string")
        return "timed", n, value.shape[1:]

    # -- /particles --------------------------------------------------------------------
    def particles(self):
        parts = self.f.get("particles")
        if parts is None:
            return
        for name in parts:
            g = parts[name]
            where = g.name
            if not isinstance(g, h5py.Group):
                self.bad(where, "particles children must be particle groups")
                continue
            if "box" not in g:
                self.bad(where, "no 'box' group")
                continue
            box = g["box"]
            d = box.attrs.get("dimension")
            if d is None or not np.issubdtype(np.asarray(d).dtype, np.integer) or np.asarray(d).shape != () \
                    or not 1 <= int(d) <= 3:
                self.bad(box.name, f"'dimension' must be an integer scalar 1..3, got {d!r}")
                continue
            d = int(d)
            if "boundary" not in box.attrs:
                self.bad(box.name, "no 'boundary' attribute")
                boundary = []
            else:
                aid = box.attrs.get_id("boundary")
                if aid.get_type().get_class() != h5py.h5t.STRING:
                    self.bad(f"{box.name}@boundary", "must be a string array")
                boundary = _string_values(box.attrs["boundary"])
                if len(boundary) != d or any(b not in ("periodic", "none") for b in boundary):
                    self.bad(f"{box.name}@boundary", f"must be {d} of 'periodic'/'none', got {boundary}")
            frames = {}
            if "edges" in box:
                kind, n, shape = self.element(f"{box.name}/edges", box["edges"])
                if kind and shape not in ((d,), (d, d)):
                    self.bad(f"{box.name}/edges", f"per-frame shape {shape}, expected ({d},) or ({d}, {d})")
                if kind == "timed":
                    frames["box/edges"] = n
            elif "periodic" in boundary:
                self.bad(box.name, "periodic boundary without 'edges'")
            sizes = set()
            for key in g:
                if key == "box":
                    continue
                kind, n, shape = self.element(f"{where}/{key}", g[key])
                if kind is None:
                    continue
                if kind == "timed":
                    frames[key] = n
                if key in VECTOR_ELEMENTS:
                    if len(shape) != 2 or shape[1] != d:
                        self.bad(f"{where}/{key}", f"per-frame shape {shape}, expected (N, {d})")
                    else:
                        sizes.add(shape[0])
                elif key in SCALAR_ELEMENTS:
                    if len(shape) != 1:
                        self.bad(f"{where}/{key}", f"per-frame shape {shape}, expected (N,)")
                    else:
                        sizes.add(shape[0])
                if key in ("image", "species", "id"):
                    ds = g[key]["value"] if kind == "timed" else g[key]
                    if not np.issubdtype(ds.dtype, np.integer):
                        self.bad(f"{where}/{key}", f"dtype {ds.dtype} is not an integer type")
            if len(sizes) > 1:
                self.bad(where, f"elements disagree on the number of particles: {sorted(sizes)}")
            # elements sharing one step dataset (hard links) must have as many entries
            if "position" in frames:
                for key, n in frames.items():
                    el = g[key] if key != "box/edges" else box["edges"]
                    if el["step"] == g["position/step"] and n != frames["position"]:
                        self.bad(f"{where}/{key}", f"{n} entries but shares position's step ({frames['position']})")

    # -- /observables ------------------------------------------------------------------
    def observables(self):
        obs = self.f.get("observables")
        if obs is None:
            return
        for key in obs:
            item = obs[key]
            if isinstance(item, h5py.Group) and "value" not in item:
                for sub in item:   # a group of observables (e.g. per particle group)
                    if isinstance(item[sub], h5py.Group) and "value" not in item[sub]:
                        self.bad(item[sub].name, "observables nest at most one group deep and must be "
                                                 "elements (value/step/time) or datasets")
                    else:
                        self.element(item[sub].name, item[sub])
            else:
                self.element(item.name, item)

    def roots(self):
        for key in self.f:
            if key not in H5MD_ROOTS and key not in self.extra_roots:
                self.bad(f"/{key}", f"not an H5MD group (allowed besides H5MD's: {list(self.extra_roots)})")


def h5md_problems(path, extra_roots=("pyglass",)) -> list:
    with h5py.File(path, "r") as f:
        c = _Checker(f, extra_roots)
        c.h5md()
        c.particles()
        c.observables()
        c.roots()
        return c.problems
