"""`pyglass reproduce <paper> [--full] [-o DIR]`: run a paper's study and report its headline numbers
beside the paper's.

The machinery lives here; each paper is a plugin folder `pyglass/papers/<name>/` registered in
`pyglass.registry.PAPERS` (`pyglass.workflow.reproduce.paper`). `reproduce(name, full, out_dir)` runs every
deck of the paper under `DIR/<paper>/run[-full]/<part>/` (restarting an interrupted run where it
stopped), then the paper's analysis, and writes `DIR/<paper>/summary.json`, the figures and
`report.md` (`pyglass.workflow.reproduce.report`, with where the time went: the runs' profiles and the
analysis', `pyglass.workflow.run.profile`); a paper with a criteria file is scored by it
(`pyglass.workflow.reproduce.criteria`, docs/reproductions/standard.md).

`--analyse-only` reports whatever parts have finished: the rows of a part not run stay "not
measured", their note names the part, and the report lists every part with its state and commit.
"""
from __future__ import annotations

import copy
import os
import tomllib

from pyglass.registry import PAPERS
from pyglass.workflow.reproduce.paper import Paper, Part  # noqa: F401
from pyglass.workflow.reproduce.report import Quantity, write_report  # noqa: F401
from pyglass.workflow.run.profile import Profile


def _set(raw: dict, dotted: str, value):
    """Set a dotted deck path in a raw TOML dict (the `[[study.state]] set` syntax: stage.<name>.key,
    arrays of tables indexed)."""
    from pyglass.workflow.deck.validate import set_path
    node, key = set_path(raw, dotted, any_section=True)
    node[key] = value


def study_deck(paper: Paper, full: bool, run_dir: str, part: Part | None = None, write: bool = True):
    """A deck of the paper (its only one, or `part`) with the reduced or full overrides, its output
    under run_dir (written there as deck.toml unless `write` is False)."""
    from pyglass.workflow.deck import dump_toml, parse_deck
    part = part or paper.parts[0]
    with open(paper.deck_path(part), "rb") as fh:
        raw = copy.deepcopy(tomllib.load(fh))
    for k, v in part.overrides(full).items():
        _set(raw, k, v)
    _set(raw, "output.path", os.path.join(run_dir, "study.h5"))
    text = (f"# {paper.name}/{part.deck} with the {'full' if full else 'reduced'}-scale overrides of "
            "pyglass reproduce\n" + dump_toml(raw))
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
    from pyglass.workflow.deck import parse_deck
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


def paper_plan(name: str, full: bool, out_dir: str = "reproductions") -> list:
    """`pyglass reproduce <paper> [--full] --dry-run`: each part's deck resolved at the chosen scale and
    its plan (units, stages and their cost), nothing run or written."""
    from pyglass.workflow.run.plan import deck_cost, plan
    from pyglass.workflow.stages.cost import Cost
    paper = PAPERS[name]
    top = os.path.join(out_dir, name, "run-full" if full else "run")
    lines = [f"{paper.title}", f"scale: {'full (the paper)' if full else 'reduced'}; decks from {paper.folder}"]
    total, known = Cost(), True
    for part in paper.parts:
        run_dir = os.path.join(top, part.tag) if part.tag else top
        deck = study_deck(paper, full, run_dir, part, write=False)
        lines.append(f"part {part.tag or '(main)'}: {part.deck} with {part.overrides(full)}")
        lines += ["  " + line for line in plan(deck)]
        c, _ = deck_cost(deck)
        known = known and c is not None
        total = total + c if c is not None else total
    if total.core_seconds > 0:   # the breakdown first: the plan ends with the total
        lines += total.by_phase()
    lines.append(f"paper total: {total.describe()}" + ("" if known else " (parts reading a file not counted)")
                 + "; the analysis is not counted")
    return lines


def reproduce(name: str, full: bool = False, out_dir: str = "reproductions", comm=None, stream=None,
              analyse_only: bool = False, stop_at_step=None, only=None, run_only: bool = False):
    """Run (or continue) the study and write the report; returns the list of Quantity, or None on
    ranks other than 0 and when `only` (a list of part tags: spread a multi-deck study over separate
    jobs) left parts unfinished, or with `run_only` (the report is left to a later `analyse_only`).
    `analyse_only` reports the parts that have finished (at least one)."""
    if run_only and analyse_only:
        raise ValueError("run_only and analyse_only exclude each other")
    from pyglass.workflow.run import run_deck
    paper = PAPERS[name]
    base = os.path.join(out_dir, name)
    top = os.path.join(base, "run-full" if full else "run")
    todo = paper.parts
    unknown = sorted(set(only or ()) - {p.tag for p in todo})
    if unknown:
        raise ValueError(f"{name} has no part(s) {', '.join(unknown)}; its parts: {', '.join(p.tag for p in todo)}")
    decks, indexes = {}, {}
    for part in todo:
        tag = part.tag
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
    if run_only:
        print(f"pyglass: parts {', '.join(t or '(main)' for t in indexes if not only or t in only)} run; "
              "`--analyse-only` writes the report", file=stream)
        return None
    if only and not all(_complete(i) for i in indexes.values()):
        print(f"pyglass: parts {', '.join(only)} done; the report needs every part: "
              f"{', '.join(t or '(main)' for t in indexes if not _complete(indexes[t]))} still to run "
              f"(or `--analyse-only` to report the finished parts)", file=stream)
        return None
    parts = {tag: _complete(index) for tag, index in indexes.items()}
    if analyse_only and not any(parts.values()):
        raise ValueError(f"{name}: no part has finished under {top}; nothing to analyse")
    analysis = Profile()
    with analysis.phase("analysis"):   # structure functions and quenches inside go to their own phases
        quantities, figures, notes = paper.analyse(indexes, decks, base, full)
    ran = {tag: index for tag, index in indexes.items() if parts[tag]}
    write_report(paper, base, quantities, figures, notes, full, decks, parts=parts,
                 profile=reproduction_profile(ran, analysis.finish()))
    return quantities


def reproduction_profile(indexes: dict, analysis) -> dict:
    """Where a reproduction's time went: every part's run (all its invocations, from its index file)
    and this invocation's analysis; the parts with no stored profile listed under "missing"."""
    from pyglass.workflow.run import results
    from pyglass.workflow.run.profile import combine
    runs, missing = [], []
    for tag, index in indexes.items():
        try:
            p = results.open(index).profile
        except (OSError, ValueError):
            p = None
        if p:
            runs.append(p)
        else:
            missing.append(tag or os.path.basename(index))
    out = combine(runs + [analysis.as_dict()])
    out["missing"] = missing
    return out
