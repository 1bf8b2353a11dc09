"""The miniKanren and pricing Scheme suites, run under flowscheme itself.

tests/commerce/kanren_test.scm and pricing_test.scm are self-checking ("ok N",
"FAIL N", "PASS p/t"); test_kanren_guile.py runs them on GNU Guile, the
reference. Here the same files run in flowscheme's Interpreter after loading
schemes/kanren.scm and schemes/pricing.scm (the way commerce.pricing loads
them), and misuse must raise the same messages Guile prints.
"""

import io
import subprocess
from pathlib import Path

import pytest
from schemesuite import MISUSE_CASES, assert_suite_passed

from commerce.pricing import load_rules
from interp.errors import SchemeError
from interp.interpreter import Interpreter
from interp.printer import write_string

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def rules():
    """An interpreter with kanren.scm and pricing.scm loaded (for the misuse checks)."""
    it = Interpreter(stdout=io.StringIO())
    load_rules(it)
    return it


@pytest.mark.parametrize("test_file", ["kanren_test.scm", "pricing_test.scm"])
def test_scheme_suite_passes_under_flowscheme(test_file):
    out = io.StringIO()
    it = Interpreter(stdout=out)
    load_rules(it)
    path = HERE / test_file
    it.eval(path.read_text(encoding="utf-8"), str(path))
    text = out.getvalue()
    assert_suite_passed(text)


@pytest.mark.parametrize("expression, message", MISUSE_CASES)
def test_misuse_is_a_scheme_error_with_the_same_message_as_guile(rules, expression, message):
    with pytest.raises(SchemeError) as info:
        rules.eval(expression)
    assert message in str(info.value)


def test_quotes_with_coupons_are_exact(rules):
    """The coupon rule is not exposed by Shop.quote; check it here, in Scheme."""
    assert rules.eval("""(quote-order '(("mug" 3)) "WELCOME5")""") is not None
    lines, subtotal, discount, total = _list(rules.eval("""(quote-order '(("pot" 2)) "TEA10")"""))
    assert (subtotal, discount, total) == (7900, 790, 7110)
    assert all(type(x) is int for x in (subtotal, discount, total))


# Answers whose order depends on the interleaving search itself: flowscheme must
# find the same answers in the same order as Guile running the same Scheme.
DIFFERENTIAL = [
    "(run 5 (q) (fresh (a b) (appendo a b '(1 2 3)) (== q (list a b))))",
    "(run* (q) (fresh (x y) (conde ((== x 1) (== y 2)) ((== x 3))) (== q (list x y))))",
    "(run 7 (q) (conde ((anyo (== q 'a))) ((anyo (== q 'b)))))",
    "(run* (s q) (line-totalo s 10 q))",
    "(run* (c d) (coupono c 6000 d))",
    "(carts-costing 4050 4)",
    "(run 6 (c) (small-carto 2 c))",
    "(quote-order '((\"honey\" 11) (\"tray\" 1)) \"TEA10\")",
    "(run* (q) (fresh (a b) (pluso a 3 10) (timeso a b 21) (== q (list a b))))",
    "(run* (x) (betweeno 3 7 x) (fresh (y) (timeso x x y) (<o 20 y)))",
]


def test_answers_and_their_order_agree_with_guile(native_scheme, rules, tmp_path):
    sources = "\n".join((ROOT / "schemes" / n).read_text(encoding="utf-8") for n in ("kanren.scm", "pricing.scm"))
    program = tmp_path / "differential.scm"
    program.write_text(sources + "\n" + "".join(f"(write {e}) (newline)\n" for e in DIFFERENTIAL), encoding="utf-8")
    done = subprocess.run([native_scheme.path, "--no-auto-compile", "-s", str(program)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = done.stdout.splitlines()
    assert len(expected) == len(DIFFERENTIAL)
    for expression, guile in zip(DIFFERENTIAL, expected):
        assert write_string(rules.eval(expression)) == guile, expression


def _list(pair):
    from interp.values import pairs_to_list

    return pairs_to_list(pair)
