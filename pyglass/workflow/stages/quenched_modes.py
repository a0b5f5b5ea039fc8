"""`quenched-modes`: soft-mode maps along short runs from the current configuration (paper 1, Fig. 4
and SI §3).

`n_runs` runs of `steps` MD steps with fresh Maxwell-Boltzmann momenta at T, each quenched every
`every` steps (ensembles.QuenchedModesEnsemble; runs spread over the replica's ranks); per inherent
structure (the start's, shared, in column 0) the energy, the residual force, the k lowest modes and
the participation map. The analysis reads from them the changes of inherent structure, the
persistence of the mode-cluster map and the renormalised (maximum-participation) map. The system of
the deck is left where it was.
"""
from __future__ import annotations

from pyglass.engine.minimizers import DEFAULT_QUENCH
from pyglass.registry import MINIMIZERS, REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register, validate_table


@register
class QuenchedModes(Stage):
    kind = "quenched-modes"
    phase = "landscape"
    doc = ("soft-mode maps along short runs (paper 1, Fig. 4, SI §3): `n_runs` runs of `steps` MD steps from "
           "the current configuration with fresh momenta, quenched every `every` steps; per inherent structure "
           "its energy, residual force, k lowest eigenvalues and participation map")
    uses_petsc = True
    keys = {
        "n_runs": Key((int,), 5, "runs (paper 1: five)", lo=1),
        "T": Key((int, float), REQUIRED, "temperature of the momenta (and thermostat)", lo=0, lo_open=True),
        "dt": Key((int, float), REQUIRED, "time step", lo=0, lo_open=True),
        "steps": Key((int,), REQUIRED, "MD steps per run (paper 1: 10 tau)", lo=1),
        "every": Key((int,), REQUIRED, "MD steps between quenches (paper 1: 1 tau)", lo=1),
        "k": Key((int,), 30, "modes per inherent structure", lo=1),
        "map_modes": Key((int,), None, "modes summed in the participation map (default: k)", lo=1),
        "integrator": Key((str,), "nve", "dynamics of each run", ("nve", "nvt")),
        "tau": Key((int, float), None, "thermostat period (default 100 dt)", lo=0, lo_open=True),
        "minimizer": Key((dict,), dict(DEFAULT_QUENCH), "table: the quench minimizer (default: "
                         "minimizers.DEFAULT_QUENCH)"),
    }
    writes = {"times": "array", "seeds": "array", "energies": "array", "max_force": "array",
              "eigenvalues": "array", "participation": "array"}

    @classmethod
    def check(cls, val, path, params):
        validate_table(val, path, params, "minimizer", MINIMIZERS, "minimizer")
        steps, every = params.get("steps"), params.get("every")
        if steps and every and (every > steps or steps % every):
            val.error(path + ("every",), f"must divide steps = {steps}, got {every}")
        if params.get("map_modes") is not None and params.get("k") is not None and params["map_modes"] > params["k"]:
            val.error(path + ("map_modes",), f"must be <= k = {params['k']}, got {params['map_modes']}")

    @classmethod
    def estimate(cls, params, n, dim):
        q = params["n_runs"] * (params["steps"] // params["every"]) + 1
        return (f"{params['n_runs']} runs x {params['steps']} steps = {params['n_runs'] * params['steps']} MD steps, "
                f"{q} quenches with {params['k']} modes each")

    @classmethod
    def cost(cls, params, n, dim):
        q = params["n_runs"] * (params["steps"] // params["every"]) + 1    # each quench starts from the liquid
        return (cost.md(params["n_runs"] * params["steps"], n) + cost.quenches(q, n)
                + cost.factorisation(n, dim, count=q))

    def run(self, ctx):
        from pyglass.analysis.ensembles import QuenchedModesEnsemble
        p = self.params
        seed = ctx.seed_for(0)
        ctx.print(f"stage {self.index + 1} ({p['name']}): {p['n_runs']} runs of {p['steps']} steps quenched every "
                  f"{p['every']}, {p['k']} modes per inherent structure")
        ens = QuenchedModesEnsemble(ctx.whole_system(), ctx.deck.build_potential(), p["n_runs"], p["T"], p["dt"],
                                    p["steps"], p["every"], k=p["k"], map_modes=p["map_modes"],
                                    integrator=p["integrator"], tau=p["tau"], minimizer=ctx.deck.build_minimizer(p),
                                    seed=seed, comm=ctx.comm)
        res = ens.run()
        ctx.write_results({key: getattr(res, key) for key in self.writes},
                          {"map_modes": res.map_modes, "ensemble_seed": seed})
        ch = res.changes()
        ctx.print(f"  inherent structure changed in {ch.mean():.0%} of the intervals; largest residual force "
                  f"{res.max_force.max():.3g}")
