"""The resolved plan of a deck (`pyglass run --dry-run` prints it as comments): its units, each
stage's work and cost at the deck's N (the memory of a direct factorisation included), and the
whole run's cost (`deck_cost`: core-hours and peak memory, `workflow.stages.cost`) with its estimate
by phase, in the phases the run's profile reports (`workflow.run.profile`)."""
from __future__ import annotations

from pyglass.registry import STAGES
from pyglass.workflow.run.paths import unit_path
from pyglass.workflow.stages import cost as costs


def _size(data):
    sysd = data.get("system", {})
    return (sysd.get("n"), sysd.get("dim", 3)) if sysd.get("generate") else (None, None)


def deck_cost(deck):
    """(Cost of the whole run, its unit count) at the deck's N: per state point, the per-sample stages
    once per sample, a draw trajectory's stages once with `spacing` MD steps per sample; None where N is
    only known from a file."""
    study, total, units = deck.study, costs.Cost(), 0
    samples = int(study["samples"]) if deck.is_study else 1
    for _, data in deck.states:
        n, dim = _size(data)
        if n is None:
            return None, 0
        stages = data["stage"]
        names = [s["name"] for s in stages]
        per = [STAGES[s["kind"]].cost(s, n, dim) for s in stages]
        per = [c if c is not None else costs.Cost() for c in per]
        # a stage may run in some samples only (isoconfigurational first_samples)
        runs = [STAGES[s["kind"]].samples_run(s, samples) for s in stages]
        if deck.is_study and study["source"] == "trajectory" and study.get("draw_after") in names:
            d = names.index(study["draw_after"])
            spacing = int(data.get("study", study).get("spacing", study["spacing"]))
            draw = costs.total(per[:d + 1]) + costs.md(spacing * samples, n)
            total = total + draw + costs.total([c * k for c, k in zip(per[d + 1:], runs[d + 1:])])
        else:
            total = total + costs.total([c * k for c, k in zip(per, runs)])
        units += samples
    return total, units


def plan(deck) -> list:
    """One line per unit summary and per stage, then the cost of the whole run."""
    study = deck.study
    lines = []
    if deck.is_study:
        lines.append(f"study: {len(deck.states)} state point(s) x {study['samples']} sample(s) = "
                     f"{len(deck.states) * study['samples']} units; source = {study['source']}; output "
                     f"{unit_path(deck.data['output']['path'], deck.states[0][0], 0)} ... and the index "
                     f"{deck.data['output']['path']}")
    for label, data in deck.states:
        n, dim = _size(data)
        if label:
            lines.append(f"state {label}:")
        for k, st in enumerate(data["stage"]):
            cls = STAGES[st["kind"]]
            if n:
                c = cls.cost(st, n, dim)
                est = cls.estimate(st, n, dim) + (f" [{c.describe()}]" if c is not None else "")
            else:
                est = "(N known when the file is read)"
            lines.append(f"  stage {k + 1} {st['name']} ({st['kind']}): {est}")
    total, _ = deck_cost(deck)
    if total is not None:   # the breakdown first: the plan ends with the total
        if total.core_seconds > 0:
            lines += total.by_phase()
        lines.append(f"cost of the whole run: {total.describe()} (order of magnitude: workflow/stages/cost.py)")
    return lines
