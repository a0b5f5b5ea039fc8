"""Trajectory and observable output in an H5MD-style HDF5 file, serial or parallel. The package by job:
`layout` (names), `parallel` (ranks writing one file), `provenance`, `writer` (`H5MDWriter`), `status`
(reading a run's state back), `info` (`pyglass info`), `mdanalysis` (the MDAnalysis adapter); the
`thermo` and `trajectory` deck observables that use the writer are `pyglass.workflow.run.output_observables`.

Layout (H5MD 1.1, de Buyl, Colberg & Hoefling, Comput. Phys. Commun. 185, 1546 (2014)):

    /h5md                        attrs version = [1, 1] (int32)
        author                   attrs name
        creator                  attrs name = "pyglass", version
        provenance               attrs date, n_ranks, seeds (JSON), git_commit, command, host, status,
                                 blas (JSON: loaded BLAS libraries and their threads);
                                 dataset deck (the deck text as written)
                                 (every string attribute under /h5md is a fixed-length string)
    /particles/all               attrs type_names, type_masses, n_particles
        box                      attrs dimension, boundary = ["periodic", ...], offset
            edges/{value,step,time}    value (frames, d, d): cell vectors as rows
                                       (a plain (d, d) dataset, the starting box, until the first frame)
        position/{value,step,time}     value (frames, N, d) positions wrapped into the cell, in particle-id order
        image/{value,step,time}        value (frames, N, d) integer image counters (unwrapped = position + image h)
        species/{value,step,time}      value (frames, N) type ids (attr type_names)
        velocity/{value,step,time}     value (frames, N, d) (own step/time: optional per frame)
        mass                     (N,) per-particle masses
    /observables/thermo/<column>/{value,step,time}   temperature, energies, pressure, conserved energy,
                                 stage index: H5MD observables (value (rows,)) sharing one step/time
    /pyglass/<stage>[/<label>/...]                    analysis results (RESULTS_ROOT): library
                                 observables, quench results, stage timings; not H5MD elements, so
                                 they live outside /observables (H5MD readers such as MDAnalysis read
                                 every group under /observables as an observable)

position, image, species and box/edges share one step and one time dataset (hard links, as H5MD
allows). Every time-dependent dataset is chunked and extendible along the frame axis; the file
is flushed after each frame, so a run killed at any moment leaves a file holding every frame
written before. An element is created when first written: a run without frames, velocities or
thermo rows has no empty position, velocity or thermo element. Thermo rows carry their own steps:
match them to frames by step, not by row number. Quantities are in the reduced (Lennard-Jones)
units of the deck, so no H5MD `unit` attribute is written (readers treat the values as
dimensionless; MDAnalysis needs `convert_units=False`, see `mdanalysis_universe`).

Parallel output. Under a communicator of size > 1 with an MPI-enabled h5py (Debian's h5py loads
its MPI build under mpirun or with H5PY_ALWAYS_USE_MPI=1; `h5py.get_config().mpi` says), the file
is opened with driver='mpio'. Particles are first redistributed by id (one Alltoallv) so rank r
holds the contiguous id block [r N / P, (r + 1) N / P), then every rank writes its block with a
collective write; a rank with nothing to write still takes part (an empty selection through the
low-level API, since h5py's high-level write skips empty selections and would hang the others).
Without MPI h5py, everything is gathered to rank 0, which writes serially.
"""
from pyglass.io.h5md.info import info  # noqa: F401
from pyglass.io.h5md.layout import RESULTS_ROOT, THERMO_COLUMNS  # noqa: F401
from pyglass.io.h5md.mdanalysis import mdanalysis_universe  # noqa: F401
from pyglass.io.h5md.parallel import global_count, parallel_mode, particle_columns, redistribute  # noqa: F401
from pyglass.io.h5md.provenance import fixed_string, git_commit, provenance, user_name  # noqa: F401
from pyglass.io.h5md.status import _s, file_status, path_status, stored_deck  # noqa: F401
from pyglass.io.h5md.writer import H5MDWriter  # noqa: F401
