"""The reproduction standard in code (docs/reproductions/standard.md): a paper's `criteria.toml`, its
tolerances as objects that give both the verdict and its prose, and the commit that fixed them.

    crit = paper.criteria()                      # Criteria of pyglass/papers/<name>/criteria.toml
    row = crit.row("ir-mode-overlap")
    row.tolerance.holds(ours=55.1, se=9.9)       # the verdict ...
    row.tolerance.prose                          # ... and the words, from one object
    crit.score({"ir-mode-overlap": Measurement(55.1, 9.9)})   # -> [Quantity], one per row
"""
from __future__ import annotations

import math
import os
import subprocess
import tomllib
from dataclasses import dataclass, field

import numpy as np

TESTS = ("agree", "above", "below", "outside", "significant", "equal")
KINDS = ("claim", "check")


class CriteriaError(ValueError):
    """A criteria file that does not follow docs/reproductions/standard.md (names file and row)."""


# ---------------------------------------------------------------------------------- tolerances
@dataclass(frozen=True)
class Tolerance:
    """One row's test. `holds(ours, se)` is the verdict, `prose` the same rule in words."""
    test: str
    paper: object = None
    paper_se: float = 0.0
    allowance: float = 0.0
    than: float = 0.0
    low: float | None = None
    high: float | None = None
    alpha: float = 0.05

    def combined_se(self, se: float) -> float:
        return math.sqrt(se ** 2 + self.paper_se ** 2 + self.allowance ** 2)

    def holds(self, ours, se: float = 0.0) -> bool:
        """The verdict for our value `ours` with standard error `se` (for `significant`, ours is the
        analysis' p-value). A value that could not be measured (None, NaN) never holds."""
        if ours is None or (isinstance(ours, float) and not math.isfinite(ours)):
            return False
        se = 0.0 if se is None or not math.isfinite(se) else float(se)
        t = self.test
        if t == "agree":
            return abs(float(ours) - float(self.paper)) <= 2.0 * self.combined_se(se)
        if t == "above":
            return float(ours) - 2.0 * se > self.than
        if t == "below":
            return float(ours) + 2.0 * se < self.than
        if t == "outside":
            lo, hi = float(ours) - 2.0 * se, float(ours) + 2.0 * se
            return hi < self.low or lo > self.high
        if t == "significant":
            return float(ours) < self.alpha
        if t == "equal":
            return ours == self.paper
        raise CriteriaError(f"unknown test {t!r}")

    @property
    def prose(self) -> str:
        t = self.test
        if t == "agree":
            parts = ["our s.e."] + (["the paper's s.e. " + _g(self.paper_se)] if self.paper_se else []) + \
                    (["an allowance " + _g(self.allowance)] if self.allowance else [])
            return f"|ours - {_g(self.paper)}| <= 2 x combined s.e. ({', '.join(parts)})"
        if t == "above":
            return f"ours more than 2 s.e. above {_g(self.than)}"
        if t == "below":
            return f"ours more than 2 s.e. below {_g(self.than)}"
        if t == "outside":
            return f"ours +- 2 s.e. wholly outside [{_g(self.low)}, {_g(self.high)}]"
        if t == "significant":
            return f"p < {_g(self.alpha)}"
        return f"equal to {self.paper}"


def _g(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Row:
    id: str
    kind: str
    quantity: str
    where: str
    estimator: str
    reason: str
    tolerance: Tolerance
    quote: str = ""
    part: str = ""

    @property
    def paper(self):
        return self.tolerance.paper


@dataclass(frozen=True)
class Headline:
    id: str
    where: str
    claim: str
    rows: tuple = ()
    not_attempted: str = ""


@dataclass
class Measurement:
    """What an analysis measured for one row: our value, its standard error over independent samples,
    and a note (e.g. the counts behind it). `ours` is a p-value for a `significant` row."""
    ours: object
    se: float = float("nan")
    note: str = ""


def measured(ours, se=float("nan"), note: str = "") -> Measurement:
    """A Measurement with plain Python numbers (integers stay integers: counts and `equal` rows)."""
    ours = ours if isinstance(ours, (int, np.integer, str, tuple, list)) else float(ours)
    return Measurement(ours.item() if isinstance(ours, np.integer) else ours, float(se), note)


def sample_mean(values, note: str = "", unit: str = "samples", min_samples: int = 2) -> Measurement | None:
    """The mean over independent samples with its standard error (analysis.statistics.mean_and_se);
    None (the row is not measured) with fewer than `min_samples` finite values. The note ends with
    the count."""
    from pyglass.analysis.statistics import mean_and_se
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < min_samples:
        return None
    m, se = mean_and_se(v)
    return measured(m, se, (note + "; " if note else "") + f"{len(v)} {unit}")


def difference(a: Measurement | None, b: Measurement | None, note: str = "") -> Measurement | None:
    """a - b of two independent measurements, standard errors in quadrature; None if either is."""
    if a is None or b is None:
        return None
    return measured(a.ours - b.ours, np.hypot(a.se, b.se),
                    f"{a.ours:.4g} +- {a.se:.2g} minus {b.ours:.4g} +- {b.se:.2g}" + (f"; {note}" if note else ""))


@dataclass
class Criteria:
    paper: str
    title: str
    path: str
    headlines: list = field(default_factory=list)
    rows: list = field(default_factory=list)

    @classmethod
    def load(cls, path: str) -> "Criteria":
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise CriteriaError(f"{path}: not valid TOML ({exc})") from None
        for key in ("paper", "row", "headline"):
            if key not in raw:
                raise CriteriaError(f"{path}: no '{key}'")
        rows, seen = [], set()
        for k, r in enumerate(raw["row"]):
            where = f"{path}: row {k + 1} ({r.get('id', '?')})"
            for key in ("id", "kind", "quantity", "where", "estimator", "test", "reason"):
                if key not in r:
                    raise CriteriaError(f"{where}: no '{key}'")
            if r["id"] in seen:
                raise CriteriaError(f"{where}: id {r['id']!r} used twice")
            seen.add(r["id"])
            if r["kind"] not in KINDS:
                raise CriteriaError(f"{where}: kind {r['kind']!r} is not one of {KINDS}")
            if r["test"] not in TESTS:
                raise CriteriaError(f"{where}: test {r['test']!r} is not one of {TESTS}")
            if r["test"] in ("agree", "equal") and "paper" not in r:
                raise CriteriaError(f"{where}: test {r['test']!r} needs the paper's value 'paper'")
            if r["test"] == "outside" and not ("low" in r and "high" in r):
                raise CriteriaError(f"{where}: test 'outside' needs 'low' and 'high'")
            if r["kind"] == "claim" and not r.get("quote"):
                raise CriteriaError(f"{where}: a claim quotes the paper ('quote')")
            tol = Tolerance(r["test"], r.get("paper"), float(r.get("paper_se", 0.0)), float(r.get("allowance", 0.0)),
                            float(r.get("than", 0.0)), r.get("low"), r.get("high"), float(r.get("alpha", 0.05)))
            rows.append(Row(r["id"], r["kind"], r["quantity"], r["where"], r["estimator"], r["reason"], tol,
                            r.get("quote", ""), r.get("part", "")))
        heads = []
        for k, h in enumerate(raw["headline"]):
            where = f"{path}: headline {k + 1} ({h.get('id', '?')})"
            for key in ("id", "where", "claim"):
                if key not in h:
                    raise CriteriaError(f"{where}: no '{key}'")
            missing = [r for r in h.get("rows", []) if r not in seen]
            if missing:
                raise CriteriaError(f"{where}: rows {missing} are not defined")
            if not h.get("rows") and not h.get("not_attempted"):
                raise CriteriaError(f"{where}: give the rows that measure it or 'not_attempted' and why")
            heads.append(Headline(h["id"], h["where"], h["claim"], tuple(h.get("rows", [])), h.get("not_attempted", "")))
        return cls(raw["paper"], raw.get("title", ""), path, heads, rows)

    def row(self, row_id: str) -> Row:
        for r in self.rows:
            if r.id == row_id:
                return r
        raise KeyError(f"{self.path}: no row {row_id!r}")

    def score(self, measured: dict) -> list:
        """Quantities for every row, in the file's order; a row the analysis did not measure is
        reported as 'not measured' (a miss)."""
        out = []
        for r in self.rows:
            m = measured.get(r.id)
            q = Quantity.from_row(r, m)
            out.append(q)
        return out


def file_commit(path: str) -> str:
    """The commit that last changed `path` ('' outside a git checkout, e.g. an installed package)."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%H", "--", os.path.basename(path)],
                             cwd=os.path.dirname(os.path.abspath(path)), capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------------------------- report rows
@dataclass
class Quantity:
    """One row of a report (see the module docstring)."""
    quantity: str
    paper: object
    ours: object
    spread: object
    tolerance: object            # a criteria.Tolerance, or prose (rows not yet under the standard)
    holds: bool | None = None    # None: computed from the Tolerance
    id: str = ""
    kind: str = "unscored"       # "claim" | "check" under the standard
    where: str = ""
    note: str = ""

    def __post_init__(self):
        if self.holds is None:
            if isinstance(self.tolerance, str):
                raise ValueError(f"{self.quantity}: a prose tolerance needs an explicit verdict")
            se = self.spread if isinstance(self.spread, (int, float, np.floating)) else float("nan")
            self.holds = bool(self.tolerance.holds(self.ours, float(se)))

    @classmethod
    def from_row(cls, row, measured):
        """The Quantity of a criteria row given what the analysis measured (a criteria.Measurement, or
        None: not measured)."""
        if measured is None:
            return cls(row.quantity, row.paper, "not measured", "", row.tolerance, False, row.id, row.kind,
                       row.where, "")
        return cls(row.quantity, row.paper, measured.ours, measured.se, row.tolerance, None, row.id, row.kind,
                   row.where, measured.note)

    @property
    def tolerance_text(self) -> str:
        return self.tolerance if isinstance(self.tolerance, str) else self.tolerance.prose

    def record(self) -> dict:
        return {"id": self.id, "kind": self.kind, "where": self.where, "quantity": self.quantity,
                "paper": _clean(self.paper), "ours": _clean(self.ours), "spread": _clean(self.spread),
                "tolerance": self.tolerance_text, "holds": bool(self.holds), "note": self.note}

    def row(self) -> str:
        def f(v):
            return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)
        ours = f"{self.ours} ({self.note})" if self.ours == "not measured" and self.note else f(self.ours)
        cells = [self.quantity, self.where, f(self.paper), ours, f(self.spread), self.tolerance_text,
                 "yes" if self.holds else "**no**"]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _clean(v):   # strict JSON: NaN/inf (a number that could not be measured) become null
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    return v
