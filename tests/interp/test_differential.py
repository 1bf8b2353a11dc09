"""Differential tests: flowscheme must print exactly what GNU Guile 3.0 prints.

Every program in tests/interp/corpus/<area>/<name>.scm is one test. It runs on
Guile in a subprocess (with corpus/guile-prelude.scm loaded first) and on
flowscheme in-process; the two outputs must be identical. An uncaught Scheme
error on either side ends that side's output with ERROR_MARKER: only the fact
of the error is compared, never its message text (which is shown on failure).

Guile's outputs are cached under the system temp dir, keyed by the program, the
prelude, the Guile version and the command line, so a second run costs only the
flowscheme side. Programs listed in corpus/KNOWN_DIFFERENCES.md are expected
to differ (xfail, strict: they fail loudly once they start to agree).

A hypothesis test adds random arithmetic/list/comparison expressions, all
evaluated by a single Guile process per run.
"""

import contextlib
import difflib
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parent / "corpus"
PRELUDE = CORPUS / "guile-prelude.scm"
KNOWN_DIFFERENCES = CORPUS / "KNOWN_DIFFERENCES.md"
PROGRAMS = sorted(CORPUS.glob("*/*.scm"))

GUILE_ARGS = ("--r7rs", "--no-auto-compile", "-q", "-l", str(PRELUDE))
GUILE_ENV = {"LC_ALL": "C.UTF-8", "GUILE_AUTO_COMPILE": "0", "GUILE_WARN_DEPRECATED": "no"}
GUILE_TIMEOUT = 120  # seconds per Guile process (generous: the machine may be loaded)
FLOWSCHEME_TIMEOUT = 60  # seconds per corpus program in-process
CACHE_DIR = Path(tempfile.gettempdir()) / "flowscheme-guile-cache"
CACHE_FORMAT = "1"  # bump when the cached record or its meaning changes

ERROR_MARKER = "\n<<uncaught Scheme error>>\n"
EXPECTED_TO_ERROR = re.compile(r"^uncaught-")  # corpus programs that end in an error on purpose
HYPOTHESIS_EXAMPLES = 200


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """What one Scheme printed, and the uncaught error that ended it (if any)."""

    stdout: str
    error: str | None = None

    def comparable(self):
        return self.stdout + (ERROR_MARKER if self.error is not None else "")


class OutputMismatch(AssertionError):
    """flowscheme printed something other than what Guile printed."""


def _rel(path):
    return path.relative_to(CORPUS).as_posix()


def assert_same(program_name, guile, flow):
    expected, actual = guile.comparable(), flow.comparable()
    if expected == actual:
        return
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"guile: {program_name}",
            tofile=f"flowscheme: {program_name}",
        )
    )
    notes = []
    if guile.error is not None:
        notes.append(f"guile error: {guile.error}")
    if flow.error is not None:
        notes.append(f"flowscheme error: {flow.error}")
    raise OutputMismatch("outputs differ\n" + diff + "".join(f"\n{n}" for n in notes))


# ---------------------------------------------------------------- known differences


def _known_differences():
    """{'area/name.scm': reason} from the bullet list in KNOWN_DIFFERENCES.md.

    An entry is a line `- `area/name.scm` — reason`, continued on indented lines."""
    entries, current = {}, None
    for line in KNOWN_DIFFERENCES.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^- `([^`]+\.scm)`\s*(?:—|--|-|:)?\s*(.*)$", line)
        if m:
            current = m.group(1)
            entries[current] = m.group(2).strip()
        elif current and line.startswith("  ") and line.strip():
            entries[current] += " " + line.strip()
        else:
            current = None
    return entries


KNOWN = _known_differences()


def _params():
    for path in PROGRAMS:
        name = _rel(path)
        marks = []
        if name in KNOWN:
            marks.append(
                pytest.mark.xfail(reason=f"known difference: {KNOWN[name]}", strict=True, raises=OutputMismatch)
            )
        yield pytest.param(path, id=name[: -len(".scm")], marks=marks)


# ---------------------------------------------------------------- guile side


def guile_command(guile_path, program):
    return [guile_path, *GUILE_ARGS, "-s", str(program)]


def _guile_env():
    return {**os.environ, **GUILE_ENV}


def _guile_error_text(stderr, returncode):
    lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith("WARNING:")]
    return " | ".join(lines[-4:]) or f"guile exited with status {returncode}"


def run_guile(guile_path, program):
    """Run one file on Guile (uncached); Outcome, or pytest.fail on a timeout."""
    try:
        done = subprocess.run(
            guile_command(guile_path, program),
            capture_output=True,
            timeout=GUILE_TIMEOUT,
            env=_guile_env(),
            cwd=program.parent,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"guile took more than {GUILE_TIMEOUT}s on {program}")
    stdout = done.stdout.decode("utf-8", errors="replace")
    stderr = done.stderr.decode("utf-8", errors="replace")
    error = None if done.returncode == 0 else _guile_error_text(stderr, done.returncode)
    return Outcome(stdout, error)


def _cache_key(native, program):
    h = hashlib.sha256()
    for part in (CACHE_FORMAT, native.version, " ".join(GUILE_ARGS[:-1]), json.dumps(GUILE_ENV, sort_keys=True)):
        h.update(part.encode() + b"\0")
    h.update(PRELUDE.read_bytes() + b"\0")
    h.update(program.read_bytes())
    return h.hexdigest()


def guile_outcome(native, program):
    """Guile's Outcome for a corpus file, from the cache when possible."""
    entry = CACHE_DIR / f"{_cache_key(native, program)}.json"
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        return Outcome(data["stdout"], data["error"])
    except (OSError, ValueError, KeyError):
        pass
    outcome = run_guile(native.path, program)
    record = {"program": _rel(program), "stdout": outcome.stdout, "error": outcome.error}
    tmp = entry.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, entry)  # atomic: parallel sessions never see half a record
    except OSError:
        pass  # an unwritable cache only costs speed
    return outcome


@pytest.fixture(scope="session")
def guile_outputs(native_scheme):
    """Guile's Outcome for every corpus program (missing cache entries run in parallel)."""
    workers = min(8, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(lambda p: guile_outcome(native_scheme, p), PROGRAMS))
    return dict(zip(PROGRAMS, outcomes))


# ---------------------------------------------------------------- flowscheme side


class ProgramTimeout(BaseException):
    """Raised by the alarm; a BaseException so the evaluator cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds):
    """Interrupt the block after `seconds` (POSIX main thread only; else no limit)."""
    try:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    except (AttributeError, ValueError):  # no SIGALRM, or not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _on_alarm(signum, frame):
    raise ProgramTimeout()


def run_flowscheme(program):
    """Run one file on flowscheme in-process; its Outcome."""
    from interp import Interpreter
    from interp.errors import SchemeError

    buf = io.StringIO()
    try:
        with time_limit(FLOWSCHEME_TIMEOUT):
            Interpreter(stdout=buf).eval_file(str(program))
    except SchemeError as exc:
        return Outcome(buf.getvalue(), str(exc) or type(exc).__name__)
    except ProgramTimeout:
        pytest.fail(
            f"flowscheme ran {_rel(program)} for more than {FLOWSCHEME_TIMEOUT}s; output so far:\n"
            + buf.getvalue()[-2000:]
        )
    return Outcome(buf.getvalue(), None)


# ---------------------------------------------------------------- the corpus tests


def test_corpus_inventory():
    """The corpus is where the harness looks, and every known difference names a real program."""
    assert len(PROGRAMS) >= 170, f"only {len(PROGRAMS)} corpus programs found under {CORPUS}"
    names = {_rel(p) for p in PROGRAMS}
    stale = sorted(set(KNOWN) - names)
    assert not stale, f"KNOWN_DIFFERENCES.md lists programs that do not exist: {stale}"
    assert all(reason for reason in KNOWN.values()), "every known difference needs a reason"


@pytest.mark.parametrize("program", list(_params()))
def test_program_matches_guile(program, guile_outputs):
    name = _rel(program)
    guile = guile_outputs[program]
    if guile.error is not None and not EXPECTED_TO_ERROR.match(program.name) and name not in KNOWN:
        pytest.fail(
            f"guile itself fails on {name} (corpus programs must run on Guile unchanged): {guile.error}"
        )
    assert_same(name, guile, run_flowscheme(program))


# ---------------------------------------------------------------- random expressions

# Typed generators of Scheme source text. Every expression is well-typed and total:
# divisors are guarded against zero and car/cdr against the empty list, so neither
# Scheme may raise an error; integers only (printed identically by both).

_SMALL_INT = st.integers(min_value=-50, max_value=50).map(str)
_BIG_INT = st.integers(min_value=-(10**25), max_value=10**25).map(str)


def _call(op, *args):
    return f"({op} {' '.join(args)})"


@lru_cache(maxsize=None)
def int_exprs(depth):
    leaf = st.one_of(_SMALL_INT, _SMALL_INT, _BIG_INT)
    if depth == 0:
        return leaf
    i, l, b = int_exprs(depth - 1), list_exprs(depth - 1), bool_exprs(depth - 1)
    variadic = st.tuples(st.sampled_from(["+", "-", "*", "max", "min"]), st.lists(i, min_size=1, max_size=3))
    return st.one_of(
        leaf,
        variadic.map(lambda t: _call(t[0], *t[1])),
        i.map(lambda a: _call("abs", a)),
        st.tuples(st.sampled_from(["quotient", "remainder", "modulo"]), i, i).map(
            lambda t: f"({t[0]} {t[1]} (let ((d {t[2]})) (if (= d 0) 7 d)))"
        ),
        l.map(lambda x: _call("length", x)),
        l.map(lambda x: f"(let ((p {x})) (if (pair? p) (car p) -1))"),
        st.tuples(b, i, i).map(lambda t: _call("if", *t)),
    )


@lru_cache(maxsize=None)
def list_exprs(depth):
    leaf = st.one_of(
        st.just("'()"),
        st.lists(_SMALL_INT, min_size=1, max_size=4).map(lambda xs: "'(" + " ".join(xs) + ")"),
    )
    if depth == 0:
        return leaf
    i, l, b = int_exprs(depth - 1), list_exprs(depth - 1), bool_exprs(depth - 1)
    return st.one_of(
        leaf,
        st.lists(i, max_size=3).map(lambda xs: _call("list", *xs) if xs else "(list)"),
        st.tuples(i, l).map(lambda t: _call("cons", *t)),
        l.map(lambda x: f"(let ((p {x})) (if (pair? p) (cdr p) '()))"),
        st.lists(l, max_size=3).map(lambda xs: _call("append", *xs) if xs else "(append)"),
        l.map(lambda x: _call("reverse", x)),
        st.tuples(b, l, l).map(lambda t: _call("if", *t)),
    )


@lru_cache(maxsize=None)
def bool_exprs(depth):
    leaf = st.sampled_from(["#t", "#f"])
    if depth == 0:
        return leaf
    i, l, b = int_exprs(depth - 1), list_exprs(depth - 1), bool_exprs(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["<", ">", "=", "<=", ">="]), st.lists(i, min_size=1, max_size=3)).map(
            lambda t: _call(t[0], *t[1])
        ),
        st.tuples(st.sampled_from(["null?", "pair?"]), l).map(lambda t: _call(*t)),
        st.tuples(l, l).map(lambda t: _call("equal?", *t)),
        b.map(lambda x: _call("not", x)),
        st.tuples(b, b, b).map(lambda t: _call("if", *t)),
    )


RANDOM_EXPRESSIONS = st.one_of(int_exprs(4), list_exprs(4), bool_exprs(3))
_RANDOM_ERROR = "<<error>>"


def _guile_batch(native, exprs):
    """One Guile process writes every expression's value on its own line."""
    program = "".join(
        f"(write (guard (e (#t '{_RANDOM_ERROR})) {e}))\n(newline)\n" for e in exprs
    )
    with tempfile.NamedTemporaryFile("w", suffix=".scm", encoding="utf-8", delete=False) as f:
        f.write(program)
    try:
        outcome = run_guile(native.path, Path(f.name))
    finally:
        os.unlink(f.name)
    assert outcome.error is None, f"guile failed on the random batch: {outcome.error}"
    lines = outcome.stdout.splitlines()
    assert len(lines) == len(exprs), "guile printed a different number of results than expressions"
    assert _RANDOM_ERROR not in lines, (
        "the expression generator made an expression Guile rejects: "
        + exprs[lines.index(_RANDOM_ERROR)]
    )
    return lines


def _flowscheme_each(exprs):
    from interp import Interpreter
    from interp.errors import SchemeError

    buf = io.StringIO()
    scheme = Interpreter(stdout=buf)
    results = []
    for e in exprs:
        start = len(buf.getvalue())
        try:
            with time_limit(FLOWSCHEME_TIMEOUT):
                scheme.eval(f"(write {e})")
            results.append(buf.getvalue()[start:])
        except SchemeError as exc:
            results.append(f"{_RANDOM_ERROR} {exc}")
    return results


def test_random_expressions_match_guile(native_scheme):
    exprs = []

    @settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # collect only; the comparison is batched below
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(RANDOM_EXPRESSIONS)
    def collect(expr):
        exprs.append(expr)

    collect()
    exprs = list(dict.fromkeys(exprs))  # hypothesis may repeat small examples
    expected = _guile_batch(native_scheme, exprs)
    actual = _flowscheme_each(exprs)
    mismatches = sorted(
        ((e, want, got) for e, want, got in zip(exprs, expected, actual) if want != got),
        key=lambda m: len(m[0]),
    )
    if mismatches:
        shown = "\n".join(f"  {e}\n    guile:      {w}\n    flowscheme: {g}" for e, w, g in mismatches[:10])
        raise OutputMismatch(
            f"{len(mismatches)} of {len(exprs)} random expressions differ (shortest first):\n{shown}"
        )
