"""Maps of per-particle fields (participation fractions, propensity, kappa_i, |d_i|) as PNG.

One helper for every field: 2D systems are drawn as a periodic, interpolated colour map with the
particles on top; 3D systems as a slab |z - z0| < thickness/2 projected on the xy plane.
Particles can be highlighted (e.g. irreversibly reorganised ones) with open markers.
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.figures import pyplot


def _slab(positions, box, field, slab):
    x = np.asarray(positions, float)
    if x.shape[1] == 2:
        return x, np.asarray(field, float), np.ones(len(x), bool)
    z0, thickness = slab if slab is not None else (box.lengths[2] / 2, 2.0)
    dz = box.minimum_image(np.c_[np.zeros((len(x), 2)), x[:, 2] - z0])[:, 2]
    keep = np.abs(dz) < thickness / 2
    return x[keep, :2], np.asarray(field, float)[keep], keep


def draw_field_map(positions, box, field, path, title: str = "", highlight=None, cmap: str = "viridis",
                   slab=None, resolution: int = 200, label: str = "", log: bool = False, dpi: int = 120):
    """Write a PNG map of `field` (N,) at `positions` (N, d) in `box` to `path`.

    highlight: (N,) bool mask drawn as open red circles. slab: (z0, thickness) for 3D.
    Interpolation (scipy.interpolate.griddata, linear) uses the particles plus their periodic
    images within 10% of the box, so the map is continuous across the boundary."""
    from scipy.interpolate import griddata
    plt = pyplot()

    field = np.asarray(field, float)
    if field.shape != (len(positions),):
        raise ValueError(f"field must have one value per particle ({len(positions)}), got shape {field.shape}")
    xy, values, keep = _slab(positions, box, field, slab)
    if log:
        values = np.log10(np.maximum(values, np.finfo(float).tiny))
    lx, ly = box.lengths[0], box.lengths[1]
    frac = box.fractional(np.c_[xy, np.zeros((len(xy), box.dim - 2))])[:, :2] % 1.0
    pts, vals = [], []
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            f = frac + (sx, sy)
            m = np.all((f > -0.1) & (f < 1.1), axis=1)
            pts.append(f[m])
            vals.append(values[m])
    pts, vals = np.concatenate(pts), np.concatenate(vals)
    gx, gy = np.meshgrid(np.linspace(0, 1, resolution), np.linspace(0, 1, resolution))
    grid = griddata(pts, vals, (gx, gy), method="linear")
    fig, ax = plt.subplots(figsize=(6, 6 * ly / lx))
    im = ax.imshow(grid, origin="lower", extent=(0, lx, 0, ly), cmap=cmap, interpolation="bilinear")
    ax.scatter(frac[:, 0] * lx, frac[:, 1] * ly, s=2, c="k", alpha=0.4, linewidths=0)
    if highlight is not None:
        hl = np.asarray(highlight, bool)[keep]
        ax.scatter(frac[hl, 0] * lx, frac[hl, 1] * ly, s=40, facecolors="none", edgecolors="r", linewidths=1.2,
                   label="highlighted")
        ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(im, ax=ax, label=(("log10 " if log else "") + label))
    ax.set_title(title)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
