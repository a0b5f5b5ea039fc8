"""`lattice`: the TRSP lattice model of softness dynamics (paper 4) from its parameter deck.

Runs `pyglass.analysis.lattice.TRSPModel.from_file(parameters, T)` at each temperature and writes Q(t),
chi4(t), tau4 and chi4* per temperature, and whether the chi4 peak sits at the first or last time
(tau4_at_edge: tau4 is then a bound; at t_max chi4 still rises). Independent of the particle system of
the deck.
"""
from __future__ import annotations

import os

import numpy as np

from pyglass.registry import REQUIRED, Key
from pyglass.workflow.stages.base import Stage, register


@register
class Lattice(Stage):
    kind = "lattice"
    doc = ("the TRSP lattice model (paper 4, docs/lattice.md) from a parameter deck such as "
           "inputs/trsp_ka.toml: Q(t), chi4(t), tau4 and chi4* at each temperature")
    keys = {
        "parameters": Key((str,), REQUIRED, "TRSP parameter deck (path relative to this deck)"),
        "temperatures": Key((list,), None, "temperatures (default: the parameter deck's list)", items=float),
        "L": Key((int,), None, "lattice side (default: the parameter deck's)", lo=2),
        "t_max": Key((int, float), 1000.0, "longest lag time (MD time units)", lo=0, lo_open=True),
        "n_runs": Key((int,), 4, "independent runs per temperature", lo=2),
    }
    writes = {"temperatures": "array", "sample_times": "array", "Q": "array", "chi4": "array", "tau4": "array",
              "chi4_star": "array", "tau4_at_edge": "array"}

    @classmethod
    def check(cls, val, path, params):
        f = params.get("parameters")
        if f is not None:
            folder = os.path.dirname(val.file) if val.file else os.getcwd()
            full = f if os.path.isabs(f) else os.path.join(folder, f)
            if not os.path.isfile(full):
                val.error(path + ("parameters",), f"file not found: {full}")
                return
            try:
                from pyglass.analysis.lattice import load_deck
                load_deck(full)
            except (ValueError, OSError) as exc:
                val.error(path + ("parameters",), f"{full}: {exc}")

    @classmethod
    def estimate(cls, params, n, dim):
        return f"lattice model, {params['n_runs']} runs per temperature to t = {params['t_max']:g}"

    def run(self, ctx):
        from pyglass.analysis.lattice import TRSPModel, load_deck
        p = self.params
        path = ctx.deck.resolve_path(p["parameters"])
        temps = p["temperatures"] or load_deck(path)["model"]["temperatures"]
        ctx.print(f"stage {self.index + 1} ({p['name']}): TRSP lattice model at T = {', '.join(map(str, temps))}")

        def compute():
            q, chi, peaks, times = [], [], [], None
            for j, T in enumerate(temps):
                over = {"L": p["L"]} if p["L"] else {}
                model = TRSPModel.from_file(path, T, seed=ctx.seed_for(j), **over)
                r = model.run(p["t_max"], n_runs=p["n_runs"])
                times = r.sample_times
                q.append(r.Q)
                chi.append(r.chi4)
                peaks.append(r.chi4_peak)
            return {"temperatures": np.asarray(temps, float), "sample_times": times, "Q": np.array(q),
                    "chi4": np.array(chi), "tau4": np.array([pk.time for pk in peaks]),
                    "chi4_star": np.array([pk.height for pk in peaks]),
                    "tau4_at_edge": np.array([pk.at_edge for pk in peaks]), "edges": [pk.edge for pk in peaks]}

        res = ctx.on_root(compute)
        edges = res.pop("edges")
        ctx.write_results(res)
        ctx.print("  tau4: " + ", ".join(f"T={T:g}: {dict(first='< ', last='> ').get(e, '')}{t:.4g}"
                                         for T, t, e in zip(res["temperatures"], res["tau4"], edges))
                  + (" (the chi4 peak at the first or last time: a bound)" if any(edges) else ""))
