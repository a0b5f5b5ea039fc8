"""`inherent-structures`: an inherent-structure trajectory and its transition rate Gamma (paper 2).

MD from (a copy of) the current configuration, quenched every `every` steps, in `segments` stretches
`gap` steps apart; transitions are jumps |dU_IS| > epsilon between consecutive quenches of a
segment (ensembles.inherent_structure_trajectory). The system of the deck is left where it was.
"""
from __future__ import annotations

from pyglass.engine.minimizers import DEFAULT_QUENCH
from pyglass.registry import INTEGRATORS, MINIMIZERS, REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register, validate_table


@register
class InherentStructures(Stage):
    kind = "inherent-structures"
    phase = "md"
    doc = ("inherent-structure trajectory: `steps` MD steps from a copy of the current configuration, "
           "quenched every `every` steps; U_IS(t), the transitions (|dU_IS| > epsilon), the rate Gamma and "
           "the reduced rate Gamma t_ballistic N0/N (paper 2, Fig. 5b)")
    keys = {
        "steps": Key((int,), REQUIRED, "MD steps", lo=1),
        "every": Key((int,), 10, "MD steps between quenches", lo=1),
        "segments": Key((int,), 1, "stretches of `steps` quenched MD steps (transitions counted within each; "
                        "paper 2 averages over ten trajectories)", lo=1),
        "gap": Key((int,), 0, "unquenched MD steps between segments", lo=0),
        "epsilon": Key((int, float), 1e-5, "smallest |dU_IS| counted as a transition (paper 2)", lo=0),
        "n0": Key((int,), 1000, "N0 of the reduced rate", lo=1),
        "integrator": Key((dict,), REQUIRED, "table: the MD integrator (type, dt, T, ...)"),
        "minimizer": Key((dict,), dict(DEFAULT_QUENCH), "table: the quench minimizer (default: "
                         "minimizers.DEFAULT_QUENCH, measured by scripts/bench_quench.py)"),
    }
    writes = {"times": "array", "energies": "array", "segment": "array", "transitions": "array",
              "n_transitions": "scalar", "rate": "scalar", "reduced_rate": "scalar"}

    @classmethod
    def check(cls, val, path, params):
        validate_table(val, path, params, "integrator", INTEGRATORS, "integrator")
        validate_table(val, path, params, "minimizer", MINIMIZERS, "minimizer")
        if params.get("steps") and params.get("every") and params["every"] > params["steps"]:
            val.error(path + ("every",), f"must be <= steps = {params['steps']}, got {params['every']}")

    @classmethod
    def estimate(cls, params, n, dim):
        k = params.get("segments", 1)
        return (f"{k * params['steps'] + (k - 1) * params.get('gap', 0)} MD steps, "
                f"{k * (params['steps'] // params['every'] + 1)} quenches")

    @classmethod
    def cost(cls, params, n, dim):
        k = params.get("segments", 1)
        return (cost.md(k * params["steps"] + (k - 1) * params.get("gap", 0), n)
                + cost.quenches(k * (params["steps"] // params["every"] + 1), n, along_trajectory=True))

    def run(self, ctx):
        p = self.params
        seg = f" in each of {p['segments']} segments {p['gap']} steps apart" if p["segments"] > 1 else ""
        ctx.print(f"stage {self.index + 1} ({p['name']}): inherent-structure trajectory, {p['steps']} steps, "
                  f"quench every {p['every']}{seg}")
        whole = ctx.whole_system()

        def compute():
            from pyglass.analysis.ensembles.inherent_structures import inherent_structure_trajectory
            tr = inherent_structure_trajectory(whole, ctx.deck.build_potential(), ctx.deck.build_integrator(p),
                                               p["steps"], p["every"], minimizer=ctx.deck.build_minimizer(p),
                                               epsilon=p["epsilon"], segments=p["segments"], gap=p["gap"])
            return {"times": tr.times, "energies": tr.energies, "segment": tr.segment, "transitions": tr.transitions,
                    "n_transitions": tr.n_transitions, "rate": tr.rate, "reduced_rate": tr.reduced_rate(p["n0"])}

        res = ctx.on_root(compute)
        ctx.write_results(res)
        ctx.print(f"  {res['n_transitions']} transitions, Gamma = {res['rate']:.4g}")
