"""The density of a given pressure from NVT pilots (paper 1's state point: T = 0.4, P = 13.5)."""
import os

import numpy as np
import pytest

from pyglass.analysis.state_point import density_at_pressure


def test_power_law_is_inverted_exactly():
    rho = np.array([0.74, 0.745, 0.75, 0.755])
    p = 13.0 * (rho / 0.745) ** 6.3                  # ln P linear in ln rho: the fit is exact
    fit = density_at_pressure(rho, p, 13.5)
    assert fit.density == pytest.approx(0.745 * (13.5 / 13.0) ** (1 / 6.3), rel=1e-12)
    assert fit.slope == pytest.approx(6.3, rel=1e-10)
    assert fit.se == pytest.approx(0.0, abs=1e-12)
    assert "rho(P = 13.5)" in fit.comment()


def test_standard_error_by_the_delta_method_against_resampling():
    rng = np.random.default_rng(0)
    rho = np.array([0.74, 0.745, 0.75, 0.755])
    true = 13.0 * (rho / 0.745) ** 6.0
    se = np.full(4, 0.01)
    fit = density_at_pressure(rho, true, 13.5, pressure_se=se)
    draws = [density_at_pressure(rho, true + rng.normal(scale=0.01, size=4), 13.5, pressure_se=se).density
             for _ in range(2000)]
    assert fit.se == pytest.approx(np.std(draws), rel=0.1)


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="outside the pilot"):
        density_at_pressure([0.74, 0.75], [12.9, 13.9], 14.5)
    with pytest.raises(ValueError, match="at least two"):
        density_at_pressure([0.74], [12.9], 12.9)
    with pytest.raises(ValueError, match="does not rise"):
        density_at_pressure([0.74, 0.75], [13.9, 12.9], 13.5)
    with pytest.raises(ValueError, match="pressure_se"):
        density_at_pressure([0.74, 0.75], [12.9, 13.9], 13.5, pressure_se=[0.1, 0.0])


def test_paper1_pilot_reads_each_density_and_its_production_pressure(tmp_path):
    """The pilot study (one unit per density) read through the results API: each unit's density from its
    box and the mean production pressure, against the thermo rows read by hand."""
    import h5py

    from helpers import Sink
    from pyglass.papers.widmer_cooper_2008 import pilot
    from pyglass.workflow.deck import parse_deck
    from pyglass.workflow.run import run_deck
    with open(os.path.join(os.path.dirname(pilot.__file__), "widmer_cooper_2008_pressure_pilot.toml")) as fh:
        text = fh.read()
    text = (text.replace("n = 1024", "n = 100").replace("steps = 80000", "steps = 100")
            .replace("steps = 120000", "steps = 200").replace("thermo = 100\n", "thermo = 10\n"))
    deck = parse_deck(text, str(tmp_path / "pilot.toml"))
    out = str(tmp_path / "pilot.h5")
    run_deck(deck, output=out, stream=Sink(), handle_signals=False)
    from pyglass.workflow.run import results
    rho, p = [], []
    for unit in results.open(out).units(status="complete"):
        with h5py.File(unit.path, "r") as f:
            th = f["observables/thermo"]
            rows = th["stage/value"][()] == 2
            p.append(th["pressure/value"][()][rows].mean())
            edges = f["particles/all/box/edges"][()]          # (d,) lengths or (d, d) edge vectors
            volume = np.prod(edges) if edges.ndim == 1 else abs(np.linalg.det(edges))
            rho.append(100 / volume)
    assert np.allclose(sorted(rho), [0.74, 0.745, 0.75, 0.755])
    target = float(np.mean(p))
    fit, se = pilot.pilot_density(out, target=target)
    order = np.argsort(rho)
    np.testing.assert_allclose(fit.densities, np.array(rho)[order], rtol=1e-12)
    np.testing.assert_allclose(fit.pressures, np.array(p)[order], rtol=1e-12)
    assert len(se) == 4 and min(rho) < fit.density < max(rho)
