"""Provenance of an output file (/h5md/provenance): date, ranks, seeds, deck, git commit, host, BLAS;
fixed-length strings as H5MD 1.1 asks for them in /h5md."""
from __future__ import annotations

import datetime
import getpass
import json
import os
import socket
import subprocess
import sys

import numpy as np



def fixed_string(value):
    """A fixed-length string for an HDF5 attribute (H5MD 1.1 asks for fixed-length strings in
    /h5md); UTF-8 bytes. Sequences give an array of fixed-length strings."""
    if isinstance(value, (list, tuple, np.ndarray)):
        enc = [str(v).encode("utf-8") for v in value]
        return np.array(enc, dtype=f"S{max([len(e) for e in enc] + [1])}")
    return np.bytes_(str(value).encode("utf-8"))


def git_commit() -> str:
    """The git commit of the pyglass source tree, '+dirty' if modified, or 'unknown'."""
    here = os.path.dirname(os.path.abspath(__file__))   # any folder of the source tree
    try:
        out = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty", "--abbrev=40"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(deck_text: str = "", seeds: dict | None = None, n_ranks: int = 1, **extra) -> dict:
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "n_ranks": int(n_ranks), "seeds": json.dumps(seeds or {}), "git_commit": git_commit(),
            "command": " ".join(sys.argv), "host": socket.gethostname(), "deck": deck_text,
            "python": sys.version.split()[0], "blas": json.dumps(_blas_summary()), **extra}


def _blas_summary() -> list:
    """BLAS libraries loaded and their threads (results of BLAS reductions can depend on them)."""
    from pyglass.engine.threads import blas_info
    return [{"library": os.path.basename(b["filepath"] or ""), "threads": b["num_threads"]} for b in blas_info()]


def user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:   # no user name in some containers
        return "unknown"
