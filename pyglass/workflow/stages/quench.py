"""`quench`: minimise the energy to the inherent structure of the current configuration."""
from __future__ import annotations

import numpy as np

from pyglass.registry import MINIMIZERS, REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register, validate_table


@register
class Quench(Stage):
    kind = "quench"
    phase = "quench"
    doc = ("energy minimisation to the inherent structure (results as attributes quench_converged, "
           "quench_reason, quench_energy, quench_max_force, quench_iterations of the stage group); later "
           "landscape stages work on this inherent structure")
    leaves = "inherent"
    keys = {
        "minimizer": Key((dict,), REQUIRED, "table: type = fire | cg | sd, plus the minimizer constructor's "
                         "arguments (ftol, ...)"),
    }

    @classmethod
    def check(cls, val, path, params):
        validate_table(val, path, params, "minimizer", MINIMIZERS, "minimizer")

    @classmethod
    def estimate(cls, params, n, dim):
        return f"{params['minimizer'].get('type')} minimisation"

    @classmethod
    def cost(cls, params, n, dim):
        return cost.quenches(1, n)

    def run(self, ctx):
        stage = self.params
        minimizer = ctx.deck.build_minimizer(stage)
        ctx.print(f"stage {self.index + 1} ({stage['name']}): quench with {stage['minimizer']['type']}")
        res = minimizer.minimize(ctx.system, ctx.potential)
        attrs = {}
        for key in ("converged", "reason", "energy", "max_force", "iterations"):
            v = getattr(res, key, None)
            if v is not None:
                if isinstance(v, (bool, np.bool_)):
                    v = bool(v)
                elif not isinstance(v, (int, float, np.number)):
                    v = str(getattr(v, "value", v))   # e.g. a StopReason enum
                attrs[key] = v
        ctx.writer.set_attrs(ctx.group, {f"quench_{a}": v for a, v in attrs.items()})
        n = ctx.writer.n_global
        e = attrs.get("energy")
        ctx.print(f"  {'converged' if attrs.get('converged') else 'NOT converged'}"
                  + (f" ({attrs['reason']})" if "reason" in attrs else "")
                  + (f", energy/N = {e / n:.10g}" if e is not None else "")
                  + (f", max force = {attrs['max_force']:.3g}" if "max_force" in attrs else "")
                  + (f", {attrs['iterations']} iterations" if "iterations" in attrs else ""))
        ctx.checkpoint(0, finished=True)
        ctx.canonical()
        if ctx.stop_requested():
            raise ctx.interrupted(f"{ctx.stop_signal}: checkpoint after stage {self.index + 1}")
