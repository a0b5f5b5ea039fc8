"""A non-editable install (`pip install .` into a fresh venv) is a complete pyglass: the papers' decks
and criteria ship as package data, and `pyglass reproduce` runs from any directory."""
import os
import shutil
import subprocess
import sysconfig

import pytest

from helpers import ROOT  # noqa: E402

SMOKE = """
import json, sys
from pyglass.papers.mosayebi_2014 import analysis as M
T = 2.0
tiny = {"system.n": 250, "stage.equilibrate.steps": 200, "stage.production.steps": 300,
        "stage.production.observable.0.every": 10, "study.samples": 2, "study.spacing": 100,
        "stage.equilibrate.temperature": T, "stage.equilibrate.integrator.T": T, "stage.production.integrator.T": T,
        "stage.dw.T": T, "stage.dp.T": T, "stage.dw.n_runs": 2, "stage.dw.times": [0.5], "stage.dw.dw_interval": 0.5,
        "stage.dp.n_runs": 2, "stage.dp.times": [0.1, 0.4, 1.6], "stage.shear.gammas": [0.0001, 0.02, 0.07, 0.2],
        "stage.shear.modes": 8, "stage.shear.mode_sums": [3, 4, 5, 6, 7, 8, 9, 10], "stage.fig4.modes": 13,
        "stage.fig4.mode_sums": [5, 15], "output.checkpoint": 0}
M.PARTS = [("", M.DECK, tiny, M.FULL)]
from pyglass.workflow.reproduce import reproduce
reproduce("mosayebi-2014", False, "out", stream=open("log.txt", "w"))
doc = json.load(open("out/mosayebi-2014/summary.json"))
print("ROWS", len(doc["rows"]))
"""


def _copy_tree(dst):
    """The working tree as git sees it (tracked and untracked-not-ignored files): what a clone has."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), os.path.join(dst, rel))
        else:
            shutil.copy2(src, os.path.join(dst, rel))


@pytest.mark.slow
def test_a_non_editable_install_ships_the_papers_and_reproduces_from_any_directory(tmp_path):
    if shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")):
        pytest.skip("needs the git checkout to copy")
    src, venv, work = tmp_path / "src", tmp_path / "venv", tmp_path / "elsewhere"
    _copy_tree(src)
    work.mkdir()
    # the fresh venv sees Debian's MPI/PETSc/HDF5 stack (as `make install` does) and, for the pure-Python
    # requirements only, this interpreter's site-packages (a .pth line: its own .pth files, e.g. the
    # editable pyglass, are not run)
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "zz_requirements.pth"), "w") as fh:
        fh.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", str(src)], check=True,
                   cwd=work)
    shutil.rmtree(src)   # nothing may be read from the source tree

    def run(*args):
        return subprocess.run(list(args), cwd=work, capture_output=True, text=True, timeout=600,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})

    where = run(py, "-c", "import pyglass; print(pyglass.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(site), where.stdout
    exe = str(venv / "bin" / "pyglass")
    helped = run(exe, "reproduce", "--help")
    assert helped.returncode == 0 and "widmer-cooper-2008" in helped.stdout, helped.stderr
    for paper in ("widmer-cooper-2008", "kapteijns-2021", "mosayebi-2014", "trsp", "sharma-2022"):
        planned = run(exe, "reproduce", paper, "--full", "--dry-run")
        assert planned.returncode == 0, planned.stderr
        assert "stage 1" in planned.stdout and "scale: full" in planned.stdout
    smoke = run(py, "-c", SMOKE)
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert "ROWS" in smoke.stdout and int(smoke.stdout.split("ROWS")[1]) >= 4
