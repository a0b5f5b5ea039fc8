"""`modes`: the k lowest non-zero normal modes of the inherent structure (`landscape.lowest_modes`)."""
from __future__ import annotations

from pyglass.analysis.landscape.memory import factor_fits, factor_memory_estimate, memory_note
from pyglass.analysis.landscape.modes import FACTOR_METHODS, METHODS
from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register


def check_factor_fits(val, path, n, dim, key, remedy="fewer particles"):
    """Shared by the landscape stages that factorise the Hessian: refuse, before any work, a direct
    factorisation that will not fit."""
    if n * dim > 600 and not factor_fits(n, dim):
        gib = factor_memory_estimate(n, dim) / 1024 ** 3
        val.error(path + (key,), f"a direct factorisation of the N = {n} Hessian needs about {gib:.3g} GiB, more "
                  f"than 80 % of the memory available; use {remedy}")


@register
class Modes(Stage):
    kind = "modes"
    phase = "landscape"
    doc = ("lowest normal modes of the inherent structure: eigenvalues, frequencies, participation ratios "
           "and the participation map p_i = sum over the `map_modes` lowest modes of |e_i|^2 (paper 1)")
    needs_inherent_structure = True
    uses_petsc = True
    keys = {
        "k": Key((int,), 30, "number of non-zero modes", lo=1),
        "method": Key((str,), "auto", "solver (landscape.lowest_modes): auto = dense below 600 rows, else "
                      "block shift-invert on the shared factor where its estimated size fits the memory, else "
                      "krylov (SLEPc Krylov-Schur, no factor)", METHODS),
        "tol": Key((int, float), 1e-8, "eigenvalue tolerance", lo=0, lo_open=True),
        "map_modes": Key((int,), None, "modes summed in the participation map (default: k)", lo=1),
        "vectors": Key((bool,), False, "also write the mode vectors (k, N, d)"),
    }
    writes = {"eigenvalues": "array", "frequencies": "array", "participation_ratio": "array",
              "participation": "per-particle"}

    @classmethod
    def check(cls, val, path, params):
        if params.get("map_modes") is not None and params.get("k") is not None and params["map_modes"] > params["k"]:
            val.error(path + ("map_modes",), f"must be <= k = {params['k']}, got {params['map_modes']}")

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        if params["method"] in FACTOR_METHODS:
            check_factor_fits(val, path, n, dim, "method", 'method = "krylov" or "auto" (iterative, no factor)')

    @classmethod
    def estimate(cls, params, n, dim):
        if n * dim <= 600 or params["method"] in ("dense", "krylov", "lobpcg"):
            return f"{params['k']} modes; dense or iterative"
        if params["method"] == "auto":
            from pyglass.analysis.landscape.modes import choose_method
            return f"{params['k']} modes; " + choose_method(n, dim)[1]
        return f"{params['k']} modes; " + memory_note(n, dim)

    @classmethod
    def cost(cls, params, n, dim):
        return cost.factorisation(n, dim)   # shared by every landscape stage on the same structure

    def run(self, ctx):
        p = self.params
        ctx.print(f"stage {self.index + 1} ({p['name']}): {p['k']} lowest modes")

        def compute():
            m = ctx.inherent_structure().modes(p["k"], method=p["method"], tol=p["tol"])
            out = {"eigenvalues": m.eigenvalues, "frequencies": m.frequencies,
                   "participation_ratio": m.participation_ratio,
                   "participation": m.participation_fractions(p["map_modes"] or p["k"])}
            if p["vectors"]:
                out["vectors"] = m.vectors
            return out, {"method": m.method, "method_choice": m.info.get("choice", "as the deck says"),
                         "map_modes": p["map_modes"] or p["k"]}

        res, attrs = ctx.on_root(compute)
        ctx.print(f"  method {attrs['method']}: {attrs['method_choice']}")
        ctx.write_results(res, attrs)
        ctx.print(f"  lowest eigenvalues {', '.join(f'{v:.5g}' for v in res['eigenvalues'][:4])} ...; "
                  f"min participation ratio {res['participation_ratio'].min():.3g}")
