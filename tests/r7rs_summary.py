"""The R7RS conformance suite's per-section pass counts, printed at the end of a
pytest run (also when `pytest -n` runs the cases in worker processes: the plugin
lives in the controlling process, which sees every worker's reports)."""

from collections import Counter


def _section_order(section):
    try:
        return tuple(int(part) for part in section.split("."))
    except ValueError:
        return (1 << 30, section)


class Summary:
    """A plugin counting the outcomes of test_r7rs.py's cases per section."""

    def __init__(self):
        self.counts = {}

    def pytest_runtest_logreport(self, report):
        if "test_r7rs.py::test_r7rs[" not in report.nodeid:
            return
        key = report.nodeid.split("[", 1)[1].rstrip("]")
        c = self.counts.setdefault(key.split(":", 1)[0], Counter())
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                c["xfail" if report.skipped else "xpass"] += 1
            elif report.passed:
                c["passed"] += 1
            else:
                c["failed"] += 1
        elif report.when == "setup" and (report.skipped or report.failed):
            c["skipped" if report.skipped else "failed"] += 1

    def pytest_terminal_summary(self, terminalreporter):
        if not any(sum(c.values()) for c in self.counts.values()):
            return
        terminalreporter.section("R7RS-small conformance (passed / cases, per section)")
        for line in format_counts(self.counts):
            terminalreporter.write_line(line)


def format_counts(counts):
    """Lines `section passed / cases extra`, sections in numeric order, then `all`."""
    lines = []
    total = Counter()
    for section in sorted(counts, key=_section_order):
        c = counts[section]
        n = sum(c.values())
        if not n:
            continue
        total.update(c)
        extra = ", ".join(f"{c[k]} {k}" for k in ("xfail", "failed", "xpass", "skipped") if c[k])
        lines.append(f"  {section:>5}  {c['passed']:4d} / {n:<4d} {extra}")
    n = sum(total.values())
    extra = ", ".join(f"{total[k]} {k}" for k in ("xfail", "failed", "xpass", "skipped") if total[k])
    lines.append(f"  {'all':>5}  {total['passed']:4d} / {n:<4d} {extra}")
    return lines
