"""`pseudoharmonic`: the softest pseudoharmonic modes of the inherent structure (paper 2)."""
from __future__ import annotations

from pyglass.analysis.landscape.memory import memory_note
from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register
from pyglass.workflow.stages.modes import check_factor_fits


@register
class Pseudoharmonic(Stage):
    kind = "pseudoharmonic"
    phase = "landscape"
    doc = "softest pseudoharmonic modes (landscape.pseudoharmonic_modes): stiffness, cost, participation"
    needs_inherent_structure = True
    uses_petsc = True
    keys = {
        "n_starts": Key((int,), None, "start from the dipole responses of the n_starts softest pairs (a "
                        "shortcut); default: every interacting pair, as paper 2 does", lo=1),
        "starts": Key((str,), "softest", "with n_starts: the softest dipole responses, or interacting pairs drawn "
                      "at random (blind to kappa_ij, so the modes' placement can be compared with kappa)",
                      ("softest", "random")),
        "n_keep": Key((int,), 12, "distinct modes kept", lo=1),
        "overlap": Key((int, float), 0.9, "modes overlapping a softer one more than this are dropped", lo=0,
                       lo_open=True, hi=1),
        "vectors": Key((bool,), False, "also write the mode vectors"),
    }
    writes = {"stiffness": "array", "cost": "array", "participation_ratio": "array", "centres": "array",
              "start_stiffness": "array"}

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        check_factor_fits(val, path, n, dim, "kind")

    @classmethod
    def estimate(cls, params, n, dim):
        starts = params["n_starts"] or "one per interacting pair:"
        return f"{starts} minimisations; {memory_note(n, dim)}"

    @classmethod
    def cost(cls, params, n, dim):
        return cost.factorisation(n, dim) + cost.quenches(params["n_starts"] or n, n)

    def run(self, ctx):
        p = self.params
        ctx.print(f"stage {self.index + 1} ({p['name']}): pseudoharmonic modes from "
                  f"{p['n_starts'] or 'every interacting pair as'} starts")

        seed = ctx.seed_for(0)

        def compute():
            from pyglass.analysis.landscape import pseudoharmonic_modes
            ist = ctx.inherent_structure()
            m = pseudoharmonic_modes(ist.system, ist.potential, n_starts=p["n_starts"], n_keep=p["n_keep"],
                                     overlap=p["overlap"], hessian_matrix=ist.hessian, starts=p["starts"],
                                     seed=seed)
            out = {k: getattr(m, k) for k in self.writes}
            if p["vectors"]:
                out["vectors"] = m.vectors
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res, {"start_seed": seed} if p["starts"] == "random" else {})
        ctx.print(f"  {len(res['stiffness'])} modes, softest kappa = {res['stiffness'][0]:.6g}")
