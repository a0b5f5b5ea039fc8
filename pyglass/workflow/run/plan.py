"""The resolved plan of a deck (`pyglass run --dry-run` prints it as comments): its units and each
stage's cost at the deck's N (the memory of a direct factorisation included)."""
from __future__ import annotations

from pyglass.registry import STAGES
from pyglass.workflow.run.paths import unit_path


def plan(deck) -> list:
    """One line per unit summary and per stage."""
    study = deck.study
    lines = []
    if deck.is_study:
        lines.append(f"study: {len(deck.states)} state point(s) x {study['samples']} sample(s) = "
                     f"{len(deck.states) * study['samples']} units; source = {study['source']}; output "
                     f"{unit_path(deck.data['output']['path'], deck.states[0][0], 0)} ... and the index "
                     f"{deck.data['output']['path']}")
    for label, data in deck.states:
        sysd = data.get("system", {})
        n, dim = (sysd.get("n"), sysd.get("dim", 3)) if sysd.get("generate") else (None, None)
        if label:
            lines.append(f"state {label}:")
        for k, st in enumerate(data["stage"]):
            cls = STAGES[st["kind"]]
            est = cls.estimate(st, n, dim) if n else "(N known when the file is read)"
            lines.append(f"  stage {k + 1} {st['name']} ({st['kind']}): {est}")
    return lines
