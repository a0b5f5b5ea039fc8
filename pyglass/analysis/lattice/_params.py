"""Parameter groups of the lattice model: building one from a deck table, with errors that name
the deck section."""
from __future__ import annotations


def coerce_parameters(cls, value, section: str):
    """`value` as an instance of the dataclass `cls`: an instance passes through; a dict (a deck
    table) must use only the dataclass's fields, each converted to float."""
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        allowed = list(cls.__dataclass_fields__)
        unknown = set(value) - set(allowed)
        if unknown:
            raise ValueError(f"unknown {section} parameter(s) {sorted(unknown)}; expected {', '.join(allowed)}")
        return cls(**{k: float(v) for k, v in value.items()})
    if value is None:
        raise ValueError(f"{section} is required: {cls.__name__}({', '.join(cls.__dataclass_fields__)}) or a dict")
    raise ValueError(f"{section} must be a {cls.__name__} or dict, got {type(value).__name__}")
