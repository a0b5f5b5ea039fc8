# cython: language_level=3
# Caller: extensions/pair.pyx (fills the table), extensions/neighbours.pyx and extensions/integrate.pyx
# (read it); driven by pyglass/engine/replicas.py.
"""The replica table: R independent replicas of one system (same N, same types, one rank), one row
each, holding the addresses (and the sizes) of the buffers a step's kernels touch, so one kernel call
walks all R replicas. A row is written by pair.set_replica_row, which checks every buffer's shape, and
must be rewritten whenever a replica's buffers are replaced (a ghost or neighbour-list rebuild); the
Python owner (ReplicaBatch) keeps the arrays alive."""

cdef enum:
    RT_X = 0             # (M, 3) local + ghost coordinates (System._x)
    RT_V                 # (N, 3) velocities
    RT_F                 # (M, 3) forces (only the N local rows are written: the kernel folds)
    RT_X0                # (N, 3) positions at the last ghost rebuild (Domain._x0)
    RT_GHOST_SOURCE      # (n_ghost,) int32 local row each ghost images
    RT_GHOST_SHIFT       # (n_ghost, 3) each ghost's shift from its owner
    RT_N_GHOST
    RT_SORTED_TYPES      # (M + 1,) int32 (NeighbourList.sorted_types)
    RT_ORDER             # (M,) int32 cell order
    RT_ACTIVE            # (n_active,) int32 sorted positions with neighbours
    RT_N_ACTIVE
    RT_SEGMENTS          # type-group starts (M ntypes + 1) int32
    RT_NEIGHBOURS        # padded half list, int32
    RT_XS                # (M + 1, 4) pair-kernel scratch: sorted padded coordinates
    RT_FS                # (M + 1, 4) pair-kernel scratch: sorted padded forces
    RT_ROW_POSITION      # (M,) int32 each row's sorted position
    RT_ROWS              # M
    RT_COLUMNS
