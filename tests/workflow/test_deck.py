"""Input decks: the malformed-deck corpus, defaults, dry-run round trip, docs, CLI error handling."""
import glob
import os
import re
import subprocess
import sys
import tomllib

import pytest

from pyglass.workflow.deck import (OBSERVABLES, DeckError, ObservableType, dump_toml, load_deck, make_schedule,
                             parse_deck, schema_markdown)

from helpers import ROOT  # noqa: E402
CORPUS = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "decks", "*.toml")))
def _is_lattice_deck(path):
    """TRSP lattice-model parameter sets (inputs/trsp_*.toml) are read by pyglass.analysis.lattice, not the
    MD runner; tests/test_lattice.py loads them."""
    with open(path, "rb") as fh:
        return "model" in tomllib.load(fh) and os.path.basename(path).startswith("trsp_")


INPUTS = sorted(p for p in glob.glob(os.path.join(ROOT, "inputs", "*.toml")) if not _is_lattice_deck(p))

GOOD = """
[system]
generate = "lattice"
n = 27
density = 1.2
composition = [0.8, 0.2]

[potential]
model = "kob-andersen"

[[stage]]
kind = "production"
steps = 10
[stage.integrator]
type = "nve"
dt = 0.005
"""


def _expectations(path):
    text = open(path, "rb").read().decode("utf-8", "replace")
    key = re.search(r"# expect-key: (.*)", text).group(1).strip()
    msg = re.search(r"# expect-text: (.*)", text).group(1).strip()
    return key, msg


def _cli(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYGLASS_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "pyglass.workflow.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=60)


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 30


@pytest.mark.parametrize("path", CORPUS, ids=[os.path.basename(p)[:-5] for p in CORPUS])
def test_malformed_deck(path):
    """Each corpus deck fails validation naming its key (and line, when the key is in the file)."""
    key, msg = _expectations(path)
    with pytest.raises(DeckError) as info:
        load_deck(path)
    err = info.value
    text = str(err)
    assert msg in text, text
    assert os.path.basename(path) in text
    if key:
        hits = [p for p in err.problems if p.key == key]
        assert hits, f"no problem names {key!r}: {text}"
        body = "\n".join(ln for ln in open(path, "rb").read().decode("utf-8", "replace").splitlines()
                         if not ln.startswith("#"))
        last = re.escape(re.sub(r"\[\d+\]$", "", key.split(".")[-1]))
        if re.search(rf"(^|[\s{{,]){last}\s*=", body, re.M) or re.search(rf"^\[+[^\]]*\b{last}\]", body, re.M):
            assert hits[0].line is not None, text   # the key is in the file: say where
    for line in text.splitlines():   # one line per problem, each with the file name
        assert line.startswith(path), line


@pytest.mark.parametrize("name", ["integrator_negative_T", "potential_model_typo", "toml_syntax"])
def test_cli_reports_deck_errors_without_traceback(name):
    path = os.path.join("tests", "data", "decks", name + ".toml")
    key, msg = _expectations(os.path.join(ROOT, path))
    r = _cli("run", path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert msg in r.stderr and (not key or key in r.stderr)
    assert r.stderr.startswith("pyglass: error: ")


def test_cli_missing_files_and_bad_arguments(tmp_path):
    r = _cli("run", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "deck file not found" in r.stderr and "Traceback" not in r.stderr
    r = _cli("run", str(tmp_path))
    assert r.returncode == 2 and "is a directory" in r.stderr
    r = _cli("info", str(tmp_path / "nope.h5"))
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "junk.h5").write_text("not hdf5")
    r = _cli("info", str(tmp_path / "junk.h5"))
    assert r.returncode == 2 and "not a readable" in r.stderr and "Traceback" not in r.stderr
    r = _cli("run", "--restart")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    deck = tmp_path / "good.toml"
    deck.write_text(GOOD)
    r = _cli("run", str(deck), "--restart", str(tmp_path / "missing.ckpt.h5"), "-o", str(tmp_path / "o.h5"))
    assert r.returncode == 2 and "checkpoint file not found" in r.stderr and "Traceback" not in r.stderr


def test_cli_help_and_version():
    r = _cli("--help")
    assert r.returncode == 0 and "run" in r.stdout and "info" in r.stdout
    r = _cli("run", "--help")
    assert r.returncode == 0 and "--dry-run" in r.stdout and "--restart" in r.stdout
    r = _cli("--version")
    assert r.returncode == 0 and "pyglass" in r.stdout


def test_dry_run_prints_every_default_and_round_trips(tmp_path):
    deck_path = tmp_path / "d.toml"
    deck_path.write_text(GOOD)
    r = _cli("run", "--dry-run", str(deck_path))
    assert r.returncode == 0, r.stderr
    resolved = tomllib.loads(r.stdout)
    assert resolved["potential"]["cutoff"] == 2.5 and resolved["potential"]["smoothing"] == "shift"
    assert resolved["output"]["path"] == "out.h5" and resolved["run"]["seed"] == 12345
    assert resolved["stage"][0]["thermo"] == 1000 and resolved["stage"][0]["name"] == "stage1"
    assert resolved["system"]["seed"] == 12345 and resolved["system"]["jitter"] == 0.0
    # the printed deck is itself a valid deck that resolves to the same thing
    again = parse_deck(r.stdout, str(tmp_path / "again.toml"))
    first = load_deck(deck_path)
    strip = lambda d: tomllib.loads(dump_toml(d))   # noqa: E731  (unset keys are comments)
    assert strip(again.data) == strip(first.data)


def test_defaults_are_filled_and_types_normalised():
    d = parse_deck(GOOD).data
    assert d["system"]["composition"] == [0.8, 0.2] and d["system"]["dim"] == 3
    assert d["output"]["thermo"] == 100 and d["output"]["checkpoint"] == 0
    assert d["stage"][0]["observable"] == []
    deck = parse_deck(GOOD.replace("density = 1.2", "density = 1"))
    assert isinstance(deck.data["system"]["density"], float)


def test_every_problem_is_reported_at_once():
    text = GOOD.replace("n = 27", "n = 0").replace("dt = 0.005", "dt = 0.005\nbogus = 1")
    with pytest.raises(DeckError) as info:
        parse_deck(text, "x.toml")
    keys = {p.key for p in info.value.problems}
    assert {"system.n", "stage[1].integrator.bogus"} <= keys


def test_line_numbers_point_at_the_key():
    text = GOOD.replace("dt = 0.005", "dt = -0.005")
    with pytest.raises(DeckError) as info:
        parse_deck(text, "x.toml")
    line = text.splitlines().index("dt = -0.005") + 1
    assert info.value.problems[0].line == line and f"x.toml:{line}:" in str(info.value)


def test_docs_page_is_generated_from_the_schema():
    with open(os.path.join(ROOT, "docs", "deck.md")) as fh:
        assert fh.read() == schema_markdown(), "regenerate: python -m pyglass.workflow.deck --docs > docs/deck.md"


@pytest.mark.parametrize("path", INPUTS, ids=[os.path.basename(p)[:-5] for p in INPUTS])
def test_input_decks_validate(path):
    deck = load_deck(path)
    assert deck.data["stage"]
    assert tomllib.loads(deck.to_toml())["potential"]["model"] == deck.data["potential"]["model"]


def test_schedules_count_from_the_stage_start():
    lin = make_schedule({"schedule": "linear", "every": 10, "start": 5}, stage_start=100)
    assert [s for s in range(100, 140) if lin.due(s)] == [105, 115, 125, 135]
    log = make_schedule({"schedule": "log", "block": 16, "factor": 2.0, "start": 0}, stage_start=100)
    assert [s for s in range(100, 120) if log.due(s)] == [100, 101, 102, 104, 108, 116, 117, 118]
    assert log.origin(118) == 116


def test_registering_an_observable(tmp_path, monkeypatch):
    """A new registry entry is validated like the built-ins (its own keys, defaults, suggestions)."""
    from pyglass.workflow.deck import Key
    made = []
    monkeypatch.setitem(OBSERVABLES, "counter", ObservableType(lambda params, ctx: made.append(params),
                                                               {"scale": Key((int, float), 1.0, "a factor", lo=0)},
                                                               "counts samples"))
    base = GOOD + '[[stage.observable]]\ntype = "counter"\n'
    deck = parse_deck(base)
    assert deck.data["stage"][0]["observable"][0]["scale"] == 1.0
    with pytest.raises(DeckError, match=r"stage\[1\]\.observable\[1\]\.scale: must be >= 0"):
        parse_deck(base + "scale = -1\n")
    with pytest.raises(DeckError, match="did you mean 'scale'"):
        parse_deck(base + "scael = 2\n")


STATES = GOOD.replace('kind = "production"', 'name = "prod"\nkind = "production"') + """
[[stage.observable]]
type = "self-dynamics"
schedule = "log"
block = 10
q = 7.25

[study]
source = "trajectory"
draw_after = "prod"
spacing = 5
"""


def test_state_points_set_observable_keys_by_index_and_the_draw_spacing():
    text = STATES + """[[study.state]]
label = "a"
set = {"stage.prod.observable.0.q" = 6.4, "study.spacing" = 50}
[[study.state]]
label = "b"
"""
    deck = parse_deck(text, "x.toml")
    (la, a), (lb, b) = deck.states
    assert a["stage"][0]["observable"][0]["q"] == 6.4 and b["stage"][0]["observable"][0]["q"] == 7.25
    assert a["study"]["spacing"] == 50 and b["study"]["spacing"] == 5
    assert deck.with_data(a).study["spacing"] == 50


@pytest.mark.parametrize("path, message", [
    ("stage.prod.observable.3.q", "must index the 1 table"),
    ("stage.prod.observable.q", "add the index"),
    ("stage.prod.observable", "must be array of table"),
    ("study.samples", "or be study.spacing"),
])
def test_state_set_paths_that_name_nothing_are_errors_on_the_key(path, message):
    text = STATES + f'[[study.state]]\nlabel = "a"\nset = {{"{path}" = 1}}\n'
    with pytest.raises(DeckError) as info:
        parse_deck(text, "x.toml")
    assert message in str(info.value) and "study.state[1].set" in str(info.value)
