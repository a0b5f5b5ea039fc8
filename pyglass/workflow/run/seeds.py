"""Seeds of a run: every random stream derives from `run.seed` and integer keys, independent of the
rank layout (numpy SeedSequence)."""
from __future__ import annotations

import numpy as np


def derive_seed(seed: int, *keys: int) -> int:
    """An independent 32-bit seed for (seed, keys...) (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def unit_seed(run_seed: int, state: int, sample: int) -> int:
    """The seed of study unit (state point, sample): independent of the rank layout."""
    return derive_seed(run_seed, 7000 + state, sample)


def draw_seed(run_seed: int, state: int) -> int:
    """The seed of the draw trajectory of state point `state` (samples drawn from one trajectory)."""
    return derive_seed(run_seed, 7000 + state)


def replica_seed(run_seed: int, replica: int) -> int:
    """The seed of replica group `replica` of a single (non-study) run over several replicas."""
    return derive_seed(run_seed, 1000 + replica)


def summary_seed(run_seed: int, stage_index: int, state: int) -> int:
    """The bootstrap seed of a summary stage at one state point."""
    return derive_seed(run_seed, 9000 + stage_index, state)
