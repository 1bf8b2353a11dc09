"""Start-up of `flowscheme run` / `eval`: a plain command line runs without importing
click (or Lark), and gives exactly the output, error report and exit status that the
click command gives for the same arguments; anything else still goes through click."""

import os
import subprocess
import sys

import pytest

from clihelp import ROOT

# `main()` as the console script calls it (plain commands skip click) ...
DIRECT = "from interp.cli import main; main()"
# ... and the click group itself, for the same arguments (the reference)
THROUGH_CLICK = "from interp.cli import main; main.main()"
REPORT_MODULES = (
    "import atexit, sys\n"
    "atexit.register(lambda: print(sorted(m for m in ('click', 'lark', 'prompt_toolkit', 'msgpack', 'flow')"
    " if m in sys.modules), file=sys.stderr))\n"
)


def run(code, args, tmp_path, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        input=stdin,
    )


def same_both_ways(args, tmp_path):
    a = run(DIRECT, args, tmp_path)
    b = run(THROUGH_CLICK, args, tmp_path)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args
    return a


@pytest.fixture
def progs(tmp_path):
    files = {
        "ok.scm": '(display "hello")(newline)(write (cdr (command-line)))(newline)',
        "bad.scm": '(display "partial")(newline)\n(define (f x) (car x))\n(f 5)\n',
        "exit.scm": "(display 1)(exit 3)",
        "syntax.scm": "(display (+ 1 2)",
        "ansi.scm": '(display "\\x1b;[31mred\\x1b;[0m \u00e9")(newline)(error "\\x1b;[1mbold" 1)',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "adir").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["run", "ok.scm"],
        ["run", "ok.scm", "a", "b c"],
        ["run", "bad.scm"],
        ["--debug", "run", "bad.scm"],
        ["run", "exit.scm"],
        ["run", "syntax.scm"],
        ["run", "ansi.scm"],
        ["run", "missing.scm"],
        ["run", "adir"],
        ["run"],
        ["run", "ok.scm", "--flag"],
        ["run", "--", "ok.scm"],
        ["eval", "(+ 1 2)"],
        ["eval", "(values 1 2)"],
        ["eval", "(if #f #f)"],
        ["eval", '"\u00e9t\u00e9"'],
        ["eval", "(string->symbol \"\\x1b;[31mx\")"],
        ["eval", "(car 1)"],
        ["--debug", "eval", "(car 1)"],
        ["eval", "(exit 4)"],
        ["eval", "(+ 1"],
        ["eval"],
        ["eval", "1", "2"],
        ["eval", "-1"],
        ["nosuchcommand"],
        [],
    ],
)
def test_plain_and_click_command_lines_behave_the_same(args, progs):
    same_both_ways(args, progs)


def test_a_plain_run_imports_neither_click_nor_lark_nor_the_flow_layer(progs):
    r = run(REPORT_MODULES + DIRECT, ["run", "ok.scm"], progs)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n()\n"
    assert r.stderr.strip() == "[]"
    r = run(REPORT_MODULES + DIRECT, ["eval", "(* 6 7)"], progs)
    assert (r.returncode, r.stdout, r.stderr.strip()) == (0, "42\n", "[]")


def test_options_still_go_through_click(progs):
    r = run(REPORT_MODULES + DIRECT, ["run", "--help"], progs)
    assert r.returncode == 0 and "Usage:" in r.stdout
    assert "'click'" in r.stderr


def test_a_closed_pipe_gives_141_both_ways(progs):
    (progs / "loop.scm").write_text("(let loop ((i 0)) (write i) (newline) (loop (+ i 1)))")
    for code in (DIRECT, THROUGH_CLICK):
        p = subprocess.Popen(
            [sys.executable, "-c", code, "run", "loop.scm"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=progs,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        assert p.stdout.readline() == b"0\n"
        p.stdout.close()
        _, err = p.communicate(timeout=120)
        assert p.returncode == 141, err
        assert b"Traceback" not in err


def test_the_module_entry_point_takes_the_plain_path_too(progs):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-m", "interp.cli", "eval", "(list 1 \"a\")"],
        capture_output=True, text=True, cwd=progs, env=env, timeout=120,
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, '(1 "a")\n', "")


def test_main_is_still_the_click_group_for_the_runner(progs):
    from click.testing import CliRunner

    from interp.cli import main

    r = CliRunner().invoke(main, ["eval", "(+ 40 2)"], catch_exceptions=False)
    assert (r.exit_code, r.stdout) == (0, "42\n")
    assert "run" in main.list_commands(None) and "flows" in main.list_commands(None)
