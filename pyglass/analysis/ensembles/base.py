"""Ensemble base: a set of runs (members) averaged together, each with its own recorded seed,
spread over groups of MPI ranks.

Serial (comm None or one rank): members run one after another. With an mpi4py communicator the
ranks are split (`comm.Split`) into `n_groups` groups of consecutive ranks; member k runs on group
k mod n_groups (round robin), and the members' results are gathered to every rank and combined in
member order, so the result does not depend on the number of groups. Inside a group the member
gets the group communicator (`group_comm`); the present members do not yet decompose their system
over it (their per-particle trackers work in particle order), so every rank of a group runs the
member's system whole and the root's result is kept: use groups of one rank for ensembles.

A subclass that can advance several members together (the iso-configurational ensemble's replica
batches) sets `batch` and overrides `run_members`; a group then runs its members in chunks of
`batch`, in member order, with the same seeds, so the results are those of one member at a time.
"""
from __future__ import annotations

import numpy as np


def member_seeds(seed: int, n: int) -> np.ndarray:
    """n independent 63-bit seeds derived from `seed` (numpy SeedSequence.spawn), recorded so any
    member can be rerun on its own."""
    if int(n) < 1:
        raise ValueError(f"the number of ensemble members must be >= 1, got {n}")
    ss = np.random.SeedSequence(int(seed))
    return np.array([int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in ss.spawn(int(n))],
                    dtype=np.int64)


class Ensemble:
    """Members with seeds, run over rank groups. Subclasses implement `run_member(k, seed,
    group_comm) -> dict of numpy arrays` and combine the list of member dicts."""

    #: members handed to one run_members call (1: one at a time)
    batch = 1

    def __init__(self, n_members: int, seed: int = 0, comm=None, n_groups: int | None = None, seeds=None):
        self.seed = int(seed)
        self.seeds = member_seeds(seed, n_members) if seeds is None else np.asarray(seeds, np.int64)
        if len(self.seeds) != int(n_members):
            raise ValueError(f"seeds must have one entry per member ({n_members}), got {len(self.seeds)}")
        self.n_members = int(n_members)
        self.comm = comm
        size = 1 if comm is None else comm.Get_size()
        self.n_groups = size if n_groups is None else int(n_groups)
        if not 1 <= self.n_groups <= size:
            raise ValueError(f"n_groups must be between 1 and the number of ranks ({size}), got {n_groups}")
        self.group, self.group_comm = self.split(comm)

    def split(self, comm):
        """The comm-split hook: (this rank's group index, the group communicator)."""
        if comm is None or comm.Get_size() == 1:
            return 0, comm
        rank, size = comm.Get_rank(), comm.Get_size()
        color = rank * self.n_groups // size
        return color, comm.Split(color, rank)

    def members_of(self, group: int):
        return [k for k in range(self.n_members) if k % self.n_groups == group]

    def run_member(self, k: int, seed: int, group_comm) -> dict:
        raise NotImplementedError

    def run_members(self, ks, seeds, group_comm) -> list:
        """The result dicts of members ks (at most `batch` of this group's, in order) with their
        seeds; by default one at a time."""
        return [self.run_member(k, seed, group_comm) for k, seed in zip(ks, seeds)]

    def run_all(self) -> list:
        """Run this group's members and gather every member's result dict on every rank, in
        member order. A failure on any rank is raised on all ranks (no hang)."""
        mine, error = {}, None
        is_root = self.group_comm is None or self.group_comm.Get_rank() == 0
        try:
            members = self.members_of(self.group)
            for c in range(0, len(members), max(1, int(self.batch))):
                ks = members[c: c + max(1, int(self.batch))]
                results = self.run_members(ks, [int(self.seeds[k]) for k in ks], self.group_comm)
                if is_root:
                    mine.update(zip(ks, results))
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
            if self.comm is None or self.comm.Get_size() == 1:
                raise
            error = f"rank {self.comm.Get_rank()}: {type(exc).__name__}: {exc}"
        if self.comm is not None and self.comm.Get_size() > 1:
            errors = [e for e in self.comm.allgather(error) if e]
            if errors:
                raise RuntimeError("ensemble member failed: " + "; ".join(errors))
            merged = {}
            for part in self.comm.allgather(mine):
                merged.update(part)
            mine = merged
        missing = [k for k in range(self.n_members) if k not in mine]
        if missing:
            raise RuntimeError(f"ensemble members {missing} produced no result")
        return [mine[k] for k in range(self.n_members)]
