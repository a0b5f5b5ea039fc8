"""Reproduction reports: the headline-number table (summary.json, report.md)."""
from __future__ import annotations

import datetime
import json
import os
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Quantity:
    """One headline number: the paper's value, ours, our spread over samples, the tolerance we claim
    and whether ours holds within it."""
    quantity: str
    paper: object
    ours: object
    spread: object
    tolerance: str
    holds: bool

    def row(self) -> str:
        def f(v):
            return f"{v:.4g}" if isinstance(v, float) else str(v)
        cells = [self.quantity, f(self.paper), f(self.ours), f(self.spread), self.tolerance,
                 "yes" if self.holds else "**no**"]
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def miss_notes(quantities, why: dict):
    """A 'Miss:' note for every row that does not hold: ours against the paper's, and why (the first
    entry of `why` whose key occurs in the quantity's name)."""
    out = []
    for q in quantities:
        if q.holds:
            continue
        reason = next((w for k, w in why.items() if k in q.quantity), "see the notes below.")
        ours = f"{q.ours:.4g}" if isinstance(q.ours, float) else str(q.ours)
        out.append(f"Miss: {q.quantity}: ours {ours} (spread {q.spread}) against the paper's {q.paper} "
                   f"(tolerance: {q.tolerance}). Why: {reason}")
    return out


def results_root(f):
    """The results group of an open output file: /<RESULTS_ROOT>, or /observables in files written
    before results moved to their own root (runs started with an earlier pyglass)."""
    from pyglass.io.h5md import RESULTS_ROOT
    return f[RESULTS_ROOT] if RESULTS_ROOT in f else f["observables"]


def study_units(index):
    """[(unit file path, state label)] of a study's index file, in unit order ("" without states)."""
    import h5py
    with h5py.File(index, "r") as f:
        st = results_root(f)["study"]
        files = list(st["files"].asstr()[()])
        states = list(st.attrs["states"])
        state_index = st["state_index"][()]
    folder = os.path.dirname(os.path.abspath(index))
    return [(os.path.join(folder, p), states[j] if len(states) else "") for p, j in zip(files, state_index)]


def write_report(paper, base, quantities, figures, notes, full, decks):
    from pyglass.reproduce import parts
    def clean(v):   # strict JSON: NaN/inf (a number that could not be measured) become null
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        if isinstance(v, (np.integer, np.bool_)):
            return v.item()
        return v
    with open(os.path.join(base, "summary.json"), "w") as fh:
        json.dump([{k: clean(v) for k, v in asdict(q).items()} for q in quantities], fh, indent=1, allow_nan=False)
    lines = [f"# Reproduction: {paper.TITLE}", "",
             f"`pyglass reproduce {paper.NAME}{' --full' if full else ''}` ({datetime.date.today().isoformat()}), "
             + "; ".join(f"deck `{deck}` with the {'full' if full else 'reduced'}-scale overrides "
                         f"{json.dumps(fs if full else red)}" for _, deck, red, fs in parts(paper)) + ".", "",
             "| quantity | paper | ours | spread | tolerance we claim | holds |", "|---|---|---|---|---|---|"]
    lines += [q.row() for q in quantities]
    lines += ["", "## Figures", ""] + [f"![{os.path.basename(f)}]({os.path.basename(f)})" for f in figures]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in notes] + [""]
    with open(os.path.join(base, "report.md"), "w") as fh:
        fh.write("\n".join(lines))
