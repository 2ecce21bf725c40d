"""rc.claims: the rules, defined once; rc.paper: every element has one home."""
import importlib
import math
import re

import pytest

import rc
from rc import claims
from rc.paper import ELEMENTS, WITH_CLAIMS, home


def test_score_rule_is_one_sided_with_the_one_tolerance():
    t = claims.SCORE_TOLERANCE
    assert claims.score_at_least("a", "Table 1", "s", 0.9, 0.9 - t + 1e-9, "").holds
    assert not claims.score_at_least("a", "Table 1", "s", 0.9, 0.9 - t - 1e-9).holds
    assert claims.score_at_least("a", "Table 1", "s", 0.5, 0.99).holds  # higher always holds
    assert claims.score_at_least("a", "Table 1", "s", 0.5, float("nan")).holds is None
    assert claims.score_at_least("a", "Table 1", "s", 0.5, None).verdict == "not tested"


def test_other_rules():
    assert claims.equal("k", "F", "s", 3, 3).holds and not claims.equal("k", "F", "s", 3, 2).holds
    assert claims.equal("k", "F", "s", 3, 2, testable=False).holds is None
    assert claims.at_least("n", "F", "s", 4, 5).holds
    assert not claims.at_least("n", "F", "s", 4, 3).holds
    assert claims.at_most("u", "F", "s", 1 / 3, 0.43, tolerance=0.1).holds
    assert not claims.at_most("u", "F", "s", 1 / 3, 0.44, tolerance=0.1).holds
    assert claims.less_than("c", "F", "s", 10, 9).holds
    assert not claims.less_than("c", "F", "s", 10, 10).holds
    c = claims.equal("k", "Figure 4a", "s", 3, 2)
    assert c.verdict == "fails" and c.phrase == "differs from the paper"
    assert c.to_dict()["verdict"] == "fails"


def test_every_element_of_the_paper_has_one_home():
    wanted = ["Figure 1c", "Figure 2b", "Figure 3", "Figure 4a", "Figure 4b", "Figure 5",
              "Figure 6a", "Figure 6b", "Figure 7", "Figure 8", "Figure 9", "Figure 10",
              "Figure 11", "Table 1", "Table 2"]
    assert sorted(ELEMENTS) == sorted(wanted)
    for element in ELEMENTS:
        module = home(element)
        assert module is importlib.import_module(f"rc.paper.{ELEMENTS[element]}")
        assert element.split()[0] in module.__doc__.split(":")[0], element
        assert callable(module.compute) and callable(module.draw), element
        assert hasattr(module, "claims") == (element in WITH_CLAIMS), element
    with pytest.raises(ValueError, match="unknown element"):
        home("Figure 12")
    assert rc.paper.fig4a is home("Figure 4a")


def test_tolerances_and_thresholds_are_defined_once():
    """The claims of every element use named constants (its own or rc.claims'), never a
    number written into the rule."""
    import inspect
    for element in WITH_CLAIMS:
        module = home(element)
        source = inspect.getsource(module.claims)
        if element == "Table 1":
            source += inspect.getsource(module.table_claims)
        numbers = re.findall(r"(?<![\w.])\d+\.\d+", source)
        assert not numbers, f"{element}: numbers {numbers} in claims()"
    assert math.isclose(claims.SCORE_TOLERANCE, 0.03)
