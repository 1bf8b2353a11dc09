"""Runs the miniKanren and pricing Scheme tests under GNU Guile 3.0.

schemes/kanren.scm and schemes/pricing.scm are portable R7RS; their self-checking
test files (tests/commerce/*_test.scm) are run here on the reference Scheme, each
concatenated after the two sources, so the Scheme is known good independently of
flowscheme's interpreter. Skipped, with the reason, when Guile 3 is unavailable.
"""

import subprocess
from pathlib import Path

import pytest
from schemesuite import MISUSE_CASES, assert_suite_passed

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
    assert_suite_passed(out)


@pytest.mark.parametrize("expression, message", MISUSE_CASES)
def test_misuse_is_a_scheme_error_with_a_clear_message(native_scheme, tmp_path, expression, message):
    done = _run_guile(native_scheme.path, _program(f"(write {expression})"), tmp_path)
    assert done.returncode != 0, f"expected an error, got: {done.stdout}"
    assert message in done.stderr, done.stderr[-2000:]
