"""`shear-modulus`: the athermal shear modulus G = (Born - Xi.M+.Xi)/V of the inherent structure."""
from __future__ import annotations

from pyglass.analysis.landscape.memory import memory_note
from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register
from pyglass.workflow.stages.modes import check_factor_fits


@register
class ShearModulus(Stage):
    kind = "shear-modulus"
    phase = "landscape"
    doc = "athermal shear modulus G of the inherent structure (landscape.shear_modulus), with its Born and " \
          "non-affine parts"
    needs_inherent_structure = True
    uses_petsc = True
    keys = {
        "method": Key((str,), "auto", "linear solver for M+ Xi: auto = the Cholesky factor where its estimated size "
                      "fits the memory (or one is at hand), else cg (block preconditioned CG, no factor, G accurate "
                      "to 1e-9 relative)", ("auto", "factor", "cg")),
    }
    writes = {"G": "scalar", "born": "scalar", "nonaffine": "scalar"}

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        if params.get("method") == "factor":
            check_factor_fits(val, path, n, dim, "method", 'method = "cg" or "auto" (iterative, no factor)')

    @classmethod
    def estimate(cls, params, n, dim):
        if params.get("method", "auto") == "auto":
            from pyglass.analysis.landscape.inherent import choose_linear_method
            return choose_linear_method(n, dim)[1]
        return "block CG, no factor" if params["method"] == "cg" else memory_note(n, dim)

    @classmethod
    def cost(cls, params, n, dim):
        return cost.factorisation(n, dim)   # shared by every landscape stage on the same structure

    def run(self, ctx):
        method = self.params["method"]
        ctx.print(f"stage {self.index + 1} ({self.name}): shear modulus")

        def compute():
            ist = ctx.inherent_structure()
            _, why = ist.linear_solver(method)
            return ist.shear_modulus(return_parts=True, method=method), why or f"as the deck says ({method})"
        (g, born, relax), choice = ctx.on_root(compute)
        ctx.print(f"  method {method}: {choice}")
        ctx.write_results({"G": g, "born": born, "nonaffine": relax}, {"method_choice": choice})
        ctx.print(f"  G = {g:.6g} (Born {born:.6g}, non-affine {relax:.6g})")
