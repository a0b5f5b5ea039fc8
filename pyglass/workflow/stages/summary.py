"""`summary`: aggregate fields over a study's samples, per state point, with bootstrap intervals.

Runs once after every sample has finished, on the first rank, reading each sample's file. For
each named field ("<stage>/<dataset>"): the mean over samples with a bootstrap confidence interval
of the mean (pyglass.analysis.statistics.mean_interval: percentile, `study.confidence`, 90 % by default
as in paper 2), elementwise for arrays of equal shape; `pool = true` concatenates the samples' values first (e.g.
kappa over random pairs and samples) and reports the mean of the pooled values. Written to the
study's index file under the summary stage's group, one subgroup per state point:
<field>/{mean, low, high, n, values}.
"""
from __future__ import annotations

import numpy as np

from pyglass.analysis.statistics import mean_interval
from pyglass.registry import REQUIRED, Key
from pyglass.workflow.stages.base import Stage, register


@register
class Summary(Stage):
    kind = "summary"
    doc = ("mean over the study's samples of each named field with a bootstrap confidence interval "
           "(`study.confidence`), per state point, in the index file")
    per_sample = False
    keys = {
        "fields": Key((list,), REQUIRED, "fields to aggregate, \"<stage>/<dataset>\"", items=str),
        "pool": Key((bool,), False, "concatenate the samples' values (instead of averaging per sample)"),
    }

    @classmethod
    def check(cls, val, path, params):
        if params.get("fields") == []:
            val.error(path + ("fields",), "must name at least one field")

    @classmethod
    def check_pipeline(cls, val, path, params, fields):
        for j, name in enumerate(params.get("fields") or []):
            if name not in fields:
                val.error(path + ("fields",), f"no earlier stage writes {name!r} (written: "
                          f"{', '.join(sorted(fields)) or 'none'})")

    @classmethod
    def estimate(cls, params, n, dim):
        return f"bootstrap intervals of {', '.join(params['fields'])}"

    def aggregate(self, per_sample: list, confidence: float, seed: int) -> dict:
        """{field: {mean, low, high, n, values}} from [{field: value}] of every sample."""
        out = {}
        for j, name in enumerate(self.params["fields"]):
            vals = [np.asarray(s[name], float) for s in per_sample]
            if self.params["pool"]:
                stack = np.concatenate([v.ravel() for v in vals])
            else:
                shapes = {v.shape for v in vals}
                if len(shapes) > 1:
                    raise ValueError(f"summary {self.name!r}: {name!r} has different shapes in different samples "
                                     f"({sorted(shapes)}); set pool = true to concatenate them")
                stack = np.stack(vals)
            mean, low, high = mean_interval(stack, confidence, seed=seed + j)
            out[name] = {"mean": mean, "low": low, "high": high, "n": len(stack), "values": stack}
        return out
