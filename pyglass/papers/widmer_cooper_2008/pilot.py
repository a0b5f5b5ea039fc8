"""Paper 1's state point from pressures: the density of P = 13.5 at T = 0.4 (criteria.toml, header).

    mpirun -n 2 pyglass run widmer_cooper_2008_pressure_pilot.toml
    python -m pyglass.papers.widmer_cooper_2008.pilot out/widmer_cooper_2008_pressure_pilot.h5

prints the mean pressure of each density's production stage (with its standard error from 10 block
means) and the density at which the fitted ln P(ln rho) line reaches 13.5, as the comment line that
goes into the decks beside `density`.
"""
from __future__ import annotations

import sys

import numpy as np

TARGET_PRESSURE = 13.5     # the isobar of the paper's Ref. 15 (Perera & Harrowell 1999), criteria.toml header


def stage_pressure(run, stage: str = "production", n_blocks: int = 10):
    """(mean, standard error) of the pressure over the thermo rows of one stage of a run."""
    from pyglass.analysis.statistics import block_standard_error
    from pyglass.papers.widmer_cooper_2008.analysis import stage_index
    th = run.thermo()
    rows = th["stage"] == stage_index(run, stage)
    if rows.sum() < n_blocks:
        raise ValueError(f"{run.path}: {int(rows.sum())} thermo rows in stage {stage!r}, fewer than {n_blocks} blocks")
    return block_standard_error(th["pressure"][rows], n_blocks)


def pilot_density(index: str, target: float = TARGET_PRESSURE):
    """The DensityFit of a finished pilot study (one unit per density)."""
    from pyglass.analysis.state_point import density_at_pressure
    from pyglass.workflow.run import results
    study = results.open(index)
    rho, p, se = [], [], []
    for unit in study.units(status="complete"):
        run = unit.run
        rho.append(float(run.final_system().density))      # the state's density (the stored deck is the study's)
        m, s = stage_pressure(run)
        p.append(m)
        se.append(s)
    order = np.argsort(rho)
    rho, p, se = (np.asarray(a)[order] for a in (rho, p, se))
    return density_at_pressure(rho, p, target, pressure_se=se), se


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m pyglass.papers.widmer_cooper_2008.pilot <pilot index file>", file=sys.stderr)
        return 2
    fit, se = pilot_density(argv[0])
    for r, p, s in zip(fit.densities, fit.pressures, se):
        print(f"rho = {r:g}: P = {p:.4f} +- {s:.4f}")
    print(f"# pressure pilot: {fit.comment()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
