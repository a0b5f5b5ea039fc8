"""`pyglass plot`: the standard figures of an output file, from the CLI."""
import os
import subprocess
import sys

import numpy as np
import pytest

from pyglass.analysis.observables.dynamics import chi4_peak
from pyglass.workflow.plots import peak_label, relaxation_label

from helpers import ROOT  # noqa: E402

DECK = """
[system]
generate = "random"
n = 128
density = 1.2
composition = [0.8, 0.2]
min_distance = 0.7

[potential]
model = "kob-andersen"

[[stage]]
kind = "quench"
[stage.minimizer]
type = "fire"
ftol = 1e-2

[[stage]]
name = "prod"
kind = "production"
steps = 400
thermo = 0
temperature = 0.8
[stage.integrator]
type = "nve"
dt = 0.004
[[stage.observable]]
type = "self-dynamics"
schedule = "log"
block = 200
q = 7.25

[[stage]]
kind = "quench"
[stage.minimizer]
type = "cg"

[[stage]]
name = "modes"
kind = "modes"
k = 10

[output]
path = "out.h5"
trajectory = 100
thermo = 20
"""


def test_plot_writes_the_standard_figures(tmp_path):
    (tmp_path / "deck.toml").write_text(DECK)
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "run", "-q", "deck.toml"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    r = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "plot", "out.h5", "-o", "figs"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(os.listdir(tmp_path / "figs"))
    assert names == ["out.modes.participation.png", "out.modes.spectrum.png", "out.prod.self-dynamics.png",
                     "out.thermo.png"], names
    assert all(os.path.getsize(tmp_path / "figs" / n) > 2000 for n in names)
    assert r.stdout.count("pyglass: wrote") == 4
    bad = subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", "plot", "missing.h5"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "file not found" in bad.stderr


def test_a_chi4_peak_at_the_edge_of_the_lags_is_labelled_as_a_bound():
    """chi4 still rising at the last lag (the quickstart's window): 'tau_4 > t', a lower bound; falling
    from the first lag: 'tau_4 < t'; a peak inside the lags: 'tau_4 = t'; tau_alpha beyond the lags:
    'tau_alpha > t'."""
    t = np.geomspace(0.05, 16.6, 12)
    assert peak_label("tau_4", chi4_peak(t, np.log(t) + 4)) == "tau_4 > 16.6"
    assert peak_label("tau_4", chi4_peak(t, 1 / t)) == "tau_4 < 0.05"
    assert peak_label("tau_4", chi4_peak(t, 3 - (np.log(t) - np.log(2.0)) ** 2)) == "tau_4 = 2"
    # likewise tau_alpha: F_s still above 1/e at the last lag
    assert relaxation_label(t, np.exp(-t / 100)) == (t[-1], "tau_alpha > 16.6")
    tau, label = relaxation_label(t, np.exp(-t / 2))
    assert tau == pytest.approx(2.0, rel=0.05) and label.startswith("tau_alpha = ")
