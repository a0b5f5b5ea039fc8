"""Results as objects: open what `pyglass run` wrote and read it by name, not by HDF5 path.

    from pyglass.workflow.run import results
    out = results.open("out/study.h5")         # a Study (an index file) or a Run (any other output)
    for unit in out.units(status="complete"):  # Unit: state, sample, seed, status, path
        run = unit.run
        p = run.stage("modes")["participation"]            # a stage's datasets by name
        e = run.stage("quench").attrs["quench_energy"]     # and its attributes
        fs = run.stage("production")["self-dynamics"]["fs"]  # an observable's group inside a stage
        ist = run.final_system()               # the state the run ended in (its checkpoint)
    first = out.unit("T0.47", 0)               # one unit by state label and sample
    draw = out.draw("T0.47")                   # the draw trajectory of a state point (a Run)
    for system in draw.frames(): ...           # its trajectory frames as Systems
    for name, group in run.stage("production").walk(): ...   # every group beneath a stage

File names come from `pyglass.workflow.run.paths` (the one place they are made). Files written before the
results moved to their own root (`/observables`) are read as well.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import h5py
import numpy as np

from pyglass.io.safe_read import STUDY_LINKS, open_h5
from pyglass.io.h5md import RESULTS_ROOT, _s, file_status, path_status
from pyglass.workflow.run.paths import checkpoint_path, draw_path, from_index


def _results_group(f):
    """The results group of an open output file: /<RESULTS_ROOT>, or /observables in files written
    before results moved to their own root (runs started with an earlier pyglass)."""
    if RESULTS_ROOT in f:
        return f[RESULTS_ROOT]
    if "observables" in f:
        return f["observables"]
    return None


_CHECKED: dict = {}


def _open(path):
    """The file read-only. The first open of a file (as it is now: path, size, mtime) goes through
    `io.safe_read.open_h5`, which refuses links and storage outside the file (a study index's links
    to its units are allowed); later opens of the unchanged file skip the scan."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key in _CHECKED:
        return h5py.File(path, "r")
    f = open_h5(path, allow_external_links_under=STUDY_LINKS)
    _CHECKED[key] = True
    return f


class StageResult(Mapping):
    """The results group of a stage (or a group inside it): datasets read as numpy arrays, subgroups
    as StageResult, `attrs` as a dict. Keys may be nested with '/'."""

    def __init__(self, path: str, group: str):
        self.path, self.group = path, group

    def _open(self):
        f = _open(self.path)
        return f, f[self.group]

    def __getitem__(self, key):
        f, g = self._open()
        with f:
            if key not in g:
                raise KeyError(f"{self.path}: {self.group} has no {key!r} (it has {sorted(g)})")
            obj = g[key]
            if isinstance(obj, h5py.Group):
                return StageResult(self.path, obj.name)
            v = obj[()]
            return v.decode() if isinstance(v, bytes) else v

    def __contains__(self, key):
        f, g = self._open()
        with f:
            return key in g

    def __iter__(self):
        f, g = self._open()
        with f:
            return iter(list(g))

    def __len__(self):
        f, g = self._open()
        with f:
            return len(g)

    def groups(self) -> list:
        """Names of the subgroups (e.g. an observable's results inside a stage), without reading data."""
        f, g = self._open()
        with f:
            return [k for k, v in g.items() if isinstance(v, h5py.Group)]

    def walk(self):
        """(name relative to this group, StageResult) of every group beneath it, depth first."""
        f, g = self._open()
        with f:
            names = []
            g.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Group) else None)
        return [(n, StageResult(self.path, f"{self.group}/{n}")) for n in names]

    @property
    def attrs(self) -> dict:
        f, g = self._open()
        with f:
            return {k: (_s(v) if isinstance(v, bytes) else v) for k, v in g.attrs.items()}

    def __repr__(self):
        return f"StageResult({self.path!r}, {self.group!r})"


class Run:
    """One output file of `pyglass run` (a single run, a study unit or a draw trajectory)."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.path}: no such output file")

    def __repr__(self):
        return f"Run({self.path!r}, status={self.status!r})"

    @property
    def status(self) -> str:
        """'complete', 'interrupted', 'running' ('' for a file with no provenance)."""
        with _open(self.path) as f:
            return file_status(f)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def deck(self) -> str | None:
        """The deck text the run was made by (its provenance)."""
        with _open(self.path) as f:
            d = f.get("h5md/provenance/deck")
            return None if d is None else _s(d[()])

    @property
    def provenance(self) -> dict:
        with _open(self.path) as f:
            p = f.get("h5md/provenance")
            return {} if p is None else {k: (_s(v) if isinstance(v, bytes) else v) for k, v in p.attrs.items()}

    @property
    def profile(self) -> dict | None:
        """Where the run's wall time went, by phase (pyglass.workflow.run.profile; None for a run
        made before profiles, or not finished)."""
        from pyglass.workflow.run.profile import parse
        return parse(self.provenance.get("profile"))

    def stages(self) -> list:
        """Names of the result groups in the file (one per stage that wrote results)."""
        with _open(self.path) as f:
            r = _results_group(f)
            return [] if r is None else list(r)

    def stage(self, name: str) -> StageResult:
        with _open(self.path) as f:
            r = _results_group(f)
            if r is None or name not in r:
                have = [] if r is None else sorted(r)
                raise KeyError(f"{self.path}: no results of stage {name!r} (stages with results: {have})")
            return StageResult(self.path, r[name].name)

    def has_stage(self, name: str) -> bool:
        with _open(self.path) as f:
            r = _results_group(f)
            return r is not None and name in r

    @property
    def checkpoint_path(self) -> str:
        return checkpoint_path(self.path)

    def final_system(self):
        """The state the run ended in: its checkpoint (the inherent structure when the deck ends with
        landscape stages), else the last trajectory frame."""
        from pyglass.io.checkpoint import read_checkpoint
        if os.path.exists(self.checkpoint_path):
            return read_checkpoint(self.checkpoint_path).system
        return self.frame(-1)

    @property
    def n_frames(self) -> int:
        with _open(self.path) as f:
            v = f.get("particles/all/position/value")
            return 0 if v is None else int(v.shape[0])

    def frame(self, k: int):
        """Trajectory frame k (negative from the end) as a System."""
        from pyglass.io.snapshot import read_snapshot
        return read_snapshot(self.path, frame=k)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1):
        """The trajectory's frames as Systems (for offline analysis: `Observable.run(run.frames())`)."""
        for k in range(*slice(start, stop, step).indices(self.n_frames)):
            yield self.frame(k)

    def trajectory(self, unwrapped: bool = True, start: int = 0, stop: int | None = None, step: int = 1):
        """(time (frames,), positions (frames, N, d)) of the stored frames in one read, unwrapped by
        their image counters (position + image @ h^T with each frame's box) unless `unwrapped` is
        False. For whole-trajectory analyses (F_s, alpha2, S(q)); `frames()` gives Systems."""
        with _open(self.path) as f:
            g = f.get("particles/all")
            if g is None or "position" not in g:
                raise KeyError(f"{self.path}: no trajectory frames (/particles/all/position)")
            sel = slice(start, stop, step)
            x = g["position/value"][sel]
            t = g["position/time"][sel]
            if unwrapped:
                img = g["image/value"][sel].astype(float)
                edges = g["box/edges/value"][sel]          # (frames, d, d): h^T per frame
                if edges.ndim == 2:                         # (frames, d): orthorhombic lengths
                    edges = np.einsum("fk,kd->fkd", edges, np.eye(edges.shape[1]))
                x = x + np.einsum("fnk,fkd->fnd", img, edges)
        return np.asarray(t, float), np.asarray(x, float)

    def thermo(self) -> dict:
        """Thermo columns {name: values} and their 'step' and 'time'."""
        out = {}
        with _open(self.path) as f:
            g = f.get("observables/thermo")
            for name, el in ([] if g is None else g.items()):
                if isinstance(el, h5py.Group) and "value" in el:
                    out[name] = el["value"][()]
                    out.setdefault("step", el["step"][()])
                    out.setdefault("time", el["time"][()])
        return out


class Unit:
    """One unit (state point, sample) of a study."""

    def __init__(self, path, state, state_index, sample, seed, status):
        self.path, self.state, self.state_index = path, state, state_index
        self.sample, self.seed, self.status = sample, seed, status

    @property
    def run(self) -> Run:
        return Run(self.path)

    def __repr__(self):
        return f"Unit(state={self.state!r}, sample={self.sample}, status={self.status!r})"


class Study(Run):
    """A study's index file: its units, their files, the draws and the summaries."""

    def __init__(self, path: str):
        super().__init__(path)
        with _open(self.path) as f:
            st = _results_group(f)["study"]
            self.states = [_s(x) for x in st.attrs["states"]]
            self.samples = int(st.attrs["samples"])
            self.source = _s(st.attrs["source"])
            files = [from_index(self.path, x) for x in st["files"].asstr()[()]]
            idx, sample = st["state_index"][()], st["sample"][()]
            seed = st["seed"][()] if "seed" in st else [None] * len(files)
        self._units = [(p, self.states[j] if self.states else "", int(j), int(s), sd)
                       for p, j, s, sd in zip(files, idx, sample, seed)]

    def __repr__(self):
        return f"Study({self.path!r}, {len(self._units)} units, status={self.status!r})"

    def units(self, status: str | None = None, state: str | None = None) -> list:
        """The units in unit order, each with its file's current status; filtered by `status`
        ('complete', ...) and/or `state` label."""
        out = []
        for p, lab, j, s, sd in self._units:
            if state is not None and lab != state:
                continue
            st = path_status(p) or "missing"
            if status is None or st == status:
                out.append(Unit(p, lab, j, s, None if sd is None else int(sd), st))
        return out

    def unit(self, state: str = "", sample: int = 0) -> Unit:
        """The unit of `state` and `sample`, with its file's current status."""
        for u in self.units(state=state):
            if u.sample == sample:
                return u
        raise KeyError(f"{self.path}: no unit of state {state!r} and sample {sample} (states: {self.states}, "
                       f"samples: {self.samples})")

    def draw(self, state: str = "") -> Run:
        """The draw trajectory of state point `state` (samples drawn from one trajectory)."""
        return Run(draw_path(self.path, state))

    def summary(self, stage: str) -> dict:
        """{state label: {field: {"mean", "low", "high", "n", ...}}} of a summary stage."""
        out = {}
        res = self.stage(stage)
        for lab in res:
            g = res[lab]
            out[lab] = {}
            for key in g:
                h = g[key]
                out[lab][h.attrs.get("field", key)] = {k: np.asarray(h[k]) for k in h}
        return out


def open(path) -> Run:   # noqa: A001 - the module's verb, as h5py.File / results.open
    """A Study for an index file, else a Run."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such output file")
    with _open(path) as f:
        r = _results_group(f)
        is_study = r is not None and "study" in r and isinstance(r["study"], h5py.Group) and "files" in r["study"]
    return Study(path) if is_study else Run(path)

