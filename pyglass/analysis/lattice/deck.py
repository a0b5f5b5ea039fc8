"""TOML parameter decks for the TRSP model (inputs/trsp_ka.toml is the reference deck).

Every section and key is checked: an unknown key, a missing required key or a value of the
wrong type is a ValueError naming the key, never silently ignored.  Temperature-dependent
parameters are evaluated by ``model_parameters(deck, T)``:

  [softness]    mean softness <S>(T) = mean_a + mean_b / T (Fig. 2a form), or a table
                (mean_table_T, mean_table) interpolated linearly in 1/T.
  [correlation] C0, C1, xi of Eq. 29 (T-independent, as in the paper).
  [rate]        form = "onset" (e0, e1, e2, Sigma0, T0 of Eqs. 27-28) or "table"
                ([rate.table] T, A, gamma, delta); duration; parameters_are = "observed"
                (renormalised for m-site clusters, App. D) or "bare".
  [kick]        sigma0, sigma1, sigma_length, rho1, rho_length (Eq. 30), r_max,
                coupling_range (truncation), phi.
  [model]       L, d, m, temperatures (the paper's list), lattice_spacing (documentation).
  [meta]        free-form strings (source, notes).
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from .rates import RateLaw

__all__ = ["load_deck", "model_parameters"]

_NUMBER = (int, float)
SCHEMA = {
    "meta": {"source": str, "notes": str, "units": str},
    "model": {"L": int, "d": int, "m": int, "temperatures": list, "lattice_spacing": _NUMBER},
    "softness": {"mean_a": _NUMBER, "mean_b": _NUMBER, "mean_table_T": list, "mean_table": list},
    "correlation": {"C0": _NUMBER, "C1": _NUMBER, "xi": _NUMBER},
    "rate": {"form": str, "parameters_are": str, "duration": _NUMBER, "e0": _NUMBER,
             "e1": _NUMBER, "e2": _NUMBER, "Sigma0": _NUMBER, "T0": _NUMBER, "table": dict},
    "rate.table": {"T": list, "A": list, "gamma": list, "delta": list},
    "kick": {"sigma0": _NUMBER, "sigma1": _NUMBER, "sigma_length": _NUMBER, "rho1": _NUMBER,
             "rho_length": _NUMBER, "r_max": _NUMBER, "coupling_range": _NUMBER, "phi": _NUMBER},
}
REQUIRED = {
    "model": ("L", "d", "m"),
    "correlation": ("C0", "C1", "xi"),
    "rate": ("form",),
    "kick": ("sigma0",),
}


def _check(section: str, table: dict, where: str):
    allowed = SCHEMA[section]
    for key, value in table.items():
        full = f"{section}.{key}"
        if key not in allowed:
            raise ValueError(f"{where}: unknown deck key '{full}' (allowed: {sorted(allowed)})")
        kind = allowed[key]
        if kind is _NUMBER:
            if isinstance(value, bool) or not isinstance(value, _NUMBER):
                raise ValueError(f"{where}: deck key '{full}' must be a number, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: deck key '{full}' must be an integer, got {value!r}")
        elif not isinstance(value, kind):
            raise ValueError(f"{where}: deck key '{full}' must be a {kind.__name__}, got {value!r}")
    for key in REQUIRED.get(section, ()):
        if key not in table:
            raise ValueError(f"{where}: missing required deck key '{section}.{key}'")


def load_deck(path) -> dict:
    """Read and validate a TRSP deck; returns the parsed dict (with '_path')."""
    path = Path(path)
    with open(path, "rb") as fh:
        deck = tomllib.load(fh)
    where = str(path)
    for section, table in deck.items():
        if section not in SCHEMA or section == "rate.table":
            raise ValueError(f"{where}: unknown deck section '[{section}]'")
        if not isinstance(table, dict):
            raise ValueError(f"{where}: deck key '{section}' must be a table")
        _check(section, table, where)
    for section in REQUIRED:
        if section not in deck:
            raise ValueError(f"{where}: missing deck section '[{section}]'")
    model = deck["model"]
    if model["L"] < 2:
        raise ValueError(f"{where}: deck key 'model.L' must be an integer >= 2, got {model['L']}")
    if model["d"] not in (2, 3):
        raise ValueError(f"{where}: deck key 'model.d' must be 2 or 3, got {model['d']}")
    if model["m"] not in (1, 4):
        raise ValueError(f"{where}: deck key 'model.m' must be 1 or 4, got {model['m']}")
    rate = deck["rate"]
    if rate["form"] not in ("onset", "table"):
        raise ValueError(f"{where}: deck key 'rate.form' must be 'onset' or 'table', got {rate['form']!r}")
    if rate.get("parameters_are", "observed") not in ("observed", "bare"):
        raise ValueError(f"{where}: deck key 'rate.parameters_are' must be 'observed' or 'bare'")
    if rate["form"] == "onset":
        for key in ("e0", "e1", "e2", "Sigma0", "T0"):
            if key not in rate:
                raise ValueError(f"{where}: missing required deck key 'rate.{key}' (form = 'onset')")
    else:
        if "table" not in rate:
            raise ValueError(f"{where}: missing deck table '[rate.table]' (form = 'table')")
        _check("rate.table", rate["table"], where)
        for key in ("T", "A", "gamma", "delta"):
            if key not in rate["table"]:
                raise ValueError(f"{where}: missing required deck key 'rate.table.{key}'")
    soft = deck.get("softness", {})
    has_form = "mean_a" in soft and "mean_b" in soft
    has_table = "mean_table_T" in soft and "mean_table" in soft
    if not (has_form or has_table):
        raise ValueError(f"{where}: deck section [softness] needs 'softness.mean_a' and "
                         f"'softness.mean_b' (or 'softness.mean_table_T' and 'softness.mean_table')")
    deck["_path"] = where
    return deck


def mean_softness(deck: dict, T: float) -> float:
    """<S>(T) = a + b/T (Fig. 2a) or interpolation of a table linear in 1/T."""
    soft = deck["softness"]
    if "mean_a" in soft:
        return float(soft["mean_a"] + soft["mean_b"] / T)
    temps = np.asarray(soft["mean_table_T"], dtype=float)
    vals = np.asarray(soft["mean_table"], dtype=float)
    if len(temps) != len(vals):
        raise ValueError(f"{deck['_path']}: 'softness.mean_table' and 'softness.mean_table_T' differ in length")
    if not temps.min() <= T <= temps.max():
        raise ValueError(f"T={T} outside 'softness.mean_table_T' range (no extrapolation)")
    order = np.argsort(1 / temps)
    return float(np.interp(1 / T, 1 / temps[order], vals[order]))


def model_parameters(deck: dict, T: float) -> dict:
    """Keyword arguments of TRSPModel at temperature T."""
    if isinstance(T, bool) or not isinstance(T, (int, float)) or not np.isfinite(T) or T <= 0:
        raise ValueError(f"temperature T must be a positive number, got {T!r}")
    rate = deck["rate"]
    duration = float(rate.get("duration", 4.0))
    if rate["form"] == "onset":
        law = RateLaw.from_onset(T, rate["e0"], rate["e1"], rate["e2"], rate["Sigma0"], rate["T0"],
                                 duration=duration)
    else:
        tab = rate["table"]
        law = RateLaw.from_table(T, tab["T"], tab["A"], tab["gamma"], tab["delta"], duration=duration)
    model = deck["model"]
    return {"L": model["L"], "d": model["d"], "m": model["m"], "mu": mean_softness(deck, T),
            "correlation": dict(deck["correlation"]), "rate": law, "kick": dict(deck["kick"]),
            "T": float(T), "rate_is_bare": rate.get("parameters_are", "observed") == "bare"}
