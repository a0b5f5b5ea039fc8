"""Strong and weak scaling of `pyglass run`: run a deck on P = 1, 2, 4, ... ranks, time its
production stage, write a Markdown and a CSV table.

    python parallel/scaling.py parallel/strong_ka.toml --ranks 1 2 4            # fixed N
    python parallel/scaling.py parallel/weak_ka.toml --weak --ranks 1 2 4       # N = n x P
    options: --repeat 3 (median of 3 runs), --stage production, --out parallel/results/strong

The timed quantity is the wall time of the stage's integrator runs on the slowest rank, recorded by
the runner as /pyglass/<stage>.attrs["wall_seconds"]: building the system, start-up and
checkpoints are excluded, observables sampled during the stage are included. Efficiency: strong E(P) = T(1) / (P T(P)); weak E(P) = T(1) / T(P).
Every run of one table goes through the same mpirun on the same machine; the table says which
machine and how many cores it had.
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from pyglass.workflow.deck import dump_toml, load_deck, parse_deck  # noqa: E402
from pyglass.io.h5md import RESULTS_ROOT  # noqa: E402


def mpirun_command(p):
    env_ok = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    launcher = shutil.which("mpirun") or shutil.which("mpiexec")
    if launcher is None:
        raise SystemExit("scaling.py: no mpirun/mpiexec on PATH")
    extra = ["--oversubscribe"] if p > (os.cpu_count() or 1) else []
    return [launcher, "-n", str(p), *extra], env_ok


def run_once(deck_text, p, stage, workdir, python):
    deck_path = os.path.join(workdir, f"deck_p{p}.toml")
    out = os.path.join(workdir, f"out_p{p}.h5")
    with open(deck_path, "w") as fh:
        fh.write(deck_text)
    cmd, env_extra = mpirun_command(p)
    cmd = (cmd if p > 1 else []) + [python, "-m", "pyglass.workflow.cli", "run", deck_path, "-o", out, "-q"]
    env = dict(os.environ, PYTHONPATH=ROOT, **env_extra)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"scaling.py: P = {p} failed:\n{r.stderr[-2000:]}")
    with h5py.File(out, "r") as f:
        a = f[f"{RESULTS_ROOT}/{stage}"].attrs
        return float(a["wall_seconds"]), int(a["steps_timed"]), int(a["n_particles"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("deck")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--weak", action="store_true", help="weak scaling: system.n is per rank")
    ap.add_argument("--stage", default="production", help="name of the timed stage")
    ap.add_argument("--repeat", type=int, default=1, help="runs per rank count (median reported)")
    ap.add_argument("--out", default=None, help="output stem (default parallel/results/<deck>-strong|weak)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    deck = load_deck(args.deck)
    names = [s["name"] for s in deck.data["stage"]]
    if args.stage not in names:
        raise SystemExit(f"scaling.py: the deck has no stage named {args.stage!r} (stages: {names})")
    kind = "weak" if args.weak else "strong"
    stem = args.out or os.path.join(HERE, "results", f"{os.path.splitext(os.path.basename(args.deck))[0]}-{kind}")
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyglass-scaling-") as work:
        for p in args.ranks:
            data = parse_deck(deck.text, deck.path).data
            if args.weak:
                data["system"]["n"] = int(data["system"]["n"]) * p
            data["run"]["ranks_per_replica"] = 0
            text = dump_toml(data)
            times = []
            for _ in range(args.repeat):
                wall, steps, n = run_once(text, p, args.stage, work, args.python)
                times.append(wall)
            t = statistics.median(times)
            rows.append({"ranks": p, "N": n, "steps": steps, "wall_s": t, "atom_steps_per_s": n * steps / t})
            print(f"P = {p}: N = {n}, {steps} steps, {t:.3f} s, {n * steps / t:.4g} atom-steps/s", flush=True)
    t1 = next((r["wall_s"] for r in rows if r["ranks"] == 1), None)
    for r in rows:
        if t1 is None:
            r["efficiency"] = float("nan")
        else:
            r["efficiency"] = t1 / (r["ranks"] * r["wall_s"]) if kind == "strong" else t1 / r["wall_s"]
    with open(stem + ".csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    lines = [f"# {kind.capitalize()} scaling: {os.path.basename(args.deck)}, stage '{args.stage}'", "",
             f"Machine: {platform.node()} ({os.cpu_count()} cores), median of {args.repeat} run(s).", "",
             "| ranks | N | steps | wall (s) | atom-steps/s | efficiency |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['ranks']} | {r['N']} | {r['steps']} | {r['wall_s']:.3f} | {r['atom_steps_per_s']:.4g} | "
                     f"{r['efficiency']:.2f} |")
    with open(stem + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {stem}.md and {stem}.csv")


if __name__ == "__main__":
    main()
