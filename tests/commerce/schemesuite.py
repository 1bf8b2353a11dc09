"""Shared by the kanren/pricing suite tests on guile and on flowscheme: how a
self-checking .scm suite's output is judged, and the misuse cases both must report."""

import re


def assert_suite_passed(text):
    """The suite printed no FAIL line, one `PASS n/n`, and one `ok` line per check."""
    failures = [line for line in text.splitlines() if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
    summary = re.findall(r"^PASS (\d+)/(\d+)$", text, re.MULTILINE)
    assert len(summary) == 1, f"no PASS line in the output:\n{text[-2000:]}"
    passed, total = map(int, summary[0])
    oks = [line for line in text.splitlines() if line.startswith("ok ")]
    assert total > 0 and passed == total == len(oks)


MISUSE_CASES = [
    ("(run* (q) (pluso q q 3))", "pluso: arguments are not sufficiently instantiated"),
    ("(run* (q) (timeso q 2 q))", "timeso: arguments are not sufficiently instantiated"),
    ("(run* (q) (<o q 3))", "<o: arguments are not sufficiently instantiated"),
    ("(run* (q) (betweeno q 3 1))", "betweeno: arguments are not sufficiently instantiated"),
    ("(run* (s t) (fresh (q) (line-totalo s q t)))", "timeso: arguments are not sufficiently instantiated"),
    ("(price-cart '((\"foo\" 1)))", "price-cart: unknown sku: foo"),
    ("(price-cart '((\"tea\" 0)))", "price-cart: quantity must be a positive integer: 0"),
    ("(price-cart '())", "price-cart: cart is empty"),
    ("(quote-order '((\"tea\" 1)) \"NOPE\")", "quote-order: unknown coupon: NOPE"),
    ("(carts-costing \"100\" 3)", "carts-costing: total must be an exact integer: \"100\""),
    ("(carts-costing 100 -1)", "carts-costing: max-units must be a non-negative exact integer: -1"),
]
