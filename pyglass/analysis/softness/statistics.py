"""Softness statistics (paper 4 Sec. V, Eqs. 27-28, App. E; paper 5 Sec. IV-V). Work for any
per-particle softness (ML or caging-potential).

- `distribution`: P(S); `mean_softness`: <S>(T) and its fit a + b/T (paper 4: "<S> is adequately
  approximated by an Arrhenius-like form, a + b/T").
- `rearrangement_probability`: P(R|S) per S bin (fraction of particles in the bin rearranging).
- `arrhenius_fit`: per S bin, ln P(R|S) = Σ(S) − ΔE(S)/T (weighted least squares), and the
  onset T0 where the lines cross: with a common crossing at 1/T0, Σ(S) − ΔE(S)/T0 is the same
  for every S, i.e. Σ = c + ΔE/T0, so T0 = 1/slope of Σ against ΔE.
- `onset_fit`: the global fit of paper 4 Eqs. 27-28 over all (S, T):
  ΔE(S) = e0 + e1 S + e2 S², Σ(S) = Σ0 + (e1 S + e2 S²)/T0 (our reading of Eq. 28, whose text
  copy is garbled: the S-dependent part of Σ is ΔE's over T0, so every S line crosses at T0 and
  P(R|S) no longer depends on S there, the definition of the onset in paper 4 and ref. [23]).
- `spatial_correlation`: C_S(r) = <δS_i δS_j>_{r_ij ∈ bin} / <δS²> (δS = S − <S>).
- `time_correlation`: C_S(t), paper 5 Eq. 9 (Pearson correlation across particles between
  S(t') and S(t' + t), averaged over origins t').
- `propagator`: G(S, S0, t), the distribution of S(t' + t) for particles with S(t') in an S0 bin,
  optionally only particles that stayed within `max_displacement` (paper 5: 0.5) of their
  t' position up to t' + t.
- `distance_to_rearrangement`, `softness_change`, `subtract_background`: ΔS(r) around
  rearrangements and paper 4 App. E background subtraction (Eqs. E1, E2).
"""
from __future__ import annotations

import numpy as np


# ------------------------------------------------------------------------- distributions
def distribution(S, bins=50, range=None):
    """P(S) as a normalised histogram: (bin centres, density)."""
    h, e = np.histogram(np.asarray(S, float).ravel(), bins=bins, range=range, density=True)
    return 0.5 * (e[:-1] + e[1:]), h


def mean_softness(T, S_by_T):
    """<S>(T) with standard errors, and the fit <S> = a + b/T.
    S_by_T: one array of softness values per temperature. Returns dict(T, mean, sem, a, b)."""
    T = np.asarray(T, float)
    means = np.array([np.mean(s) for s in S_by_T])
    sem = np.array([np.std(s, ddof=1) / np.sqrt(len(np.ravel(s))) if np.size(s) > 1 else np.nan
                    for s in S_by_T])
    b, a = np.polyfit(1.0 / T, means, 1) if len(T) >= 2 else (np.nan, means[0])
    return {"T": T, "mean": means, "sem": sem, "a": float(a), "b": float(b)}


def rearrangement_probability(S, rearranging, bins):
    """P(R|S): fraction of particles in each S bin that rearrange.

    S, rearranging: same-shape arrays (any shape, e.g. (frames, N)); bins: edges (use the same
    edges for every temperature). Returns (centres, P, n_in_bin, n_rearranging)."""
    S = np.asarray(S, float).ravel()
    R = np.asarray(rearranging, bool).ravel()
    if S.shape != R.shape:
        raise ValueError("S and rearranging must have the same shape")
    edges = np.asarray(bins, float)
    n, _ = np.histogram(S, edges)
    nr, _ = np.histogram(S[R], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, nr / np.maximum(n, 1), np.nan)
    return 0.5 * (edges[:-1] + edges[1:]), p, n, nr


def _log_weights(P, counts):
    """1/var of ln P with var ≈ (1 − P)/(n P) (binomial), or ones without counts."""
    if counts is None:
        return np.ones_like(P)
    n = np.asarray(counts, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (1 - P) / (n * P)
        w = np.where(np.isfinite(var) & (var > 0), 1.0 / var, 0.0)
    return w


def arrhenius_fit(T, P, counts=None, min_points: int = 2):
    """Per S bin: ln P(R|S, T) = Σ(S) − ΔE(S)/T over the temperatures.

    T: (nT,); P: (nT, nS) probabilities (NaN or 0 entries are skipped); counts: optional (nT, nS)
    particles per bin for binomial weights. Returns dict with sigma (nS,), dE (nS,), their
    standard errors, and T0 from Σ = c + ΔE/T0 over the bins that were fitted (NaN if < 2)."""
    from scipy import stats
    T = np.asarray(T, float)
    P = np.asarray(P, float)
    if P.ndim == 1:
        P = P[:, None]
    nT, nS = P.shape
    W = _log_weights(P, counts) if counts is not None else np.ones_like(P)
    sig, dE, sig_err, dE_err = (np.full(nS, np.nan) for _ in range(4))
    for k in range(nS):
        ok = np.isfinite(P[:, k]) & (P[:, k] > 0) & (W[:, k] > 0)
        if ok.sum() < min_points:
            continue
        x, y, w = 1.0 / T[ok], np.log(P[ok, k]), W[ok, k]
        A = np.stack([np.ones_like(x), -x], 1) * np.sqrt(w)[:, None]
        coef, *_ = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)
        sig[k], dE[k] = coef
        if ok.sum() > 2:
            res = y - (coef[0] - coef[1] * x)
            s2 = np.sum(w * res ** 2) / (ok.sum() - 2)
            cov = s2 * np.linalg.inv(A.T @ A)
            sig_err[k], dE_err[k] = np.sqrt(np.diag(cov))
    ok = np.isfinite(sig) & np.isfinite(dE)
    T0 = np.nan
    if ok.sum() >= 2 and np.ptp(dE[ok]) > 0:
        slope = stats.linregress(dE[ok], sig[ok]).slope
        T0 = 1.0 / slope if slope != 0 else np.nan
    return {"sigma": sig, "dE": dE, "sigma_err": sig_err, "dE_err": dE_err, "T0": float(T0)}


def onset_fit(S, T, P, counts=None, p0=None):
    """Global fit of paper 4 Eqs. 27-28 to ln P(R|S, T) on an (nT, nS) grid:
    ln P = Σ0 + (e1 S + e2 S²)/T0 − (e0 + e1 S + e2 S²)/T. Returns dict(sigma0, e0, e1, e2, T0,
    cov) (scipy.optimize.curve_fit, binomial weights with `counts`)."""
    from scipy.optimize import curve_fit
    S = np.asarray(S, float)
    T = np.asarray(T, float)
    P = np.asarray(P, float)
    SS, TT = np.meshgrid(S, T)
    W = _log_weights(P, counts) if counts is not None else np.ones_like(P)
    ok = np.isfinite(P) & (P > 0) & (W > 0)
    if ok.sum() < 5:
        raise ValueError("onset_fit needs at least 5 (S, T) points with P > 0")
    x = np.stack([SS[ok], TT[ok]])
    y = np.log(P[ok])
    sigma = 1.0 / np.sqrt(W[ok])

    def model(x, s0, e0, e1, e2, inv_t0):
        s, t = x
        q = e1 * s + e2 * s * s
        return s0 + q * inv_t0 - (e0 + q) / t

    if p0 is None:
        a = arrhenius_fit(T, P, counts)
        good = np.isfinite(a["dE"])
        c = np.polyfit(S[good], a["dE"][good], 2) if good.sum() >= 3 else [0.0, 0.0, 1.0]
        T0g = a["T0"] if np.isfinite(a["T0"]) and a["T0"] > 0 else 2 * T.max()
        s0g = np.nanmean(a["sigma"] - a["dE"] / T0g) + c[2] / T0g
        p0 = [s0g, c[2], c[1], c[0], 1.0 / T0g]
    popt, pcov = curve_fit(model, x, y, p0=p0, sigma=sigma, absolute_sigma=counts is not None, maxfev=20000)
    s0, e0, e1, e2, inv_t0 = popt
    return {"sigma0": float(s0), "e0": float(e0), "e1": float(e1), "e2": float(e2),
            "T0": float(1.0 / inv_t0), "cov": pcov}


# ------------------------------------------------------------------------- correlations
def spatial_correlation(positions, box, S, r_max: float, bins: int = 50, mask=None):
    """C_S(r) = <δS_i δS_j>_{pairs in r bin} / <δS²>, δS = S − mean(S) (over `mask` particles).
    Pairs through any periodic image (the engine's pair search). Returns (centres, C, n_pairs)."""
    from pyglass.analysis.observables.structure import pair_vectors
    x = np.asarray(positions, float)
    S = np.asarray(S, float)
    sel = np.ones(len(S), bool) if mask is None else np.asarray(mask, bool)
    dS = np.where(sel, S - S[sel].mean(), 0.0)
    var = np.mean(dS[sel] ** 2)
    i, j, dr = pair_vectors(x, box, r_max)
    r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
    keep = (r < r_max) & sel[i] & sel[j]
    edges = np.linspace(0.0, r_max, int(bins) + 1)
    num, _ = np.histogram(r[keep], edges, weights=dS[i[keep]] * dS[j[keep]])
    cnt, _ = np.histogram(r[keep], edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        C = np.where(cnt > 0, num / np.maximum(cnt, 1) / var, np.nan)
    return 0.5 * (edges[:-1] + edges[1:]), C, cnt


def time_correlation(S_frames, lags=None, mask=None):
    """C_S(t) of paper 5 Eq. 9: the Pearson correlation across particles between S(t') and
    S(t' + t), averaged over all origins t'. S_frames: (frames, N). Returns (lags, C)."""
    S = np.asarray(S_frames, float)
    if mask is not None:
        S = S[:, np.asarray(mask, bool)]
    nf = len(S)
    lags = np.arange(nf) if lags is None else np.asarray(lags, int)
    Z = (S - S.mean(1, keepdims=True)) / S.std(1, keepdims=True)
    C = np.array([np.mean(np.einsum("fn,fn->f", Z[: nf - l], Z[l:]) / S.shape[1]) if l < nf else np.nan
                  for l in lags])
    return lags, C


def propagator(S_frames, lag: int, S0_bins, S_bins, unwrapped=None, max_displacement=None):
    """G(S, S0, t): for origins t' and particles with S(t') in each S0 bin, the normalised
    distribution of S(t' + lag). With `unwrapped` (frames, N, d) and `max_displacement`, only
    particles whose displacement from t' stayed below it at every frame up to t' + lag count
    (paper 5: 0.5). Returns (S0 centres, S centres, G (nS0, nS) densities, counts (nS0,))."""
    S = np.asarray(S_frames, float)
    nf = len(S)
    e0 = np.asarray(S0_bins, float)
    e1 = np.asarray(S_bins, float)
    H = np.zeros((len(e0) - 1, len(e1) - 1))
    for t0 in range(nf - lag):
        keep = np.ones(S.shape[1], bool)
        if max_displacement is not None:
            u = np.asarray(unwrapped, float)
            d2 = np.einsum("fnd,fnd->fn", u[t0:t0 + lag + 1] - u[t0], u[t0:t0 + lag + 1] - u[t0])
            keep = d2.max(0) < max_displacement ** 2
        h, _, _ = np.histogram2d(S[t0, keep], S[t0 + lag, keep], [e0, e1])
        H += h
    cnt = H.sum(1)
    width = np.diff(e1)
    with np.errstate(invalid="ignore", divide="ignore"):
        G = np.where(cnt[:, None] > 0, H / (np.maximum(cnt, 1)[:, None] * width[None, :]), np.nan)
    return 0.5 * (e0[:-1] + e0[1:]), 0.5 * (e1[:-1] + e1[1:]), G, cnt


# ------------------------------------------------------------------------- ΔS around rearrangements
def distance_to_rearrangement(positions, box, rearranging, r_max: float):
    """Distance from every particle to the closest rearranging particle (0 for those rearranging;
    inf beyond r_max), through periodic images."""
    from pyglass.analysis.observables.structure import pair_vectors
    x = np.asarray(positions, float)
    R = np.asarray(rearranging, bool)
    d = np.where(R, 0.0, np.inf)
    if not R.any():
        return d
    i, j, dr = pair_vectors(x, box, r_max)
    r = np.sqrt(np.einsum("ij,ij->i", dr, dr))
    ok = r < r_max
    for a, b in ((i, j), (j, i)):
        m = ok & R[b]
        np.minimum.at(d, a[m], r[m])
    return d


def softness_change(S_before, S_after, distance, r_bins, S_bins=None):
    """ΔS = S_after − S_before binned by distance to the closest rearrangement (and by S_before
    if S_bins is given). Per bin: mean ΔS, var ΔS, count, and the restoring coefficient η of
    <ΔS> = η (A − S) (η = −slope of ΔS on S_before, fitted within each r bin over all S).
    Returns dict(r, mean, var, count, eta, A); with S_bins mean/var/count are (nr, nS)."""
    Sb = np.asarray(S_before, float).ravel()
    dS = np.asarray(S_after, float).ravel() - Sb
    d = np.asarray(distance, float).ravel()
    er = np.asarray(r_bins, float)
    kr = np.searchsorted(er, d, side="right") - 1
    inr = (kr >= 0) & (kr < len(er) - 1)
    nr = len(er) - 1
    eta, A = np.full(nr, np.nan), np.full(nr, np.nan)
    for k in range(nr):
        m = inr & (kr == k)
        if m.sum() >= 3 and np.ptp(Sb[m]) > 0:
            slope, icept = np.polyfit(Sb[m], dS[m], 1)
            eta[k] = -slope
            A[k] = icept / eta[k] if eta[k] != 0 else np.nan
    if S_bins is None:
        shape, idx = (nr,), kr
    else:
        es = np.asarray(S_bins, float)
        ks = np.searchsorted(es, Sb, side="right") - 1
        inr &= (ks >= 0) & (ks < len(es) - 1)
        shape, idx = (nr, len(es) - 1), kr * (len(es) - 1) + ks
    size = int(np.prod(shape))
    cnt = np.bincount(idx[inr], minlength=size).astype(float)
    s1 = np.bincount(idx[inr], dS[inr], minlength=size)
    s2 = np.bincount(idx[inr], dS[inr] ** 2, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, s1 / cnt, np.nan)
        var = np.where(cnt > 1, (s2 - cnt * mean ** 2) / (cnt - 1), np.nan)
    return {"r": 0.5 * (er[:-1] + er[1:]), "mean": mean.reshape(shape), "var": var.reshape(shape),
            "count": cnt.reshape(shape), "eta": eta, "A": A}


def subtract_background(eta, var, eta_background, var_background, sigma2):
    """Paper 4 App. E: the measured (η, σ²_Δ) combine the rearrangement's (η1, σ²_R1) with the
    background of undetected rearrangements (η2, σ²_R2) as η = η1 + η2 − η1 η2 (E1) and
    σ²_Δ = σ²_R1 + σ²_R2 − σ²_R1 σ²_R2 / σ² (E2), σ² the variance of S. Inverted:
    η1 = (η − η2)/(1 − η2), σ²_R1 = (σ²_Δ − σ²_R2)/(1 − σ²_R2/σ²). The background is usually the
    large-r plateau. Returns (η1, σ²_R1)."""
    eta = np.asarray(eta, float)
    var = np.asarray(var, float)
    eta1 = (eta - eta_background) / (1.0 - eta_background)
    var1 = (var - var_background) / (1.0 - var_background / sigma2)
    return eta1, var1
