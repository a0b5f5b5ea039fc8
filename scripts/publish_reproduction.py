"""Copy a finished `pyglass reproduce` report into docs/reproductions/ for committing.

    python scripts/publish_reproduction.py <paper> [-o DIR]     # DIR as given to pyglass reproduce -o

Takes DIR/<paper>/{report.md, summary.json, *.png, *.json, *.toml} (a TOML there is a file the
analysis wrote, e.g. paper 4's lattice-model deck fitted from the MD) and the deck each part ran
(DIR/<paper>/run[/<part>]/deck.toml, copied as deck.toml or deck_<part>.toml), and replaces the
paper's folder docs/reproductions/<paper>/ with them (files of an older report that the new one does
not have are removed, so the folder is one report). The run data (HDF5) stay where they are.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def report_files(base: str) -> dict:
    """name in docs -> source path, for the report in `base` (DIR/<paper>)."""
    out = {}
    for pattern in ("report.md", "summary.json", "*.png", "*.json", "*.toml"):
        for path in glob.glob(os.path.join(base, pattern)):
            out[os.path.basename(path)] = path
    run = os.path.join(base, "run")
    if os.path.exists(os.path.join(run, "deck.toml")):
        out["deck.toml"] = os.path.join(run, "deck.toml")
    for path in sorted(glob.glob(os.path.join(run, "*", "deck.toml"))):
        out[f"deck_{os.path.basename(os.path.dirname(path))}.toml"] = path
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paper")
    ap.add_argument("-o", "--out-dir", default="reproductions")
    args = ap.parse_args(argv)
    base = os.path.join(args.out_dir, args.paper)
    files = report_files(base)
    if "report.md" not in files or "summary.json" not in files:
        print(f"publish_reproduction: no report in {base} (run pyglass reproduce {args.paper} first)", file=sys.stderr)
        return 2
    dest = os.path.join(ROOT, "docs", "reproductions", args.paper)
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(dest):
        if name not in files and os.path.isfile(os.path.join(dest, name)):
            os.remove(os.path.join(dest, name))
    for name, src in sorted(files.items()):
        shutil.copyfile(src, os.path.join(dest, name))
    print(f"{len(files)} files -> {os.path.relpath(dest, ROOT)}: {', '.join(sorted(files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
