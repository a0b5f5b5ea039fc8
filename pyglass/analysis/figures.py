"""matplotlib for every pyglass figure: the file-only Agg backend, selected here and nowhere else,
and PNG writing. `analysis.maps` (per-particle maps), `workflow.plots` (`pyglass plot`) and the
paper figures use it."""
from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_png(fig, path, written):
    """Write a figure as PNG, close it, and add its path to `written`."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    written.append(path)
