"""File formats: LAMMPS data/dump, extended XYZ, HDF5 (H5MD-style) snapshots.

Every reader raises `FormatError` (a ValueError) naming the file and line (or HDF5 element) for
malformed input; every writer/reader pair round-trips exactly (positions, images, velocities,
types and their names, masses, xy tilt)."""
from pyglass.io._common import FormatError
from pyglass.io.lammps import read_lammps_data, read_lammps_dump, write_lammps_data, write_lammps_dump
from pyglass.io.snapshot import read_snapshot, write_snapshot
from pyglass.io.xyz import read_extxyz, write_extxyz

__all__ = ["FormatError", "read_lammps_data", "write_lammps_data", "read_lammps_dump", "write_lammps_dump",
           "read_extxyz", "write_extxyz", "read_snapshot", "write_snapshot"]
