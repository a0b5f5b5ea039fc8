"""The TRSP (time-reversible structuro-plastic) lattice model of paper 4.

State: softness S on a periodic lattice; equilibrium N(mu, K) with K from C(r) (Eqs. 2, 29).
Dynamics (continuous time, Gillespie): each m-site cluster rearranges at the bare rate
P0(R|<S>_c)/duration (Eq. 4, App. D); a rearrangement kicks the softness of the sites around
it by dS ~ N(H(mu' - S), K_Delta) with H from detailed balance (Eqs. 10, 17, 19, 30).

Example
-------
>>> model = TRSPModel.from_file("inputs/trsp_ka.toml", T=0.47, seed=1)
>>> run = model.run(t_max=1e4, sample_times=np.logspace(0, 4, 30), n_runs=4)
>>> run.Q, run.chi4, run.mean_softness, run.tau4, run.chi4_star
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from pyglass.analysis.observables import dynamics

from .gaussian import GaussianFieldSampler, SoftnessCorrelation
from .geometry import PeriodicLattice
from .kicks import KickKernel, bound_eigenvalue, build_kick_operator
from .measure import (block_scaling_fit, block_susceptibility, correlation_from_power,
                      first_rearrangement_times, four_point_structure_factor, ornstein_zernike_fit,
                      overlap, radial_average)
from .rates import BareRateLaw, RateLaw, cluster_statistics, renormalise

__all__ = ["TRSPModel", "TRSPRun", "DetailedBalanceResult", "kick_bound"]

#: events per call into the Cython loop (random numbers are drawn per chunk)
CHUNK_EVENTS = 4096


def _engine_class():
    try:
        from pyglass._ext.lattice import GillespieEngine
    except ImportError as exc:  # pragma: no cover - build problem, not physics
        raise ImportError("pyglass._ext.lattice is not built: run "
                          "`python setup.py build_ext --inplace`") from exc
    return GillespieEngine


@dataclass
class _Trajectory:
    """Raw record of one run: event log and accumulators."""
    times: np.ndarray
    clusters: np.ndarray
    x_before: np.ndarray
    x_after: np.ndarray
    mean_at_stops: dict
    time_weighted_mean: float
    power: np.ndarray            # waiting-time weighted mean of |FFT S|^2
    snapshot_mean: float         # waiting-time weighted mean of S over snapshots
    n_snapshots: int
    final_field: np.ndarray
    t_end: float


@dataclass
class TRSPRun:
    """Results of ``TRSPModel.run``: time series at ``sample_times`` and the raw material.

    Q, chi4 are averaged over runs and time origins; mean_softness is the instantaneous
    <S>(t) since the start of each run (aging), averaged over runs.
    """

    lattice: PeriodicLattice
    sample_times: np.ndarray
    Q_samples: np.ndarray                 # (n_runs * n_origins, n_times)
    first_times: np.ndarray               # (n_runs * n_origins, N)
    mean_softness_runs: np.ndarray        # (n_runs, n_times)
    time_weighted_mean_runs: np.ndarray   # (n_runs,)
    second_moment_runs: np.ndarray        # (n_runs, *shape), <S_i S_i+Delta>, waiting-time weighted
    n_events: int
    wall_time: float
    trajectories: list = field(default_factory=list, repr=False)

    @property
    def Q(self) -> np.ndarray:
        return self.Q_samples.mean(axis=0)

    @property
    def chi4(self) -> np.ndarray:
        """chi4(t) = N Var Q(t) over runs and time origins (Eq. 32)."""
        if len(self.Q_samples) < 2:
            raise ValueError("chi4 needs at least 2 samples (n_runs * time origins >= 2)")
        return self.lattice.N * self.Q_samples.var(axis=0, ddof=1)

    @property
    def mean_softness(self) -> np.ndarray:
        return self.mean_softness_runs.mean(axis=0)

    @property
    def chi4_peak(self) -> dynamics.Peak:
        """(tau4, chi4*, edge): the chi4 peak; `edge` "last" when chi4 still rises at the last time
        (tau4 is then a lower bound: run longer)."""
        return dynamics.chi4_peak(self.sample_times, self.chi4)

    @property
    def tau4(self) -> float:
        return self.chi4_peak.time

    @property
    def chi4_star(self) -> float:
        return self.chi4_peak.height

    def time_weighted_mean_softness(self) -> tuple[float, float]:
        """(<S>, standard error over runs), <S> = (1/(N t)) int sum_i S_i dt exactly."""
        x = self.time_weighted_mean_runs
        sem = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else np.nan
        return float(x.mean()), float(sem)

    def softness_correlation(self, mean: float | None = None):
        """Radially averaged C_S(r) = <(S(r) - <S>)(S(0) - <S>)> with standard errors over runs.

        Second moments are waiting-time weighted (App. F 2).  ``mean``: the <S> to subtract;
        default the time-weighted mean pooled over all runs.  Subtracting each run's own mean
        would bias C_S low by the variance of that mean (about sum_r C(r) / N per
        independent configuration), which is large on small lattices.
        Returns (r, C, sem).
        """
        if mean is None:
            mean = float(self.time_weighted_mean_runs.mean())
        lengths = self.lattice.displacement_distances()
        grids = self.second_moment_runs - mean ** 2
        per_run = [radial_average(c, lengths)[1] for c in grids]
        r = radial_average(grids[0], lengths)[0]
        per_run = np.array(per_run)
        sem = (per_run.std(axis=0, ddof=1) / np.sqrt(len(per_run)) if len(per_run) > 1
               else np.full(len(r), np.nan))
        return r, per_run.mean(axis=0), sem

    def indicator(self, t: float) -> np.ndarray:
        """Overlap fields I_i(t) (n_samples, N)."""
        return (self.first_times > t).astype(float)

    def four_point_structure_factor(self, t: float | None = None):
        """(q, S4(q, t)) at t (default tau4), Eqs. 33-34."""
        t = self.tau4 if t is None else t
        return four_point_structure_factor(self.indicator(t), self.lattice.shape)

    def ornstein_zernike(self, t: float | None = None, q_max: float | None = None):
        """(S4(0), xi4) from the Ornstein-Zernike fit of S4(q, t) for 0 < q <= q_max.

        Default q_max = 2 pi * 3 / L (the three smallest shells of |q|).  xi4 is bounded by L;
        a fit that reaches the bound (too few samples, or xi4 beyond the box) gives NaN.
        """
        q, s4 = self.four_point_structure_factor(t)
        L = self.lattice.L
        q_max = 2 * np.pi * 3.0 / L if q_max is None else q_max
        s0, xi, _ = ornstein_zernike_fit(q, s4, q_max, xi_max=float(L))
        if xi >= 0.999 * L:
            return np.nan, np.nan
        return s0, xi

    def block_chi4(self, block_sizes, t: float | None = None) -> np.ndarray:
        t = self.tau4 if t is None else t
        return block_susceptibility(self.indicator(t), self.lattice.shape, block_sizes)

    def xi4_from_blocks(self, block_sizes=None, t: float | None = None):
        """(chi4_inf, xi4) from the block finite-size scaling fit (App. H)."""
        if block_sizes is None:
            block_sizes = [b for b in range(1, self.lattice.L // 2 + 1)]
        chi = self.block_chi4(block_sizes, t)
        chi_inf, xi, _ = block_scaling_fit(block_sizes, chi, self.lattice.d)
        return chi_inf, xi


@dataclass
class DetailedBalanceResult:
    """Binned detailed-balance test of App. F 1.

    For states A, B (bins of the rearranging cluster's mean softness before and after the
    event): ratio = P(A|R)P(A->B) / (P(B|R)P(B->A)) = N_AB / N_BA, which detailed balance
    makes 1.  ``error`` is one bootstrap standard deviation over independent runs (seeds).
    """

    edges: np.ndarray
    pairs: np.ndarray        # (n_pairs, 2) bin indices A < B
    joint: np.ndarray        # P(A|R) P(A->B) = N_AB / N_events
    ratio: np.ndarray
    error: np.ndarray
    counts: np.ndarray       # (n_bins, n_bins) summed over runs
    n_events: int

    @property
    def deviation(self) -> np.ndarray:
        """(ratio - 1) / error for each pair."""
        return (self.ratio - 1.0) / self.error

    @property
    def chi2_per_pair(self) -> float:
        return float(np.mean(self.deviation ** 2))


def kick_bound(L, d=3, mu=0.0, correlation=None, rate=None, kick=None, m=4, phi=None, T=None,
               rate_is_bare=False) -> float:
    """The largest eigenvalue of K_Delta K'^-1 (Eq. 19) over the cluster orientations of the model
    these parameters (TRSPModel's keywords, e.g. deck.model_parameters) define; the model exists only
    below 1 (TRSPModel raises there). Reported, not raised, so a violated bound says by how much."""
    lattice = PeriodicLattice(L, d)
    sampler = GaussianFieldSampler(lattice, SoftnessCorrelation.coerce(correlation), name="correlation")
    clusters = lattice.clusters(m)
    law = RateLaw.coerce(rate)
    if rate_is_bare:
        bare = BareRateLaw(law.A, law.gamma, law.delta, law.duration)
    else:
        a, v = cluster_statistics(sampler, clusters)
        bare = renormalise(law, float(mu), a, v, clusters.z)
    k = KickKernel.coerce(kick)
    if phi is not None:
        k = k.with_phi(phi)
    return max(bound_eigenvalue(lattice, sampler, off, k, bare.delta0) for off in clusters.offsets)


class TRSPModel:
    """TRSP lattice model at one temperature.

    Parameters
    ----------
    L, d : lattice side and dimension (2 or 3), periodic.
    mu : equilibrium mean softness <S>(T).
    correlation : SoftnessCorrelation or dict(C0, C1, xi) (Eq. 29).
    rate : RateLaw or dict(A, gamma, delta, duration): the observed P(R|S) (Eq. 4); for m = 4
        it is renormalised to the bare cluster law (App. D) unless ``rate_is_bare``.
    kick : KickKernel or dict (Eq. 30 plus truncation r_max, coupling_range, phi).
    m : 1 (single-site) or 4 (square plaquettes).
    phi : facilitation weakening (overrides kick.phi if given).
    seed : seed of numpy's Generator; every run and sample comes from it.
    T : temperature (informational; parameters are already at T).
    """

    def __init__(self, L, d=3, mu=0.0, correlation=None, rate=None, kick=None, m=4, seed=None,
                 phi=None, T=None, rate_is_bare=False):
        self.lattice = PeriodicLattice(L, d)
        if not np.isfinite(mu):
            raise ValueError(f"mu must be finite, got {mu!r}")
        self.mu = float(mu)
        self.T = T
        self.correlation = SoftnessCorrelation.coerce(correlation)
        self.rate = RateLaw.coerce(rate)
        kick = KickKernel.coerce(kick)
        if phi is not None:
            if not (np.isfinite(phi) and phi >= 0):
                raise ValueError(f"phi must be >= 0, got {phi!r}")
            kick = kick.with_phi(phi)
        self.kick = kick
        self.sampler = GaussianFieldSampler(self.lattice, self.correlation, name="correlation")
        self.clusters = self.lattice.clusters(m)
        self.m = self.clusters.m
        a, v = cluster_statistics(self.sampler, self.clusters)
        self.cluster_a, self.cluster_v = a, v
        if rate_is_bare:
            self.bare_rate = BareRateLaw(self.rate.A, self.rate.gamma, self.rate.delta,
                                         self.rate.duration)
        else:
            self.bare_rate = renormalise(self.rate, self.mu, a, v, self.clusters.z)
        self.operators = [
            build_kick_operator(self.lattice, self.sampler, off, self.kick,
                                self.bare_rate.gamma0, self.bare_rate.delta0, self.mu)
            for off in self.clusters.offsets]
        self._pack_operators()
        self.rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path, T, seed=None, **overrides) -> "TRSPModel":
        """Model at temperature T from a TOML parameter deck (see inputs/trsp_ka.toml)."""
        from .deck import load_deck, model_parameters
        deck = load_deck(path)
        params = model_parameters(deck, T)
        params.update(overrides)
        return cls(seed=seed, **params)

    def _pack_operators(self):
        ops = self.operators
        n_max = max(op.n_kicked for op in ops)
        r_max = max(len(op.region) for op in ops)
        n_o = len(ops)
        self._offsets = np.zeros((n_o, r_max, 3), dtype=np.int32)
        self._n_kicked = np.array([op.n_kicked for op in ops], dtype=np.int32)
        self._n_region = np.array([len(op.region) for op in ops], dtype=np.int32)
        self._mean_kick = np.zeros((n_o, n_max))
        self._response = np.zeros((n_o, n_max, r_max))
        self._noise = np.zeros((n_o, n_max, n_max))
        for o, op in enumerate(ops):
            n, r = op.n_kicked, len(op.region)
            self._offsets[o, :r] = op.offsets
            self._mean_kick[o, :n] = op.mean_kick
            self._response[o, :n, :r] = op.response
            self._noise[o, :n, :n] = op.noise
        self._n_normals = n_max

    def sample_equilibrium(self, n=None) -> np.ndarray:
        """Field(s) drawn exactly from N(mu, K) by the FFT method."""
        return self.sampler.sample(self.rng, n, mean=self.mu)

    def engine(self, field: np.ndarray | None = None):
        """A fresh Cython event loop on ``field`` (default: an equilibrium sample)."""
        S = self.sample_equilibrium() if field is None else np.array(field, dtype=float)
        if S.shape != (self.lattice.N,):
            raise ValueError(f"initial field must have shape ({self.lattice.N},), got {S.shape}")
        if not np.all(np.isfinite(S)):
            raise ValueError("initial field contains non-finite values")
        b = self.bare_rate
        Engine = _engine_class()
        return Engine(np.ascontiguousarray(S), self.lattice.shape3, self.clusters.sites,
                      self.clusters.site_clusters, self.clusters.orientation, self.clusters.anchor,
                      self._offsets, self._n_kicked, self._n_region, self._mean_kick,
                      self._response, self._noise, self.mu, b.A0 / b.duration, b.gamma0, b.delta0)

    # ------------------------------------------------------------------ dynamics
    def _simulate(self, engine, stops, n_events_max=None, snapshot_every=0, selection_linear=False):
        """Advance ``engine`` through the increasing times ``stops`` (or until n_events_max)."""
        N = self.lattice.N
        rng = self.rng
        log_t, log_c, log_xb, log_xa = [], [], [], []
        mean_at_stops = {}
        power = np.zeros(N)
        weight_sum = 0.0
        weighted_mean = 0.0
        n_snap_total = 0
        done = 0
        snap_cap = 0 if snapshot_every <= 0 else CHUNK_EVENTS // snapshot_every + 1
        snaps = np.zeros((max(snap_cap, 1), N))
        snap_w = np.zeros(max(snap_cap, 1))
        axes = tuple(range(1, self.lattice.d + 1))
        for stop in stops:
            reached = False
            while not reached:
                chunk = CHUNK_EVENTS
                if n_events_max is not None:
                    chunk = min(chunk, n_events_max - done)
                    if chunk <= 0:
                        break
                uniforms = rng.random(2 * chunk)
                normals = rng.standard_normal((chunk, self._n_normals))
                t_buf = np.empty(chunk)
                c_buf = np.empty(chunk, dtype=np.int32)
                xb = np.empty(chunk)
                xa = np.empty(chunk)
                n, n_snap, reached = engine.advance(float(stop), uniforms, normals, t_buf, c_buf,
                                                    xb, xa, int(snapshot_every), snaps, snap_w,
                                                    bool(selection_linear))
                done += n
                log_t.append(t_buf[:n]); log_c.append(c_buf[:n])
                log_xb.append(xb[:n]); log_xa.append(xa[:n])
                if n_snap:
                    fields = snaps[:n_snap].reshape((n_snap,) + self.lattice.shape)
                    pw = np.abs(np.fft.fftn(fields, axes=axes)) ** 2
                    w = snap_w[:n_snap]
                    power += np.tensordot(w, pw.reshape(n_snap, N), axes=1)
                    weighted_mean += float(np.dot(w, snaps[:n_snap].mean(axis=1)))
                    weight_sum += float(w.sum())
                    n_snap_total += n_snap
            if n_events_max is not None and done >= n_events_max:
                break
            mean_at_stops[float(stop)] = engine.sum_S / N
        integral_time = engine.integral_time
        return _Trajectory(
            times=np.concatenate(log_t) if log_t else np.empty(0),
            clusters=np.concatenate(log_c) if log_c else np.empty(0, dtype=np.int32),
            x_before=np.concatenate(log_xb) if log_xb else np.empty(0),
            x_after=np.concatenate(log_xa) if log_xa else np.empty(0),
            mean_at_stops=mean_at_stops,
            time_weighted_mean=(engine.integral_sum_S / (N * integral_time)
                                if integral_time > 0 else np.nan),
            power=power / weight_sum if weight_sum > 0 else power,
            snapshot_mean=weighted_mean / weight_sum if weight_sum > 0 else np.nan,
            n_snapshots=n_snap_total,
            final_field=np.asarray(engine.S).copy(),
            t_end=engine.t)

    def run(self, t_max, sample_times=None, n_runs=4, time_origins=None, initial=None,
            snapshot_every=None, keep_trajectories=False) -> TRSPRun:
        """Simulate ``n_runs`` independent trajectories (Gillespie) and measure.

        Parameters
        ----------
        t_max : longest lag time measured (time unit of the rate law, MD tau).
        sample_times : lag times for Q, chi4 and mean_softness (default: 40 log-spaced).
        n_runs : independent initial conditions (default 4, so chi4 exists), each drawn from
            N(mu, K) unless ``initial``.
        time_origins : extra time origins per run (sequence of times >= 0, default [0]);
            each run lasts max(time_origins) + t_max.  Q and chi4 average over runs and origins.
        initial : None, a field (N,), or an array (n_runs, N) of initial fields (aging).
        snapshot_every : events between waiting-time-weighted snapshots for C_S(r)
            (default N/4; 0 disables).
        """
        t_max = float(t_max)
        if not (np.isfinite(t_max) and t_max > 0):
            raise ValueError(f"t_max must be a positive finite time, got {t_max!r}")
        n_runs = int(n_runs)
        if n_runs < 1:
            raise ValueError(f"n_runs must be >= 1, got {n_runs}")
        if sample_times is None:
            sample_times = np.logspace(np.log10(t_max) - 4, np.log10(t_max), 40)
        sample_times = np.asarray(sample_times, dtype=float)
        if sample_times.ndim != 1 or np.any(np.diff(sample_times) <= 0) or sample_times[0] < 0 \
                or sample_times[-1] > t_max * (1 + 1e-12):
            raise ValueError("sample_times must be increasing, >= 0 and <= t_max")
        origins = np.array([0.0] if time_origins is None else time_origins, dtype=float)
        if origins.ndim != 1 or np.any(origins < 0):
            raise ValueError("time_origins must be a sequence of times >= 0")
        N = self.lattice.N
        if snapshot_every is None:
            snapshot_every = max(N // 4, 1)
        if initial is not None:
            initial = np.asarray(initial, dtype=float)
            if initial.ndim == 1:
                initial = np.broadcast_to(initial, (n_runs, N))
            if initial.shape != (n_runs, N):
                raise ValueError(f"initial must have shape ({N},) or ({n_runs}, {N})")
        t_end = origins.max() + t_max
        stops = np.unique(np.concatenate([sample_times[sample_times > 0], [t_end]]))
        start = time.perf_counter()
        first, q_rows, means, tw_means, corr, trajs = [], [], [], [], [], []
        n_events = 0
        for k in range(n_runs):
            engine = self.engine(None if initial is None else initial[k])
            mean0 = engine.sum_S / N            # <S>(0) of this run's initial field (drawn or given)
            traj = self._simulate(engine, stops, snapshot_every=snapshot_every)
            n_events += len(traj.times)
            for t0 in origins:
                ft = first_rearrangement_times(traj.times, traj.clusters, self.clusters.sites, N,
                                               t0, t_max)
                first.append(ft)
            means.append([traj.mean_at_stops.get(float(t), mean0) if t > 0 else mean0 for t in sample_times])
            tw_means.append(traj.time_weighted_mean)
            corr.append(correlation_from_power(traj.power, 0.0, self.lattice.shape)
                        if traj.n_snapshots else np.full(self.lattice.shape, np.nan))
            if keep_trajectories:
                trajs.append(traj)
        first = np.array(first)
        return TRSPRun(lattice=self.lattice, sample_times=sample_times,
                       Q_samples=overlap(first, sample_times), first_times=first,
                       mean_softness_runs=np.array(means, dtype=float),
                       time_weighted_mean_runs=np.array(tw_means),
                       second_moment_runs=np.array(corr), n_events=n_events,
                       wall_time=time.perf_counter() - start, trajectories=trajs)

    def run_events(self, n_events, field=None, selection_linear=False) -> _Trajectory:
        """Run exactly ``n_events`` events from ``field`` (default: equilibrium); raw record."""
        engine = self.engine(field)
        return self._simulate(engine, [np.inf], n_events_max=int(n_events),
                              selection_linear=selection_linear)

    # ------------------------------------------------------------------ tests of the model
    def detailed_balance_test(self, n_events, bins=8, n_runs=8, n_bootstrap=1000,
                              min_count=20) -> DetailedBalanceResult:
        """Binned detailed-balance test of App. F 1 with bootstrap errors over runs.

        Each of ``n_runs`` independent equilibrium runs performs n_events / n_runs events; the
        rearranging cluster's mean softness before (A) and after (B) each event is binned
        (``bins``: number of equal-probability bins of the pooled values, or explicit edges).
        Pairs A < B with at least ``min_count`` events each way are reported.
        """
        n_runs = int(n_runs)
        if n_runs < 2:
            raise ValueError("detailed_balance_test needs n_runs >= 2 for bootstrap errors")
        per_run = int(n_events) // n_runs
        if per_run < 1:
            raise ValueError(f"n_events={n_events} is smaller than n_runs={n_runs}")
        records = [self.run_events(per_run) for _ in range(n_runs)]
        if np.isscalar(bins):
            pooled = np.concatenate([np.concatenate([r.x_before, r.x_after]) for r in records])
            edges = np.quantile(pooled, np.linspace(0, 1, int(bins) + 1))
            edges[0], edges[-1] = -np.inf, np.inf
        else:
            edges = np.asarray(bins, dtype=float)
        nb = len(edges) - 1
        counts = np.zeros((n_runs, nb, nb))
        for k, r in enumerate(records):
            a = np.clip(np.searchsorted(edges, r.x_before, side="right") - 1, 0, nb - 1)
            b = np.clip(np.searchsorted(edges, r.x_after, side="right") - 1, 0, nb - 1)
            np.add.at(counts[k], (a, b), 1)
        total = counts.sum(axis=0)
        iu = np.array([(i, j) for i in range(nb) for j in range(i + 1, nb)
                       if total[i, j] >= min_count and total[j, i] >= min_count])
        if len(iu) == 0:
            raise ValueError("detailed_balance_test: no bin pair has enough events; raise n_events")
        ratio = total[iu[:, 0], iu[:, 1]] / total[iu[:, 1], iu[:, 0]]
        def ratios(runs):   # the ratio of every pair over a resample of the runs
            pick = counts[runs].sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return pick[iu[:, 0], iu[:, 1]] / pick[iu[:, 1], iu[:, 0]]

        from pyglass.analysis.statistics import bootstrap
        error = bootstrap(np.arange(n_runs), ratios, n_resamples=n_bootstrap,
                          seed=np.random.default_rng(self.rng.integers(2 ** 63))).spread
        n_total = int(total.sum())
        return DetailedBalanceResult(edges=edges, pairs=iu, joint=total[iu[:, 0], iu[:, 1]] / n_total,
                                     ratio=ratio, error=error, counts=total, n_events=n_total)

    def truncation_report(self) -> dict:
        """Sizes and retained kick variance of the truncated kick regions (docs/lattice.md)."""
        return {"n_kicked": [op.n_kicked for op in self.operators],
                "n_shell": [op.info["n_shell"] for op in self.operators],
                "retained_kick_variance": [op.retained_variance for op in self.operators]}
