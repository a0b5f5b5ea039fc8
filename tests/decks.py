"""Test decks built from parts instead of pasted TOML. Each function returns a table of a deck; `deck(...)`
joins them and writes the text with the project's own TOML writer (`workflow.deck.dump_toml`), so a test
states only what differs from the tiny Kob-Andersen run every test starts from:

    text = deck(system(n=256), md("prod", steps=200), stage("modes", k=4), output={"trajectory": 50})
"""
from pyglass.workflow.deck import dump_toml


def system(n=64, density=1.2, composition=(0.8, 0.2), temperature=1.0, generate="lattice", **keys) -> dict:
    """A generated system (a lattice: reproducible without a packing search)."""
    out = {"generate": generate, "n": n, "density": density, "composition": list(composition), **keys}
    if temperature is not None:
        out["temperature"] = temperature
    return out


def stage(kind, name=None, **keys) -> dict:
    """Any stage: its kind, name and keys, a nested table as a dict (minimizer={"type": "fire", "ftol": 1e-11})."""
    return {**({"name": name} if name else {}), "kind": kind, **keys}


def md(name=None, kind="production", steps=200, integrator="nosehoover", dt=0.005, T=1.0, tau=0.5, thermo=0,
       observables=(), **keys) -> dict:
    """An MD stage; `integrator` is the type, its keys are dt, T, tau (None leaves one out, as does thermo=None) and `keys`
    prefixed with `integrator_` (e.g. integrator_gamma=1.0)."""
    integ = {"type": integrator, "dt": dt}
    for k, v in (("T", T), ("tau", tau)):
        if v is not None:
            integ[k] = v
    integ.update({k[len("integrator_"):]: v for k, v in keys.items() if k.startswith("integrator_")})
    out = stage(kind, name, steps=steps, **({} if thermo is None else {"thermo": thermo}), integrator=integ,
                **{k: v for k, v in keys.items() if not k.startswith("integrator_")})
    if observables:
        out["observable"] = [dict(o) for o in observables]
    return out


def deck(system_table, *stages, potential=None, output=None, run=None, study=None) -> str:
    """The TOML text of a deck: the system, the potential (default: Kob-Andersen, LAMMPS-shifted), the
    stages in order, and optional [output], [run] and [study] tables."""
    data = {"system": system_table, "potential": potential or {"model": "kob-andersen"}, "stage": list(stages)}
    for key, table in (("output", output), ("run", run), ("study", study)):
        if table is not None:
            data[key] = table
    return dump_toml(data)
