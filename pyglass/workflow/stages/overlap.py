"""`overlap` (alias `correlate`): compare two per-particle fields written by earlier stages.

The overlap O_AB = 2/(N_A + N_B) sum_j Theta_A(j) Theta_B(j) of the top `fraction` of each field in
clusters of at least `min_cluster` particles (papers 1 and 3; observables.statistics.overlap), its
random-map baseline (the same field permuted over the particles), and Spearman's rank correlation
per species and overall. Fields are named "<stage>/<dataset>"; a time-resolved field (e.g.
propensity, n_times x N) is taken at row `time_index` (default: the last). Clusters use the
current configuration's neighbours (first minima of its partial g(r)).
"""
from __future__ import annotations

import numpy as np

from pyglass.registry import REQUIRED, Key
from pyglass.workflow.stages.base import Stage, register


@register
class Overlap(Stage):
    kind = "overlap"
    aliases = ("correlate",)
    doc = ("compare two per-particle fields of earlier stages: overlap O_AB of their top `fraction` in "
           "clusters of >= `min_cluster` (papers 1, 3), the random-map baseline, Spearman per species")
    keys = {
        "a": Key((str,), REQUIRED, "first field, \"<stage>/<dataset>\" (e.g. \"modes/participation\")"),
        "b": Key((str,), REQUIRED, "second field (e.g. \"iso/propensity\")"),
        "time_index": Key((int,), -1, "row of a time-resolved field (n_times x N); -1 = the last"),
        "fraction": Key((int, float), 0.25, "top fraction of each field (paper 3: 25 %, paper 1: 10 %)", lo=0,
                        lo_open=True, hi=1),
        "min_cluster": Key((int,), 3, "smallest cluster counted (paper 3: > 2; paper 1: >= 3 in 2D)", lo=1),
        "baseline_samples": Key((int,), 100, "random maps of the baseline (0: none)", lo=0),
    }
    writes = {"overlap": "scalar", "baseline_mean": "scalar", "baseline_std": "scalar", "spearman": "scalar",
              "spearman_by_species": "array"}

    @classmethod
    def check_pipeline(cls, val, path, params, fields):
        per_particle = sorted(f for f, kind in fields.items() if "per-particle" in kind and "vectors" not in kind)
        for key in ("a", "b"):
            name = params.get(key)
            if name is None:
                continue
            if name not in fields:
                val.error(path + (key,), f"no earlier stage writes {name!r}; per-particle fields written before this "
                          f"stage: {', '.join(per_particle) or 'none'}")
            elif name not in per_particle:
                val.error(path + (key,), f"{name!r} is not a per-particle field (it is {fields[name]}); per-particle "
                          f"fields: {', '.join(per_particle) or 'none'}")

    @classmethod
    def estimate(cls, params, n, dim):
        return f"overlap of {params['a']} and {params['b']}, {params['baseline_samples']} random maps"

    def field(self, ctx, name):
        if name not in ctx.fields:
            raise ValueError(f"stage {self.name!r}: field {name!r} is not available (its stage did not write it)")
        f = np.asarray(ctx.fields[name], float)
        if f.ndim == 2:
            f = f[self.params["time_index"]]
        return f

    def run(self, ctx):
        from pyglass.analysis.observables.statistics import overlap, overlap_random_baseline, spearman_by_species
        p = self.params
        fa, fb = self.field(ctx, p["a"]), self.field(ctx, p["b"])
        ctx.print(f"stage {self.index + 1} ({p['name']}): overlap of {p['a']} and {p['b']}")
        whole = ctx.whole_system()
        seed = ctx.seed_for(0)

        def compute():
            x, box, types = whole.positions, whole.box, whole.types
            o = overlap(fa, fb, x, box, p["fraction"], p["min_cluster"], types=types)
            mean = std = float("nan")
            if p["baseline_samples"]:
                mean, std, _ = overlap_random_baseline(fa, x, box, p["fraction"], p["min_cluster"],
                                                       n_samples=p["baseline_samples"], seed=seed, types=types)
            from scipy.stats import spearmanr
            rho = float(spearmanr(fa, fb)[0])
            per = spearman_by_species(fa, fb, types)
            by = np.array([per.get(s, (np.nan, np.nan))[0] for s in range(whole.n_types)])
            return {"overlap": o, "baseline_mean": mean, "baseline_std": std, "spearman": rho,
                    "spearman_by_species": by}

        res = ctx.on_root(compute)
        ctx.write_results(res, {"a": p["a"], "b": p["b"], "baseline_seed": seed})
        ctx.print(f"  O_AB = {res['overlap']:.3f} (random maps {res['baseline_mean']:.3f} +- "
                  f"{res['baseline_std']:.3f}), Spearman {res['spearman']:.3f}")
