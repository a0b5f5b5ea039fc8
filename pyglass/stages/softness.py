"""`softness` and `caging-softness`: per-particle softness of the current configuration.

`softness` applies a trained linear-SVM model (pyglass.softness.train, saved with `save`; data-only
JSON) to the current configuration, computing the structure functions of the grid it was trained
on (place it after a quench for inherent-structure softness, as paper 4 does). `caging-softness`
computes paper 5's caging potential beta Phi_r(i) from the local g_i(r) (Gaussian width `delta`)
and the HNC direct correlation of this configuration's global g(r), and, with a calibration
(c0, c1), S_i = 1/(c0 + c1 beta Phi_r(i)) (Eq. 7). Both write per-particle fields for `overlap`.
"""
from __future__ import annotations

import os

import numpy as np

from pyglass.registry import REQUIRED, Key
from pyglass.stages.base import Stage, register


@register
class Softness(Stage):
    kind = "softness"
    doc = ("softness S_i of a trained linear-SVM model (pyglass.softness; a data-only JSON written by "
           "SoftnessModel.save) applied to the current configuration")
    keys = {"model": Key((str,), REQUIRED, "the model file (path relative to this deck)")}
    writes = {"softness": "per-particle", "mean": "scalar", "fraction_positive": "scalar"}

    @classmethod
    def check(cls, val, path, params):
        f = params.get("model")
        if f is None:
            return
        folder = os.path.dirname(val.file) if val.file else os.getcwd()
        full = f if os.path.isabs(f) else os.path.join(folder, f)
        try:
            from pyglass.softness import load
            model = load(full)
        except (OSError, ValueError) as exc:
            val.error(path + ("model",), f"cannot read the softness model {full}: {exc}")
            return
        if model.grid is None:
            val.error(path + ("model",), f"{full} has no structure-function grid (train with grid=sf.grid())")

    @classmethod
    def estimate(cls, params, n, dim):
        return "structure functions and the SVM decision function"

    def run(self, ctx):
        from pyglass.softness import load
        model = load(ctx.deck.resolve_path(self.params["model"]))
        ctx.print(f"stage {self.index + 1} ({self.name}): softness with {self.params['model']}")
        whole = ctx.whole_system()

        def compute():
            s = model.apply(whole)
            return {"softness": s, "mean": float(np.mean(s)), "fraction_positive": float(np.mean(s > 0))}

        res = ctx.on_root(compute)
        ctx.write_results(res, {"model": self.params["model"], "held_out_accuracy": model.accuracy})
        ctx.print(f"  <S> = {res['mean']:.4g}, fraction S > 0: {res['fraction_positive']:.3f}")


@register
class CagingSoftness(Stage):
    kind = "caging-softness"
    doc = ("paper 5's caging potential beta Phi_r(i) of every particle (local g_i with Gaussian width `delta`, "
           "HNC direct correlation of this configuration's g(r)) and, with `c0`, `c1`, the softness "
           "S_i = 1/(c0 + c1 beta Phi_r(i))")
    keys = {
        "T": Key((int, float), REQUIRED, "temperature of the configuration (beta of the HNC closure)", lo=0,
                 lo_open=True),
        "delta": Key((int, float), 0.09, "Gaussian width of the local g_i(r) (paper 5)", lo=0, lo_open=True),
        "r_max": Key((int, float), 3.0, "range of the g(r) grid", lo=0, lo_open=True),
        "bins": Key((int,), 150, "bins of the g(r) grid", lo=10),
        "c0": Key((int, float), None, "calibration 1/S = c0 + c1 beta Phi_r (paper 5 Eq. 7)"),
        "c1": Key((int, float), None, "calibration slope (with c0)"),
    }
    writes = {"phi_r": "per-particle", "phi_r_average": "scalar", "softness": "per-particle"}

    @classmethod
    def check(cls, val, path, params):
        if (params.get("c0") is None) != (params.get("c1") is None):
            val.error(path + ("c1" if params.get("c1") is None else "c0",), "give both c0 and c1 (the calibration)")

    @classmethod
    def fields(cls, params):
        out = dict(cls.writes)
        if params.get("c0") is None:
            out.pop("softness")
        return out

    @classmethod
    def estimate(cls, params, n, dim):
        return "local g_i(r) of every particle and the HNC closure"

    def run(self, ctx):
        from pyglass.softness import CagingPotential
        p = self.params
        ctx.print(f"stage {self.index + 1} ({self.name}): caging-potential softness at T = {p['T']:g}")
        whole = ctx.whole_system()
        pot = ctx.deck.build_potential()

        def compute():
            cp = CagingPotential(pot, p["T"], delta=p["delta"], r_max=p["r_max"], bins=p["bins"])
            cp.fit_reference([whole.positions], whole.box, whole.types)
            phi = cp.compute(whole)
            out = {"phi_r": phi, "phi_r_average": cp.phi_r_average()}
            if p["c0"] is not None:
                out["softness"] = 1.0 / (p["c0"] + p["c1"] * phi)
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res)
        ctx.print(f"  beta Phi_r^av = {res['phi_r_average']:.4g}")
