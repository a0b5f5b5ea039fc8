#!/usr/bin/env python
"""Wall time of one deck (a slice of a reduced reproduction) under this checkout and under another,
run side by side, one core each, so that whatever else runs on the machine slows both alike.

    python scripts/bench_walltime.py DECK --baseline CHECKOUT [--out DIR]

CHECKOUT is another checkout of pyglass (a git worktree at an older commit with its extensions built);
its `pyglass run` is `python -m pyglass.cli run` (the entry point before the layered package) or
`python -m pyglass.workflow.cli run`, whichever it has, with PYTHONPATH=CHECKOUT. Each side writes to
DIR/<side>/ (the deck's output.path is replaced); the script prints both wall times (whole processes,
start-up included), their ratio, and this checkout's profile by phase (the baseline may predate
profiles). The deck must use only what both checkouts understand (`pyglass run --dry-run` with each
first). The measurement of 2026-12-07 (docs/reproductions/README.md, "Time to science") ran these
commands on paper 1's reduced deck without its quenched-modes stage, and this script on paper 4's
T = 0.55 state point (its wall times read from the logs' end: the script then waited on the two
processes in turn and gave the after side the before side's end, since fixed).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def _cli_module(checkout: Path | None) -> str:
    root = checkout if checkout else Path(__file__).resolve().parent.parent
    return "pyglass.workflow.cli" if (root / "pyglass" / "workflow" / "cli.py").exists() else "pyglass.cli"


def _deck_for(deck: Path, out: Path) -> Path:
    text = deck.read_text()
    text, n = re.subn(r'(?m)^path\s*=\s*".*"', f'path = "{out / "study.h5"}"', text)
    if n != 1:
        sys.exit(f"{deck}: expected one output 'path = ...' line to replace, found {n}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "deck.toml"
    path.write_text(text)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("deck", type=Path)
    ap.add_argument("--baseline", type=Path, required=True, help="another checkout of pyglass")
    ap.add_argument("--out", type=Path, default=Path("walltime"))
    args = ap.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    sides = {"before": args.baseline.resolve(), "after": None}
    procs = {}
    for side, checkout in sides.items():
        deck = _deck_for(args.deck, (args.out / side).resolve())
        e = dict(env, PYTHONPATH=str(checkout)) if checkout else env
        log = open(deck.parent / "log.txt", "w")
        procs[side] = (subprocess.Popen([sys.executable, "-m", _cli_module(checkout), "run", str(deck)],
                                        env=e, stdout=log, stderr=subprocess.STDOUT, cwd=deck.parent),
                       time.perf_counter(), log)
    wall = {}
    while len(wall) < len(procs):         # each side's own end (the faster one ends first)
        for side, (proc, t0, log) in procs.items():
            if side in wall or proc.poll() is None:
                continue
            wall[side] = time.perf_counter() - t0
            log.close()
            if proc.returncode:
                sys.exit(f"{side} run failed (rc {proc.returncode}): see {args.out / side / 'log.txt'}")
        time.sleep(0.5)
    print(f"{args.deck}: before ({args.baseline}) {wall['before'] / 60:.1f} min, after {wall['after'] / 60:.1f} min, "
          f"before/after = {wall['before'] / wall['after']:.2f}")
    from pyglass.workflow.run import results
    from pyglass.workflow.run.profile import describe
    profile = results.open(str((args.out / "after" / "study.h5").resolve())).profile
    if profile:
        print("after, by phase:")
        for line in describe(profile):
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
