"""Fixtures and plugins of the interpreter tests: the R7RS suite's per-section summary."""

from r7rs_summary import Summary


def pytest_configure(config):
    if not config.pluginmanager.has_plugin("r7rs-summary"):
        config.pluginmanager.register(Summary(), "r7rs-summary")
