"""The softness-training recipe of paper 4 (Sec. II) from a stored trajectory and its p_hop: the
`softness-train` stage runs it during a run, and a re-analysis of the stored frames runs the same.

    recipe = TrainingRecipe(stable_time=1000.0, r_max_angular=3.0)       # or TrainingRecipe.from_keys(deck_keys)
    rear, stable = recipe.examples(phop, system.types, recipe.stable_frames(frame_time), seed=1)
    model, sf = recipe.fit(system, frames, rear, stable, seed=2, provenance={"T": 0.47})

Examples: `training_examples` on p_hop (rearranging: p_hop > p_rearranging at an event's peak; stable:
p_hop < p_stable over `stable_time`), kept for the trained species only. Model: the structure functions
of the grid keys (radial Gaussians of width `sigma` at mu = mu_step, 2 mu_step, ..., r_max; the angular
functions unless `angular` is false) computed on the example frames only, and the cross-validated linear
SVM of `train`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from pyglass.analysis.softness.ml import DEFAULT_CS, gather_features, train, training_examples
from pyglass.analysis.softness.structure_functions import PAPER_R_MAX, PAPER_SIGMA, StructureFunctions


@dataclass(frozen=True)
class TrainingRecipe:
    stable_time: float                 # window of the stable examples (paper 4: 1000 ~ 2 tau_alpha at T = 0.47)
    p_rearranging: float = 0.6         # paper 4
    p_stable: float = 0.02             # paper 4
    species: tuple = (0,)              # the large particles (paper 4)
    frame_stride: int = 1
    max_per_species: int | None = None
    test_fraction: float = 0.2
    cv: int = 5
    C: tuple = DEFAULT_CS
    sigma: float = PAPER_SIGMA
    mu_step: float = 0.05
    r_max: float = PAPER_R_MAX
    angular: bool = True
    r_max_angular: float | None = None

    @classmethod
    def from_keys(cls, keys: dict) -> "TrainingRecipe":
        """The recipe of a `softness-train` stage's keys (its other keys, e.g. `source`, are not the
        recipe's and are passed over)."""
        mine = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in keys.items() if k in mine})

    def stable_frames(self, frame_time: float) -> int:
        """Frames in the stable window of frames `frame_time` apart."""
        return int(round(self.stable_time / frame_time)) + 1

    def structure_functions(self) -> StructureFunctions:
        mu = np.arange(1, int(round(self.r_max / self.mu_step)) + 1) * self.mu_step
        return StructureFunctions(self.sigma, mu, self.r_max, None if self.angular else (), self.r_max_angular)

    def examples(self, phop, types, stable_frames: int, seed: int):
        """(rearranging, stable) examples (frame, particle) of the trained species from a (frames, N) p_hop."""
        types = np.asarray(types)
        rear, stable = training_examples(phop, self.p_rearranging, self.p_stable, stable_frames, types=types,
                                         seed=seed, max_per_species=self.max_per_species,
                                         frame_stride=self.frame_stride)
        chosen = np.isin(types, self.species)
        return rear[chosen[rear[:, 1]]], stable[chosen[stable[:, 1]]]

    def fit(self, system, frames, rear, stable, seed: int, provenance: dict | None = None):
        """The SVM on the structure functions of the example frames (`frames[f]`: positions of frame f
        for `system`'s particles); returns (SoftnessModel, StructureFunctions)."""
        sf = self.structure_functions()
        cache = {}

        def features(f):
            if f not in cache:
                cache[f] = sf.compute(system, positions=np.asarray(frames[f], float))
            return cache[f]

        prov = {"p_rearranging": self.p_rearranging, "p_stable": self.p_stable, "stable_time": self.stable_time,
                "species": list(self.species)}
        model = train(gather_features(rear, features), gather_features(stable, features), Cs=list(self.C),
                      test_fraction=self.test_fraction, cv=self.cv, seed=seed, grid=sf,
                      provenance={**prov, **(provenance or {})})
        return model, sf
