"""`shear-modulus`: the athermal shear modulus G = (Born - Xi.M+.Xi)/V of the inherent structure."""
from __future__ import annotations

from pyglass.landscape.inherent import memory_note
from pyglass.stages.base import Stage, register
from pyglass.stages.modes import check_factor_fits


@register
class ShearModulus(Stage):
    kind = "shear-modulus"
    doc = "athermal shear modulus G of the inherent structure (landscape.shear_modulus), with its Born and " \
          "non-affine parts"
    needs_inherent_structure = True
    uses_petsc = True
    writes = {"G": "scalar", "born": "scalar", "nonaffine": "scalar"}

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        check_factor_fits(val, path, n, dim, "kind")

    @classmethod
    def estimate(cls, params, n, dim):
        return memory_note(n, dim)

    def run(self, ctx):
        ctx.print(f"stage {self.index + 1} ({self.name}): shear modulus")
        g, born, relax = ctx.on_root(lambda: ctx.inherent_structure().shear_modulus(return_parts=True))
        ctx.write_results({"G": g, "born": born, "nonaffine": relax})
        ctx.print(f"  G = {g:.6g} (Born {born:.6g}, non-affine {relax:.6g})")
