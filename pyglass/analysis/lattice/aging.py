"""Aging after a temperature quench (paper Sec. VII C, Fig. 8).

The initial fields are equilibrium samples at T_initial (mean <S>(T_initial), covariance K);
the dynamics then run with every rate and kick parameter at T_final.  Out of equilibrium
detailed balance does not hold, but the dynamical rules are the equilibrium ones at T_final,
so <S(t)> relaxes toward <S>(T_final).  The observable is ``run.mean_softness`` (<S(t)>
averaged over independent quenches), together with the two-time Q, chi4 from t_w = 0.
"""
from __future__ import annotations

import numpy as np

__all__ = ["quench"]


def quench(deck, T_initial, T_final, t_max, sample_times=None, n_runs=10, seed=None, **overrides):
    """Quench from equilibrium at T_initial to T_final; returns (TRSPRun, model at T_final)."""
    from .model import TRSPModel
    hot = TRSPModel.from_file(deck, T=T_initial, seed=seed, **overrides)
    cold = TRSPModel.from_file(deck, T=T_final, seed=None if seed is None else seed + 1, **overrides)
    if hot.lattice.N != cold.lattice.N:
        raise ValueError("quench: the two temperatures give different lattices")
    initial = hot.sample_equilibrium(n_runs)
    initial = np.atleast_2d(initial)
    return cold.run(t_max=t_max, sample_times=sample_times, n_runs=n_runs, initial=initial), cold
