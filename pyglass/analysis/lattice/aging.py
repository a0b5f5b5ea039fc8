"""Aging after a temperature quench (paper Sec. VII C, Fig. 8).

``quench``: the TRSP model.  The initial fields are equilibrium samples at T_initial (mean
<S>(T_initial), covariance K); the dynamics then run with every rate and kick parameter at T_final.
Out of equilibrium detailed balance does not hold, but the dynamical rules are the equilibrium ones
at T_final, so <S(t)> relaxes toward <S>(T_final).  The observable is ``run.mean_softness`` (<S(t)>
averaged over independent quenches), together with the two-time Q, chi4 from t_w = 0.

``trap_quench``: the independent-trap model the paper sets against it (Fig. 8(b)): uncorrelated
sites, each with S ~ N(<S>(T_initial), C0) at t = 0, rearranging at the observed single-site rate
P(R|S, T_final) / duration (m = 1, no App. D renormalisation); a rearranging site draws a new S from
``rearranging_site_law`` (Eqs. 6-9 for one uncorrelated site), so that N(<S>(T_final), C0) is the
stationary law at T_final (the paper's "T-dependent density of traps").
"""
from __future__ import annotations

import numpy as np

__all__ = ["quench", "trap_quench", "rearranging_site_law"]


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


def rearranging_site_law(rate, mu: float, C0: float) -> tuple[float, float]:
    """(mean, variance) of P(S|R) ∝ P(R|S) N(S; mu, C0) for one uncorrelated site with the observed
    law P(R|S) = A exp(gamma S - delta S^2): N(mu + (gamma - 2 delta mu) C0 / (1 + 2 delta C0),
    C0 / (1 + 2 delta C0)), the single-site case of the conditional law of Eqs. 23-26 (kicks.py)."""
    if not (np.isfinite(C0) and C0 > 0):
        raise ValueError(f"C0 (softness variance) must be > 0, got {C0!r}")
    stiffening = 1.0 + 2.0 * rate.delta * C0
    if stiffening <= 0:
        raise ValueError(f"rate.delta = {rate.delta:.4g} makes P(R|S) N(mu, C0) unnormalisable "
                         f"(1 + 2 delta C0 = {stiffening:.4g} <= 0)")
    return (float(mu + (rate.gamma - 2.0 * rate.delta * mu) * C0 / stiffening), float(C0 / stiffening))


def trap_quench(deck, T_initial, T_final, sample_times, n_sites=8000, n_runs=50, seed=None,
                max_events=10**9) -> np.ndarray:
    """The independent-trap model quenched from T_initial to T_final (see the module docstring).

    deck: a lattice deck (path or ``deck.load_deck`` dict): <S>(T), C0 and the rate law at T_final come
    from it.  Returns the site-averaged S of every run at ``sample_times`` (increasing, >= 0),
    shape (n_runs, len(sample_times)).  Exact continuous-time kinetic Monte Carlo: sites are
    independent, so each keeps its own next-event time and the due sites are updated together.
    Raises ValueError before running when the expected number of events (the mean rate of the initial
    or of the stationary law, whichever is larger) exceeds ``max_events``."""
    from .deck import load_deck, mean_softness, model_parameters
    if not isinstance(deck, dict):
        deck = load_deck(deck)
    times = np.asarray(sample_times, dtype=float)
    if times.ndim != 1 or len(times) == 0 or times[0] < 0 or np.any(np.diff(times) <= 0) \
            or not np.all(np.isfinite(times)):
        raise ValueError("sample_times must be a non-empty increasing sequence of finite times >= 0")
    n_sites, n_runs = int(n_sites), int(n_runs)
    if n_sites < 1 or n_runs < 1:
        raise ValueError(f"n_sites and n_runs must be >= 1, got {n_sites}, {n_runs}")
    C0 = float(deck["correlation"]["C0"])
    law = model_parameters(deck, T_final)["rate"]
    mu_initial, mu_final = mean_softness(deck, T_initial), mean_softness(deck, T_final)
    post_mean, post_var = rearranging_site_law(law, mu_final, C0)
    expected = n_runs * n_sites * times[-1] * max(law.mean_rate(mu_initial, C0), law.mean_rate(mu_final, C0))
    if not expected <= max_events:
        raise ValueError(f"trap_quench: ~{expected:.3g} events expected at T_final = {T_final:g} (more than "
                         f"max_events = {max_events:.3g}): the rate law is too fast for this many sites and times")
    rng = np.random.default_rng(seed)
    S = rng.normal(mu_initial, np.sqrt(C0), n_runs * n_sites)
    next_event = rng.exponential(size=S.size) / law.rate(S)
    out = np.empty((n_runs, len(times)))
    for k, t in enumerate(times):
        due = np.flatnonzero(next_event <= t)
        while len(due):             # each pass moves every due site on by one event
            S[due] = rng.normal(post_mean, np.sqrt(post_var), len(due))
            next_event[due] += rng.exponential(size=len(due)) / law.rate(S[due])
            due = due[next_event[due] <= t]
        out[:, k] = S.reshape(n_runs, n_sites).mean(axis=1)
    return out
