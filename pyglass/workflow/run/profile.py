"""Where a run's wall time goes, by phase: the profile `pyglass run` and `pyglass reproduce` print at
the end, write into the output's provenance (`/h5md/provenance` attribute `profile`, JSON) and the
reproduction report, and whose estimate `--dry-run` shows (`workflow.stages.cost.Cost.phases`).

A phase is entered around coarse calls only (a stage, an observable's sample, a checkpoint, a file
write), never per particle: two `perf_counter` reads per entry. Phases nest; each phase keeps only
its own (exclusive) time, so the phases add up to at most the wall time and "other" (setup, Python
between phases) is the rest. Neighbour-list builds, minimizations and structure functions keep
their own process-wide clocks where they run (`NeighbourList.seconds_building`, with the ghost
rebuild that triggered a build; `Minimizer.seconds_minimising` and
`StructureFunctions.seconds_computing`, without the builds inside), and their time is moved out of
whichever phase they happened in (MD, an inherent-structure trajectory, a paper's analysis) into
"neighbours", "quench" and "structure".

The times are this process's wall clock: in a decomposed run, the replica's first rank; in a study
with several replica groups, the groups' phases are summed (process-seconds) and the wall time is the
first rank's.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager

# phase key -> what the report calls it (the order of the printed profile)
PHASES = {
    "md": "MD steps",
    "neighbours": "neighbour builds",
    "quench": "quenches (minimisation)",
    "landscape": "landscape solves (Hessian, modes, responses)",
    "structure": "structure functions",
    "analysis": "analysis",
    "io": "I/O (frames, results, checkpoints)",
}


def engine_clocks() -> dict:
    """The process-wide clocks of the engine and the analysis kernels, phase -> seconds so far;
    disjoint (a minimization's and the structure functions' clocks leave out the list builds inside)."""
    from pyglass.analysis.softness.structure_functions import StructureFunctions
    from pyglass.engine.minimizers.base import Minimizer
    from pyglass.engine.potentials.base import NeighbourList
    return {"neighbours": NeighbourList.seconds_building, "quench": Minimizer.seconds_minimising,
            "structure": StructureFunctions.seconds_computing}


class Profile:
    """Exclusive wall seconds per phase (`seconds`) since construction (see the module docstring)."""

    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.started = time.perf_counter()
        self.wall: float | None = None      # fixed by finish(); until then, the time since construction
        self.earlier: list = []             # profiles of earlier invocations of the same run (restarts)
        # open phases: [name, seconds of its children, {engine clock: seconds its children moved}]
        self._open: list = []

    @contextmanager
    def phase(self, name: str):
        """Time the block as phase `name`, less its nested phases and what the engine's clocks
        (list builds, minimizations) counted inside it, which go to their own phases."""
        if name not in PHASES:
            raise KeyError(f"unknown profile phase {name!r}; phases: {', '.join(PHASES)}")
        clocks0, t0 = engine_clocks(), time.perf_counter()
        frame = [name, 0.0, dict.fromkeys(clocks0, 0.0)]
        self._open.append(frame)
        try:
            yield self
        finally:
            self._open.pop()
            elapsed = time.perf_counter() - t0
            moved = {k: v - clocks0[k] for k, v in engine_clocks().items()}
            own = 0.0
            for k, v in moved.items():
                self.seconds[k] += v - frame[2][k]      # the children moved their own share already
                own += v - frame[2][k]
            self.seconds[name] += elapsed - frame[1] - own
            if self._open:                              # the enclosing phase leaves this block to us
                parent = self._open[-1]
                parent[1] += elapsed
                for k, v in moved.items():
                    parent[2][k] += v

    def timed(self, fn, name: str):
        """fn wrapped so that each call is timed as phase `name` (an observable's sample)."""
        def wrapper(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)
        wrapper.__wrapped__ = fn
        return wrapper

    def finish(self) -> "Profile":
        self.wall = time.perf_counter() - self.started
        return self

    @property
    def elapsed(self) -> float:
        return self.wall if self.wall is not None else time.perf_counter() - self.started

    # -- records ---------------------------------------------------------------------------------
    def as_dict(self) -> dict:
        """{"wall_seconds", "phases": {phase: seconds}, "other_seconds", "invocations"}, earlier
        invocations (restarts) added in."""
        out = {"wall_seconds": self.elapsed, "phases": dict(self.seconds), "invocations": 1}
        for d in self.earlier:
            out["wall_seconds"] += float(d.get("wall_seconds", 0.0))
            out["invocations"] += int(d.get("invocations", 1))
            for k, v in d.get("phases", {}).items():
                out["phases"][k] = out["phases"].get(k, 0.0) + float(v)
        out["other_seconds"] = max(0.0, out["wall_seconds"] - sum(out["phases"].values()))
        return out

    def to_json(self) -> str:
        return json.dumps(self.as_dict())

    def add_earlier(self, record) -> None:
        """Count a stored profile (dict or JSON; None ignored) of an earlier invocation of this run."""
        record = parse(record)
        if record is not None:
            self.earlier.append(record)

    def lines(self) -> list:
        return describe(self.as_dict())


def parse(record) -> dict | None:
    """A stored profile (JSON text, bytes or dict) as a dict; None for none or unreadable."""
    if record is None or isinstance(record, dict):
        return record
    if isinstance(record, bytes):
        record = record.decode("utf-8", "replace")
    try:
        out = json.loads(record)
    except (TypeError, ValueError):
        return None
    return out if isinstance(out, dict) and isinstance(out.get("phases"), dict) else None


def combine(records, concurrent: bool = False) -> dict | None:
    """Several profiles as one, phases and wall times summed (process-seconds): runs one after another
    (a paper's parts, a run's invocations) or, `concurrent`, processes of one invocation (replica
    groups: the invocations counted once)."""
    records = [r for r in (parse(x) for x in records) if r is not None]
    if not records:
        return None
    out = {"wall_seconds": 0.0, "phases": dict.fromkeys(PHASES, 0.0), "invocations": 0}
    for r in records:
        out["wall_seconds"] += float(r.get("wall_seconds", 0.0))
        n = int(r.get("invocations", 1))
        out["invocations"] = max(out["invocations"], n) if concurrent else out["invocations"] + n
        for k, v in r["phases"].items():
            out["phases"][k] = out["phases"].get(k, 0.0) + float(v)
    out["other_seconds"] = max(0.0, out["wall_seconds"] - sum(out["phases"].values()))
    return out


def _seconds(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.2f} s"


def describe(record: dict, estimate: bool = False) -> list:
    """Table rows (text) of a profile: phase, seconds, share of the wall time; phases with no time left out."""
    wall = float(record.get("wall_seconds", 0.0)) or sum(record["phases"].values())
    rows = [(PHASES.get(k, k), v) for k, v in record["phases"].items() if v > 0]
    if not estimate:
        rows.append(("other (setup, Python between phases)", record.get("other_seconds", 0.0)))
    width = max([len(r[0]) for r in rows] + [5])
    out = [f"  {name:<{width}}  {_seconds(v):>10}  {100 * v / wall if wall else 0:5.1f} %" for name, v in rows]
    head = "estimate by phase" if estimate else "where the time went"
    n = record.get("invocations", 1)
    return [f"{head}: {_seconds(wall)} {'core time' if estimate else 'wall'}"
            + (f" over {n} invocations (restarts)" if n > 1 else "")] + out
