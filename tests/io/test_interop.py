"""Files every client reads (issue 15): pyglass output opened by MDAnalysis, pyh5md and pyglass
itself, extended XYZ both ways with ASE, LAMMPS data files chemfiles and older LAMMPS read, and a
point-by-point H5MD 1.1 layout check (tests/h5md_check.py) of every output."""
import io
import os
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest

from h5md_check import h5md_problems
from pyglass import Box, System, builders
from pyglass.io import (FormatError, read_extxyz, read_lammps_data, read_lammps_dump, read_snapshot,
                        write_extxyz, write_lammps_data, write_lammps_dump, write_snapshot)
from pyglass.workflow.deck import parse_deck
from pyglass.io.h5md import RESULTS_ROOT, H5MDWriter, info
from pyglass.workflow.run import run_deck

from helpers import ROOT  # noqa: E402
DT = 0.005

# the quickstart's stages at a size that runs in a second: push-off quench, Nose-Hoover
# equilibration, NVE production with self dynamics; thermo every 50 steps, frames every 100
DECK = """
[system]
generate = "random"
n = 108
density = 1.2
composition = [0.8, 0.2]
type_names = ["A", "B"]
min_distance = 0.7

[potential]
model = "kob-andersen"

[[stage]]
name = "push-off"
kind = "quench"
[stage.minimizer]
type = "fire"
ftol = 1e-3

[[stage]]
name = "equilibrate"
kind = "equilibrate"
steps = 300
thermo = 0
temperature = 0.8
[stage.integrator]
type = "nosehoover"
dt = 0.005
T = 0.8
tau = 0.5

[[stage]]
name = "production"
kind = "production"
steps = 600
thermo = 0
[stage.integrator]
type = "nve"
dt = 0.005
[[stage.observable]]
type = "self-dynamics"
schedule = "log"
block = 200
q = 7.25

[output]
path = "out/quick.h5"
trajectory = 100
thermo = 50
checkpoint = 300
"""


def run_text(tmp_path, text, name="deck.toml", **kw):
    (tmp_path / name).write_text(text)
    deck = parse_deck(text, str(tmp_path / name))
    out = str(tmp_path / os.path.basename(deck.data["output"]["path"]))
    run_deck(deck, output=out, stream=io.StringIO(), handle_signals=False, **kw)
    return out


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quick")
    return tmp, run_text(tmp, DECK)


# ----------------------------------------------------------------------------- H5MD layout

def test_output_is_h5md_point_by_point(quick):
    _, out = quick
    assert h5md_problems(out) == []
    with h5py.File(out, "r") as f:
        assert sorted(f) == ["h5md", "observables", "particles", RESULTS_ROOT]
        assert list(f["observables"]) == ["thermo"]   # analysis results are not H5MD observables
        assert "self-dynamics" in f[f"{RESULTS_ROOT}/production"]
        assert "quench_converged" in f[f"{RESULTS_ROOT}/push-off"].attrs
        # no unit attribute: reduced units (H5MD: no unit string)
        assert "unit" not in f["particles/all/position/value"].attrs


def test_checker_catches_the_old_defects(tmp_path):
    """The layout defects of issue 15, made by hand, are each reported."""
    s = builders.lattice(8, 1.0, 3, (1.0,), seed=1)
    path = tmp_path / "bad.h5"
    w = H5MDWriter(path, s)
    w.write_frame(s, velocities=False)
    w.close()
    with h5py.File(path, "a") as f:
        f["h5md/author"].attrs["name"] = "variable length"          # h5py: variable-length string
        f.create_group("observables/prod/self-dynamics").create_dataset("msd", data=np.zeros(3))
        g = f.create_group("particles/all/velocity")                 # an empty element
        g.create_dataset("value", shape=(0, 8, 3))
        g.create_dataset("step", shape=(0,), dtype=np.int64)
        f.create_group("junk")
    problems = "\n".join(h5md_problems(path))
    assert "/h5md/author@name: string attribute is variable-length" in problems
    assert "/observables/prod/self-dynamics: observables nest at most one group deep" in problems
    assert "/particles/all/velocity: time-dependent element with no entries" in problems
    assert "/junk: not an H5MD group" in problems


def test_no_empty_elements_without_velocities_or_thermo(tmp_path):
    text = DECK.replace("thermo = 50", "thermo = 0").replace(
        'q = 7.25\n', 'q = 7.25\n[[stage.observable]]\ntype = "trajectory"\nevery = 100\nvelocities = false\n')
    out = run_text(tmp_path, text)
    assert h5md_problems(out) == []
    with h5py.File(out, "r") as f:
        assert "velocity" not in f["particles/all"] and "observables" not in f
        assert f["particles/all/position/value"].shape[0] == 7
    mda = pytest.importorskip("MDAnalysis")
    u = mda.Universe.empty(108, trajectory=False)
    u.load_new(out, format="H5MD", convert_units=False)
    assert len(u.trajectory) == 7 and not u.trajectory.has_velocities


def test_a_run_without_frames_has_no_position_element(tmp_path):
    out = run_text(tmp_path, DECK.replace("trajectory = 100", "trajectory = 0"))
    assert h5md_problems(out) == []
    with h5py.File(out, "r") as f:
        g = f["particles/all"]
        assert "position" not in g and "velocity" not in g
        np.testing.assert_array_equal(np.diag(g["box/edges"][()]), [(108 / 1.2) ** (1 / 3)] * 3)


# ----------------------------------------------------------------------------- time

def test_time_is_start_plus_steps_times_dt(quick):
    """time = stage start + steps * dt, not an accumulated sum (step 600 was 2.9999999999999583)."""
    _, out = quick
    with h5py.File(out, "r") as f:
        steps = f["particles/all/position/step"][()]
        times = f["particles/all/position/time"][()]
        assert steps.tolist() == list(range(300, 901, 100))
        assert times.tolist() == [s * DT for s in steps.tolist()]   # exactly
        assert 600 * DT == 3.0 and times[steps.tolist().index(600)] == 3.0


def test_integrator_time_has_no_round_off():
    from pyglass.engine.integrators import NVE
    from pyglass.engine.potentials import LennardJones
    for dt, n in ((DT, 600), (0.001, 1000)):   # `time += dt` gave 2.9999999999999583 and 1.0000000000000007
        s = builders.lattice(64, 1.0, 3, (1.0,), seed=2, jitter=0.02)
        off = []
        NVE(dt).run(s, LennardJones(1.0, 1.0), n, callback=lambda sy, r: off.append(sy.time != sy.step * dt))
        assert s.step == n and s.time == n * dt and not any(off)


# ----------------------------------------------------------------------------- MDAnalysis

@pytest.mark.filterwarnings("ignore:Reader has no dt information")   # MDAnalysis, on unpickling
def test_mdanalysis_reads_the_output(quick):
    """MDAnalysis's own H5MD reader (convert_units=False: reduced units) gives h5py's positions,
    box, steps and times; pyglass.io.h5md.mdanalysis_universe adds types/masses and thermo
    matched to frames by step."""
    mda = pytest.importorskip("MDAnalysis")
    from pyglass.io.h5md import mdanalysis_universe
    _, out = quick
    with h5py.File(out, "r") as f:
        g = f["particles/all"]
        pos, edges = g["position/value"][()], g["box/edges/value"][()]
        steps, times, vel = g["position/step"][()], g["position/time"][()], g["velocity/value"][()]
        th = f["observables/thermo"]
        t_steps, temp = th["temperature/step"][()], th["temperature/value"][()]
        species, masses = g["species/value"][0], g["mass"][()]
    u = mda.Universe.empty(pos.shape[1], trajectory=False)
    u.load_new(out, format="H5MD", convert_units=False)
    assert len(u.trajectory) == len(steps)
    for k, ts in enumerate(u.trajectory):
        np.testing.assert_allclose(ts.positions, pos[k], rtol=1e-6)   # MDAnalysis keeps float32
        np.testing.assert_allclose(ts.velocities, vel[k], rtol=1e-6)
        np.testing.assert_allclose(ts.dimensions, list(np.diag(edges[k])) + [90, 90, 90], rtol=1e-6)
        assert ts.data["step"] == steps[k] and ts.time == times[k]
    u = mdanalysis_universe(out)
    assert list(u.atoms.types) == [["A", "B"][t] for t in species]
    np.testing.assert_array_equal(u.atoms.masses, masses)
    seen = 0
    for k, ts in enumerate(u.trajectory):
        assert ts.data["step"] == steps[k] and ts.time == times[k]
        row = np.flatnonzero(t_steps == steps[k])
        assert row.size == 1   # thermo every 50 steps, frames every 100: a row at each frame's step
        assert ts.data["thermo/temperature"] == temp[row[0]]   # by step, not row k
        seen += 1
    assert seen == len(steps) and t_steps.tolist() != steps.tolist()
    import pickle   # MDAnalysis's parallel analysis pickles the Universe, reader included
    u2 = pickle.loads(pickle.dumps(u))
    ts = u2.trajectory[1]
    assert ts.data["step"] == steps[1] and ts.data["thermo/temperature"] == temp[t_steps == steps[1]][0]


def test_mdanalysis_thermo_by_step_when_rows_are_fewer_than_frames(tmp_path):
    """Thermo every 200 steps, frames every 100: MDAnalysis's reader takes row i for frame i and
    fails past the last row; mdanalysis_universe gives the row at the frame's step, or NaN."""
    pytest.importorskip("MDAnalysis")
    from pyglass.io.h5md import mdanalysis_universe
    out = run_text(tmp_path, DECK.replace("thermo = 50", "thermo = 200"))
    u = mdanalysis_universe(out)
    got = {int(ts.data["step"]): float(ts.data["thermo/temperature"]) for ts in u.trajectory}
    with h5py.File(out, "r") as f:
        th = f["observables/thermo/temperature"]
        want = dict(zip(th["step"][()].tolist(), th["value"][()].tolist()))
    for step, value in got.items():
        if step in want:
            assert value == want[step]
        else:
            assert np.isnan(value)
    assert sum(not np.isnan(v) for v in got.values()) >= 3


def test_mdanalysis_written_h5md_starts_a_run(quick, tmp_path):
    """A file MDAnalysis writes (particles/trajectory, units, float32) is a starting configuration."""
    mda = pytest.importorskip("MDAnalysis")
    from pyglass.io.h5md import mdanalysis_universe
    _, out = quick
    u = mdanalysis_universe(out)
    path = str(tmp_path / "mda.h5md")
    with mda.Writer(path, n_atoms=u.atoms.n_atoms, format="H5MD", convert_units=False, velocities=True) as w:
        for ts in u.trajectory[:3]:
            w.write(u)
    # MDAnalysis 2.9 writes variable-length strings in /h5md; the rest conforms
    assert [p for p in h5md_problems(path) if "variable-length" not in p] == []
    s = read_snapshot(path)           # the last frame
    u.trajectory[2]
    np.testing.assert_allclose(s.positions, u.atoms.positions, rtol=1e-6)
    np.testing.assert_allclose(s.box.lengths, u.dimensions[:3], rtol=1e-6)
    assert s.step == u.trajectory.ts.data["step"]


# ----------------------------------------------------------------------------- restart from output

def test_output_starts_a_new_run(quick, tmp_path):
    """`[system] file = out.h5` (a trajectory) reads frame `system.frame` (default the last)."""
    _, out = quick
    with h5py.File(out, "r") as f:
        g = f["particles/all"]
        last_x, last_v = g["position/value"][-1], g["velocity/value"][-1]
        first_x, n_frames = g["position/value"][0], g["position/value"].shape[0]
        edges = g["box/edges/value"][-1]
    s = read_snapshot(out)
    np.testing.assert_array_equal(s.positions, last_x)
    np.testing.assert_array_equal(s.velocities, last_v)
    np.testing.assert_array_equal(np.diag(s.box.lengths), edges)
    assert s.type_names == ["A", "B"] and s.step == 900 and s.time == 4.5
    np.testing.assert_array_equal(read_snapshot(out, frame=0).positions, first_x)
    np.testing.assert_array_equal(read_snapshot(out, frame=-n_frames).positions, first_x)
    with pytest.raises(FormatError, match=r"quick\.h5: frame 7 requested .* '/particles/all/position/value' "
                                          r"holds 7 frame\(s\)"):
        read_snapshot(out, frame=7)
    text = f"""
[system]
file = "{out}"
frame = -2

[potential]
model = "kob-andersen"

[[stage]]
kind = "production"
steps = 100
thermo = 0
[stage.integrator]
type = "nve"
dt = 0.005

[output]
path = "again.h5"
trajectory = 50
"""
    again = run_text(tmp_path, text)
    with h5py.File(again, "r") as f:
        np.testing.assert_array_equal(f["particles/all/position/value"][0],
                                      read_snapshot(out, frame=-2).positions)
        assert f["particles/all/position/step"][()].tolist() == [0, 50, 100]
    assert h5md_problems(again) == []


def test_read_snapshot_of_a_file_without_matching_steps(tmp_path):
    s = builders.lattice(8, 1.0, 3, (1.0,), seed=1)
    path = tmp_path / "t.h5"
    w = H5MDWriter(path, s)
    w.write_frame(s, velocities=False)
    s.step = 10
    w.write_frame(s, velocities=True)
    w.close()
    assert read_snapshot(path).step == 10
    with pytest.raises(FormatError, match=r"'/particles/all/velocity' has no entry at step 0"):
        read_snapshot(path, frame=0)
    write_snapshot(s, tmp_path / "one.h5")
    assert read_snapshot(tmp_path / "one.h5", frame=-1).step == 10
    with pytest.raises(FormatError, match=r"one\.h5: frame 2 requested .* holds one configuration"):
        read_snapshot(tmp_path / "one.h5", frame=2)
    with h5py.File(path, "a") as f:
        del f["particles/all/velocity/value"]
    with pytest.raises(FormatError, match=r"t\.h5: '/particles/all/velocity' is a group without a 'value'"):
        read_snapshot(path)


def test_pyh5md_file_starts_a_run(tmp_path):
    """A file written by pyh5md (fixed-interval steps, time-independent box, particle group not
    named 'all') is read; it crashed with "Accessing a group is done with bytes or str, not tuple"."""
    pyh5md = pytest.importorskip("pyh5md")
    path = str(tmp_path / "p.h5")
    rng = np.random.default_rng(1)
    xs = [rng.random((6, 3)) * [3.0, 4.0, 5.0] for _ in range(3)]
    with pyh5md.File(path, "w", creator="test", author="me") as f:
        at = f.particles_group("atoms")
        at.create_box(dimension=3, boundary=["periodic"] * 3, store="fixed", data=np.array([3.0, 4.0, 5.0]))
        pos = pyh5md.element(at, "position", store="linear", step=10, time=0.05, shape=(6, 3), dtype=np.float64)
        pyh5md.element(at, "species", store="fixed", data=np.array([0, 1, 0, 1, 0, 1]))
        for k, x in enumerate(xs):
            pos.append(x, 10 * k, 0.05 * k)
    s = read_snapshot(path)
    np.testing.assert_array_equal(s.positions, xs[-1])
    assert s.step == 20 and s.time == pytest.approx(0.1) and s.types.tolist() == [0, 1] * 3
    np.testing.assert_array_equal(read_snapshot(path, frame=1).positions, xs[1])


def test_h5md_file_with_time_dependent_box_and_species_by_hand(tmp_path):
    """Another writer's layout: explicit steps, (F, d) edges, time-dependent species holding
    atomic numbers (mapped to type ids in sorted order, named by value)."""
    path = tmp_path / "h.h5"
    with h5py.File(path, "w") as f:
        f.create_group("h5md").attrs["version"] = np.array([1, 1])
        g = f.create_group("particles/atoms")
        b = g.create_group("box")
        b.attrs["dimension"], b.attrs["boundary"] = 3, np.array([b"periodic"] * 3)
        e = b.create_group("edges")
        e["value"] = np.array([[4.0, 4.0, 4.0], [4.5, 4.5, 4.5]])
        e["step"] = np.array([0, 5])
        p = g.create_group("position")
        p["value"] = np.full((2, 3, 3), 1.0)
        p["step"] = np.array([0, 5])
        p["time"] = np.array([0.0, 0.5])
        sp = g.create_group("species")
        sp["value"] = np.array([[18, 36, 18], [18, 36, 18]])
        sp["step"] = np.array([0, 5])
    s = read_snapshot(path)
    assert s.box.lengths.tolist() == [4.5] * 3 and s.type_names == ["18", "36"] and s.types.tolist() == [0, 1, 0]
    assert read_snapshot(path, frame=0).box.lengths.tolist() == [4.0] * 3


# ----------------------------------------------------------------------------- wrapping

def outside_system(dim=3, tilt=0.0):
    """Positions up to 0.3 outside the box (as between neighbour-list rebuilds), nonzero images."""
    rng = np.random.default_rng(5)
    box = Box([4.0, 5.0, 6.0][:dim], tilt_xy=tilt, lo=[0.5, -1.0, 0.0][:dim])
    frac = rng.random((30, dim)) * 1.1 - 0.05
    frac[0, 0], frac[1, 1] = -1e-17, 1.0   # just below the lower face, exactly on the upper one
    x3 = np.zeros((30, 3))
    x3[:, :dim] = frac
    x = (x3 @ box.h.T)[:, :dim] + box.lo
    s = System(x, box, rng.integers(0, 2, 30), ["A", "B"], [1.0, 2.0], rng.normal(size=(30, dim)),
               rng.integers(-2, 3, (30, dim)))
    return s


def _check_wrapped(ref, x, img):
    frac = ref.box.fractional(x)
    assert frac.min() >= 0 and frac.max() < 1
    h = ref.box.h[:ref.dim, :ref.dim]
    np.testing.assert_allclose(x + img @ h.T, ref.unwrapped_positions, rtol=0, atol=1e-13)
    inside = np.all((ref.box.fractional(ref.positions) >= 0) & (ref.box.fractional(ref.positions) < 1), axis=1)
    np.testing.assert_array_equal(x[inside], ref.positions[inside])   # rows inside are untouched


@pytest.mark.parametrize("dim,tilt", [(3, 0.0), (3, 0.7), (2, -0.9)])
def test_every_writer_wraps(tmp_path, dim, tilt):
    s = outside_system(dim, tilt)
    assert np.any(s.box.fractional(s.positions) < 0) and np.any(s.box.fractional(s.positions) >= 1)
    write_lammps_data(s, tmp_path / "s.data")
    r = read_lammps_data(tmp_path / "s.data")
    _check_wrapped(s, r.positions, r.images)
    write_lammps_dump(s, tmp_path / "s.dump", append=False)
    (_, r), = list(read_lammps_dump(tmp_path / "s.dump"))
    _check_wrapped(s, r.positions, r.images)
    write_extxyz(s, tmp_path / "s.xyz")
    (r,) = read_extxyz(tmp_path / "s.xyz")
    _check_wrapped(s, r.positions, r.images)
    write_snapshot(s, tmp_path / "s.h5")
    r = read_snapshot(tmp_path / "s.h5")
    _check_wrapped(s, r.positions, r.images)
    w = H5MDWriter(tmp_path / "t.h5", s)
    w.write_frame(s)
    w.close()
    with h5py.File(tmp_path / "t.h5", "r") as f:
        _check_wrapped(s, f["particles/all/position/value"][0], f["particles/all/image/value"][0])
    assert h5md_problems(tmp_path / "t.h5") == [] and h5md_problems(tmp_path / "s.h5") == []


# ----------------------------------------------------------------------------- ASE

def _ase_system():
    s = builders.lattice(32, 1.0, 3, (0.5, 0.5), seed=2, jitter=0.05)
    s.thermalize(1.0, 3)
    return System(s.positions, s.box, s.types, ["A", "B"], [1.0, 2.0], s.velocities, s.images)


def test_ase_reads_our_extxyz(tmp_path):
    ase_io = pytest.importorskip("ase.io")
    s = _ase_system()
    path = tmp_path / "ours.xyz"
    write_extxyz(s, path)
    with pytest.raises(KeyError):   # the defect: A/B are not chemical symbols
        ase_io.read(path)
    with pytest.raises(ValueError, match=r"\['A'\] are not chemical symbols: pass elements="):
        write_extxyz(s, path, ase=True)
    write_extxyz(s, path, elements={"A": "Ar", "B": "Kr"}, momenta=True)
    a = ase_io.read(path)
    assert a.get_chemical_symbols() == [["Ar", "Kr"][t] for t in s.types]
    np.testing.assert_array_equal(a.positions, s.positions)
    np.testing.assert_array_equal(a.cell.array, s.box.h.T)
    np.testing.assert_array_equal(a.get_masses(), s.masses)
    np.testing.assert_allclose(a.get_velocities(), s.velocities, rtol=1e-15, atol=1e-15)
    assert a.pbc.all()
    # pyglass reads its own file back exactly, names included
    (r,) = read_extxyz(path)
    assert r.type_names == ["A", "B"] and np.array_equal(r.type_masses, [1.0, 2.0])
    np.testing.assert_allclose(r.velocities, s.velocities, rtol=1e-15, atol=1e-15)
    # and the file as ASE writes it back (species are now elements; type_elements maps them)
    ase_io.write(tmp_path / "back.xyz", a)
    (b,) = read_extxyz(tmp_path / "back.xyz")
    assert b.type_names == ["A", "B"] and np.array_equal(b.types, s.types)
    np.testing.assert_allclose(b.positions, s.positions, rtol=0, atol=1e-7)   # ASE writes %16.8f
    np.testing.assert_allclose(b.velocities, s.velocities, rtol=0, atol=1e-7)


def test_we_read_ase_extxyz(tmp_path):
    ase = pytest.importorskip("ase")
    import ase.io
    a = ase.Atoms("Ar3Kr", positions=[[0, 0, 0], [1, 1, 1], [2, 2, 2], [0.5, 2.5, 1.0]],
                  cell=[[3.0, 0, 0], [0.4, 3.5, 0], [0, 0, 4.0]], pbc=True)
    a.set_masses([39.9, 39.9, 39.9, 83.8])
    v = np.arange(12.0).reshape(4, 3) / 10
    a.set_velocities(v)
    a.new_array("energies_like", np.arange(4.0))
    ase.io.write(tmp_path / "ase.xyz", a)
    with pytest.warns(UserWarning, match=r"ase\.xyz: extended XYZ column\(s\) energies_like not understood"):
        (s,) = read_extxyz(tmp_path / "ase.xyz")
    assert s.type_names == ["Ar", "Kr"] and s.types.tolist() == [0, 0, 0, 1]
    np.testing.assert_allclose(s.type_masses, [39.9, 83.8])
    np.testing.assert_allclose(s.positions, a.positions, atol=1e-7)
    np.testing.assert_allclose(s.velocities, v, atol=1e-7)
    assert s.box.tilt_xy == pytest.approx(0.4) and s.box.lengths.tolist() == pytest.approx([3.0, 3.5, 4.0])
    with warnings.catch_warnings():   # with_properties returns the column instead of warning
        warnings.simplefilter("error")
        ((_, extra),) = read_extxyz(tmp_path / "ase.xyz", with_properties=True)
    np.testing.assert_array_equal(extra["energies_like"][:, 0], np.arange(4.0))


def test_atomic_numbers_without_species(tmp_path):
    (tmp_path / "z.xyz").write_text('2\nLattice="3.0 0.0 0.0 0.0 3.0 0.0 0.0 0.0 3.0" Properties=Z:I:1:pos:R:3 '
                                     'pbc="T T T"\n36 0.0 0.0 0.0\n18 1.0 1.0 1.0\n')
    (s,) = read_extxyz(tmp_path / "z.xyz")
    assert s.type_names == ["Ar", "Kr"] and s.types.tolist() == [1, 0]


def test_momenta_without_masses(tmp_path):
    """ASE writes momenta without a masses column unless masses were set: element masses (ASE's
    default) for chemical symbols, a clear error otherwise."""
    pytest.importorskip("ase")
    from ase.data import atomic_masses
    cell = 'Lattice="3.0 0.0 0.0 0.0 3.0 0.0 0.0 0.0 3.0" Properties=species:S:1:pos:R:3:momenta:R:3 pbc="T T T"'
    (tmp_path / "ar.xyz").write_text(f"1\n{cell}\nAr 0.0 0.0 0.0 {atomic_masses[18]!r} 0.0 0.0\n")
    (s,) = read_extxyz(tmp_path / "ar.xyz")
    assert s.velocities[0].tolist() == [1.0, 0.0, 0.0]
    (tmp_path / "a.xyz").write_text(f"1\n{cell}\nA 0.0 0.0 0.0 1.0 0.0 0.0\n")
    with pytest.raises(FormatError, match=r"a\.xyz:2: a 'momenta' column needs masses"):
        read_extxyz(tmp_path / "a.xyz")


# ----------------------------------------------------------------------------- LAMMPS data

def test_lammps_data_type_labels_optional(tmp_path):
    s = _ase_system()
    write_lammps_data(s, tmp_path / "plain.data")
    text = (tmp_path / "plain.data").read_text()
    assert "Atom Type Labels" not in text
    assert "\nMasses\n\n1 1.0 # A\n2 2.0 # B\n" in text
    r = read_lammps_data(tmp_path / "plain.data")
    assert r.type_names == ["A", "B"]   # from the Masses comments
    write_lammps_data(s, tmp_path / "labels.data", type_labels=True)
    assert "\nAtom Type Labels\n\n1 A\n2 B\n" in (tmp_path / "labels.data").read_text()
    assert read_lammps_data(tmp_path / "labels.data").type_names == ["A", "B"]
    # names that are not LAMMPS labels: no comment, default names
    t = System(s.positions, s.box, s.types, ["1a", "B"], [1.0, 2.0])
    write_lammps_data(t, tmp_path / "bad.data", type_labels=True)
    assert "Labels" not in (tmp_path / "bad.data").read_text()
    assert read_lammps_data(tmp_path / "bad.data").type_names == ["A", "B"]


def test_chemfiles_reads_our_data_file(tmp_path):
    """chemfiles stalled on the Atom Type Labels section; it reads the default file (subprocess
    with a timeout, so a stall fails instead of hanging the suite)."""
    pytest.importorskip("chemfiles")
    s = _ase_system()
    write_lammps_data(s, tmp_path / "s.data")
    code = ("import chemfiles, sys\n"
            "t = chemfiles.Trajectory(sys.argv[1], 'r', 'LAMMPS Data')\n"
            "fr = t.read()\n"
            "print(len(fr.atoms), fr.cell.lengths[0], fr.positions[0][0])\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.data")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    n, lx, x0 = r.stdout.split()
    assert int(n) == s.N and float(lx) == pytest.approx(s.box.lengths[0])
    assert float(x0) == pytest.approx(s.positions[0, 0])


# ----------------------------------------------------------------------------- pyglass info

def test_info_lists_every_group_and_a_finished_checkpoint(quick):
    tmp, out = quick
    text = info(out)
    assert "/particles/all: N = 108, d = 3, species ['A', 'B']; 7 frame(s), steps 300..900" in text
    assert "    velocity: value (7, 108, 3) float64, steps 300..900" in text
    assert "  /observables:\n    thermo/conserved_energy: value" in text
    assert f"  /{RESULTS_ROOT}:" in text and "production/self-dynamics/msd (" in text
    assert "push-off/ attrs quench_converged" in text
    assert h5md_problems(out[:-3] + ".ckpt.h5", extra_roots=("checkpoint",)) == []
    ck = info(out[:-3] + ".ckpt.h5")
    assert "checkpoint: run complete (all 3 stage(s) done), global step 900" in ck
    assert "stage 4" not in ck


def test_info_on_a_directory_is_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "info", str(tmp_path)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"pyglass: error: {tmp_path} is a directory; give an HDF5 file (output, " \
                               "checkpoint or snapshot)"
