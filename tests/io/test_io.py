"""File formats: exact round trips (LAMMPS data/dump, extended XYZ, HDF5 snapshot), files written
by LAMMPS itself, and a corpus of malformed files that must fail with a message naming the file
and line (or HDF5 element)."""
import os
import re

import h5py
import numpy as np
import pytest

import pyglass
from pyglass import Box, System
from pyglass.io import (FormatError, read_extxyz, read_lammps_data, read_lammps_dump, read_snapshot,
                        write_extxyz, write_lammps_data, write_lammps_dump, write_snapshot)

from helpers import TESTS as HERE  # noqa: E402
DATA = os.path.join(HERE, "data")
REF = os.path.join(HERE, "reference")


def make_system(dim, tilt=0.0, n=40, seed=3, lo=None):
    """Everything a format must carry: wrapped positions + nonzero images, velocities, 3 types
    with names and distinct masses, shuffled ids, xy tilt, a box origin, step and time."""
    rng = np.random.default_rng(seed)
    lengths = np.array([5.0, 6.5, 7.25][:dim]) + rng.random(dim) / 3
    box = Box(lengths, tilt_xy=tilt, lo=lo)
    s = rng.random((n, dim))
    x3 = np.zeros((n, 3))
    x3[:, :dim] = s
    x = (x3 @ box.h.T)[:, :dim] + box.lo
    system = System(x, box, rng.integers(0, 3, n), ["Ni", "P", "Xe"], [1.0, 0.5, 2.25],
                    rng.normal(size=(n, dim)), rng.integers(-3, 4, size=(n, dim)), ids=rng.permutation(n) + 10)
    system.step, system.time = 1234, 6.17
    return system


def assert_same(a, b, names=True, masses=True, step=True, exact_box=True):
    oa, ob = np.argsort(a.ids), np.argsort(b.ids)
    assert a.dim == b.dim and a.N == b.N
    np.testing.assert_array_equal(a.ids[oa], b.ids[ob])
    np.testing.assert_array_equal(a.positions[oa], b.positions[ob])
    np.testing.assert_array_equal(a.images[oa], b.images[ob])
    np.testing.assert_array_equal(a.velocities[oa], b.velocities[ob])
    np.testing.assert_array_equal(a.types[oa], b.types[ob])
    if exact_box:
        np.testing.assert_array_equal(a.box.lengths, b.box.lengths)
    else:   # LAMMPS stores lo and hi: hi - lo is the length to the last bit only when lo = 0
        np.testing.assert_allclose(a.box.lengths, b.box.lengths, rtol=4e-16, atol=0)
    np.testing.assert_array_equal(a.box.lo, b.box.lo)
    assert a.box.tilt_xy == b.box.tilt_xy
    if names:
        assert a.type_names == b.type_names
    if masses:
        np.testing.assert_array_equal(a.type_masses, b.type_masses)
    if step:
        assert a.step == b.step


CASES = [(3, 0.0, None), (3, 0.8, None), (2, 0.0, None), (2, -1.1, [-2.5, 1.0]), (3, 0.3, [1.0, -2.0, 0.5])]


@pytest.mark.parametrize("dim,tilt,lo", CASES)
def test_lammps_data_round_trip(tmp_path, dim, tilt, lo):
    s = make_system(dim, tilt, lo=lo)
    write_lammps_data(s, tmp_path / "s.data")
    r = read_lammps_data(tmp_path / "s.data")
    assert_same(s, r, step=False, exact_box=lo is None)


@pytest.mark.parametrize("dim,tilt,lo", CASES)
def test_lammps_dump_round_trip(tmp_path, dim, tilt, lo):
    s = make_system(dim, tilt, lo=lo)
    path = tmp_path / "t.dump"
    write_lammps_dump(s, path, append=False)
    s2 = s.copy()
    s2.velocities = -s.velocities
    write_lammps_dump(s2, path, step=2000)
    frames = list(read_lammps_dump(path, type_names=s.type_names, masses=s.type_masses))
    assert [f[0] for f in frames] == [1234, 2000]
    assert_same(s, frames[0][1], exact_box=lo is None)
    assert_same(s2, frames[1][1], step=False, exact_box=lo is None)
    assert frames[1][1].step == 2000


@pytest.mark.parametrize("dim,tilt,lo", CASES)
def test_extxyz_round_trip(tmp_path, dim, tilt, lo):
    s = make_system(dim, tilt, lo=lo)
    path = tmp_path / "t.xyz"
    energy = np.linspace(-1, 1, s.N)
    write_extxyz(s, path, properties={"energy": energy, "cluster": np.arange(s.N) % 4})
    write_extxyz(s, path, append=True)
    frames = read_extxyz(path, with_properties=True)
    assert len(frames) == 2
    (a, extra), (b, extra_b) = frames
    assert_same(s, a)
    assert_same(s, b)
    np.testing.assert_array_equal(extra["energy"][:, 0], energy)
    np.testing.assert_array_equal(extra["cluster"][:, 0], np.arange(s.N) % 4)
    assert extra_b == {}
    assert a.time == s.time
    header = open(path).read().splitlines()[1]
    assert "Properties=species:S:1:pos:R:3:velo:R:3" in header
    assert ('pbc="T T F"' in header) == (dim == 2)


def test_extxyz_foreign_file_without_pyglass_keys(tmp_path):
    """An ASE/OVITO-style file: species mapped in sorted order, masses 1, no images."""
    path = tmp_path / "ase.xyz"
    path.write_text('3\nLattice="3.0 0.0 0.0 0.0 3.0 0.0 0.0 0.0 3.0" Properties=species:S:1:pos:R:3 '
                    'pbc="T T T" energy=-1.5\nSi 0.0 0.0 0.0\nO 1.0 1.0 1.0\nSi 2.0 2.0 2.0\n')
    (s,) = read_extxyz(path)
    assert s.type_names == ["O", "Si"]
    np.testing.assert_array_equal(s.types, [1, 0, 1])
    np.testing.assert_array_equal(s.type_masses, [1.0, 1.0])


@pytest.mark.parametrize("dim,tilt,lo", CASES)
def test_snapshot_round_trip(tmp_path, dim, tilt, lo):
    s = make_system(dim, tilt, lo=lo)
    write_snapshot(s, tmp_path / "s.h5")
    assert_same(s, read_snapshot(tmp_path / "s.h5"))
    assert read_snapshot(tmp_path / "s.h5").time == s.time
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == b"pyglass"   # H5MD 1.1: fixed-length strings
        assert f["h5md/creator"].attrs["version"] == pyglass.__version__.encode()
        assert int(f["particles/all/box"].attrs["dimension"]) == dim
        assert f["particles/all/box/edges"].shape == ((dim, dim) if tilt else (dim,))
        for key in ("position", "image", "velocity", "species", "mass", "id"):
            assert f["particles/all"][key].shape[0] == s.N


def test_snapshot_in_group(tmp_path):
    s = make_system(3)
    with h5py.File(tmp_path / "many.h5", "w") as f:
        write_snapshot(s, f.create_group("config0"))
        write_snapshot(s, f.create_group("config1"))
        with pytest.raises(ValueError, match="already exists"):
            write_snapshot(s, f["config0"])
    with h5py.File(tmp_path / "many.h5", "r") as f:
        assert_same(s, read_snapshot(f["config1"]))


def test_snapshot_errors(tmp_path):
    s = make_system(3)
    path = tmp_path / "bad.h5"
    write_snapshot(s, path)
    with h5py.File(path, "a") as f:
        del f["particles/all/position"]
    with pytest.raises(FormatError, match=r"bad\.h5: '/particles/all/position' is missing"):
        read_snapshot(path)
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(FormatError, match=r"empty\.h5: no '/particles/all' group"):
        read_snapshot(tmp_path / "empty.h5")
    write_snapshot(s, path)
    with h5py.File(path, "a") as f:
        del f["particles/all/velocity"]
        f["particles/all/velocity"] = np.zeros((s.N - 1, 3))
    with pytest.raises(FormatError, match=r"'/particles/all/velocity' has 39 rows, position has 40"):
        read_snapshot(path)


# ------------------------------------------------------------------------- LAMMPS-written files

def test_read_lammps_written_data_file():
    """tests/reference/ka3d_lammps.data was written by LAMMPS write_data (with Velocities and
    image flags); the generator stored the same configuration from LAMMPS memory."""
    ref = np.load(os.path.join(REF, "lammps_ka3d.npz"))
    s = read_lammps_data(os.path.join(REF, "ka3d_lammps.data"))
    assert s.dim == 3 and s.N == len(ref["x"]) and s.type_names == ["A", "B"]
    np.testing.assert_array_equal(s.positions, ref["x"])
    np.testing.assert_array_equal(s.images, ref["images"])
    np.testing.assert_array_equal(s.velocities, ref["v"])
    np.testing.assert_array_equal(s.types, ref["types"])
    np.testing.assert_array_equal(s.box.lengths, ref["box_lengths"])
    assert np.any(s.images)


def test_read_lammps_written_dump_file():
    ref = np.load(os.path.join(REF, "lammps_ka3d.npz"))
    frames = list(read_lammps_dump(os.path.join(REF, "ka3d_lammps.dump")))
    assert [f[0] for f in frames] == [0, 50, 100]
    first, last = frames[0][1], frames[-1][1]
    np.testing.assert_array_equal(first.unwrapped_positions, ref["x_unwrapped"])
    np.testing.assert_array_equal(last.unwrapped_positions, ref["nve_x_unwrapped"])
    np.testing.assert_array_equal(last.velocities, ref["nve_v"])


def test_read_lammps_written_2d_data_file(tmp_path):
    """A 2D file as LAMMPS writes it (dimension 2: zlo zhi -0.5 0.5, z = 0) is read as 2D."""
    ref = np.load(os.path.join(REF, "lammps_softdisks2d.npz"))
    path = os.path.join(REF, "softdisks2d_lammps.data")
    s = read_lammps_data(path)
    assert s.dim == 2
    np.testing.assert_array_equal(s.positions, ref["x"])
    np.testing.assert_array_equal(s.velocities, ref["v"])
    np.testing.assert_array_equal(s.images, ref["images"])
    assert read_lammps_data(path, dim=3).dim == 3


def test_read_lammps_data_with_coefficient_sections(tmp_path):
    """write_data without 'nocoeff' adds Pair Coeffs / PairIJ Coeffs: skipped (pyglass owns the potential)."""
    text = open(os.path.join(REF, "ka3d_lammps.data")).read()
    text = text.replace("\nAtoms # atomic", "\nPairIJ Coeffs # lj/cut\n\n1 1 1 1 2.5\n1 2 1.5 0.8 2\n2 2 0.5 0.88 2.2\n"
                        "\nAtoms # atomic")
    (tmp_path / "c.data").write_text(text)
    a = read_lammps_data(tmp_path / "c.data")
    b = read_lammps_data(os.path.join(REF, "ka3d_lammps.data"))
    assert_same(a, b, step=False)


def test_dimension_rule(tmp_path):
    s = make_system(3)
    write_lammps_data(s, tmp_path / "s.data")
    assert read_lammps_data(tmp_path / "s.data").dim == 3
    with pytest.raises(FormatError, match="dim=2 requested but atom"):
        read_lammps_data(tmp_path / "s.data", dim=2)


def test_dump_unwrapped_and_scaled_columns(tmp_path):
    s = make_system(3, tilt=0.6)
    x = np.zeros((s.N, 3))
    x[:] = s.unwrapped_positions
    frac = s.box.fractional(s.positions)
    lo, hi = s.box.lo.tolist(), (s.box.lo + s.box.lengths).tolist()  # floats: numpy 2's repr names the type
    order = np.argsort(s.ids)
    with open(tmp_path / "u.dump", "w") as fh:
        fh.write(f"ITEM: TIMESTEP\n5\nITEM: NUMBER OF ATOMS\n{s.N}\nITEM: BOX BOUNDS xy xz yz pp pp pp\n"
                 f"{lo[0]!r} {hi[0] + 0.6!r} 0.6\n{lo[1]!r} {hi[1]!r} 0\n{lo[2]!r} {hi[2]!r} 0\n"
                 "ITEM: ATOMS id type xu yu zu xs ys zs\n")
        for i in order:
            fh.write(f"{s.ids[i] + 1} {s.types[i] + 1} {' '.join(map(repr, x[i].tolist()))} {' '.join(map(repr, frac[i].tolist()))}\n")
    ((step, u),) = list(read_lammps_dump(tmp_path / "u.dump"))
    assert step == 5
    np.testing.assert_allclose(u.unwrapped_positions, s.unwrapped_positions[order], atol=1e-12)
    np.testing.assert_array_equal(u.images, s.images[order])


# ------------------------------------------------------------------------- malformed files

CORPUS = [
    ("data_missing_atoms_count.data", "header has no 'atoms' count"),
    ("data_wrong_columns.data", ":13: Atoms line has 6 columns"),
    ("data_too_few_atoms.data", ":10: section 'Atoms' has 3 lines but the header declares 4"),
    ("data_too_many_atoms.data", ":14: section 'Atoms' has more than the 2 lines"),
    ("data_unknown_section.data", ":15: unknown section 'Widgets'"),
    ("data_type_out_of_range.data", ":13: atom 2 has type 3, outside 1..2"),
    ("data_tilt_xz.data", ":9: xz = 0.25, yz = 0.0: only an xy tilt is supported"),
    ("data_bonds.data", ":5: 1 bonds: only atom_style atomic is supported"),
    ("data_bad_number.data", ":13: coordinates: expected numbers, got '1.5x 0.5 0.5'"),
    ("data_full_style.data", ":10: Atoms section is atom_style 'full'"),
    ("data_duplicate_id.data", ":13: atom id 1 appears more than once"),
    ("data_velocity_unknown_id.data", ":18: Velocities line for atom id 7"),
    ("data_negative_mass.data", ":13: mass of type 2 must be positive"),
    ("data_bad_header.data", ":9: unknown header line or section 'foo bar baz'"),
    ("dump_truncated.dump", ":12: frame at step 0 has fewer atom lines than NUMBER OF ATOMS = 3"),
    ("dump_no_positions.dump", ":9: ATOMS columns need one full position set"),
    ("dump_tilt_xz.dump", ":6: xz = 0.3, yz = 0.0: only an xy tilt"),
    ("dump_short_line.dump", ":11: atom line has 4 columns, the ATOMS header names 5"),
    ("xyz_no_lattice.xyz", ":2: comment line has no Lattice"),
    ("xyz_short_line.xyz", ":4: atom line has 3 columns, Properties declares 4"),
    ("xyz_unknown_species.xyz", ":4: species 'C' is not in type_names"),
    ("xyz_nonperiodic.xyz", ":2: pbc='F F F': pyglass systems are periodic"),
    ("xyz_too_few_atoms.xyz", ":1: frame declares 3 atoms but only 2 lines follow"),
    ("xyz_bad_lattice.xyz", ":2: Lattice must be a = \\(Lx,0,0\\)"),
]


def _read(path):
    if path.endswith(".data"):
        return read_lammps_data(path)
    if path.endswith(".dump"):
        return list(read_lammps_dump(path))
    return read_extxyz(path)


@pytest.mark.parametrize("name,message", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_file_corpus(name, message):
    path = os.path.join(DATA, name)
    with pytest.raises(FormatError) as err:
        _read(path)
    text = str(err.value)
    assert text.startswith(path), text
    pattern = message if "\\" in message else re.escape(message)
    assert re.search(re.escape(name) + (pattern if message.startswith(":") else r".*" + pattern), text), text


def test_corpus_is_complete():
    """Every file under tests/data is exercised by the corpus test."""
    files = [f for f in os.listdir(DATA) if os.path.isfile(os.path.join(DATA, f))]  # decks/ has its own test
    assert sorted(files) == sorted(c[0] for c in CORPUS)
