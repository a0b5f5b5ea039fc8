"""The `pyglass` command.

    pyglass run deck.toml [--dry-run] [--restart CKPT] [-o OUT] [--stop-at STEP] [--overwrite]
    pyglass info file.h5
    pyglass plot file.h5 [-o DIR]
    pyglass reproduce <paper> [--full] [-o DIR]
    mpirun -n P pyglass run deck.toml

User mistakes (deck, files, command line) end with exit status 2 and a one-line message per
problem, no traceback (PYGLASS_TRACEBACK=1 shows it); rank 0 prints. Under MPI, an exception on
any rank once the run has started prints `rank r: message` and aborts every rank (never a hang).
A run stopped by SIGTERM, SIGINT (Ctrl-C) or --stop-at writes a checkpoint and exits with status 0
after saying so; its output file's /h5md/provenance status is then "interrupted" (a second Ctrl-C
aborts at once, status 130). An existing output file that pyglass did not write is replaced only
with --overwrite; two runs cannot share an output (a lock file `<output>.lock`).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

import pyglass

USAGE_ERROR = 2


def mpi_world():
    """COMM_WORLD when launched by an MPI starter with more than one rank, else None (serial runs
    never initialise MPI)."""
    if not any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")):
        return None
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def install_mpi_excepthook(comm):
    """An uncaught exception on any rank prints `rank r: Type: message` and aborts all ranks
    (pyglass.engine.comm.abort_on_exception)."""
    from pyglass.engine.comm import abort_on_exception
    abort_on_exception(comm)


def _parser():
    p = argparse.ArgumentParser(prog="pyglass", description="Simulation and analysis of glass-forming liquids. "
                                "Run an input deck (see docs/deck.md), or summarise an output file.")
    p.add_argument("--version", action="version", version=f"pyglass {pyglass.__version__}")
    sub = p.add_subparsers(dest="command", metavar="command")
    r = sub.add_parser("run", help="run a TOML input deck", description="Run a TOML input deck "
                       "(serial, or under mpirun -n P).")
    r.add_argument("deck", help="the TOML deck")
    r.add_argument("--dry-run", action="store_true", help="validate and print the resolved deck (all defaults)")
    r.add_argument("--restart", metavar="CKPT", help="continue from this checkpoint file")
    r.add_argument("-o", "--output", metavar="OUT", help="output file (overrides output.path)")
    r.add_argument("--stop-at", type=int, metavar="STEP", help="stop at this global step, writing a checkpoint "
                   "(job chaining)")
    r.add_argument("-q", "--quiet", action="store_true", help="no thermo lines or progress")
    r.add_argument("--overwrite", action="store_true", help="replace existing output files that pyglass did not "
                   "write (by default such a file stops the run)")
    i = sub.add_parser("info", help="summarise a pyglass HDF5 file (output, checkpoint, snapshot)")
    i.add_argument("file")
    rp = sub.add_parser("reproduce", help="run a paper's study and report its numbers beside the paper's",
                        description="Runs the paper's study deck (reduced scale; --full for the paper's) under "
                        "DIR/<paper>/run, continuing an interrupted run, and writes DIR/<paper>/summary.json, "
                        "report.md and the figures. Papers: " + ", ".join(_papers()))
    rp.add_argument("paper", help="one of: " + ", ".join(_papers()))
    rp.add_argument("--full", action="store_true", help="the paper's scale instead of the reduced one")
    rp.add_argument("-o", "--out-dir", metavar="DIR", default="reproductions", help="default: ./reproductions")
    rp.add_argument("--analyse-only", action="store_true", help="only (re)write the report from a finished run")
    rp.add_argument("--run-only", action="store_true",
                    help="run (or continue) the parts and stop before the report (write it later with --analyse-only)")
    rp.add_argument("--dry-run", action="store_true", help="print each deck's plan at the chosen scale (units, "
                    "stages, their cost and memory); run nothing")
    rp.add_argument("--part", metavar="TAG[,TAG]", help="run only these decks of a multi-deck study (paper 2: one "
                    "per model; '' is the main deck), e.g. to spread it over separate jobs; the report is written "
                    "once every part is done")
    pl = sub.add_parser("plot", help="draw the standard figures of an output file as PNGs",
                        description="Thermo traces, MSD/F_s/chi4 with tau_alpha and tau_4, mode spectra, "
                        "participation/kappa/propensity maps, summaries with confidence intervals.")
    pl.add_argument("file")
    pl.add_argument("-o", "--out-dir", metavar="DIR", help="folder of the PNGs (default: beside the file)")
    return p


class _Quiet:
    def write(self, s):
        return len(s)

    def flush(self):
        pass


def _user_errors():
    from pyglass.io.checkpoint import RestartError
    from pyglass.workflow.deck import DeckError
    return (DeckError, RestartError, ValueError, OSError)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    if args.command == "info":
        return _info(args.file)
    if args.command == "plot":
        return _plot(args.file, args.out_dir)
    if args.command == "reproduce":
        return _reproduce(args)
    return _run(args)


def _error(msg, rank=0):
    if rank == 0:
        for line in str(msg).splitlines() or [""]:
            print(f"pyglass: error: {line}", file=sys.stderr)
        sys.stderr.flush()


def _info(path):
    from pyglass.io.h5md import info
    if not os.path.exists(path):
        _error(f"{path}: file not found")
        return USAGE_ERROR
    if os.path.isdir(path):
        _error(f"{path} is a directory; give an HDF5 file (output, checkpoint or snapshot)")
        return USAGE_ERROR
    try:
        text = info(path)
    except OSError:   # h5py's message is HDF5 internals; one line says what matters
        _error(f"{path}: not a readable HDF5 file")
        return USAGE_ERROR
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _error(msg if msg.startswith(path) else f"{path}: not a readable pyglass/H5MD file ({msg})")
        return USAGE_ERROR
    return _print_to_pipe(text)


def _print_to_pipe(text) -> int:
    """Print; a reader that stops early (`pyglass info f.h5 | head`) is no error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # the rest of the output goes nowhere, and the interpreter's final flush must not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _papers():
    from pyglass.workflow.reproduce import PAPERS
    return list(PAPERS)


def _reproduce(args):
    from pyglass.workflow.reproduce import PAPERS, reproduce
    from pyglass.workflow.run import RunInterrupted
    comm = mpi_world()
    rank = 0 if comm is None else comm.Get_rank()
    if args.paper not in PAPERS:
        _error(f"unknown paper {args.paper!r}; one of: {', '.join(PAPERS)}", rank)
        return USAGE_ERROR
    if args.dry_run:
        from pyglass.workflow.reproduce import paper_plan
        if rank == 0:
            print("\n".join(paper_plan(args.paper, args.full, args.out_dir)))
        return 0
    if comm is not None:
        install_mpi_excepthook(comm)
    try:
        if args.run_only and args.analyse_only:
            _error("--run-only and --analyse-only exclude each other", rank)
            return USAGE_ERROR
        qs = reproduce(args.paper, args.full, args.out_dir, comm=comm, analyse_only=args.analyse_only,
                       only=args.part.split(",") if args.part is not None else None, run_only=args.run_only)
    except ValueError as exc:
        if "has no part" not in str(exc):
            raise
        _error(str(exc), rank)
        return USAGE_ERROR
    except RunInterrupted as exc:
        if rank == 0:
            print(f"pyglass: {exc}; run the same command again to continue", flush=True)
        return 0
    if rank == 0 and qs is not None:
        base = os.path.join(args.out_dir, args.paper)
        print(f"{'quantity':<70s} {'paper':>10s} {'ours':>10s} {'spread':>10s} holds")
        for q in qs:
            f = (lambda v: f"{v:10.4g}" if isinstance(v, float) else f"{str(v):>10s}")
            print(f"{q.quantity[:70]:<70s} {f(q.paper)} {f(q.ours)} {f(q.spread)} {'yes' if q.holds else 'NO'}")
        _print_profile(os.path.join(base, "summary.json"))
        print(f"pyglass: report {os.path.join(base, 'report.md')}, numbers {os.path.join(base, 'summary.json')}")
    return 0


def _print_profile(summary_path):
    """Where the reproduction's time went (the profile its summary.json holds)."""
    import json
    from pyglass.workflow.run.profile import describe
    with open(summary_path) as fh:
        profile = json.load(fh).get("profile")
    if profile:
        print("\n".join(describe(profile)))


def _plot(path, out_dir):
    from pyglass.workflow.plots import plot_file
    if not os.path.isfile(path):
        _error(f"{path}: file not found")
        return USAGE_ERROR
    try:
        written = plot_file(path, out_dir)
    except (OSError, KeyError, ValueError) as exc:
        _error(f"{path}: cannot plot ({exc})")
        return USAGE_ERROR
    for p in written:
        print(f"pyglass: wrote {p}")
    if not written:
        print(f"pyglass: {path} holds nothing to plot")
    return 0


def _run(args):
    from pyglass.workflow.deck import DeckError, load_deck
    comm = mpi_world()
    rank = 0 if comm is None else comm.Get_rank()
    if args.stop_at is not None and args.stop_at < 0:
        _error(f"--stop-at must be >= 0, got {args.stop_at}", rank)
        return USAGE_ERROR
    # validation is identical on every rank: every rank fails alike, rank 0 says why
    try:
        deck = load_deck(args.deck)
    except DeckError as exc:
        _error(exc, rank)
        return USAGE_ERROR
    if args.dry_run:
        if rank == 0:
            from pyglass.workflow.deck.toml import comment_text
            from pyglass.workflow.run import plan
            sys.stdout.write("".join(f"# {comment_text(line)}\n" for line in plan(deck)))
            sys.stdout.write(deck.to_toml())
        return 0
    if comm is not None:
        install_mpi_excepthook(comm)
    from pyglass.workflow.run import RunInterrupted, run_deck
    stream = _Quiet() if args.quiet else sys.stdout
    try:
        run_deck(deck, comm, restart=args.restart, output=args.output, stop_at_step=args.stop_at, stream=stream,
                 overwrite=args.overwrite)
    except RunInterrupted as exc:
        if rank == 0:
            print(f"pyglass: {exc}", flush=True)
        return 0
    except _user_errors() as exc:
        if os.environ.get("PYGLASS_TRACEBACK"):
            traceback.print_exc()
        if comm is not None:
            # the failing rank may be alone: say who, then end every rank
            sys.stderr.write(f"rank {rank}: pyglass: error: {exc}\n")
            sys.stderr.flush()
            comm.Abort(USAGE_ERROR)
        _error(exc)
        return USAGE_ERROR
    except KeyboardInterrupt:   # a second Ctrl-C: abort without a checkpoint
        _error("interrupted twice: stopped without a checkpoint (restart from the last one written)", rank)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
