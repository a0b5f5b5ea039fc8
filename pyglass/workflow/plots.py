"""`pyglass plot out.h5`: the standard figures of whatever an output file holds, as PNGs.

- thermo traces (/observables/thermo): temperature, energies, pressure against step;
- time correlations (any results group with a lag-time dataset `t`): MSD, F_s, Q, chi4, alpha2 on
  log axes, with tau_alpha (F_s = 1/e) and tau_4 (chi4 peak) marked, as bounds ('tau_4 > 16.6') where
  they lie beyond the lags;
- mode spectra (groups with `eigenvalues` and `participation_ratio`): participation against
  frequency;
- per-particle maps (groups with `participation`, `kappa_local`, or time-resolved `propensity`,
  when the file holds a configuration: the last frame of /particles/all or the quench checkpoint
  beside the file): pyglass.analysis.maps.draw_field_map;
- distributions with confidence intervals (a study's summary groups: mean with its bootstrap
  interval per field; arrays of kappa values as a histogram).
"""
from __future__ import annotations

import os

import numpy as np

from pyglass.analysis.figures import pyplot, save_png
from pyglass.analysis.maps import draw_field_map


def _configuration(run):
    """(positions, box) for maps: the run's final state (its checkpoint: the inherent structure when
    the deck ends with landscape stages), else its last trajectory frame; None if it has neither."""
    from pyglass.io.checkpoint import RestartError
    if os.path.exists(run.checkpoint_path):
        try:
            s = run.final_system()
            return s.positions, s.box
        except RestartError as exc:   # an old or foreign checkpoint: fall back to the last frame
            print(f"pyglass: warning: maps without {run.checkpoint_path} ({exc})")
    if run.n_frames:
        s = run.frame(-1)
        return s.positions, s.box
    return None


def _thermo(run, out, stem, written):
    th = run.thermo()
    cols = [c for c in th if c not in ("step", "time") and len(th[c])]
    if not cols:
        return
    plt = pyplot()
    fig, axes = plt.subplots(len(cols), 1, figsize=(6, 1.8 * len(cols)), sharex=True)
    for ax, c in zip(np.atleast_1d(axes), cols):
        ax.plot(th["step"], th[c], lw=0.8)
        ax.set_ylabel(c.replace("_", " "), fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("step")
    save_png(fig, os.path.join(out, f"{stem}.thermo.png"), written)


def peak_label(name: str, peak) -> str:
    """'tau_4 = 3.2' for a peak inside the lags; at the last lag the function still rises there, so the
    time is a lower bound ('tau_4 > 16.6'); at the first, an upper bound ('tau_4 < 0.01')."""
    return f"{name} {dict(first='<', last='>').get(peak.edge, '=')} {peak.time:.3g}"


def relaxation_label(t, fs) -> tuple:
    """(time to mark, label) of tau_alpha (F_s = 1/e): where F_s never falls that low within the lags,
    tau_alpha lies beyond the last one ('tau_alpha > 16.6'), marked there."""
    from pyglass.analysis.observables.dynamics import relaxation_time
    tau = relaxation_time(t, fs)
    if np.isfinite(tau):
        return tau, f"tau_alpha = {tau:.3g}"
    return float(t[-1]), f"tau_alpha > {t[-1]:.3g}"


def _correlations(name, g, out, stem, written):
    from pyglass.analysis.observables.dynamics import chi4_peak
    t = g["t"]
    keys = [k for k in ("msd", "fs", "Q", "chi4", "alpha2") if k in g]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3))
    for ax, k in zip(np.atleast_1d(axes), keys):
        y = g[k]
        lines = ax.plot(t, y, marker=".", lw=0.8)
        if y.ndim == 2 and y.shape[1] > 1:
            ax.legend(lines, [f"species {j}" for j in range(y.shape[1])], fontsize=7)
        ax.set_xscale("log")
        if k == "msd":
            ax.set_yscale("log")
        if k == "fs" and y.ndim == 1:
            try:
                tau, label = relaxation_label(t, y)
                ax.axvline(tau, color="r", ls="--", lw=0.8, label=label)
                ax.legend(fontsize=7)
            except (ValueError, IndexError):
                pass
        if k == "chi4" and y.ndim == 1 and len(y) > 2:
            try:
                peak = chi4_peak(t, y)
                ax.axvline(peak.time, color="r", ls="--", lw=0.8, label=peak_label("tau_4", peak))
                ax.legend(fontsize=7)
            except (ValueError, IndexError):
                pass
        ax.set_xlabel("t")
        ax.set_title(k, fontsize=9)
    save_png(fig, os.path.join(out, f"{stem}.{name.replace('/', '.')}.png"), written)


def _modes(name, g, out, stem, written):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    w = np.sqrt(np.abs(g["eigenvalues"]))
    ax.plot(w, g["participation_ratio"], "o", ms=3)
    ax.set_xlabel("omega")
    ax.set_ylabel("participation ratio")
    ax.set_yscale("log")
    ax.set_title(f"{name}: lowest modes", fontsize=9)
    save_png(fig, os.path.join(out, f"{stem}.{name.replace('/', '.')}.spectrum.png"), written)


def _maps(name, g, conf, out, stem, written):
    for key in ("participation", "kappa_local", "propensity", "ir_probability"):
        if key not in g or conf is None:
            continue
        field = g[key]
        if field.ndim == 2:
            field = field[-1]
        x, box = conf
        if field.shape != (len(x),):
            continue
        path = os.path.join(out, f"{stem}.{name.replace('/', '.')}.{key}.png")
        slab = None
        if x.shape[1] == 3:   # a slab through the middle of the box, two particle diameters thick
            slab = (float(box.lo[2] + box.lengths[2] / 2), min(2.0, float(box.lengths[2])))
        draw_field_map(x, box, np.nan_to_num(field, nan=np.nanmean(field)), path,
                       title=f"{name}: {key}" + (" (slab |z - z_mid| < 1)" if slab else ""), label=key, slab=slab)
        written.append(path)


def _summary(name, g, out, stem, written):
    plt = pyplot()
    for state in g.groups():
        sg = g[state]
        fields = [k for k in sg.groups() if "mean" in sg[k]]
        if not fields:
            continue
        fig, axes = plt.subplots(1, len(fields), figsize=(3.4 * len(fields), 3))
        for ax, k in zip(np.atleast_1d(axes), fields):
            h = sg[k]
            m, lo, hi = h["mean"], h["low"], h["high"]
            if np.ndim(m) == 0:
                vals = np.ravel(h["values"])
                ax.hist(vals, bins=min(30, max(5, len(vals) // 3)), color="0.7")
                ax.axvline(m, color="k")
                if np.isfinite(lo):
                    ax.axvspan(lo, hi, color="r", alpha=0.2, label=f"{sg.attrs.get('confidence', 0.9):.0%} CI")
                    ax.legend(fontsize=7)
            else:
                i = np.arange(len(np.ravel(m)))
                ax.errorbar(i, np.ravel(m), yerr=[np.ravel(m - lo), np.ravel(hi - m)], fmt="o", ms=3)
                ax.set_xlabel("index")
            ax.set_title(h.attrs.get("field", k), fontsize=9)
        save_png(fig, os.path.join(out, f"{stem}.{name}.{state}.png"), written)


def _is_summary(g) -> bool:
    """A summary stage's group: per state point, groups of fields with a mean."""
    return any(any("mean" in g[s][k] for k in g[s].groups()) for s in g.groups())


def plot_file(path, out_dir=None) -> list:
    """Write the standard figures of `path` into `out_dir` (default: beside the file); return paths."""
    from pyglass.workflow.run import results
    out = out_dir or os.path.dirname(os.path.abspath(path))
    os.makedirs(out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    written: list = []
    run = results.open(path)
    _thermo(run, out, stem, written)
    conf = None
    stages = [name for name in run.stages() if name not in ("thermo", "study")]
    for stage in stages:
        top = run.stage(stage)
        for sub, g in [("", top)] + top.walk():
            name = f"{stage}/{sub}" if sub else stage
            if "t" in g and "t" not in g.groups():
                _correlations(name, g, out, stem, written)
            if "eigenvalues" in g and "participation_ratio" in g:
                _modes(name, g, out, stem, written)
            if any(k in g for k in ("participation", "kappa_local", "propensity")):
                if conf is None:
                    conf = _configuration(run)
                _maps(name, g, conf, out, stem, written)
    for stage in stages:
        if _is_summary(run.stage(stage)):
            _summary(stage, run.stage(stage), out, stem, written)
    return written
