"""The deck schema: the sections and their keys (type, default, range, documentation), written
down once. Stage kinds and observables declare their own keys where they are defined
(`pyglass.workflow.stages`, `pyglass.registry.OBSERVABLES`); potentials, integrators and minimizers take
their keys from their Python constructors (`signature_schema`)."""
from __future__ import annotations

import inspect

from pyglass.engine.builders import JITTER_MAX
from pyglass.registry import (INTEGRATORS, MINIMIZERS, NUM, POTENTIALS, REQUIRED, SCHEDULE_KINDS,  # noqa: F401
                              STAGES, Key)

_SKIP = "skip"   # applicability verdict: ignore silently (an earlier error explains it)
# constructor arguments a deck never sets (filled by the runtime or purely internal)
_HIDDEN_ARGS = {"self", "name", "comm", "args", "kwargs"}


def lookup(catalogue, name: str):
    """The class/function registered under `name`, or None if this build lacks it."""
    return catalogue.get(name)


SYSTEM = {
    "file": Key((str,), None, "read the initial configuration from this file (path relative to the deck)",
                when="instead of generate"),
    "format": Key((str,), "auto", "file format; auto = from the extension (.data/.lmp = lammps-data, "
                  ".xyz/.extxyz = extxyz, .dump/.lammpstrj = lammps-dump, .h5/.hdf5 = h5)",
                  ("auto", "lammps-data", "lammps-dump", "extxyz", "h5"), when="file"),
    "frame": Key((int,), -1, "frame of a multi-frame file (extended XYZ, LAMMPS dump, H5MD trajectory); -1 = the last",
                 when="file"),
    "generate": Key((str,), None, "build the configuration: random non-overlapping packing or simple "
                    "cubic/square lattice", ("random", "lattice"), when="instead of file"),
    "n": Key((int,), REQUIRED, "number of particles", lo=1, when="generate"),
    "density": Key(NUM, REQUIRED, "number density N/V", lo=0, lo_open=True, when="generate"),
    "dim": Key((int,), 3, "dimension", (2, 3), when="generate"),
    "composition": Key((list,), [1.0], "fractions of each species (sum 1)", items=float, when="generate"),
    "type_names": Key((list,), None, "species names (default A, B, ...)", items=str, when="generate"),
    "masses": Key((list,), None, "per-species masses (default 1)", items=float, when="generate"),
    "seed": Key((int,), None, "seed of the generator (default: run.seed)", lo=0, when="generate"),
    "min_distance": Key(NUM, 0.8, "smallest distance between two particles", lo=0, lo_open=True,
                        when='generate = "random"'),
    "jitter": Key(NUM, 0.0, "rms displacement per component in lattice spacings, uniform and bounded (the closest "
                  "approach a (1 - 2 sqrt(3) jitter) does not shrink with n)", lo=0, hi=JITTER_MAX,
                  when='generate = "lattice"'),
    "temperature": Key(NUM, None, "draw Maxwell-Boltzmann velocities at this temperature (zero momentum)",
                       lo=0),
}
_GENERATE_ONLY = ("n", "density", "dim", "composition", "type_names", "masses", "seed", "min_distance", "jitter")

POTENTIAL = {
    "model": Key((str,), REQUIRED, "catalogue model; its other keys are the arguments of the Python "
                 "constructor (ARCHITECTURE.md, potential catalogue)"),
}

STAGE_COMMON = {
    "name": Key((str,), None, "label used in messages and output groups (default stage<k>)"),
    "kind": Key((str,), REQUIRED, "what the stage does: a registered stage kind (see the stage kinds below)"),
}

OBSERVABLE_COMMON = {
    "type": Key((str,), REQUIRED, "registered observable name (see the observable table)"),
    "label": Key((str,), None, "name of its output group (default: the type)"),
    "schedule": Key((str,), "linear", "linear: every `every` steps; log: block-logarithmic with "
                    "multiple time origins", SCHEDULE_KINDS),
    "every": Key((int,), 100, "sampling interval", lo=1, when='schedule = "linear"'),
    "block": Key((int,), 1000, "steps per block; each block start is a time origin", lo=1,
                 when='schedule = "log"'),
    "factor": Key(NUM, 2.0, "ratio of successive lags inside a block", lo=1, lo_open=True,
                  when='schedule = "log"'),
    "start": Key((int,), 0, "first sampled step, counted from the stage start", lo=0),
}

OUTPUT = {
    "path": Key((str,), "out.h5", "H5MD output file (relative to the working directory)"),
    "trajectory": Key((int,), 0, "write a trajectory frame every this many steps of every production "
                      "stage (0: none; a stage's own trajectory observable overrides it)", lo=0),
    "thermo": Key((int,), 100, "store thermo values (T, energies, P) every this many steps of every MD "
                  "stage in /observables/thermo (0: none)", lo=0),
    "checkpoint": Key((int,), 0, "write a checkpoint every this many steps (and at each stage end; "
                      "0: only at stage ends and on SIGTERM). With periodic checkpoints a SIGTERM stops at the "
                      "next checkpoint step, so a restart is bit for bit the uninterrupted run", lo=0),
    "checkpoint_path": Key((str,), None, "checkpoint file (default: the output path with .ckpt.h5)"),
    "author": Key((str,), None, "recorded in /h5md/author (default: the user name)"),
}

RUN = {
    "seed": Key((int,), 12345, "master seed; generator, velocity and replica seeds derive from it", lo=0),
    "ranks_per_replica": Key((int,), 0, "MPI ranks per replica (0: all ranks run one replica; "
                             "P / ranks_per_replica replicas run side by side, replica k with its own "
                             "seed and output file <path>.rep<k>.h5)", lo=0),
    "progress": Key((bool,), True, "progress bar on rank 0 when stderr is a terminal"),
    "signal_check": Key((int,), 10, "check for SIGTERM every this many steps (a collective under MPI)", lo=1),
}

STUDY = {
    "samples": Key((int,), 1, "independent samples per state point", lo=1),
    "source": Key((str,), "seeds", "seeds: every sample builds its own configuration (seed derived from "
                  "run.seed, the state point and the sample); trajectory: the stages up to `draw_after` run "
                  "once, then sample k is the configuration after k+1 further blocks of `spacing` MD steps; frames: "
                  "sample k is frame k of `[system] file` (re-analysis of a stored trajectory, no MD needed)",
                  ("seeds", "trajectory", "frames")),
    "draw_after": Key((str,), None, "name of the MD stage whose run continues between draws",
                      when='source = "trajectory"'),
    "spacing": Key((int,), 1000, "MD steps between two drawn samples", lo=1, when='source = "trajectory"'),
    "state": Key((list,), [], "array of tables [[study.state]]: `label` and `set`, a table of deck key "
                 "paths (\"system.density\", \"stage.<name>.integrator.T\") to this state point's values",
                 items=dict),
    "confidence": Key(NUM, 0.9, "confidence level of the bootstrap intervals of summary stages "
                      "(paper 2 uses 90 %)", lo=0, lo_open=True, hi=0.999),
}
STATE = {
    "label": Key((str,), REQUIRED, "name of the state point (file names, output groups)"),
    "set": Key((dict,), {}, "deck key path -> value for this state point: system.*, potential.*, "
               "stage.<name>.* (arrays of tables by index: stage.<name>.observable.0.q), output.*, and "
               "study.spacing"),
}


SCHEMA = {"system": SYSTEM, "potential": POTENTIAL, "stage": STAGE_COMMON, "study": STUDY, "output": OUTPUT,
          "run": RUN}
SECTION_DOC = {
    "system": "the initial configuration: `file` or `generate` (exactly one)",
    "potential": "the interaction; `model` picks a catalogue entry",
    "stage": "`[[stage]]`, one or more, run in order; `kind` picks a stage kind, whose own keys follow",
    "study": "many samples and state points: the stage pipeline runs once per (state point, sample), "
             "samples spread over replica groups; absent = one sample",
    "output": "the H5MD output file and checkpoints",
    "run": "seeds and parallel layout",
}
REQUIRED_SECTIONS = ("system", "potential", "stage")


def signature_schema(fn, hidden=()) -> dict:
    """Deck keys of a constructor: its keyword arguments, types inferred from the defaults
    (numbers accept integers or floats, lists accept arrays or a single number, strings and
    untyped defaults are left to the constructor's own checks)."""
    schema = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name in _HIDDEN_ARGS or name in hidden or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        d = p.default
        if d is inspect.Parameter.empty:
            schema[name] = Key((str, int, float, bool, list, dict), REQUIRED, "required constructor argument")
        elif isinstance(d, bool):
            schema[name] = Key((bool,), d)
        elif isinstance(d, int):
            schema[name] = Key((int,), d)
        elif isinstance(d, float):
            schema[name] = Key(NUM, d)
        elif isinstance(d, (tuple, list)):
            schema[name] = Key((list, int, float), _to_list(d))
        else:   # str, None or other: accept any TOML value, the constructor decides
            schema[name] = Key((str, int, float, bool, list, dict), d)
    return schema


def _to_list(v):
    if isinstance(v, (tuple, list)):
        return [_to_list(x) for x in v]
    return v


