"""The one place where a run's file names are made. Everything that finds a run's files (the run
itself, `pyglass plot`, the results API, the paper analyses) calls these.

For an output path `out.h5`:
- a single run writes `out.h5` (replica r of several: `out.rep<r>.h5`) and checkpoints to
  `out.ckpt.h5` (unless `output.checkpoint_path` names another file);
- a study writes the index `out.h5`, unit files `out[.<state>].s<k>.h5`, each with its checkpoint
  `out[.<state>].s<k>.ckpt.h5`, and, with samples drawn from one trajectory, the draw file
  `out[.<state>].draw.h5` with its checkpoint;
- a softness-train stage `<name>` writes its model to `out.<name>.json` (unless its `model` key names
  another file).
"""
from __future__ import annotations

import os

CHECKPOINT_SUFFIX = ".ckpt.h5"
DRAW_SUFFIX = ".draw.h5"


def _stem_ext(path: str):
    stem, ext = os.path.splitext(path)
    return stem, ext or ".h5"


def checkpoint_path(path: str) -> str:
    """The checkpoint file of output `path`."""
    return os.path.splitext(path)[0] + CHECKPOINT_SUFFIX


def replica_path(path: str, replica: int, n_replicas: int) -> str:
    """Output of replica `replica` of a single run over `n_replicas` groups (the path itself for one)."""
    if n_replicas == 1:
        return path
    stem, ext = _stem_ext(path)
    return f"{stem}.rep{replica}{ext}"


def unit_path(path: str, label: str, sample: int) -> str:
    """Output file of study unit (state `label`, sample): <stem>[.<label>].s<sample><ext>."""
    stem, ext = _stem_ext(path)
    return f"{stem}{'.' + label if label else ''}.s{sample}{ext}"


def draw_path(path: str, label: str = "") -> str:
    """The draw trajectory of state `label` of a study whose samples come from one trajectory."""
    return os.path.splitext(path)[0] + (f".{label}" if label else "") + DRAW_SUFFIX


def model_path(path: str, stage: str) -> str:
    """The default softness model file of training stage `stage` of the run writing `path`."""
    return os.path.splitext(path)[0] + f".{stage}.json"


def relative_to_index(index: str, path: str) -> str:
    """`path` as the index file stores it: relative to the index's folder."""
    return os.path.relpath(path, os.path.dirname(os.path.abspath(index)))


def from_index(index: str, stored: str) -> str:
    """A path stored in an index file, resolved against the index's folder."""
    return os.path.join(os.path.dirname(os.path.abspath(index)), stored)
