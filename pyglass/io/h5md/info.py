"""`pyglass info FILE`: a human summary of a pyglass HDF5 file or any H5MD file."""
from __future__ import annotations

import os

import h5py
import numpy as np

from pyglass.io.h5md.layout import RESULTS_ROOT
from pyglass.io.h5md.status import _s


def info(path) -> str:
    """A human summary of a pyglass HDF5 file (output, checkpoint or snapshot), or of any H5MD
    file: provenance, every particles group, observables and the analysis results under
    /RESULTS_ROOT with their datasets' shapes."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory; give an HDF5 file (output, checkpoint or snapshot)")
    lines = [path]
    from pyglass.io.safe_read import STUDY_LINKS, open_h5
    # a study index links to its sample files: listed, never followed
    with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:
        if "h5md/creator" in f:
            cr = f["h5md/creator"].attrs
            lines.append(f"  creator: {_s(cr.get('name'))} {_s(cr.get('version'))}")
        if "h5md/author" in f:
            lines.append(f"  author: {_s(f['h5md/author'].attrs.get('name'))}")
        if "h5md/provenance" in f:
            p = f["h5md/provenance"].attrs
            lines.append(f"  status: {_s(p.get('status'))}, date {_s(p.get('date'))}, ranks {p.get('n_ranks')}, "
                         f"git {_s(p.get('git_commit'))}")
            lines.append(f"  seeds: {_s(p.get('seeds'))}")
            if "blas" in p:   # files from before it was recorded lack it
                lines.append(f"  blas: {_s(p.get('blas'))}")
        if "checkpoint" in f:
            lines.append(_checkpoint_line(f["checkpoint"]))
        for name, g in (f["particles"].items() if isinstance(f.get("particles"), h5py.Group) else []):
            if isinstance(g, h5py.Group):
                lines.extend(_particles_lines(name, g))
        for root in ("observables", RESULTS_ROOT):
            if isinstance(f.get(root), h5py.Group):
                lines.append(f"  /{root}:")
                lines.extend(_tree_lines(f[root], with_attrs=root == RESULTS_ROOT))
    return "\n".join(lines)


def _checkpoint_line(c) -> str:
    a = c.attrs
    k = int(a["stage_index"])
    n_stages = None
    if "deck" in c:
        try:
            import tomllib
            from pyglass.io.safe_read import nested_depth, read_text
            deck = read_text(c["deck"], c.file.filename)
            n_stages = len(tomllib.loads(deck).get("stage", [])) if nested_depth(deck) <= 64 else None
        except Exception:   # a deck that no longer parses: say less, never fail
            n_stages = None
    tail = (f"global step {int(a['step'])}, time {float(a['time']):g}, written on {int(a['n_ranks'])} rank(s)")
    if n_stages is not None and k >= n_stages:
        return f"  checkpoint: run complete (all {n_stages} stage(s) done), {tail}"
    of = f" of {n_stages}" if n_stages is not None else ""
    return (f"  checkpoint: stage {k + 1}{of} ({_s(a.get('stage_name'))}), step {int(a['step_in_stage'])} in stage, "
            + tail)


def _particles_lines(name, g) -> list:
    names = [_s(x) for x in g.attrs.get("type_names", [])]
    if not names and "species" in g and "type_names" in g["species"].attrs:
        names = [_s(x) for x in g["species"].attrs["type_names"]]
    species = f", species {names}" if names else ""
    pos = g.get("position")
    if isinstance(pos, h5py.Group) and "value" in pos:
        pv = pos["value"]
        steps = _steps(pos, pv.shape[0])
        span = f", steps {int(steps[0])}..{int(steps[-1])}" if len(steps) else ""
        head = f"  /particles/{name}: N = {pv.shape[1]}, d = {pv.shape[2]}{species}; {pv.shape[0]} frame(s){span}"
    elif isinstance(pos, h5py.Dataset):
        head = (f"  /particles/{name}: N = {pos.shape[0]}, d = {pos.shape[1]}{species} (one configuration"
                + (f", step {int(g.attrs['step'])}" if "step" in g.attrs else "") + ")")
    else:
        n = g.attrs.get("n_particles")
        head = f"  /particles/{name}:" + (f" N = {int(n)}" if n is not None else "") + f"{species}; no frames"
    return [head] + _tree_lines(g, indent="    ")


def _steps(el, n):
    """The step of each of the n entries of a time-dependent element (explicit or fixed interval),
    shapes checked before reading (snapshot.element_steps)."""
    if el.get("step") is None:
        return np.zeros(0, np.int64)
    from pyglass.io.snapshot import element_steps
    return element_steps(el, n)


def _tree_lines(group, indent="    ", with_attrs=False) -> list:
    """One line per element or dataset under `group`: time-dependent elements as
    `name: F entries, value (shape) dtype`, plain datasets as `name (shape) dtype`."""
    out = []

    def walk(g, prefix):
        for key in g:
            name = f"{prefix}{key}"
            link = g.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):   # a study's samples: name the file, do not expand
                out.append(f"{indent}{name} -> {link.filename}:{link.path}")
                continue
            obj = g.get(key)
            if isinstance(obj, h5py.Group):
                if "value" in obj and isinstance(obj["value"], h5py.Dataset):
                    v = obj["value"]
                    st = _steps(obj, v.shape[0] if v.shape else 0)
                    span = f", steps {int(st[0])}..{int(st[-1])}" if len(st) else ""
                    out.append(f"{indent}{name}: value {v.shape} {v.dtype}{span}")
                else:
                    if with_attrs and len(obj.attrs):
                        out.append(f"{indent}{name}/ attrs {', '.join(sorted(obj.attrs))}")
                    walk(obj, name + "/")
            elif isinstance(obj, h5py.Dataset):
                out.append(f"{indent}{name} {obj.shape} {obj.dtype}")
    walk(group, "")
    return out
