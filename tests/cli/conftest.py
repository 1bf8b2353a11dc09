"""Fixtures for the command-line tests: `cli` runs flowscheme in-process (click's
runner: fast, and stdin is not a terminal, so the REPL is in plain mode)."""

import pytest
from click.testing import CliRunner

from clihelp import ROOT, SHOP_FLOW


@pytest.fixture
def cli():
    """cli(*args, input=None) -> click Result (exit_code, stdout, stderr, output)."""
    from interp.cli import main

    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def shop_scm(tmp_path):
    p = tmp_path / "shop.scm"
    p.write_text(SHOP_FLOW)
    return p


@pytest.fixture
def order_scm():
    return ROOT / "schemes" / "order.scm"
