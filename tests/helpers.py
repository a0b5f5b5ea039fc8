"""Shared test utilities: where the repository, the reference data and the test data are; finite
differences against which analytic derivatives are checked."""
import os

import numpy as np

from pyglass import builders
from pyglass.analysis.observables.base import Observable

TESTS = os.path.dirname(os.path.abspath(__file__))   # the test tree mirrors pyglass/: tests/<layer>/test_*.py
ROOT = os.path.dirname(TESTS)                         # the repository
REF = os.path.join(TESTS, "reference")               # reference data from scripts/make_*_references.py
DATA = os.path.join(TESTS, "data")                   # crafted inputs (decks, files)


def tolerance(reference: str, key: str) -> float:
    """The tolerance `key` of reference family `reference`, kept beside the data with its reason
    (tests/reference/tolerances.toml)."""
    import tomllib
    with open(os.path.join(REF, "tolerances.toml"), "rb") as fh:
        return float(tomllib.load(fh)[reference][key])


def small_system(potential_name, dim, n=64, seed=1, density=None):
    """A small random configuration suited to a named model (non-overlapping)."""
    dens = {"ka": 1.2, "softdisks": 0.8, "softspheres": 0.74, "ipl": 0.82 if dim == 3 else 0.86,
            "sticky": 0.6, "sw": 0.52}[potential_name] if density is None else density
    if dim == 2 and potential_name == "ka" and density is None:
        dens = 0.9
    comp = {"ka": (0.8, 0.2), "sw": (1.0,)}.get(potential_name, (0.5, 0.5))
    return builders.random_packing(n, dens, dim, comp, seed=seed, min_distance=0.75)


def numerical_forces(system, potential, h=1e-6, indices=None):
    """-dE/dx by central differences for the listed particles (default all): (len, d)."""
    idx = range(system.N) if indices is None else indices
    out = np.zeros((len(idx), system.dim))
    for a, i in enumerate(idx):
        for k in range(system.dim):
            x = system.positions
            x0 = x[i, k]
            x[i, k] = x0 + h
            system.touch()
            ep = potential.energy(system)
            x[i, k] = x0 - h
            system.touch()
            em = potential.energy(system)
            x[i, k] = x0
            system.touch()
            out[a, k] = -(ep - em) / (2 * h)
    return out


def numerical_virial(system, potential, h=1e-6):
    """W_ab = -sum over deformations: W = -dE/d(eps_ab) under x -> (1 + eps) x, box -> (1 + eps) box."""
    from pyglass.engine.system import Box
    d = system.dim
    w = np.zeros((d, d))
    x0 = system.positions.copy()
    box0 = system.box.copy()
    for a in range(d):
        for b in range(d):
            es = []
            for sgn in (1, -1):
                eps = np.eye(d)
                eps[a, b] += sgn * h
                s = system.copy()
                s.positions = x0 @ eps.T
                # the deformed cell: h' = eps h (only diagonal or xy deformations are representable)
                hm = (eps @ box0.h[:d, :d])
                if d == 3 and (abs(hm[0, 2]) > 0 or abs(hm[1, 2]) > 0 or abs(hm[1, 0]) > 0 or abs(hm[2, 0]) > 0 or abs(hm[2, 1]) > 0):
                    es.append(None)
                    continue
                if d == 2 and abs(hm[1, 0]) > 0:
                    es.append(None)
                    continue
                s.box = Box(np.diag(hm), tilt_xy=hm[0, 1])
                s.touch()
                es.append(potential.energy(s))
            if None in es:
                w[a, b] = np.nan
            else:
                w[a, b] = -(es[0] - es[1]) / (2 * h)
    return w



class ISEnergy(Observable):
    """A deck `python` observable that needs inherent-structure positions (so the deck's potential
    must reach it): the mean energy per particle of the sampled inherent structures."""
    needs = ("is_positions",)

    def sample(self, system, step, result=None):
        self._system = system
        super().sample(system, step, result)

    def update(self, frame):
        s = self._system.copy()
        s.positions = frame.is_positions
        s.wrap()
        self.add("energy", self.potential.energy(s) / s.N)
        self.add("count", 1.0)

    def finalize(self, acc):
        return {"energy": acc["energy"] / acc["count"]}


class Sink:
    """A stream for a run's printed output that keeps it (`text`) instead of printing it."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s
        return len(s)

    def flush(self):
        pass
