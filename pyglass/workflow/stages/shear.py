"""`shear`: sheared inherent structures.

protocol = "quasistatic": the inherent structure is sheared in increments to each strain and
re-minimised (landscape.shear_inherent_structures): stress, energy and non-affine displacements.
protocol = "affine-quench" (paper 3): the current equilibrium configuration X is deformed in one
affine step to each strain, then quenched; d = r^dq - r^q - gamma y^q e_x against the quenched
undeformed X^q, with sigma_xy^dq(gamma) and gamma_c at its peak (landscape.affine_quench_response).
"""
from __future__ import annotations

import numpy as np

from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register


@register
class Shear(Stage):
    kind = "shear"
    doc = ("sheared configurations: protocol \"quasistatic\" shears the inherent structure in increments "
           "with re-minimisation; \"affine-quench\" (paper 3) deforms the equilibrium configuration in one "
           "step and quenches it. Writes gammas, stress_xy, energy_per_particle and the non-affine "
           "displacement magnitudes |d_i| (n_gamma, N); the system itself is left unchanged")
    keys = {
        "protocol": Key((str,), "quasistatic", "quasistatic (inherent structure) or affine-quench (paper 3, "
                        "from the equilibrium configuration)", ("quasistatic", "affine-quench")),
        "gammas": Key((list,), None, "strains (increasing, > 0); default: gamma_max / n_gamma steps",
                      items=float),
        "gamma_max": Key((int, float), 0.2, "largest strain (when `gammas` is not given)", lo=0, lo_open=True),
        "n_gamma": Key((int,), 20, "number of strains up to gamma_max", lo=1),
        "ftol": Key((int, float), 1e-10, "force tolerance of each minimisation", lo=0, lo_open=True),
        "displacements": Key((bool,), False, "also write the full displacement vectors (n_gamma, N, d)"),
    }
    writes = {"gammas": "array", "stress_xy": "array", "energy_per_particle": "array",
              "nonaffine_magnitude": "array"}

    @classmethod
    def fields(cls, params):
        out = dict(cls.writes)
        if params.get("protocol") == "affine-quench":
            out["gamma_c"] = "scalar"
        return out

    @classmethod
    def documented_fields(cls):
        return list(cls.writes) + ["gamma_c (affine-quench)"]

    @classmethod
    def needs_inherent(cls, params):
        return params.get("protocol", "quasistatic") == "quasistatic"

    @classmethod
    def check(cls, val, path, params):
        g = params.get("gammas")
        if g is not None and (not g or any(x <= 0 for x in g) or any(b <= a for a, b in zip(g, g[1:]))):
            val.error(path + ("gammas",), f"must be increasing strains > 0, got {g}")

    @classmethod
    def estimate(cls, params, n, dim):
        m = len(params["gammas"]) if params.get("gammas") else params["n_gamma"]
        return f"{m} strains, one minimisation each ({params['protocol']})"

    @classmethod
    def cost(cls, params, n, dim):
        return cost.quenches(len(params["gammas"]) if params.get("gammas") else params["n_gamma"], n)

    def gammas(self):
        p = self.params
        if p.get("gammas"):
            return np.asarray(p["gammas"], float)
        return np.linspace(p["gamma_max"] / p["n_gamma"], p["gamma_max"], p["n_gamma"])

    def run(self, ctx):
        p = self.params
        gammas = self.gammas()
        ctx.print(f"stage {self.index + 1} ({p['name']}): {p['protocol']} shear to gamma = {gammas[-1]:g} "
                  f"in {len(gammas)} strains")
        whole = ctx.whole_system()
        pot = ctx.deck.build_potential()

        def compute():
            from pyglass.analysis import landscape
            if p["protocol"] == "quasistatic":
                r = landscape.shear_inherent_structures(whole, pot, gammas, ftol=p["ftol"])
                out = {"gammas": r.gammas, "stress_xy": r.stress_xy, "energy_per_particle": r.energy_per_particle,
                       "nonaffine_magnitude": r.nonaffine_magnitude()}
                disp = r.nonaffine
            else:
                r = landscape.affine_quench_response(whole, pot, gammas, ftol=p["ftol"])
                out = {"gammas": r.gammas, "stress_xy": r.stress, "energy_per_particle": r.energies,
                       "nonaffine_magnitude": np.linalg.norm(r.displacements, axis=2), "gamma_c": r.gamma_c}
                disp = r.displacements
            if p["displacements"]:
                out["displacements"] = disp
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res)
        k = int(np.argmax(res["stress_xy"]))
        ctx.print(f"  stress_xy peaks at {res['stress_xy'][k]:.5g} (gamma = {res['gammas'][k]:g})")
