"""Registries: deck names -> the classes/functions that implement them, filled where each is defined.

A potential, integrator, minimizer, observable or stage kind becomes available to decks by
registering itself next to its definition:

    from pyglass.registry import POTENTIALS

    @POTENTIALS.register("kob-andersen")
    def KobAndersen(cutoff=2.5, ...): ...

`Key` describes one deck key (type, default, range, documentation); observable and stage kinds
declare their keys with it, and `pyglass.workflow.deck` validates decks and writes `docs/deck.md` from
those declarations, so every default is written down once, beside the code that uses it.
This module imports nothing from pyglass: any module can register without import cycles.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

REQUIRED = object()
NUM = (int, float)


@dataclass
class Key:
    """One deck key: accepted types, default (REQUIRED if none), documentation and checks."""
    types: tuple
    default: object = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    lo: float | None = None          # lower bound
    lo_open: bool = False            # True: value must be > lo
    hi: float | None = None          # upper bound (inclusive)
    items: type | None = None        # element type of a list
    when: str = ""                   # documentation: the condition under which it applies

    def describe_type(self) -> str:
        names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                 dict: "table"}
        types = [t for t in self.types if not (t is int and float in self.types)]   # int is a number
        t = " or ".join(names.get(t, t.__name__) for t in types)
        if self.items is not None:
            t += f" of {names.get(self.items, self.items.__name__)}"
        return t

    def describe_range(self) -> str:
        parts = []
        if self.choices:
            parts.append("one of " + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in self.choices))
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"<= {self.hi:g}")
        return "; ".join(parts)


class Registry:
    """Name -> object, filled by `register` where each object is defined. The modules listed in
    `modules` are imported on first lookup so that their registrations have run."""

    def __init__(self, what: str, modules=()):
        self.what = what
        self._modules = tuple(modules)
        self._entries: dict = {}
        self._loaded = False

    def register(self, name: str, obj=None):
        """Register `obj` under `name`; as a decorator when `obj` is omitted."""
        def add(o):
            if name in self._entries and self._entries[name] is not o:
                raise ValueError(f"{self.what} {name!r} is registered twice "
                                 f"({self._entries[name]!r} and {o!r})")
            self._entries[name] = o
            return o
        return add if obj is None else add(obj)

    def _load(self):
        if not self._loaded:
            self._loaded = True
            for m in self._modules:
                importlib.import_module(m)

    def __contains__(self, name):
        self._load()
        return name in self._entries

    def __getitem__(self, name):
        self._load()
        return self._entries[name]

    def get(self, name, default=None):
        self._load()
        return self._entries.get(name, default)

    def names(self) -> list:
        self._load()
        return list(self._entries)

    def items(self):
        self._load()
        return list(self._entries.items())

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self.names())

    def __setitem__(self, name, obj):   # tests and plugins may replace an entry (monkeypatch.setitem)
        self._load()
        self._entries[name] = obj

    def __delitem__(self, name):
        self._load()
        del self._entries[name]


SCHEDULE_KINDS = ("linear", "log")


@dataclass
class ObservableType:
    """A registered observable: `factory(params, ctx)` returns an object with `due(step)`,
    `sample(system, step, result)` and `write(h5group)`; `params` are its own deck keys.
    `ctx` is a `pyglass.workflow.stages.md.ObservableContext` (system, potential, integrator, writer,
    schedule, comm, stage, stage_index)."""
    factory: object
    params: dict = None
    doc: str = ""
    schedules: tuple = SCHEDULE_KINDS

    def __post_init__(self):
        if self.params is None:
            self.params = {}


POTENTIALS = Registry("potential model", ["pyglass.engine.potentials"])
INTEGRATORS = Registry("integrator", ["pyglass.engine.integrators"])
MINIMIZERS = Registry("minimizer", ["pyglass.engine.minimizers"])
OBSERVABLES = Registry("observable", ["pyglass.workflow.run.output_observables", "pyglass.analysis.observables"])
STAGES = Registry("stage kind", ["pyglass.workflow.stages"])
PAPERS = Registry("paper", ["pyglass.papers"])   # pyglass.workflow.reproduce.paper.Paper, one per folder
