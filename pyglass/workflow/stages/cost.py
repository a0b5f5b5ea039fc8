"""What a stage costs, for `--dry-run` plans and `pyglass reproduce --full --dry-run`: core-seconds (by
the run profile's phases: MD, neighbour builds, quenches, landscape, structure functions) and peak memory, from the work a stage does (MD atom-steps, quenches, Hessian factorisations) and rates
measured on one core of the 2-core development machine with nothing else running. These are
order-of-magnitude estimates for sizing a cluster job, not predictions: the rates below move by a
factor ~2 across models, machines and load, and the number of minimiser iterations depends on the
configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# Kob-Andersen 3D, Nose-Hoover, one rank (scripts/bench_md.py, quiet machine, 2026-12-07): 4.9 M at
# N = 1000, 5.4 M at N = 8000; the other laws 6.5-9 M (2D soft disks 9 M). One force evaluation costs
# about one step. Checked against two reduced-reproduction slices (docs/reproductions/README.md, "Time
# to science"): paper 4's T = 0.55 state point, MD estimated 104 s against 122 s measured; paper 1's
# 2D deck 1.5x over (soft disks run faster than KA).
MD_ATOM_STEPS_PER_SECOND = 5.0e6
# CG to ftol 1e-10 from a KA liquid at N = 1000-4000: 1300-1900 iterations, ~1.5 force calls each
QUENCH_FORCE_CALLS = 3000
# CG quenches of frames along a trajectory, 1 tau apart (paper 4's rearrangements stage, KA N = 2000 at
# T = 0.55, to 1e-8): 701 quenches in 300 s, ~1000 force calls each at the rate above (frames a few
# MD steps apart start nearer a minimum and take fewer)
QUENCH_FORCE_CALLS_ALONG_TRAJECTORY = 1000
# direct factorisation + a few solves of the 3D KA Hessian: 8.8 s at N = 8000, 38.5 s at
# N = 16 000 (ARCHITECTURE.md, landscape section): t ~ 8.8 s (N / 8000)^2.1
FACTOR_SECONDS_8000 = 8.8
FACTOR_EXPONENT = 2.1
BYTES_PER_PARTICLE = 2000          # system, neighbour lists, observables' per-particle state
# share of an MD step (and of a force call in a quench) spent in neighbour-list builds at skin 0.3:
# 20-22 % at KA N = 1000-8000 on one rank (ARCHITECTURE.md, the step split of scripts/bench_md.py --split)
NEIGHBOUR_SHARE = 0.2
# structure functions at the paper's grid and cutoff (r_max 5.0, angular included): ~4.5 s of CPU per
# frame at N = 8000 (ARCHITECTURE.md, softness section), linear in N
STRUCTURE_SECONDS_PER_PARTICLE = 4.5 / 8000


@dataclass(frozen=True)
class Cost:
    """core_seconds split by the run profile's phases (`phases`: pyglass.workflow.run.profile.PHASES
    keys), and the peak memory."""
    core_seconds: float = 0.0
    memory_bytes: float = 0.0
    phases: dict = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, phases: dict, memory_bytes: float = 0.0) -> "Cost":
        return cls(sum(phases.values()), memory_bytes, dict(phases))

    def __add__(self, other: "Cost") -> "Cost":   # stages one after another: times add, memory peaks
        phases = dict(self.phases)
        for k, v in other.phases.items():
            phases[k] = phases.get(k, 0.0) + v
        return Cost(self.core_seconds + other.core_seconds, max(self.memory_bytes, other.memory_bytes), phases)

    def __mul__(self, k: float) -> "Cost":          # k independent repetitions (samples)
        return Cost(self.core_seconds * k, self.memory_bytes, {p: v * k for p, v in self.phases.items()})

    __rmul__ = __mul__

    def describe(self) -> str:
        h = self.core_seconds / 3600.0
        t = f"{h:.3g} core-hours" if h >= 0.1 else f"{self.core_seconds:.3g} core-seconds"
        return f"~{t}, peak ~{self.memory_bytes / 2 ** 30:.2g} GiB"

    def by_phase(self) -> list:
        """The estimate by phase, as the run's profile prints it (`--dry-run`)."""
        from pyglass.workflow.run.profile import PHASES, describe
        phases = {k: self.phases.get(k, 0.0) for k in PHASES}
        return describe({"wall_seconds": self.core_seconds, "phases": phases}, estimate=True)


def _with_builds(seconds: float, phase: str) -> dict:
    return {phase: seconds * (1.0 - NEIGHBOUR_SHARE), "neighbours": seconds * NEIGHBOUR_SHARE}


def md(steps: float, n: int) -> Cost:
    return Cost.of(_with_builds(steps * n / MD_ATOM_STEPS_PER_SECOND, "md"), n * BYTES_PER_PARTICLE)


def quenches(count: float, n: int, along_trajectory: bool = False) -> Cost:
    calls = QUENCH_FORCE_CALLS_ALONG_TRAJECTORY if along_trajectory else QUENCH_FORCE_CALLS
    return Cost.of(_with_builds(count * calls * n / MD_ATOM_STEPS_PER_SECOND, "quench"), n * BYTES_PER_PARTICLE)


def factorisation(n: int, dim: int, count: float = 1) -> Cost:
    """A direct factorisation of the dN x dN Hessian (and its solves): time by the measured law,
    memory by the landscape code's own estimate."""
    from pyglass.analysis.landscape.memory import factor_memory_estimate
    scale = (max(n, 2) / 8000.0) ** FACTOR_EXPONENT * (1.0 if dim == 3 else 0.3)
    return Cost.of({"landscape": count * FACTOR_SECONDS_8000 * scale}, factor_memory_estimate(n, dim))


def structure_functions(frames: float, n: int) -> Cost:
    """Structure functions of `frames` configurations at the paper's grid and cutoff."""
    return Cost.of({"structure": frames * n * STRUCTURE_SECONDS_PER_PARTICLE}, n * BYTES_PER_PARTICLE)


def total(costs) -> Cost:
    out = Cost()
    for c in costs:
        if c is not None and math.isfinite(c.core_seconds):
            out = out + c
    return out
