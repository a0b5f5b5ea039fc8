"""`pyglass plot out.h5`: the standard figures of whatever an output file holds, as PNGs.

- thermo traces (/observables/thermo): temperature, energies, pressure against step;
- time correlations (any results group with a lag-time dataset `t`): MSD, F_s, Q, chi4, alpha2 on
  log axes, with tau_alpha (F_s = 1/e) and tau_4 (chi4 peak) marked;
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

import h5py
import numpy as np

from pyglass.analysis.figures import pyplot, save_png
from pyglass.analysis.maps import draw_field_map
from pyglass.io.h5md import RESULTS_ROOT
from pyglass.io.safe_read import STUDY_LINKS, open_h5


def _configuration(f, path):
    """(positions, box) for maps: the checkpoint beside the file (the final state: the inherent
    structure when the deck ends with landscape stages), else the file's last frame; None if neither."""
    from pyglass.engine.system import Box
    from pyglass.workflow.run.paths import checkpoint_path
    ck = checkpoint_path(path)
    if os.path.exists(ck):
        from pyglass.io.checkpoint import RestartError, read_checkpoint
        try:
            s = read_checkpoint(ck).system
            return s.positions, s.box
        except RestartError as exc:   # an old or foreign checkpoint: fall back to the last frame
            print(f"pyglass: warning: maps without {ck} ({exc})")
    g = f.get("particles/all")
    if g is not None and "position" in g and g["position/value"].shape[0]:
        x = g["position/value"][-1]
        edges = g["box/edges/value"][-1]
        lengths = np.diag(edges).copy()
        return x, Box(lengths, float(edges[1, 0]) if edges.shape[0] > 1 else 0.0,
                      np.asarray(g["box"].attrs.get("offset", np.zeros(len(lengths))), float))
    return None


def _thermo(f, out, stem, written):
    th = f.get("observables/thermo")
    if th is None:
        return
    cols = [c for c in th if isinstance(th[c], h5py.Group) and "value" in th[c] and th[c]["value"].shape[0]]
    if not cols:
        return
    plt = pyplot()
    fig, axes = plt.subplots(len(cols), 1, figsize=(6, 1.8 * len(cols)), sharex=True)
    for ax, c in zip(np.atleast_1d(axes), cols):
        ax.plot(th[c]["step"][()], th[c]["value"][()], lw=0.8)
        ax.set_ylabel(c.replace("_", " "), fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("step")
    save_png(fig, os.path.join(out, f"{stem}.thermo.png"), written)


def _correlations(name, g, out, stem, written):
    from pyglass.analysis.observables.dynamics import chi4_peak, relaxation_time
    t = g["t"][()]
    keys = [k for k in ("msd", "fs", "Q", "chi4", "alpha2") if k in g]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3))
    for ax, k in zip(np.atleast_1d(axes), keys):
        y = g[k][()]
        lines = ax.plot(t, y, marker=".", lw=0.8)
        if y.ndim == 2 and y.shape[1] > 1:
            ax.legend(lines, [f"species {j}" for j in range(y.shape[1])], fontsize=7)
        ax.set_xscale("log")
        if k == "msd":
            ax.set_yscale("log")
        if k == "fs" and y.ndim == 1:
            try:
                tau = relaxation_time(t, y)
                ax.axvline(tau, color="r", ls="--", lw=0.8, label=f"tau_alpha = {tau:.3g}")
                ax.legend(fontsize=7)
            except (ValueError, IndexError):
                pass
        if k == "chi4" and y.ndim == 1 and len(y) > 2:
            try:
                t4, c4 = chi4_peak(t, y)
                ax.axvline(t4, color="r", ls="--", lw=0.8, label=f"tau_4 = {t4:.3g}")
                ax.legend(fontsize=7)
            except (ValueError, IndexError):
                pass
        ax.set_xlabel("t")
        ax.set_title(k, fontsize=9)
    save_png(fig, os.path.join(out, f"{stem}.{name.replace('/', '.')}.png"), written)


def _modes(name, g, out, stem, written):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    w = np.sqrt(np.abs(g["eigenvalues"][()]))
    ax.plot(w, g["participation_ratio"][()], "o", ms=3)
    ax.set_xlabel("omega")
    ax.set_ylabel("participation ratio")
    ax.set_yscale("log")
    ax.set_title(f"{name}: lowest modes", fontsize=9)
    save_png(fig, os.path.join(out, f"{stem}.{name.replace('/', '.')}.spectrum.png"), written)


def _maps(name, g, conf, out, stem, written):
    for key in ("participation", "kappa_local", "propensity", "ir_probability"):
        if key not in g or conf is None:
            continue
        field = g[key][()]
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
    for state in g:
        sg = g[state]
        if not isinstance(sg, h5py.Group):
            continue
        fields = [k for k in sg if isinstance(sg[k], h5py.Group) and "mean" in sg[k]]
        if not fields:
            continue
        fig, axes = plt.subplots(1, len(fields), figsize=(3.4 * len(fields), 3))
        for ax, k in zip(np.atleast_1d(axes), fields):
            h = sg[k]
            m, lo, hi = h["mean"][()], h["low"][()], h["high"][()]
            if np.ndim(m) == 0:
                vals = np.ravel(h["values"][()])
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


def plot_file(path, out_dir=None) -> list:
    """Write the standard figures of `path` into `out_dir` (default: beside the file); return paths."""
    out = out_dir or os.path.dirname(os.path.abspath(path))
    os.makedirs(out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    written: list = []
    with open_h5(path, allow_external_links_under=STUDY_LINKS) as f:   # nothing outside the file is followed
        _thermo(f, out, stem, written)
        root = f.get(RESULTS_ROOT)
        if root is None:
            return written
        conf = None
        groups = []
        root.visititems(lambda n, o: groups.append((n, o)) if isinstance(o, h5py.Group) else None)
        for name, g in groups:
            if name.split("/")[0] in ("thermo", "study"):
                continue
            if "t" in g and isinstance(g["t"], h5py.Dataset):
                _correlations(name, g, out, stem, written)
            if "eigenvalues" in g and "participation_ratio" in g:
                _modes(name, g, out, stem, written)
            if any(k in g for k in ("participation", "kappa_local", "propensity")):
                if conf is None:
                    conf = _configuration(f, path)
                _maps(name, g, conf, out, stem, written)
        for name in root:
            g = root[name]
            if isinstance(g, h5py.Group) and any(isinstance(g[s], h5py.Group) and
                                                 any(isinstance(g[s][k], h5py.Group) and "mean" in g[s][k]
                                                     for k in g[s]) for s in g):
                _summary(name, g, out, stem, written)
    return written
