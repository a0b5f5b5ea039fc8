"""Reading pyglass H5MD output with MDAnalysis (imported only when used)."""
from __future__ import annotations

import os

import h5py
import numpy as np

from pyglass.io.h5md.status import _s


def mdanalysis_universe(path, **kwargs):
    """An MDAnalysis Universe over a pyglass H5MD output file (MDAnalysis >= 2.0 installed).

    What it does that `Universe.empty(N).load_new(path, format="H5MD")` does not: atom types,
    names and masses from /particles/all; `convert_units=False` (pyglass values are in reduced
    units, for which H5MD has no unit string MDAnalysis knows, so no `unit` attribute is
    written); and `ts.data` from /observables (thermo) matched to each frame *by step* (NaN where
    no row has the frame's step), where MDAnalysis's own reader takes row i for frame i, which is
    wrong whenever the thermo and trajectory schedules differ and fails with an IndexError when
    there are fewer thermo rows than frames. Extra keyword arguments go to `load_new`."""
    import MDAnalysis as mda
    path = os.fspath(path)
    from pyglass.io.safe_read import open_h5
    with open_h5(path) as f:
        g = f["particles/all"]
        if "position" not in g:
            raise ValueError(f"{path}: '/particles/all' has no position frames (output.trajectory = 0?)")
        n = g["position/value"].shape[1]
        names = [_s(x) for x in g.attrs["type_names"]]
        species = g["species/value"][0] if g["species/value"].shape[0] else np.zeros(n, np.int32)
        masses = g["mass"][()] if "mass" in g else np.ones(n)
    u = mda.Universe.empty(n, trajectory=False)
    types = np.array(names, dtype=object)[species]
    u.add_TopologyAttr("types", types)
    u.add_TopologyAttr("names", types)
    u.add_TopologyAttr("masses", masses)
    kwargs.setdefault("convert_units", False)
    u.load_new(path, format=_mda_reader(), **kwargs)
    return u


_MDA_READER = None


def _mda_reader():
    """MDAnalysis's H5MDReader with observables matched to frames by step (class made once, not
    registered under a format name)."""
    global _MDA_READER
    if _MDA_READER is not None:
        return _MDA_READER
    from MDAnalysis.coordinates.H5MD import H5MDReader
    from pyglass.io.snapshot import element_steps, element_times

    class PyglassH5MDReader(H5MDReader):
        def _copy_to_data(self):
            cache = self.__dict__.setdefault("_pyglass_steps", {})
            g = self._particle_group
            el = next(g[name] for name, has in self._has.items() if has)
            if el.name not in cache:
                cache[el.name] = (element_steps(el), element_times(el))
            steps, times = cache[el.name]
            step = int(steps[self._frame])
            self.ts.data["step"] = step
            if times is not None:
                self.ts.time = float(times[self._frame])
            obs = self._file.get("observables")
            if not isinstance(obs, h5py.Group):
                return

            def walk(grp, prefix):
                for key in grp:
                    item = grp.get(key)
                    if not isinstance(item, h5py.Group):
                        continue
                    if isinstance(item.get("value"), h5py.Dataset):
                        if item.name not in cache:
                            cache[item.name] = (element_steps(item), None)
                        hit = np.flatnonzero(cache[item.name][0] == step)
                        self.ts.data[prefix + key] = item["value"][int(hit[-1])] if hit.size else np.nan
                    else:
                        walk(item, prefix + key + "/")
            walk(obs, "")

    PyglassH5MDReader.__module__ = __name__   # picklable (parallel analysis): module __getattr__ below
    PyglassH5MDReader.__qualname__ = "PyglassH5MDReader"
    _MDA_READER = PyglassH5MDReader
    return _MDA_READER


def __getattr__(name):
    if name == "PyglassH5MDReader":   # made on first use: importing pyglass never imports MDAnalysis
        return _mda_reader()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
