"""Runs the miniKanren and pricing Scheme tests under GNU Guile 3.0.

schemes/kanren.scm and schemes/pricing.scm are portable R7RS; their self-checking
test files (tests/commerce/*_test.scm) are run here on the reference Scheme, each
concatenated after the two sources, so the Scheme is known good independently of
flowscheme's interpreter. Skipped, with the reason, when Guile 3 is unavailable.
"""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "schemes" / "kanren.scm", ROOT / "schemes" / "pricing.scm"]
HERE = Path(__file__).resolve().parent
TIMEOUT = 120  # seconds; the suites take about a second each


def _program(*parts):
    return "\n".join(path.read_text(encoding="utf-8") for path in SOURCES) + "\n" + "\n".join(parts)


def _run_guile(guile, text, tmp_path, name="program.scm"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [guile, "--no-auto-compile", "-s", str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("test_file", ["kanren_test.scm", "pricing_test.scm"])
def test_scheme_suite_passes_under_guile(native_scheme, tmp_path, test_file):
    suite = (HERE / test_file).read_text(encoding="utf-8")
    done = _run_guile(native_scheme.path, _program(suite), tmp_path, test_file)
    out = done.stdout
    assert done.returncode == 0, f"guile exited {done.returncode}\n{out[-2000:]}\n{done.stderr[-2000:]}"
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
    summary = re.findall(r"^PASS (\d+)/(\d+)$", out, re.MULTILINE)
    assert len(summary) == 1, f"no PASS line in the output:\n{out[-2000:]}"
    passed, total = map(int, summary[0])
    oks = [line for line in out.splitlines() if line.startswith("ok ")]
    assert total > 0 and passed == total == len(oks)


@pytest.mark.parametrize(
    "expression, message",
    [
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
    ],
)
def test_misuse_is_a_scheme_error_with_a_clear_message(native_scheme, tmp_path, expression, message):
    done = _run_guile(native_scheme.path, _program(f"(write {expression})"), tmp_path)
    assert done.returncode != 0, f"expected an error, got: {done.stdout}"
    assert message in done.stderr, done.stderr[-2000:]
