"""`--dry-run` cost: the whole run's core-seconds follow the work (MD atom-steps, quenches, samples) and
`pyglass reproduce <paper> --full --dry-run` prints the paper-scale total for every paper."""
import pytest

from pyglass.registry import PAPERS
from pyglass.workflow.deck import parse_deck
from pyglass.workflow.reproduce import paper_plan
from pyglass.workflow.run.plan import deck_cost, plan
from pyglass.workflow.stages import cost

DECK = """
[system]
generate = "lattice"
n = {n}
density = 1.2
composition = [0.8, 0.2]
[potential]
model = "kob-andersen"
[[stage]]
name = "eq"
kind = "equilibrate"
steps = 1000
[stage.integrator]
type = "nve"
dt = 0.005
[[stage]]
name = "is"
kind = "quench"
[stage.minimizer]
type = "cg"
[study]
samples = {samples}
"""


def _cost(n, samples):
    return deck_cost(parse_deck(DECK.format(n=n, samples=samples), "deck.toml"))


def test_the_cost_of_a_study_is_its_work_at_the_stated_rates():
    c, units = _cost(500, 3)
    assert units == 3
    expected = 3 * (1000 * 500 + cost.QUENCH_FORCE_CALLS * 500) / cost.MD_ATOM_STEPS_PER_SECOND
    assert c.core_seconds == pytest.approx(expected)
    assert _cost(1000, 3)[0].core_seconds == pytest.approx(2 * c.core_seconds)   # linear in N
    assert _cost(500, 6)[0].core_seconds == pytest.approx(2 * c.core_seconds)    # and in samples
    assert "cost of the whole run" in plan(parse_deck(DECK.format(n=500, samples=3), "deck.toml"))[-1]


def test_landscape_stages_cost_a_factorisation_whose_memory_is_the_landscape_estimate():
    from pyglass.analysis.landscape.memory import factor_memory_estimate
    c = cost.factorisation(8000, 3)
    assert c.core_seconds == pytest.approx(cost.FACTOR_SECONDS_8000)
    assert c.memory_bytes == factor_memory_estimate(8000, 3)
    assert (c + cost.md(10, 10)).memory_bytes == c.memory_bytes   # stages in a row: the peak, not the sum


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_every_paper_prints_its_full_scale_cost(name, tmp_path):
    lines = paper_plan(name, True, str(tmp_path))
    assert lines[-1].startswith("paper total: ~") and "core-" in lines[-1]
    assert not any(tmp_path.iterdir())   # a dry run writes nothing


def test_a_stage_run_in_the_first_samples_only_costs_those_samples():
    iso = """
[[stage]]
name = "dp"
kind = "isoconfigurational"
n_runs = 2
T = 0.8
dt = 0.005
times = [1.0]
"""
    every = deck_cost(parse_deck(DECK.format(n=500, samples=6) + iso, "deck.toml"))[0].core_seconds
    some = deck_cost(parse_deck(DECK.format(n=500, samples=6) + iso + "first_samples = 2\n", "deck.toml"))[0]
    per_sample = 2 * 200 * 500 / cost.MD_ATOM_STEPS_PER_SECOND
    assert every - some.core_seconds == pytest.approx(4 * per_sample)


def test_the_modes_of_every_sheared_configuration_cost_a_factorisation_each():
    shear = """
[[stage]]
name = "sh"
kind = "shear"
protocol = "affine-quench"
gammas = [0.01, 0.02, 0.03]
"""
    plain = deck_cost(parse_deck(DECK.format(n=500, samples=1) + shear, "deck.toml"))[0].core_seconds
    modes = deck_cost(parse_deck(DECK.format(n=500, samples=1) + shear + "modes = 10\n", "deck.toml"))[0].core_seconds
    assert modes - plain == pytest.approx(cost.factorisation(500, 3, count=4).core_seconds)
