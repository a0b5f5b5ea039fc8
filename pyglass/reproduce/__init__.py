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

from pyglass.reproduce import kapteijns_2021, mosayebi_2014, sharma_2022, trsp, widmer_cooper_2008
from pyglass.reproduce.report import Quantity, write_report  # noqa: F401

PAPERS = {m.NAME: m for m in (widmer_cooper_2008, kapteijns_2021, mosayebi_2014, trsp, sharma_2022)}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _set(raw: dict, dotted: str, value):
    """Set a dotted deck path in a raw TOML dict (the `[[study.state]] set` syntax: stage.<name>.key,
    arrays of tables indexed)."""
    from pyglass.io.deck.validate import set_path
    node, key = set_path(raw, dotted, any_section=True)
    node[key] = value


def parts(paper):
    """[(tag, deck, reduced overrides, full overrides)] of a paper's study: one deck (tag "") for most
    papers; paper 2 has one per model (PARTS), each run in its own folder run[-full]/<tag>/."""
    return getattr(paper, "PARTS", None) or [("", paper.DECK, paper.REDUCED, paper.FULL)]


def study_deck(paper, full: bool, run_dir: str, part=None, write: bool = True):
    """A deck of the paper (its only one, or `part` of PARTS) with the reduced or full overrides, its
    output under run_dir (written there as deck.toml unless `write` is False)."""
    from pyglass.io.deck import dump_toml, parse_deck
    _, deck_file, reduced, full_set = part or parts(paper)[0]
    path = os.path.join(ROOT, deck_file)
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    raw = copy.deepcopy(raw)
    for k, v in (full_set if full else reduced).items():
        _set(raw, k, v)
    _set(raw, "output.path", os.path.join(run_dir, "study.h5"))
    text = f"# {deck_file} with the {'full' if full else 'reduced'}-scale overrides of pyglass.reproduce\n" + \
        dump_toml(raw)
    deck_path = os.path.join(run_dir, "deck.toml")
    if write:
        os.makedirs(run_dir, exist_ok=True)
        with open(deck_path, "w") as fh:
            fh.write(text)
    return parse_deck(text, deck_path)


def _run_deck(deck, stream):
    """The deck a finished run was made by (its index file's provenance) when the paper's deck has
    changed since: the analysis must describe the run it reads. Says so on `stream`."""
    from pyglass.io.checkpoint import deck_hash
    from pyglass.io.deck import parse_deck
    from pyglass.io.h5md import stored_deck
    index = deck.data["output"]["path"]
    text = stored_deck(index)
    if text is None or deck_hash(text) == deck_hash(deck.text):
        return deck
    print(f"pyglass: {index} was made by an earlier version of its deck; the report describes that run "
          "(rerun it for the current deck)", file=stream)
    return parse_deck(text, index + ":/h5md/provenance/deck")


def _complete(index):
    from pyglass.io.h5md import path_status
    return path_status(index) == "complete"


def reproduce(name: str, full: bool = False, out_dir: str = "reproductions", comm=None, stream=None,
              analyse_only: bool = False, stop_at_step=None, only=None):
    """Run (or continue) the study and write the report; returns the list of Quantity, or None on
    ranks other than 0 and when `only` (a list of part tags: spread a multi-deck study over separate
    jobs) left parts unfinished."""
    from pyglass.run import run_deck
    paper = PAPERS[name]
    base = os.path.join(out_dir, name)
    top = os.path.join(base, "run-full" if full else "run")
    todo = parts(paper)
    unknown = sorted(set(only or ()) - {t for t, *_ in todo})
    if unknown:
        raise ValueError(f"{name} has no part(s) {', '.join(unknown)}; its parts: {', '.join(t for t, *_ in todo)}")
    decks, indexes = {}, {}
    for part in todo:
        tag = part[0]
        run_dir = os.path.join(top, tag) if tag else top
        skip = analyse_only or (only and tag not in only)   # analysed as it was run, not run here
        deck = study_deck(paper, full, run_dir, part, write=not skip)
        if skip:
            deck = _run_deck(deck, stream)
        decks[tag], indexes[tag] = deck, deck.data["output"]["path"]
        if skip:
            continue
        if comm is not None and comm.Get_size() > 1:
            deck.data["run"]["ranks_per_replica"] = 1   # one sample per rank
        restart = indexes[tag] if any(f.startswith("study.") for f in os.listdir(run_dir)) else None
        run_deck(deck, comm, restart=restart, stream=stream, stop_at_step=stop_at_step)
    rank = 0 if comm is None else comm.Get_rank()
    if rank != 0:
        return None
    if only and not all(_complete(i) for i in indexes.values()):
        print(f"pyglass: parts {', '.join(only)} done; the report needs every part: "
              f"{', '.join(t for t in indexes if not _complete(indexes[t]))} still to run", file=stream)
        return None
    if getattr(paper, "PARTS", None):
        quantities, figures, notes = paper.analyse(indexes, decks, base, full)
    else:
        quantities, figures, notes = paper.analyse(indexes[""], decks[""], base, full)
    write_report(paper, base, quantities, figures, notes, full, decks)
    return quantities
