"""`rearrangements`: a trajectory of frames (instantaneous and, optionally, inherent-structure
positions) and p_hop of every particle at every frame (papers 4 and 5).

MD from (a copy of) the current configuration: a frame every `every` steps (and at the start); with
`quench = true` each frame is also quenched (paper 4: "p_hop, computed on inherent-state
positions"). p_hop(i, t) (observables.rearrangements.phop; Candelier et al.) uses the window
Δt = `window` time units, which must be an even number of frames. Frames are stored (float32 on
disk; unwrapped) for later stages (`softness-train`) and for re-analysis: `positions`
(instantaneous), `inherent_positions` (with `quench`), `times`, and `phop` (frames x N; NaN within
Δt/2 of either end), computed on the inherent structures when there are any (`phop_on`).
The deck's system is left where it was. The stage runs on the replica's first rank.
"""
from __future__ import annotations

import numpy as np

from pyglass.registry import INTEGRATORS, MINIMIZERS, REQUIRED, Key
from pyglass.workflow.stages import cost
from pyglass.workflow.stages.base import Stage, register, validate_table

STORE_DTYPE = np.float32   # unwrapped positions to ~1e-6 sigma: ample for p_hop (threshold 0.02-0.2) and structure


def window_frames(window: float, every: int, dt: float) -> int:
    """p_hop's Δt in frames; raises ValueError unless it is a positive even number of frames."""
    frame_time = every * dt
    k = window / frame_time
    if abs(k - round(k)) > 1e-9 * max(1.0, k) or round(k) < 2 or round(k) % 2:
        raise ValueError(f"window = {window:g} is {k:g} frames of every * dt = {frame_time:g}; it must be an even "
                         "number (>= 2) of frames")
    return int(round(k))


@register
class Rearrangements(Stage):
    kind = "rearrangements"
    phase = "md"
    doc = ("trajectory of `steps` MD steps with a frame every `every` steps (each quenched with `quench`) and "
           "p_hop(i, t) with window `window` (papers 4, 5); frames and p_hop are stored for `softness-train`")
    keys = {
        "steps": Key((int,), REQUIRED, "MD steps", lo=1),
        "every": Key((int,), REQUIRED, "MD steps between frames", lo=1),
        "window": Key((int, float), REQUIRED, "Δt of p_hop in time units (paper 5: 15; an even number of frames)",
                      lo=0, lo_open=True),
        "quench": Key((bool,), True, "quench every frame; p_hop then uses the inherent structures (paper 4)"),
        "threshold": Key((int, float), 0.2, "p_hop above which a particle counts as rearranging in the summary "
                         "numbers (paper 4: 0.2)", lo=0),
        "integrator": Key((dict,), REQUIRED, "table: the MD integrator (type, dt, T, ...)"),
        "minimizer": Key((dict,), {"type": "cg", "ftol": 1e-8}, "table: the quench minimizer"),
    }
    writes = {"times": "per frame", "positions": "per-particle vectors per frame",
              "inherent_positions": "per-particle vectors per frame", "phop": "per-particle per frame",
              "fraction_rearranging": "array", "mean_phop": "scalar"}

    @classmethod
    def fields(cls, params):
        out = dict(cls.writes)
        if not params.get("quench", True):
            out.pop("inherent_positions")
        return out

    @classmethod
    def check(cls, val, path, params):
        validate_table(val, path, params, "integrator", INTEGRATORS, "integrator")
        validate_table(val, path, params, "minimizer", MINIMIZERS, "minimizer")
        steps, every, window = params.get("steps"), params.get("every"), params.get("window")
        if steps and every and every > steps:
            val.error(path + ("every",), f"must be <= steps = {steps}, got {every}")
        elif steps and every and steps % every:
            val.error(path + ("steps",), f"must be a multiple of every = {every} (a frame every `every` steps), "
                      f"got {steps}")
        dt = (params.get("integrator") or {}).get("dt") if isinstance(params.get("integrator"), dict) else None
        if every and window and isinstance(dt, (int, float)):
            try:
                k = window_frames(window, every, dt)
            except ValueError as exc:
                val.error(path + ("window",), str(exc))
            else:
                if steps and every and steps // every + 1 < k + 1:
                    val.error(path + ("steps",), f"{steps // every + 1} frames cannot hold one p_hop window of "
                              f"{k + 1} frames (window = {window:g})")

    @classmethod
    def check_cost(cls, val, path, params, n, dim):
        frames = params["steps"] // params["every"] + 1
        gib = frames * n * dim * 4 * (2 if params.get("quench", True) else 1) / 2**30
        if gib > 8:
            val.error(path + ("every",), f"{frames} frames of {n} particles keep {gib:.1f} GiB of positions in "
                      "memory; take fewer frames (larger every) or fewer steps")

    @classmethod
    def estimate(cls, params, n, dim):
        frames = params["steps"] // params["every"] + 1
        return f"{params['steps']} MD steps, {frames} frames" + (", each quenched" if params["quench"] else "")

    @classmethod
    def cost(cls, params, n, dim):
        frames = params["steps"] // params["every"] + 1
        return cost.md(params["steps"], n) + (cost.quenches(frames, n, along_trajectory=True) if params["quench"] else cost.Cost())

    def run(self, ctx):
        from pyglass.analysis.ensembles.inherent_structures import quench
        from pyglass.analysis.observables.rearrangements import phop
        p = self.params
        integ = ctx.deck.build_integrator(p)
        k = window_frames(p["window"], p["every"], integ.dt)
        n_frames = p["steps"] // p["every"] + 1
        ctx.print(f"stage {self.index + 1} ({p['name']}): {p['steps']} steps, {n_frames} frames"
                  f"{' (quenched)' if p['quench'] else ''}, p_hop window {p['window']:g} = {k} frames")
        whole = ctx.whole_system()

        def compute():
            pot, mini = ctx.deck.build_potential(), ctx.deck.build_minimizer(p)
            times = np.empty(n_frames)
            pos = np.empty((n_frames, whole.N, whole.dim), STORE_DTYPE)
            ipos = np.empty_like(pos) if p["quench"] else None
            report = max(1, n_frames // 10)
            for f in range(n_frames):
                if f:
                    integ.run(whole, pot, p["every"])
                times[f] = whole.time
                pos[f] = whole.unwrapped_positions
                if p["quench"]:
                    q, _ = quench(whole, pot, mini)
                    ipos[f] = q.unwrapped_positions
                if f % report == 0 or f == n_frames - 1:
                    ctx.print(f"  frame {f + 1}/{n_frames}, t = {times[f]:.6g}, T = {whole.temperature():.4g}")
            ph = phop(ipos if p["quench"] else pos, k)
            hop = np.nan_to_num(ph, nan=-np.inf) > p["threshold"]
            defined = ~np.isnan(ph).all(axis=1)
            frac = np.where(defined, hop.mean(axis=1), np.nan)
            out = {"times": times, "positions": pos, "phop": ph, "fraction_rearranging": frac,
                   "mean_phop": float(np.nanmean(ph)) if defined.any() else float("nan")}
            if p["quench"]:
                out["inherent_positions"] = ipos
            return out

        res = ctx.on_root(compute)
        ctx.write_results(res, {"window_frames": k, "phop_on": "inherent" if p["quench"] else "instantaneous",
                                "threshold": p["threshold"]})
        ctx.print(f"  mean fraction with p_hop > {p['threshold']:g}: {np.nanmean(res['fraction_rearranging']):.4g}")
