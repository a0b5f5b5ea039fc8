"""Reproduction reports: the headline-number table (summary.json, report.md).

A row is a `Quantity`: the paper's value, ours, our spread over samples, the tolerance and the
verdict. Under the reproduction standard (docs/reproductions/standard.md) rows come from the paper's
criteria file (`Criteria.score`): the tolerance is a `criteria.Tolerance`, which gives the verdict
and its prose, and every row is a claim or a check with the paper's place. A paper whose analysis
has not been moved to its criteria file yet still writes its own rows (`kind` "unscored"), and its
summary says so (`criteria_commit` null).
"""
from __future__ import annotations

import datetime
import json
import os

import numpy as np

from pyglass.workflow.reproduce.criteria import Quantity, _clean  # noqa: F401  (Quantity: the rows papers build)


def miss_note(q, why: str) -> str:
    """The note of a scored row (a Quantity from Criteria.score) that does not hold: by how much it misses
    (ours against the target in standard errors), or that it was not measured, and why."""
    why = why if why.endswith(".") else why + "."
    tol = q.tolerance
    if not isinstance(q.ours, (int, float, np.floating, np.integer)):
        return f"Not measured: {q.id} ({q.quantity}). Why: {why}"
    se = q.spread if isinstance(q.spread, (int, float, np.floating)) and np.isfinite(q.spread) else 0.0
    if tol.test == "equal":
        by = f"ours {q.ours} against {tol.paper}"
    elif tol.test == "agree":
        comb = tol.combined_se(se)
        diff = abs(q.ours - float(tol.paper))
        by = (f"ours {q.ours:.4g} +- {se:.2g} against {float(tol.paper):g}: |difference| {diff:.3g} = "
              f"{diff / comb:.2g} combined s.e. ({comb:.2g}; at most 2 hold)") if comb > 0 else \
            f"ours {q.ours:.4g} against {float(tol.paper):g}"
    elif tol.test in ("above", "below"):
        gap = q.ours - tol.than
        by = (f"ours {q.ours:.4g} +- {se:.2g}, to be {tol.test} {tol.than:g}: "
              + (f"{gap / se:+.2g} s.e. from it (2 needed)" if se > 0 else f"{gap:+.3g} from it, no standard error"))
    else:
        by = f"ours {q.ours:.4g} +- {se:.2g} ({tol.prose})"
    return f"Miss: {q.id} ({q.quantity}): {by}. Why: {why}"


def sign_reason(q, over: str) -> str | None:
    """Why an `above`/`below` row misses, from where ours lies: on the side the paper states but within
    two standard errors of the bound (this scale cannot resolve it), on the other side within two (nor
    the sign), or on the other side by two or more (the opposite of the paper's statement holds).
    `over`: what the standard error is over ("4 MD units"). None for other rows or without an s.e."""
    tol = q.tolerance
    if isinstance(tol, str) or tol.test not in ("above", "below") \
            or not isinstance(q.spread, (int, float, np.floating)) or not np.isfinite(q.spread):
        return None
    bound, se = tol.than, float(q.spread)
    right = (q.ours > bound) == (tol.test == "above")
    z = abs(q.ours - bound) / se if se > 0 else float("inf")
    if right:
        return (f"ours has the sign the paper states, but its standard error over {over} ({se:.2g}) is larger "
                f"than half the gap to {bound:g}: this scale cannot resolve it")
    if z < 2:
        return (f"ours lies on the other side of {bound:g}, within {z:.1f} standard errors over {over}: this "
                "scale cannot resolve the sign")
    return (f"ours lies on the other side of {bound:g} by {z:.1f} standard errors over {over}: at this scale "
            "the opposite of the paper's statement holds")


def within_own_error(q):
    """For a scored `agree` row that holds while our standard error is larger than the tolerance's own
    scale (sqrt(paper_se^2 + allowance^2), the paper's error and the criteria's allowance), the line the
    report adds under "Claims that hold within our own error": the widest difference from the paper the
    test accepted, so a reader sees that the row could not reject what its reason says it rejects at the
    scale it names. None for every other row (the verdict itself is the criteria's and is not changed;
    `above`/`below`/`outside` rows cannot hold through noise)."""
    tol = q.tolerance
    if not q.holds or isinstance(tol, str) or tol.test != "agree" \
            or not isinstance(q.spread, (int, float, np.floating)) or not np.isfinite(q.spread):
        return None
    own = float(np.hypot(tol.paper_se, tol.allowance))
    se = float(q.spread)
    if se <= own:
        return None
    scale = (f"our s.e. is {se / own:.2g} times the tolerance's own scale {own:.2g} (the paper's s.e. and the "
             "allowance)" if own > 0 else "our s.e. is the whole tolerance (the row gives no paper s.e. or allowance)")
    return (f"{q.id} ({q.quantity}): ours {q.ours:.4g} +- {se:.2g} against {float(tol.paper):g}; {scale}, so the "
            f"test accepted any difference up to {2 * tol.combined_se(se):.3g}.")


HEADER = "| quantity | where | paper | ours | spread (s.e.) | tolerance | holds |\n|---|---|---|---|---|---|---|"


def write_report(paper, base, quantities, figures, notes, full, decks, revisions=(), parts=None, profile=None):
    """summary.json and report.md of a reproduction (see the module docstring). `parts`: tag -> whether
    that part's run finished (None: all did); a row of an unfinished part that was not measured says
    so in its note. `profile`: where the time went (pyglass.workflow.run.profile record: the runs' and
    the analysis'), or None."""
    from pyglass.workflow.reproduce.criteria import file_commit
    crit = paper.criteria()
    scored = crit is not None and all(q.kind in ("claim", "check") for q in quantities)
    parts = {p.tag: True for p in paper.parts} if parts is None else dict(parts)
    unrun = {tag for tag, done in parts.items() if not done}
    if scored and unrun:
        for q in quantities:
            tag = crit.row(q.id).part
            if tag in unrun and isinstance(q.ours, str) and q.ours == "not measured" and not q.note:
                q.note = f"part '{tag or '(main)'}' not run"
    commits = {tag: (_run_commit({tag: decks[tag]}) if done else None) for tag, done in parts.items()}
    doc = {"paper": paper.name,
           "criteria_commit": (file_commit(crit.path) or None) if scored else None,
           "run_commit": _run_commit(decks),
           "parts": {tag: {"run": bool(done), "run_commit": commits[tag]} for tag, done in parts.items()},
           "rows": [q.record() for q in quantities],
           "revisions": list(revisions),
           "profile": profile}
    with open(os.path.join(base, "summary.json"), "w") as fh:
        json.dump(doc, fh, indent=1, allow_nan=False)
    claims = [q for q in quantities if q.kind == "claim"]
    checks = [q for q in quantities if q.kind == "check"]
    unscored = [q for q in quantities if q.kind not in ("claim", "check")]
    overrides = "; ".join(f"`{p.deck}` with the {'full' if full else 'reduced'}-scale overrides "
                          f"{json.dumps(p.overrides(full))}" for p in paper.parts)
    lines = [f"# Reproduction: {paper.title}", "",
             f"`pyglass reproduce {paper.name}{' --full' if full else ''}` ({datetime.date.today().isoformat()}), "
             f"{overrides}.", ""]
    if scored:
        lines += [f"Criteria: `{os.path.relpath(crit.path, os.path.dirname(paper.folder))}` at commit "
                  f"{doc['criteria_commit'] or '(uncommitted)'}; run at commit {doc['run_commit'] or '(unknown)'}.", ""]
        if len(parts) > 1 or unrun:
            lines += ["Parts: " + "; ".join(
                f"`{tag or '(main)'}` " + (f"run at {commits[tag] or '(unknown)'}" if done else "**not run**")
                for tag, done in parts.items()) + ".", ""]
        not_run = sum(1 for q in claims if q.note.startswith("part '") and q.note.endswith("not run"))
        weak = [w for w in map(within_own_error, claims) if w]
        weak_checks = [w for w in map(within_own_error, checks) if w]
        lines += [f"**{sum(q.holds for q in claims)} of {len(claims)} claims hold** ("
                  + (f"{len(weak)} of them only within our own error, listed below; " if weak else "")
                  + f"{sum(q.holds for q in checks)} of {len(checks)} checks pass)"
                  + (f"; {not_run} claims are not measured because their part was not run" if not_run else "")
                  + ".", "",
                  "## Coverage", "", "| headline claim | where | measured by |", "|---|---|---|"]
        by_id = {q.id: q for q in quantities}
        for h in crit.headlines:
            if h.rows:
                cell = ", ".join(f"{r} ({'holds' if by_id[r].holds else 'miss'})" if r in by_id else f"{r} (absent)"
                                 for r in h.rows)
            else:
                cell = f"not attempted: {h.not_attempted}"
            lines.append(f"| {h.claim} | {h.where} | {cell} |".replace("\n", " "))
        lines += ["", "## Claims", "", HEADER] + [q.row() for q in claims]
        lines += ["", "## Checks (not counted)", "", HEADER] + [q.row() for q in checks]
        if weak or weak_checks:
            lines += ["", "## Claims that hold within our own error", "",
                      "These `agree` rows hold, but our standard error is larger than the scale the criteria "
                      "set for the agreement, so the 2-s.e. test could not have rejected the differences "
                      "given; they are weaker evidence than the other rows that hold (the verdicts are the "
                      "criteria's, unchanged).", ""] + [f"- {w}" for w in weak]
            if weak_checks:
                lines += [f"- Check {w}" for w in weak_checks]
        if revisions:
            lines += ["", "## Revisions", ""] + [f"- {r}" for r in revisions]
    else:
        lines += ["Not yet scored under the reproduction standard (docs/reproductions/standard.md): the "
                  "tolerances below were written with the analysis, not fixed in a criteria file before the run.",
                  "", HEADER]
    lines += [q.row() for q in unscored]
    lines += ["", "## Where the time went", ""] + profile_section(profile)
    lines += ["", "## Figures", ""] + [f"![{os.path.basename(f)}]({os.path.basename(f)})" for f in figures]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in notes] + [""]
    with open(os.path.join(base, "report.md"), "w") as fh:
        fh.write("\n".join(lines))


def profile_section(profile) -> list:
    """The report's "Where the time went" table: each phase's wall time and share."""
    from pyglass.workflow.run.profile import PHASES
    if not profile:
        return ["No profile: the runs were made before pyglass recorded one (rerun them to get it)."]
    wall = float(profile["wall_seconds"])
    out = [f"Wall time {wall / 60:.1f} min over {profile.get('invocations', 1)} invocation(s) of the runs and "
           "this analysis (process-seconds summed over replica groups); phases exclusive, so they add up "
           "to the total with \"other\" (setup, Python between phases).", "",
           "| phase | time | share |", "|---|---|---|"]
    rows = [(PHASES.get(k, k), float(v)) for k, v in profile["phases"].items()]
    rows.append(("other", float(profile.get("other_seconds", 0.0))))
    for name, v in rows:
        out.append(f"| {name} | {v:.1f} s | {100 * v / wall if wall else 0:.1f} % |")
    if profile.get("missing"):
        out += ["", f"Runs without a profile (made before profiles; not counted): {', '.join(profile['missing'])}."]
    return out


def _run_commit(decks) -> str | None:
    """The code commit the run was made with (the provenance of the first readable index file)."""
    from pyglass.workflow.run import results
    for deck in decks.values():
        try:
            commit = results.open(deck.data["output"]["path"]).provenance.get("git_commit")
        except (OSError, ValueError, KeyError):
            continue
        if commit:
            return commit
    return None
