"""`softness` and `caging-softness`: per-particle softness of the current configuration.

`softness` applies a trained linear-SVM model (pyglass.analysis.softness.train, saved with `save`; data-only
JSON) to the current configuration, computing the structure functions of the grid it was trained
on (place it after a quench for inherent-structure softness, as paper 4 does). `caging-softness`
computes paper 5's caging potential beta Phi_r(i) from the local g_i(r) (Gaussian width `delta`)
and the HNC direct correlation of this configuration's global g(r), and, with a calibration
(c0, c1), S_i = 1/(c0 + c1 beta Phi_r(i)) (Eq. 7). Both write per-particle fields for `overlap`.
`softness-train` trains such a model from an earlier `rearrangements` stage (paper 4, Sec. II) by the
recipe pyglass.analysis.softness.TrainingRecipe (the stage's keys): the training set from its p_hop,
structure functions of its (inherent-structure) frames, a linear SVM with C by cross-validation and a
held-out accuracy; the model is saved as data-only JSON next to the output and the softness of the
last frame is written.
"""
from __future__ import annotations

import os

import numpy as np

from pyglass.analysis.softness.training import TrainingRecipe
from pyglass.registry import REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register


@register
class Softness(Stage):
    kind = "softness"
    phase = "structure"
    doc = ("softness S_i of a trained linear-SVM model (pyglass.analysis.softness; a data-only JSON written by "
           "SoftnessModel.save) applied to the current configuration")
    keys = {"model": Key((str,), REQUIRED, "the model file (path relative to this deck)")}
    writes = {"softness": "per-particle", "mean": "scalar", "fraction_positive": "scalar"}

    @classmethod
    def check(cls, val, path, params):
        f = params.get("model")
        if f is None:
            return
        folder = os.path.dirname(val.file) if val.file else os.getcwd()
        full = f if os.path.isabs(f) else os.path.join(folder, f)
        try:
            from pyglass.analysis.softness import load
            model = load(full)
        except (OSError, ValueError) as exc:
            val.error(path + ("model",), f"cannot read the softness model {full}: {exc}")
            return
        if model.grid is None:
            val.error(path + ("model",), f"{full} has no structure-function grid (train with grid=sf.grid())")

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        from pyglass.analysis.softness import StructureFunctions, load
        folder = os.path.dirname(val.file) if val.file else os.getcwd()
        try:
            grid = load(os.path.join(folder, params["model"])).grid   # an absolute model path stays as it is
        except (OSError, ValueError):
            return   # reported by check
        if grid is not None:
            check_grid_memory(val, path + ("model",), StructureFunctions.from_grid(grid), n, dim,
                              len(grid.get("type_names") or []) or None)

    @classmethod
    def estimate(cls, params, n, dim):
        return "structure functions and the SVM decision function"

    @classmethod
    def cost(cls, params, n, dim):
        return cost.structure_functions(1, n)   # one frame, at the paper's grid (the model's is in its file)

    def run(self, ctx):
        from pyglass.analysis.softness import StructureFunctions, load
        model = load(ctx.deck.resolve_path(self.params["model"]))
        ctx.print(f"stage {self.index + 1} ({self.name}): softness with {self.params['model']}")
        whole = ctx.whole_system()
        if model.grid is not None:   # N known now (a [system] file)
            require_grid_memory(StructureFunctions.from_grid(model.grid), whole, f"stage[{self.index + 1}].model")

        def compute():
            s = model.apply(whole)
            return {"softness": s, "mean": float(np.mean(s)), "fraction_positive": float(np.mean(s > 0))}

        res = ctx.on_root(compute)
        ctx.write_results(res, {"model": self.params["model"], "held_out_accuracy": model.accuracy})
        ctx.print(f"  <S> = {res['mean']:.4g}, fraction S > 0: {res['fraction_positive']:.3f}")


def _structure_function_keys():
    from pyglass.analysis.softness import PAPER_R_MAX, PAPER_SIGMA
    return {
        "sigma": Key((int, float), PAPER_SIGMA, "width of the radial Gaussians (paper 4 App. A: 0.05)", lo=0,
                     lo_open=True),
        "mu_step": Key((int, float), 0.05, "spacing of the radial centres mu = step, 2 step, ..., r_max (paper 4: "
                       "0.05)", lo=0, lo_open=True),
        "r_max": Key((int, float), PAPER_R_MAX, "radial cutoff (paper 4: 5.0)", lo=0, lo_open=True),
        "angular": Key((bool,), True, "include the 22 angular functions per species pair (softness.default_angular)"),
        "r_max_angular": Key((int, float), None, "triplet cutoff on r_ij, r_ik (default r_max, as paper 4; a "
                             "smaller one approximates the paper's functions, docs/softness.md)", lo=0, lo_open=True),
    }


def _grid_need(sf, n, dim, density, n_types):
    from pyglass.io.safe_read import memory_budget
    need, budget = sf.memory_estimate(n, dim, density, n_types), memory_budget()
    if need <= budget:
        return None
    return (f"the structure functions (r_max = {sf.r_max:g}, {sf.mu.size} radial centres, {len(sf.angular)} angular "
            f"per species pair) need about {need / 2**30:.3g} GiB at N = {n}, more than the memory budget "
            f"({budget / 2**30:.3g} GiB: 80 % of the memory available, or $PYGLASS_MEMORY_LIMIT_GIB)")


def check_grid_memory(val, path, sf, n, dim, n_types=None):
    """Validation: refuse a grid whose structure functions will not fit (a generated system's N and density)."""
    system = getattr(val, "system", {}) or {}
    density = system.get("density")
    n_types = n_types or len(system.get("composition") or [1])
    if density:
        why = _grid_need(sf, n, dim, density, n_types)
        if why:
            val.error(path, why)


def require_grid_memory(sf, system, key):
    """At the run (a system read from a file): DeckError on `key` when the grid will not fit."""
    from pyglass.workflow.deck import DeckError
    why = _grid_need(sf, system.N, system.dim, system.N / system.box.volume, system.n_types)
    if why:
        raise DeckError(why, key=key)


def _train_grid(params):
    """The structure functions a `softness-train` stage's keys ask for (the training recipe's grid)."""
    return TrainingRecipe.from_keys(params).structure_functions()


@register
class SoftnessTrain(Stage):
    kind = "softness-train"
    phase = "structure"
    doc = ("train the linear-SVM softness (paper 4) on the frames and p_hop of an earlier `rearrangements` stage: "
           "rearranging = p_hop > `p_rearranging` at its peak, stable = p_hop < `p_stable` over `stable_time`; "
           "held-out accuracy; the model is saved as data-only JSON")
    keys = {
        "source": Key((str,), REQUIRED, "name of the earlier `rearrangements` stage (its frames and p_hop)"),
        "positions": Key((str,), "inherent", "the frames the structure functions see: inherent or instantaneous "
                         "(paper 4: inherent)", ("inherent", "instantaneous")),
        "p_rearranging": Key((int, float), 0.6, "p_hop above which an event is a rearranging example (paper 4: 0.6)",
                             lo=0, lo_open=True),
        "p_stable": Key((int, float), 0.02, "p_hop below which (for the whole `stable_time`) a particle is a stable "
                        "example (paper 4: 0.02)", lo=0, lo_open=True),
        "stable_time": Key((int, float), REQUIRED, "time window of the stable examples (paper 4: 1000 ~ 2 tau_alpha "
                           "at T = 0.47)", lo=0, lo_open=True),
        "species": Key((list,), [0], "species indices trained on (paper 4: the large, A = 0)", items=int),
        "frame_stride": Key((int,), 1, "examples only at every this many frames (structure functions are "
                            "computed at those frames only)", lo=1),
        "max_per_species": Key((int,), None, "cap on the examples of each class and species", lo=1),
        "test_fraction": Key((int, float), 0.2, "held-out fraction for the accuracy", lo=0, lo_open=True, hi=1),
        "cv": Key((int,), 5, "cross-validation folds for C", lo=2),
        "C": Key((list,), [0.001, 0.01, 0.1, 1.0, 10.0], "candidate SVM C values", items=float),
        "model": Key((str,), None, "model file (default: <output stem>.<stage name>.json next to the output)"),
        "min_examples": Key((int,), 10, "fewest examples of each class to train on", lo=2),
        "too_few": Key((str,), "skip", "with fewer than `min_examples`: skip (write the counts and NaN accuracy, "
                       "say why, go on: a study's other units still run) or error", ("skip", "error")),
        **_structure_function_keys(),
    }
    writes = {"accuracy": "scalar", "train_accuracy": "scalar", "C": "scalar", "n_rearranging": "scalar",
              "n_stable": "scalar", "softness": "per-particle", "cv_accuracy": "array"}

    @classmethod
    def check_pipeline(cls, val, path, params, fields):
        src = params.get("source")
        if src is None:
            return
        which = "inherent_positions" if params.get("positions", "inherent") == "inherent" else "positions"
        for name in ("phop", which, "times"):
            if f"{src}/{name}" not in fields:
                have = sorted({f.split("/")[0] for f in fields if f.endswith("/phop")})
                val.error(path + ("source",), f"no earlier stage {src!r} writes {name!r}"
                          + (" (set quench = true there)" if name == "inherent_positions" and f"{src}/phop" in fields
                             else f"; `rearrangements` stages before this one: {', '.join(have) or 'none'}"))
                return

    @classmethod
    def check(cls, val, path, params):
        r_max, step = params.get("r_max"), params.get("mu_step")
        if r_max and step and r_max / step > 100_000:
            val.error(path + ("mu_step",), f"r_max / mu_step = {r_max / step:.3g} radial centres (at most 100000)")

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        if params.get("r_max") and params.get("mu_step") and params["r_max"] / params["mu_step"] <= 100_000:
            check_grid_memory(val, path + ("r_max",), _train_grid(params), n, dim)

    @classmethod
    def estimate(cls, params, n, dim):
        return "structure functions of the example frames and a cross-validated linear SVM"

    def model_path(self, ctx):
        if self.params["model"] is not None:
            return ctx.deck.resolve_path(self.params["model"])
        from pyglass.workflow.run import paths
        return paths.model_path(ctx.writer.path, self.name)

    def run(self, ctx):
        p = self.params
        src = p["source"]
        which = "inherent_positions" if p["positions"] == "inherent" else "positions"
        ph = np.asarray(ctx.fields[f"{src}/phop"], float)
        frames = ctx.fields[f"{src}/{which}"]
        times = np.asarray(ctx.fields[f"{src}/times"], float)
        frame_time = float(times[1] - times[0]) if len(times) > 1 else float("nan")
        recipe = TrainingRecipe.from_keys(p)
        stable_frames = recipe.stable_frames(frame_time)
        defined = int((~np.isnan(ph).all(axis=1)).sum())
        if not stable_frames <= defined:
            raise ValueError(f"stage {self.name!r}: stable_time = {p['stable_time']:g} is {stable_frames} frames; "
                             f"stage {src!r} has p_hop on {defined} frames only (lengthen its steps or shorten "
                             "stable_time)")
        path = self.model_path(ctx)
        from pyglass.workflow.run.output_guard import check_targets
        check_targets([(path, f"model file of stage {self.name!r}")], [], ctx.overwrite, comm=ctx.comm)
        src_stage = next(st for st in ctx.deck.data["stage"] if st["name"] == src)
        ctx.print(f"stage {self.index + 1} ({self.name}): softness training on {src!r} ({len(times)} frames, "
                  f"stable window {stable_frames} frames)")
        whole = ctx.whole_system()
        require_grid_memory(_train_grid(p), whole, f"stage[{self.index + 1}].r_max")   # N known now

        def compute():
            rear, stable = recipe.examples(ph, whole.types, stable_frames, ctx.seed_for(0))
            if min(len(rear), len(stable)) < p["min_examples"]:
                why = (f"stage {self.name!r}: only {len(rear)} rearranging and {len(stable)} stable examples of species "
                       f"{p['species']} (min_examples = {p['min_examples']}); run stage {src!r} longer or lower "
                       "p_rearranging / stable_time")
                if p["too_few"] == "error":
                    raise ValueError(why)
                return {"skipped": why, "n_rearranging": len(rear), "n_stable": len(stable)}
            ctx.print(f"  {len(rear)} rearranging, {len(stable)} stable examples over "
                      f"{len(np.unique(np.r_[rear[:, 0], stable[:, 0]]))} frames")
            model, sf = recipe.fit(whole, frames, rear, stable, ctx.seed_for(1),
                                   {"source_stage": src, "positions": p["positions"], "frame_time": frame_time,
                                    "output": ctx.writer.path, "T": src_stage["integrator"].get("T")})
            model.save(path)
            last = sf.compute(whole, positions=np.asarray(frames[-1], float))
            cv = model.info.get("cv_accuracy_by_C") or {}
            return {"accuracy": model.accuracy, "train_accuracy": model.info["train_accuracy"], "C": model.C,
                    "n_rearranging": len(rear), "n_stable": len(stable), "softness": model.predict(last),
                    "cv_accuracy": np.array([[c, a] for c, a in cv.items()]).reshape(-1, 2)}

        res = ctx.on_root(compute)
        if "skipped" in res:
            ctx.write_results({"n_rearranging": res["n_rearranging"], "n_stable": res["n_stable"],
                               "accuracy": float("nan")}, {"skipped": res["skipped"]})
            ctx.print(f"  not trained: {res['skipped']}")
            return
        ctx.write_results(res, {"model": path})
        ctx.print(f"  held-out accuracy {res['accuracy']:.3f} (C = {res['C']:g}); model {path}")


@register
class CagingSoftness(Stage):
    kind = "caging-softness"
    phase = "structure"
    doc = ("paper 5's caging potential beta Phi_r(i) of every particle (local g_i with Gaussian width `delta`, "
           "HNC direct correlation of this configuration's g(r)) and, with `c0`, `c1`, the softness "
           "S_i = 1/(c0 + c1 beta Phi_r(i))")
    keys = {
        "T": Key((int, float), REQUIRED, "temperature of the configuration (beta of the HNC closure)", lo=0,
                 lo_open=True),
        "delta": Key((int, float), 0.09, "Gaussian width of the local g_i(r) (paper 5)", lo=0, lo_open=True),
        "r_max": Key((int, float), 3.0, "range of the g(r) grid", lo=0, lo_open=True),
        "bins": Key((int,), 150, "bins of the g(r) grid", lo=10),
        "c0": Key((int, float), None, "calibration 1/S = c0 + c1 beta Phi_r (paper 5 Eq. 7)"),
        "c1": Key((int, float), None, "calibration slope (with c0)"),
    }
    writes = {"phi_r": "per-particle", "phi_r_average": "scalar", "softness": "per-particle"}

    @classmethod
    def check(cls, val, path, params):
        if (params.get("c0") is None) != (params.get("c1") is None):
            val.error(path + ("c1" if params.get("c1") is None else "c0",), "give both c0 and c1 (the calibration)")

    @classmethod
    def fields(cls, params):
        out = dict(cls.writes)
        if params.get("c0") is None:
            out.pop("softness")
        return out

    @classmethod
    def estimate(cls, params, n, dim):
        return "local g_i(r) of every particle and the HNC closure"

    def run(self, ctx):
        from pyglass.analysis.softness import CagingPotential
        p = self.params
        ctx.print(f"stage {self.index + 1} ({self.name}): caging-potential softness at T = {p['T']:g}")
        whole = ctx.whole_system()
        pot = ctx.deck.build_potential()

        def compute():
            cp = CagingPotential(pot, p["T"], delta=p["delta"], r_max=p["r_max"], bins=p["bins"])
            cp.fit_reference([whole.positions], whole.box, whole.types)
            phi = cp.compute(whole)
            out = {"phi_r": phi, "phi_r_average": cp.phi_r_average()}
            if p["c0"] is not None:
                out["softness"] = 1.0 / (p["c0"] + p["c1"] * phi)
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res)
        ctx.print(f"  beta Phi_r^av = {res['phi_r_average']:.4g}")
