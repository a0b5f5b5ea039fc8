"""`dipole-stiffness`: kappa_ij of interacting pairs (paper 2), and the local kappa_i."""
from __future__ import annotations

import numpy as np

from pyglass.analysis.landscape.memory import memory_note
from pyglass.registry import Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register
from pyglass.workflow.stages.modes import check_factor_fits


@register
class DipoleStiffness(Stage):
    kind = "dipole-stiffness"
    phase = "landscape"
    doc = ("dipole stiffness kappa_ij = d.M+d / d.M+^2 d (paper 2) of explicit pairs, a random sample of "
           "interacting pairs or all of them, with kappa_local (mean over each particle's pairs; `pairs = "
           "\"all\"`) and the sample mean")
    needs_inherent_structure = True
    uses_petsc = True
    keys = {
        "pairs": Key((str,), "random", "which pairs", ("random", "all", "explicit")),
        "n_pairs": Key((int,), 1000, "number of random interacting pairs", lo=1, when='pairs = "random"'),
        "list": Key((list,), None, "explicit pairs [[i, j], ...] (particle ids)", when='pairs = "explicit"'),
        "method": Key((str,), "auto", "linear solver for M+ d: auto = the Cholesky factor where its estimated size "
                      "fits the memory (or one is at hand), else cg (block preconditioned CG, no factor, each "
                      "kappa_ij accurate to 1e-6 relative)", ("auto", "factor", "cg")),
        "tol": Key((int, float), 1e-6, "relative accuracy of each kappa_ij on the cg path (the stopping rule of "
                   "landscape.solvers.BlockPCG)", lo=0, lo_open=True, hi=0.1),
        "local": Key((bool,), False, "also write kappa_local (N,), the mean over each particle's interacting "
                     "pairs (needs pairs = \"all\")"),
    }
    writes = {"pairs": "array", "kappa": "array", "kappa_mean": "scalar", "kappa_local": "per-particle"}

    @classmethod
    def applicable(cls, given):
        which = given.get("pairs", "random")

        def why(key):
            if key == "n_pairs" and which != "random":
                return 'only applies with pairs = "random"'
            if key == "list" and which != "explicit":
                return 'only applies with pairs = "explicit"'
            return None
        return why

    @classmethod
    def check(cls, val, path, params):
        if params.get("pairs") == "explicit":
            lst = params.get("list")
            if lst is None:
                val.error(path + ("list",), 'missing required key (pairs = "explicit" needs the list [[i, j], ...])')
            elif not lst or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) and
                                                                                 not isinstance(x, bool) for x in p)
                                    for p in lst):
                val.error(path + ("list",), "must be a non-empty array of [i, j] integer pairs")
        if params.get("local") and params.get("pairs") != "all":
            val.error(path + ("local",), 'kappa_local averages over every interacting pair: set pairs = "all"')

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        if params.get("method") == "factor":
            check_factor_fits(val, path, n, dim, "method", 'method = "cg" or "auto" (iterative, no factor)')
        if params.get("pairs") == "explicit" and params.get("list"):
            bad = [p for p in params["list"] if not (0 <= p[0] < n and 0 <= p[1] < n) or p[0] == p[1]]
            if bad:
                val.error(path + ("list",), f"pair {bad[0]} is not two distinct particle ids in 0..{n - 1}")

    @classmethod
    def estimate(cls, params, n, dim):
        what = {"random": f"{params.get('n_pairs')} random pairs", "all": "every interacting pair",
                "explicit": f"{len(params.get('list') or [])} pairs"}[params["pairs"]]
        if params.get("method", "auto") == "auto":
            from pyglass.analysis.landscape.inherent import choose_linear_method
            return f"{what}; " + choose_linear_method(n, dim)[1]
        return f"{what}; " + ("block CG, no factor" if params["method"] == "cg" else memory_note(n, dim))

    @classmethod
    def cost(cls, params, n, dim):
        return cost.factorisation(n, dim)   # shared by every landscape stage on the same structure

    def run(self, ctx):
        p = self.params
        ctx.print(f"stage {self.index + 1} ({p['name']}): dipole stiffness, pairs = {p['pairs']}")
        seed = ctx.seed_for(0)

        def compute():
            from pyglass.analysis.landscape import interacting_pairs, random_pairs
            ist = ctx.inherent_structure()
            if p["pairs"] == "random":
                pairs = random_pairs(ist.system, ist.potential, p["n_pairs"], seed)
            elif p["pairs"] == "all":
                pairs = interacting_pairs(ist.system, ist.potential)
            else:
                pairs = np.asarray(p["list"], np.int64)
            _, why = ist.linear_solver(p["method"])
            kappa = ist.dipole_stiffness(pairs, method=p["method"], tol=p["tol"])
            out = {"pairs": pairs, "kappa": kappa, "kappa_mean": float(np.mean(kappa)),
                   "method_choice": why or f"as the deck says ({p['method']})"}
            if p["local"]:
                n = ist.system.N
                total = np.bincount(pairs[:, 0], kappa, n) + np.bincount(pairs[:, 1], kappa, n)
                count = np.bincount(pairs.ravel(), minlength=n)
                with np.errstate(invalid="ignore", divide="ignore"):
                    out["kappa_local"] = total / count
            return out

        res = ctx.on_root(compute)
        choice = res.pop("method_choice")
        ctx.print(f"  method {p['method']}: {choice}")
        attrs = {"method_choice": choice}
        if p["pairs"] == "random":
            attrs["pair_seed"] = seed
        ctx.write_results(res, attrs)
        ctx.print(f"  {len(res['kappa'])} pairs, mean kappa = {res['kappa_mean']:.6g}")
