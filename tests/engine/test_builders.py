"""Initial configurations: the jittered lattice keeps its closest approach at any N; random packings
honour min_distance; bad arguments are named."""
import numpy as np
import pytest
from scipy.spatial import cKDTree

from pyglass import builders, potentials


def _closest_approach(system):
    tree = cKDTree(system.positions % system.box.lengths, boxsize=system.box.lengths)
    dist, _ = tree.query(system.positions % system.box.lengths, k=2)
    return dist[:, 1].min()


def test_jittered_lattice_closest_approach_does_not_shrink_with_n():
    # KA at N = 10^5 from a jittered lattice: a Gaussian jitter of 0.05 spacings put two particles
    # so close (max|F| 1.6e4) that NVT at dt = 0.005 blew up at step 12; the bounded jitter keeps
    # every pair at >= a (1 - 2 sqrt(3) jitter) whatever N is
    jitter = 0.05
    s = builders.lattice(100_000, density=1.2, dim=3, composition=(0.8, 0.2), seed=1, jitter=jitter)
    m = int(np.ceil(100_000 ** (1 / 3)))
    a = s.box.lengths[0] / m
    assert _closest_approach(s) >= a * (1 - 2 * np.sqrt(3) * jitter) - 1e-12
    grid = (np.floor(s.positions / a) + 0.5) * a          # the site each particle was displaced from
    rms = np.sqrt(np.mean((s.positions - grid) ** 2)) / a
    assert rms == pytest.approx(jitter, rel=0.02)
    f = potentials.KobAndersen().forces(s)
    assert np.abs(f).max() < 2e3


def test_lattice_counts_density_and_composition():
    s = builders.lattice(1000, density=1.2, dim=3, composition=(0.8, 0.2), seed=3, jitter=0.1)
    assert s.N == 1000 and s.dim == 3
    assert np.prod(s.box.lengths) == pytest.approx(1000 / 1.2)
    assert np.bincount(s.types).tolist() == [800, 200]


@pytest.mark.parametrize("jitter", [-0.01, builders.JITTER_MAX + 0.01])
def test_lattice_jitter_out_of_range_names_jitter(jitter):
    with pytest.raises(ValueError, match="jitter"):
        builders.lattice(64, 1.0, 3, jitter=jitter)


def test_random_packing_honours_min_distance_and_refuses_overfull_boxes():
    s = builders.random_packing(500, 0.9, 2, (0.5, 0.5), seed=4, min_distance=0.8)
    assert _closest_approach(s) >= 0.8
    with pytest.raises(ValueError, match="min_distance"):
        builders.random_packing(500, 2.0, 2, seed=4, min_distance=1.0)
