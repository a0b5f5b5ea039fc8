"""`pyglass reproduce <paper> [--full] [-o DIR]`: run a paper's study deck and report its headline
numbers beside the paper's.

Each paper is a module here with
    NAME, TITLE                    the entry-point name and the paper
    DECK                           its study deck in inputs/
    REDUCED, FULL                  deck overrides ({"system.n": 2000, "study.samples": 20, ...})
    analyse(index_path, deck, out_dir, full) -> (quantities, figures, notes)
`reproduce(name, full, out_dir)` runs the deck under `DIR/<paper>/run/` (restarting an interrupted
run where it stopped), then writes `DIR/<paper>/summary.json` — a list of {"quantity", "paper",
"ours", "spread", "tolerance", "holds"} — the PNG figures and `report.md` (the table, the scale that
was run, and the notes saying where we miss and why).
"""
from __future__ import annotations

import copy
import os
import tomllib

from pyglass.reproduce import mosayebi_2014, sharma_2022, trsp, widmer_cooper_2008
from pyglass.reproduce.report import Quantity, write_report  # noqa: F401

PAPERS = {m.NAME: m for m in (widmer_cooper_2008, mosayebi_2014, trsp, sharma_2022)}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _set(raw: dict, dotted: str, value):
    """Set a dotted deck path in a raw TOML dict; stages are addressed by name: stage.<name>.key."""
    parts = dotted.split(".")
    if parts[0] == "stage":
        node = next(st for st in raw["stage"] if st.get("name") == parts[1])
        parts = parts[2:]
    else:
        node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def study_deck(paper, full: bool, run_dir: str):
    """The paper's deck with the reduced or full overrides, its output under run_dir."""
    from pyglass.io.deck import dump_toml, parse_deck
    path = os.path.join(ROOT, paper.DECK)
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    raw = copy.deepcopy(raw)
    for k, v in (paper.FULL if full else paper.REDUCED).items():
        _set(raw, k, v)
    _set(raw, "output.path", os.path.join(run_dir, "study.h5"))
    text = f"# {paper.DECK} with the {'full' if full else 'reduced'}-scale overrides of pyglass.reproduce\n" + \
        dump_toml(raw)
    os.makedirs(run_dir, exist_ok=True)
    deck_path = os.path.join(run_dir, "deck.toml")
    with open(deck_path, "w") as fh:
        fh.write(text)
    return parse_deck(text, deck_path)


def reproduce(name: str, full: bool = False, out_dir: str = "reproductions", comm=None, stream=None,
              analyse_only: bool = False, stop_at_step=None):
    """Run (or continue) the study and write the report; returns the list of Quantity."""
    from pyglass.runner import run_deck
    paper = PAPERS[name]
    base = os.path.join(out_dir, name)
    run_dir = os.path.join(base, "run-full" if full else "run")
    deck = study_deck(paper, full, run_dir)
    index = deck.data["output"]["path"]
    rank = 0 if comm is None else comm.Get_rank()
    if not analyse_only:
        if comm is not None and comm.Get_size() > 1:
            deck.data["run"]["ranks_per_replica"] = 1   # one sample per rank
        restart = index if any(f.startswith("study.") for f in os.listdir(run_dir)) else None
        run_deck(deck, comm, restart=restart, stream=stream, stop_at_step=stop_at_step)
    if rank != 0:
        return None
    quantities, figures, notes = paper.analyse(index, deck, base, full)
    write_report(paper, base, quantities, figures, notes, full, deck)
    return quantities
