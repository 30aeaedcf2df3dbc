"""``benchmarks/comparisons.py``: the verdict rule, its sense of better, and the committed table it writes."""

import doctest
import importlib.util
import sys

from helpers.course import facts

spec = importlib.util.spec_from_file_location("comparisons", facts.CHECKOUT_ROOT / "benchmarks" / "comparisons.py")
comparisons = importlib.util.module_from_spec(spec)
sys.modules["comparisons"] = comparisons  # dataclasses look their module up there
spec.loader.exec_module(comparisons)


def test_its_examples_run():
    assert doctest.testmod(comparisons).failed == 0


def test_better_or_worse_only_when_every_seed_agrees_and_the_mean_exceeds_twice_the_spread():
    assert comparisons.verdict([0.05, 0.06, 0.04, 0.05, 0.05]) == "better"
    assert comparisons.verdict([-0.05, -0.06, -0.04, -0.05, -0.05]) == "worse"
    assert comparisons.verdict([0.05, 0.06, -0.001, 0.05, 0.05]) == "tie"  # one seed disagrees
    assert comparisons.verdict([0.01, 0.30, 0.02, 0.01, 0.40]) == "tie"  # all agree, but mean < 2 x spread


def test_a_loss_or_a_count_of_false_alarms_is_better_when_lower():
    by_unit = {}
    for comparison in comparisons.COMPARISONS:
        by_unit.setdefault(comparison.unit, set()).add(comparison.lower_is_better)
    assert by_unit["loss"] == {True} and by_unit["cells"] == {True}
    assert by_unit["accuracy"] == by_unit["recall"] == {False}
    flagged = next(c for c in comparisons.COMPARISONS if "healthy cells flagged" in c.name)
    assert comparisons.comparison_verdict(flagged, [18.0, 40.0, 31.0, 52.0, 32.0]) == "worse"
    assert comparisons.comparison_verdict(flagged, [-18.0, -40.0, -31.0, -52.0, -32.0]) == "better"


def test_the_committed_table_has_a_row_for_every_comparison():
    committed = (facts.CHECKOUT_ROOT / "benchmarks" / "results.md").read_text()
    for comparison in comparisons.COMPARISONS:
        label = f"{comparison.label} " if comparison.label else ""
        assert f"| {label}{comparison.name} | {comparison.notebook} |" in committed, comparison.name
