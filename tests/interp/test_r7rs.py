"""The project's own R7RS-small conformance suite: one pytest case per test form.

Each file tests/interp/r7rs/<section>-<topic>.scm holds the cases of one section
of the R7RS-small report ("6.2-numbers.scm" is section 6.2). A file is a sequence
of top-level forms:

    (test "name" expected form ...)       the forms run as a top-level program in a
                                          fresh interpreter; the last one's value must
                                          be equal? to the value of `expected`
    (test-approx "name" expected form ...)  the same for numbers: same exactness,
                                          within 1e-9 (relative) of `expected`
    (test-error "name" form ...)          running the forms must raise a Scheme error
                                          (a SchemeError: error, raise, syntax error),
                                          and not an "unbound variable" one unless the
                                          case's name says "unbound" (so that a missing
                                          procedure cannot make an error case pass)
    (test-output "name" "text" form ...)  what the forms write to the current output
                                          port must be exactly "text"
    (test-exit "name" code "text" form ...)  the forms must call (exit ...) with the
                                          host exit code `code`, having written "text"
    any other form                        the section's prelude: it runs (in order)
                                          before every case of the file

Names are unique within a file and contain no whitespace; a case's pytest id is
"section:name". Every case runs in an interpreter in the state of a fresh one
(see Session; R7RS_FRESH=1 makes a new Interpreter per case), in a worker
thread, and fails if it takes more than TIMEOUT seconds (the run is then stopped
through the machine's CHECK hook). The files are split into forms by a small
scanner here, not by the project's reader, so that a datum the reader cannot read
yet costs the one case that holds it, never the whole file; each case's text is
read by the project's reader when it runs, at its original line and column, so
errors point into the .scm file.

Cases known to fail today are listed in r7rs/known_failures.txt as
"section:name  reason" lines and marked xfail(strict=True): when a feature lands,
its cases XPASS, which fails, and the table must be updated.

The end of a pytest run prints the passed/total counts per section;
`python tests/interp/test_r7rs.py [id-substring ...]` runs the cases without
pytest, prints each unexpected failure and the same counts.
"""

import io
import os
import sys
import threading
import time
from collections import Counter, OrderedDict, namedtuple
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from interp import Interpreter, write_string  # noqa: E402
from r7rs_summary import format_counts  # noqa: E402
from interp import machine  # noqa: E402
from interp.errors import SchemeError  # noqa: E402
from interp.primitives.io import SchemeExit  # noqa: E402

SUITE = HERE / "r7rs"
KNOWN_FAILURES = SUITE / "known_failures.txt"
TIMEOUT = 30.0  # seconds per case: a hang detector (a case takes well under 1 s; a late run of a full suite on a loaded machine, several)
TOLERANCE = 1e-9  # relative, for test-approx

KINDS = {  # head -> number of fixed operands after the name
    "test": 1,
    "test-approx": 1,
    "test-error": 0,
    "test-output": 1,
    "test-exit": 2,
}

Case = namedtuple("Case", "section name kind path line operands body")
Snippet = namedtuple("Snippet", "text start")  # source text and its offset in the file


class SuiteFormatError(Exception):
    """A malformed .scm suite file (a bug in the suite, not in the interpreter)."""


# ------------------------------------------------------------------ the scanner

_DELIMITERS = frozenset(" \t\n\r\f\v()\";|[]")


class _Scanner:
    """Finds where datums begin and end in Scheme text, without building them."""

    def __init__(self, text, path):
        self.text = text
        self.path = path

    def fail(self, i, message):
        line = self.text.count("\n", 0, i) + 1
        raise SuiteFormatError(f"{self.path}:{line}: {message}")

    def skip_atmosphere(self, i):
        """Index of the next datum (or closing parenthesis, or the end) from i."""
        t = self.text
        n = len(t)
        while i < n:
            c = t[i]
            if c.isspace():
                i += 1
            elif c == ";":
                j = t.find("\n", i)
                i = n if j < 0 else j + 1
            elif t.startswith("#|", i):
                depth, i = 1, i + 2
                while depth:
                    if i >= n:
                        self.fail(i, "unterminated block comment")
                    if t.startswith("|#", i):
                        depth, i = depth - 1, i + 2
                    elif t.startswith("#|", i):
                        depth, i = depth + 1, i + 2
                    else:
                        i += 1
            elif t.startswith("#;", i):
                i = self.datum_end(self.skip_atmosphere(i + 2))
            else:
                break
        return i

    def datum_end(self, i):
        """The index just past the datum that begins at i."""
        t = self.text
        n = len(t)
        if i >= n:
            self.fail(i, "a datum expected, found the end of the file")
        c = t[i]
        if c in "'`":
            return self.datum_end(self.skip_atmosphere(i + 1))
        if c == ",":
            i += 2 if t.startswith(",@", i) else 1
            return self.datum_end(self.skip_atmosphere(i))
        if c in "([":
            return self.list_end(i + 1)
        if c in ")]":
            self.fail(i, "unexpected closing parenthesis")
        if c == '"' or c == "|":
            j = i + 1
            while j < n and t[j] != c:
                j += 2 if t[j] == "\\" else 1
            if j >= n:
                self.fail(i, "unterminated string or |symbol|")
            return j + 1
        if c == "#":
            if t.startswith("#(", i):
                return self.list_end(i + 2)
            if t.startswith("#u8(", i) or t.startswith("#U8(", i):
                return self.list_end(i + 4)
            if t.startswith("#\\", i):
                j = i + 3  # the character after #\ belongs to it, whatever it is
                while j < n and t[j] not in _DELIMITERS:
                    j += 1
                return j
            j = i + 1
            while j < n and t[j].isdigit():
                j += 1
            if j > i + 1 and j < n and t[j] == "=":  # #0= datum label
                return self.datum_end(self.skip_atmosphere(j + 1))
        j = i
        while j < n and t[j] not in _DELIMITERS:
            j += 1
        if j == i:
            self.fail(i, f"unexpected character {t[i]!r}")
        return j

    def list_end(self, i):
        t = self.text
        while True:
            i = self.skip_atmosphere(i)
            if i >= len(t):
                self.fail(i, "unterminated list")
            if t[i] in ")]":
                return i + 1
            i = self.datum_end(i)

    def elements(self, start, end):
        """Snippets of the datums of the list text[start:end]."""
        out = []
        i = start + 1
        while True:
            i = self.skip_atmosphere(i)
            if i >= end - 1:
                return out
            j = self.datum_end(i)
            out.append(Snippet(self.text[i:j], i))
            i = j

    def toplevel(self):
        """Snippets of the file's top-level datums."""
        out = []
        i = 0
        while True:
            i = self.skip_atmosphere(i)
            if i >= len(self.text):
                return out
            j = self.datum_end(i)
            out.append(Snippet(self.text[i:j], i))
            i = j


# ------------------------------------------------------------------ loading the suite


def section_of(path):
    """"6.2" for r7rs/6.2-numbers.scm."""
    return path.name.split("-", 1)[0]


def _string_literal(snippet):
    s = snippet.text
    if len(s) < 2 or s[0] != '"' or s[-1] != '"' or "\\" in s:
        return None
    return s[1:-1]


def load_section(path):
    """(prelude snippets, cases) of one suite file."""
    text = path.read_text(encoding="utf-8")
    scanner = _Scanner(text, path)
    section = section_of(path)
    prelude, cases, seen = [], [], set()
    for form in scanner.toplevel():
        line = text.count("\n", 0, form.start) + 1
        parts = scanner.elements(form.start, form.start + len(form.text)) if form.text[0] == "(" else []
        head = parts[0].text if parts else None
        if head not in KINDS:
            prelude.append(form)
            continue
        fixed = KINDS[head]
        if len(parts) < 3 + fixed:
            raise SuiteFormatError(f"{path}:{line}: ({head} \"name\" ...) needs {fixed} operand(s) and a form")
        name = _string_literal(parts[1])
        if not name or any(c.isspace() for c in name):
            raise SuiteFormatError(f"{path}:{line}: a case name is a plain string without whitespace")
        if name in seen:
            raise SuiteFormatError(f"{path}:{line}: duplicate case name {name!r}")
        seen.add(name)
        operands = parts[2 : 2 + fixed]
        body = parts[2 + fixed :]
        whole_body = Snippet(text[body[0].start : body[-1].start + len(body[-1].text)], body[0].start)
        cases.append(Case(section, name, head, path, line, operands, whole_body))
    return prelude, cases


def _section_key(path):
    return tuple(int(p) for p in section_of(path).split("."))


def suite_files():
    return sorted(SUITE.glob("*.scm"), key=_section_key)


def load_suite():
    """OrderedDict section -> (prelude, cases)."""
    suite = OrderedDict()
    for path in suite_files():
        suite[section_of(path)] = load_section(path)
    return suite


def load_known_failures():
    """{"section:name": reason} from known_failures.txt."""
    table = {}
    if not KNOWN_FAILURES.exists():
        return table
    for n, raw in enumerate(KNOWN_FAILURES.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, reason = line.partition(" ") if " " in line else line.partition("\t")
        reason = reason.strip()
        if not reason:
            raise SuiteFormatError(f"{KNOWN_FAILURES}:{n}: a known failure needs a reason")
        if key in table:
            raise SuiteFormatError(f"{KNOWN_FAILURES}:{n}: {key} listed twice")
        table[key] = reason
    return table


# ------------------------------------------------------------------ running one case


class CaseFailure(Exception):
    """The case ran and did not do what it should."""


def _positioned(text, snippet):
    """snippet's text preceded by padding that puts it at its line and column."""
    before = text[: snippet.start]
    line = before.count("\n")
    col = snippet.start - (before.rfind("\n") + 1)
    return "\n" * line + " " * col + snippet.text


def _show(value):
    try:
        return write_string(value)
    except BaseException as e:  # noqa: BLE001 - the printer itself may be broken
        return f"<unprintable {type(value).__name__}: {e!r}>"


def _numeric_close(it, expected, actual):
    inexact = it.lookup("inexact?")
    if it.call(inexact, expected) is not it.call(inexact, actual):
        return False
    try:
        e, a = complex(expected), complex(actual)
    except (TypeError, ValueError):
        mag = it.lookup("magnitude")
        sub = it.lookup("-")
        diff = float(it.call(mag, it.call(sub, expected, actual)))
        scale = max(1.0, float(it.call(mag, expected)))
        return diff <= TOLERANCE * scale
    if e != e or a != a:
        return False
    return abs(e - a) <= TOLERANCE * max(1.0, abs(e))


class Session:
    """An interpreter that runs cases one after another, put back between them to
    the state it had when made (global cells and their values, macros, parameter
    values, and every dict, set and list attribute of the Interpreter and of its
    global environment), so that a case sees what a fresh interpreter would show
    it, at a fraction of the cost of making one. A session that ran a case that
    failed is thrown away (the next case gets a new one), and R7RS_FRESH=1 in the
    environment makes every case use a new one."""

    def __init__(self):
        self.out = io.StringIO()
        self.it = Interpreter(stdout=self.out)
        self.equal = self.it.lookup("equal?")
        self.saved = self._save()

    @staticmethod
    def _contents(v):
        """A copy of the contents of a dict, set or list (None for anything else)."""
        t = type(v)
        if t is dict or t is set or t is list:
            return t(v)
        return None

    @staticmethod
    def _restore_contents(obj, contents):
        """Put contents back into the dict, set or list obj, keeping its identity
        (other objects may hold it)."""
        obj.clear()
        if type(obj) is list:
            obj.extend(contents)
        else:
            obj.update(contents)

    def _save(self):
        it, g = self.it, self.it.genv
        cells = [(s, c, getattr(c, "value", _UNBOUND)) for s, c in g.cells.items()]
        params = [(v, v.value) for _, _, v in cells if type(v) is machine.Parameter]
        attrs = [
            (obj, {k: (v, self._contents(v)) for k, v in vars(obj).items() if k != "cells"})
            for obj in (it, g)
        ]
        return dict(g.cells), cells, params, attrs

    def reset(self):
        table, cells, params, attrs = self.saved
        for _, c, v in cells:
            if v is _UNBOUND:
                if hasattr(c, "value"):
                    del c.value
            else:
                c.value = v
        self._restore_contents(self.it.genv.cells, table)
        for p, v in params:
            p.value = v
        for obj, values in attrs:
            for k in [k for k in vars(obj) if k != "cells" and k not in values]:
                delattr(obj, k)
            for k, (v, contents) in values.items():
                setattr(obj, k, v)
                if contents is not None:
                    self._restore_contents(v, contents)
        self.out.seek(0)
        self.out.truncate()


_UNBOUND = object()
_UNBOUND_MESSAGE = "unbound variable"
_session = [None]
_FRESH = os.environ.get("R7RS_FRESH") == "1"


def _take_session():
    s = _session[0]
    _session[0] = None
    if s is None or _FRESH:
        return Session()
    s.reset()
    return s


def execute(case, prelude, text):
    """Run one case; return None when it passes, else raise CaseFailure (or let an
    unexpected Python exception out: that is an interpreter bug too). The session
    is given back for the next case only when the case passes."""
    session = _take_session()
    _run_in(session, case, prelude, text)
    _session[0] = session


def _run_in(session, case, prelude, text):
    filename = str(case.path)
    it, out, equal = session.it, session.out, session.equal
    for form in prelude:
        it.eval(_positioned(text, form), filename)
    operands = [it.eval(_positioned(text, op), filename) for op in case.operands]
    body = _positioned(text, case.body)

    if case.kind == "test-error":
        try:
            value = it.eval(body, filename)
        except SchemeError as e:
            if _UNBOUND_MESSAGE in e.message and "unbound" not in case.name:
                # a missing procedure must not make an error case pass
                raise CaseFailure(f"the error was only: {e.message}") from None
            return None
        raise CaseFailure(f"expected an error, got the value {_show(value)}")

    if case.kind == "test-exit":
        code, expected_out = operands
        try:
            value = it.eval(body, filename)
        except SchemeExit as e:
            if e.code != code or out.getvalue() != expected_out:
                raise CaseFailure(
                    f"exit code {e.code!r} (expected {code!r}), output {out.getvalue()!r} (expected {expected_out!r})"
                ) from None
            return None
        raise CaseFailure(f"expected (exit {code}), got the value {_show(value)}")

    value = it.eval(body, filename)
    if case.kind == "test-output":
        (expected_out,) = operands
        if out.getvalue() != expected_out:
            raise CaseFailure(f"output {out.getvalue()!r}, expected {expected_out!r}")
        return None
    (expected,) = operands
    if case.kind == "test":
        ok = it.call(equal, expected, value) is not False
    else:
        ok = _numeric_close(it, expected, value)
    if not ok:
        raise CaseFailure(f"got {_show(value)}, expected {_show(expected)}")
    return None


class _Stop:
    """The CHECK hook of a case's runs: stop the run once the case has timed out."""

    def __init__(self):
        self.stop = False

    def __call__(self):
        if self.stop:
            return "r7rs case timed out"
        return machine.PREEMPT if machine.turn_wanted() else None


_straggler = [None]  # a worker thread that outlived its case


def run_case(case, prelude, text):
    """Run execute() in a worker thread with the TIMEOUT guard; None if the case
    passed, else a one-paragraph description of how it failed."""
    old = _straggler[0]
    if old is not None and old.is_alive():
        old.join(max(TIMEOUT, 30.0))  # (interrupted: it stops at its next call, later on a loaded machine)
        if old.is_alive():
            return "not run: an earlier case is still running (a primitive that never returns?)"
    hook = _Stop()
    result = {}

    def work():
        saved = machine.CHECK[0]
        machine.CHECK[0] = hook
        try:
            execute(case, prelude, text)
            result["ok"] = True
        except CaseFailure as e:
            result["failure"] = str(e)
        except SchemeError as e:
            result["failure"] = f"Scheme error: {e.located_message()}"
        except SchemeExit as e:
            result["failure"] = f"unexpected (exit {e.code})"
        except machine.Interrupted as e:
            result["failure"] = f"stopped: {e.reason}"
        except BaseException as e:  # noqa: BLE001 - a Python exception leaking is a bug to report
            result["failure"] = f"Python exception leaked: {type(e).__name__}: {e}"
        finally:
            machine.CHECK[0] = saved

    worker = threading.Thread(target=work, name=f"r7rs {case.section}:{case.name}", daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    if worker.is_alive():
        hook.stop = True
        machine.interrupt()
        worker.join(1.0)
        _straggler[0] = worker if worker.is_alive() else None
        return f"timed out after {TIMEOUT:g} s"
    if result.get("ok"):
        return None
    return result.get("failure", "the worker thread died without a result")


# ------------------------------------------------------------------ pytest

_SUITE = load_suite()
_KNOWN = load_known_failures()
_TEXTS = {section: path.read_text(encoding="utf-8") for section, path in ((section_of(p), p) for p in suite_files())}


def _params():
    params = []
    for section, (prelude, cases) in _SUITE.items():
        for case in cases:
            key = f"{section}:{case.name}"
            marks = []
            if key in _KNOWN:
                marks.append(pytest.mark.xfail(strict=True, reason=_KNOWN[key]))
            params.append(pytest.param(case, id=key, marks=marks))
    return params


@pytest.mark.parametrize("case", _params())
def test_r7rs(case):
    prelude, _ = _SUITE[case.section]
    failure = run_case(case, prelude, _TEXTS[case.section])
    if failure is not None:
        pytest.fail(f"{case.path.name}:{case.line}: {case.kind} {case.name!r}: {failure}", pytrace=False)


def test_known_failures_name_existing_cases():
    keys = {f"{s}:{c.name}" for s, (_, cases) in _SUITE.items() for c in cases}
    unknown = sorted(set(_KNOWN) - keys)
    assert not unknown, f"known_failures.txt lists cases that do not exist: {unknown}"


def test_harness_reports_each_kind_of_failure(tmp_path, monkeypatch):
    """The harness itself: a wrong value, a missing error, an error that is only an
    unbound variable, wrong output, a Python-level timeout each fail their case
    (and only it); a form the reader rejects costs only its own case."""
    path = tmp_path / "9.9-selftest.scm"
    path.write_text(
        '(define (helper x) (* x 10))\n'
        '(test "right" 20 (helper 2))\n'
        '(test "wrong" 1 2)\n'
        '(test "exactness" 2 2.0)\n'
        '(test-approx "approx" 1.0 (+ 0.5 0.5000000000001))\n'
        '(test-error "no-error" 1)\n'
        '(test-error "only-missing" (no-such-procedure 1))\n'
        '(test-error "real-error" (car 1))\n'
        '(test-output "output" "hi" (display "hi"))\n'
        '(test-output "wrong-output" "hi" (display "ho"))\n'
        '(test "unreadable" 1 (car \'(1 . 2 3)))\n'
        '(test-exit "exit" 3 "x" (display "x") (exit 3))\n'
        '(test "loops" 1 (let loop () (loop)))\n'
        '(test "after-the-loop" 1 1)\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "TIMEOUT", 1.0)
    prelude, cases = load_section(path)
    text = path.read_text(encoding="utf-8")
    failed = {c.name for c in cases if run_case(c, prelude, text) is not None}
    assert failed == {"wrong", "exactness", "no-error", "only-missing", "wrong-output", "unreadable", "loops"}


def test_every_section_present():
    expected = {
        "4.1", "4.2", "4.3", "5", "6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "6.7",
        "6.8", "6.9", "6.10", "6.11", "6.12", "6.13", "6.14",
    }  # fmt: skip
    assert expected <= set(_SUITE), sorted(expected - set(_SUITE))


# ------------------------------------------------------------------ without pytest


def main(argv):
    """Run every case (or those whose id contains one of argv) and print the counts."""
    counts = OrderedDict()
    started = time.monotonic()
    for section, (prelude, cases) in _SUITE.items():
        c = counts.setdefault(section, Counter())
        for case in cases:
            key = f"{section}:{case.name}"
            if argv and not any(a in key for a in argv):
                continue
            failure = run_case(case, prelude, _TEXTS[section])
            if key in _KNOWN:
                c["xpass" if failure is None else "xfail"] += 1
                if failure is None:
                    print(f"XPASS {key}  (listed: {_KNOWN[key]})")
            elif failure is None:
                c["passed"] += 1
            else:
                c["failed"] += 1
                print(f"FAIL  {key}: {failure}")
    print("\n".join(format_counts(counts)))
    print(f"  {time.monotonic() - started:.1f} s")
    return 0 if not any(c["failed"] or c["xpass"] for c in counts.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
