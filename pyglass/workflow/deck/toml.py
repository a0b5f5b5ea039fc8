"""TOML text of a resolved deck (`pyglass run --dry-run` prints it)."""
from __future__ import annotations

import math
import re

import numpy as np


# TOML basic strings may hold no control character but tab: each is escaped (\n, \uXXXX)
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _escape(m):
    c = m.group(0)
    return _SHORT.get(c) or f"\\u{ord(c):04x}"


def comment_text(text: str) -> str:
    """`text` for a `# ...` comment line: control characters (a newline would end the comment) escaped."""
    return _CONTROL.sub(_escape, str(text))


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + _CONTROL.sub(_escape, v.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    if isinstance(v, np.generic):
        return _toml_value(v.item())
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else _toml_value(k)


def dump_toml(data: dict, header: str = "") -> str:
    """TOML text of a resolved deck (tables, arrays of tables, scalars, arrays; None = unset,
    written as a comment). tomllib.loads(dump_toml(d)) gives d back without the unset keys."""
    lines = [header.rstrip("\n")] if header else []

    def emit_table(name, table, array=False):
        lines.append("")
        lines.append(f"[[{name}]]" if array else f"[{name}]")
        subs = []
        for k, v in table.items():
            if isinstance(v, dict) and v and not array_of_tables(v):
                subs.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                subs.append((k, v, True))
            elif v is None:
                lines.append(f"# {_toml_key(k)} = (unset)")
            else:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v, arr in subs:
            if arr:
                for item in v:
                    emit_table(f"{name}.{_toml_key(k)}", item, array=True)
            else:
                emit_table(f"{name}.{_toml_key(k)}", v)

    def array_of_tables(v):
        return False

    for sec in ("system", "potential", "stage", "study", "output", "run"):
        if sec not in data:
            continue
        if sec == "stage":
            for st in data[sec]:
                emit_table("stage", st, array=True)
        else:
            emit_table(sec, data[sec])
    return "\n".join(lines).lstrip("\n") + "\n"

