"""Soft-mode maps along short trajectories (paper 1: main text p. 3 and Fig. 4, SI §3).

From one configuration, `n_runs` short runs with momenta drawn afresh (Maxwell-Boltzmann at T, zero
total momentum, one recorded seed per run) are quenched every `every` steps; each quench (and the
quench of the start, shared by every run) gives its inherent-structure energy, its residual force,
its k lowest non-zero modes and the participation map p_i = sum over the `map_modes` lowest modes of
|e_i|^2. The paper reads two things from them: how often the inherent structure changes between
quenches (its energy jumps) while the map of the soft modes stays (persistence), and the
"renormalised" map, the largest participation of each particle over the quenches (Fig. 4d).
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.ensembles.base import Ensemble
from pyglass.analysis.ensembles.inherent_structures import default_minimizer, quench


class QuenchedModesResult:
    """Arrays over runs and quench times (column 0: the start's inherent structure, the same in
    every run): times (n_q + 1,), seeds (runs,), energies (runs, n_q + 1; total U_IS), max_force
    (largest force component left by the quench), eigenvalues (runs, n_q + 1, k), participation
    (runs, n_q + 1, N)."""

    def __init__(self, times, seeds, initial, members, map_modes):
        self.times = np.asarray(times, float)
        self.seeds = np.asarray(seeds, np.int64)
        self.map_modes = int(map_modes)

        def column(key):
            return np.stack([np.concatenate([[initial[key]], m[key]]) for m in members])

        self.energies = column("energy")
        self.max_force = column("max_force")
        self.eigenvalues = column("eigenvalues")
        self.participation = column("participation")

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    def renormalised_map(self, runs=None) -> np.ndarray:
        """Paper 1, Fig. 4d: "the maximum participation fraction observed per particle" over the start's
        inherent structure and every quench of the chosen runs (default all), (N,)."""
        p = self.participation if runs is None else self.participation[np.asarray(runs)]
        return p.reshape(-1, p.shape[-1]).max(axis=0)

    def changes(self, epsilon: float = 1e-5) -> np.ndarray:
        """(runs, n_q) bool: the inherent structure changed between consecutive quenches
        (|dU_IS| > epsilon, paper 2's transition criterion)."""
        return np.abs(np.diff(self.energies, axis=1)) > epsilon

    def write(self, h5group):
        for key in ("times", "seeds", "energies", "max_force", "eigenvalues", "participation"):
            h5group.create_dataset(key, data=getattr(self, key))
        h5group.attrs["map_modes"] = self.map_modes
        return h5group


class QuenchedModesEnsemble(Ensemble):
    """n_runs runs of `steps` MD steps from `system`'s configuration at temperature T, each quenched
    every `every` steps; k lowest modes and the `map_modes` participation map of every inherent
    structure (see the module docstring).

    Parameters
    ----------
    system, potential : the configuration (not modified) and its interactions (C2-smooth for modes)
    n_runs, T, dt, steps, every : runs, temperature of the momenta, time step, MD steps per run,
        steps between quenches
    k, map_modes : modes computed per inherent structure and summed in the map (default k)
    integrator : "nve" (default) or "nvt" (Nose-Hoover chain, period `tau`)
    minimizer : the quench (default minimizers.DEFAULT_QUENCH); mode_method, tol : landscape.lowest_modes
    seed / seeds, comm, n_groups : as every Ensemble
    """

    def __init__(self, system, potential, n_runs: int, T: float, dt: float, steps: int, every: int, k: int = 30,
                 map_modes: int | None = None, integrator: str = "nve", tau: float | None = None, minimizer=None,
                 mode_method: str = "auto", tol: float = 1e-8, seed: int = 0, comm=None, n_groups=None, seeds=None):
        super().__init__(n_runs, seed, comm, n_groups, seeds)
        if not T > 0 or not dt > 0:
            raise ValueError(f"T and dt must be > 0, got T = {T}, dt = {dt}")
        if int(every) < 1 or int(steps) < int(every) or int(steps) % int(every):
            raise ValueError(f"need 1 <= every <= steps with steps a multiple of every, got steps = {steps}, "
                             f"every = {every}")
        map_modes = int(k) if map_modes is None else int(map_modes)
        if not 1 <= map_modes <= int(k):
            raise ValueError(f"map_modes must be in 1..k = {k}, got {map_modes}")
        if integrator not in ("nve", "nvt"):
            raise ValueError(f"integrator must be 'nve' or 'nvt', got {integrator!r}")
        self.system, self.potential = system.copy(), potential
        self.T, self.dt, self.steps, self.every = float(T), float(dt), int(steps), int(every)
        self.k, self.map_modes = int(k), map_modes
        self.integrator, self.tau = integrator, (100 * dt if tau is None else float(tau))
        self.minimizer = minimizer or default_minimizer()
        self.mode_method, self.tol = mode_method, float(tol)

    def inherent(self, s) -> dict:
        """Quench a copy of `s`; its energy, residual force, modes and participation map."""
        from pyglass.analysis.landscape.modes import lowest_modes
        q, res = quench(s, self.potential, self.minimizer)
        m = lowest_modes(q, self.potential, self.k, method=self.mode_method, tol=self.tol)
        return {"energy": float(res.energy), "max_force": float(res.max_force), "eigenvalues": m.eigenvalues,
                "participation": m.participation_fractions(self.map_modes)}

    def run_member(self, k, seed, group_comm):
        from pyglass.engine.integrators import NVE, NoseHoover
        s = self.system.copy()
        s.thermalize(self.T, int(seed))
        integ = NVE(self.dt) if self.integrator == "nve" else NoseHoover(self.dt, self.T, self.tau)
        rows = []
        for _ in range(self.steps // self.every):
            integ.run(s, self.potential, self.every)
            rows.append(self.inherent(s))
        return {key: np.array([r[key] for r in rows]) for key in rows[0]}

    def run(self) -> QuenchedModesResult:
        start = self.inherent(self.system)
        members = self.run_all()
        times = np.arange(self.steps // self.every + 1) * self.every * self.dt
        return QuenchedModesResult(times, self.seeds, start, members, self.map_modes)
