"""The density of a given pressure from NVT pilots (paper 1's state point: T = 0.4, P = 13.5)."""
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

