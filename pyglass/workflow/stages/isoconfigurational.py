"""`isoconfigurational`: the iso-configurational ensemble of the current configuration (paper 1).

Runs `n_runs` trajectories from the current configuration with fresh Maxwell-Boltzmann momenta
(ensembles.IsoconfigurationalEnsemble; members spread over the replica's ranks) and writes the
per-particle fields at each of `times`: propensity (n_times, N), |dr| propensity, neighbour-relative |dr|
propensity (paper 2's Fig. 2), Debye-Waller
factor, probability of irreversible reorganisation, plus the member seeds; per run the neighbour-loss
record of paper 1 (first_loss_times, failed, never_recovered: Figs. S1, S2) and the total energy per
particle at the start and at each time (energies: the NVE drift); the initial neighbour graph
(neighbour_pairs, cutoffs: the IR criterion's neighbours, on which the paper's clusters connect).
"""
from __future__ import annotations

import numpy as np

from pyglass.registry import REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register


@register
class Isoconfigurational(Stage):
    kind = "isoconfigurational"
    phase = "md"
    doc = ("iso-configurational ensemble from the current configuration (paper 1): propensity, |dr| "
           "propensity, Debye-Waller factor and irreversible-reorganisation probability at each time")
    keys = {
        "n_runs": Key((int,), 100, "runs in the ensemble", lo=1),
        "T": Key((int, float), REQUIRED, "temperature of the momenta (and thermostat)", lo=0, lo_open=True),
        "dt": Key((int, float), REQUIRED, "time step", lo=0, lo_open=True),
        "times": Key((list,), REQUIRED, "times after the start at which the fields are recorded (multiples "
                     "of dt, increasing)", items=float),
        "integrator": Key((str,), "nve", "dynamics of each run", ("nve", "nvt", "npt")),
        "tau": Key((int, float), None, "thermostat period (default 100 dt)", lo=0, lo_open=True),
        "P": Key((int, float), None, "pressure (integrator = \"npt\")"),
        "tau_P": Key((int, float), None, "barostat period (default 1000 dt)", lo=0, lo_open=True),
        "threshold": Key((int,), 4, "neighbours lost for an irreversible reorganisation (paper 1)", lo=1),
        "max_x": Key((int,), 5, "largest number of lost neighbours tracked (Fig. S1)", lo=1),
        "check_every": Key((int, float), 0.1, "time between neighbour checks", lo=0, lo_open=True),
        "dw_interval": Key((int, float), None, "also write debye_waller_interval: paper 3's Debye-Waller factor, "
                           "the variance of each particle's position over the recorded times <= this interval, "
                           "averaged over runs (record a uniform grid of times)", lo=0, lo_open=True),
        "batch": Key((int,), 1, "runs advanced together as one replica batch on one rank (integrator nve or nvt, "
                     "a pair potential): each step's kernels run once for the whole batch, the results are bit "
                     "for bit those of batch = 1; npt, many-body potentials and groups of several ranks run one "
                     "at a time. Default 1: scripts/bench_replicas.py measured KA, R = 8, 1.06x sequential at "
                     "N = 250 and 0.88x at N = 1000 (ARCHITECTURE, Replica batches); try a batch for N of a few "
                     "hundred",
                     lo=1),
        "first_samples": Key((int,), None, "in a study, run only in the first this many samples (a costly "
                             "ensemble, e.g. paper 3's propensity over tau_alpha, on a subset); the other samples "
                             "write no results for this stage (default: every sample)", lo=0),
    }
    writes = {"times": "array", "seeds": "array", "propensity": "time,per-particle",
              "propensity_abs": "time,per-particle", "propensity_relative": "time,per-particle", "debye_waller": "time,per-particle",
              "ir_probability": "time,per-particle", "debye_waller_interval": "per-particle",
              "first_loss_times": "array", "failed": "array", "never_recovered": "array", "energies": "array",
              "neighbour_pairs": "array", "cutoffs": "array"}

    @classmethod
    def check(cls, val, path, params):
        t = params.get("times")
        if t is not None:
            if not t or any(x < 0 for x in t) or any(b <= a for a, b in zip(t, t[1:])):
                val.error(path + ("times",), f"must be non-negative increasing times, got {t}")
            elif params.get("dt"):
                steps = np.round(np.asarray(t) / params["dt"])
                if np.any(np.abs(steps * params["dt"] - np.asarray(t)) > 1e-9 * np.maximum(1, np.asarray(t))):
                    val.error(path + ("times",), f"must be multiples of dt = {params['dt']}, got {t}")
        dw = params.get("dw_interval")
        if dw is not None and t is not None and not any(x <= dw for x in t):
            val.error(path + ("dw_interval",), f"needs recorded times <= {params['dw_interval']} (times = {t})")
        if params.get("integrator") == "npt" and params.get("P") is None:
            val.error(path + ("P",), 'missing required key (integrator = "npt" needs the pressure P)')

    @classmethod
    def estimate(cls, params, n, dim):
        steps = int(round(max(params["times"]) / params["dt"]))
        subset = "" if params.get("first_samples") is None else f" (in the first {params['first_samples']} samples)"
        return f"{params['n_runs']} runs x {steps} steps = {params['n_runs'] * steps} MD steps{subset}"

    @classmethod
    def samples_run(cls, params, samples):
        return samples if params.get("first_samples") is None else min(samples, params["first_samples"])

    @classmethod
    def cost(cls, params, n, dim):
        return cost.md(params["n_runs"] * round(max(params["times"]) / params["dt"]), n)

    def ensemble(self, system, potential, comm=None):
        from pyglass.analysis.ensembles import IsoconfigurationalEnsemble
        p = self.params
        return IsoconfigurationalEnsemble(system, potential, p["n_runs"], p["T"], p["dt"], seed=self.seed,
                                          integrator=p["integrator"], tau=p["tau"], P=p["P"], tau_P=p["tau_P"],
                                          threshold=p["threshold"], max_x=p["max_x"],
                                          check_every=p["check_every"], comm=comm,
                                          batch=1 if p["integrator"] == "npt" else p["batch"])

    def run(self, ctx):
        p = self.params
        sample = ctx.unit[1] if ctx.unit is not None else None
        if p.get("first_samples") is not None and sample is not None and sample >= p["first_samples"]:
            ctx.print(f"stage {self.index + 1} ({p['name']}): not run in sample {sample} (first_samples = "
                      f"{p['first_samples']})")
            return
        self.seed = ctx.seed_for(0)
        ctx.print(f"stage {self.index + 1} ({p['name']}): iso-configurational ensemble, {p['n_runs']} runs to "
                  f"t = {p['times'][-1]:g}")
        whole = ctx.whole_system()
        ensemble = self.ensemble(whole, ctx.deck.build_potential(), ctx.comm)
        if ensemble.batch_refused:
            ctx.print(f"stage {self.index + 1} ({p['name']}): runs one at a time (batch = {p['batch']} not used: "
                      f"{ensemble.batch_refused})")
        res = ensemble.run(p["times"])
        out = {"times": res.times, "seeds": res.seeds, "propensity": res.propensity,
               "propensity_abs": res.propensity_abs, "propensity_relative": res.propensity_relative,
               "debye_waller": res.debye_waller,
               "ir_probability": res.ir_probability, "first_loss_times": res.first_loss_times, "failed": res.failed,
               "never_recovered": res.never_recovered, "energies": res.energies,
               "neighbour_pairs": res.neighbour_pairs, "cutoffs": res.cutoffs}
        if p["dw_interval"] is not None:
            out["debye_waller_interval"] = res.debye_waller_over_interval(p["dw_interval"])
        ctx.write_results(out, {"threshold": res.threshold, "ensemble_seed": self.seed})
