"""`flowscheme repl`: a terminal session through a real pseudo-terminal, the same
session piped (plain, scriptable), durable flows across REPLs, meta-commands and
their errors."""

import os
import re

import pexpect
import pytest

from clihelp import ROOT, flowscheme_argv, run_process

SESSION = [
    "(define (double x)",
    "  (* 2 x))",
    "(double 21)",
    "(defflow checkout",
    "  (lambda (oid)",
    "    (let ((paid (request 'payment oid)))",
    "      (list 'shipped oid paid))))",
    '(flow/start-with-id "o-1" \'checkout "o-1")',
    ",flows",
    ",resume o-1 'visa-77",
    "(car 5)",
    "(double 5)",
    ",quit",
]


def _spawn(tmp_path, *args):
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", XDG_STATE_HOME=str(tmp_path / "state"),
               PYTHONPATH=str(ROOT))
    argv = flowscheme_argv("repl", *args)
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", dimensions=(40, 200), timeout=60,
                          cwd=str(tmp_path))
    return child


PROMPT_READY = "\x1b[?2004h"  # prompt_toolkit switches bracketed paste on as each prompt starts


def _type(child, line, more=False):
    """Type a line at a fresh prompt (or, with more=True, as the next line of the
    input being typed). Waiting for the prompt keeps keys from arriving while the
    terminal is between prompts."""
    if not more:
        child.expect_exact(PROMPT_READY)
    child.send(line + "\r")


def _result(child, text):
    """Expect `text` printed as a line of its own (after the input's line or the
    prompt's bracketed-paste-off sequence), not inside an escape sequence."""
    child.expect(r"(?:\n|\?2004l)" + re.escape(text) + r"\r\n")


# ---------------------------------------------------------------------- terminal


def test_terminal_session(tmp_path):
    hist = tmp_path / "hist"
    child = _spawn(tmp_path, "--history", str(hist))
    try:
        child.expect("flowscheme REPL")
        # a multi-line definition waits for its closing paren
        _type(child, SESSION[0])
        child.expect(r"\.")  # continuation prompt: nothing ran yet
        _type(child, SESSION[1], more=True)
        _type(child, SESSION[2])
        _result(child, "42")
        _type(child, SESSION[3])
        for line in SESSION[4:7]:
            _type(child, line, more=True)
        _type(child, SESSION[7])
        child.expect(r';; flow o-1 waits on \(payment "o-1"\)')
        _type(child, ",flows")
        child.expect(r"o-1\s+checkout\s+suspended\s+\(payment \"o-1\"\)")
        _type(child, ",show o-1")
        child.expect(r"stopped at: <repl-\d+>:3:\d+ in flow checkout")
        child.expect(r'oid\s+= "o-1"')
        _type(child, ",resume o-1 'visa-77")
        child.expect(r';; flow o-1 done: \(shipped "o-1" visa-77\)')
        _type(child, "(car 5)")
        child.expect(r"<repl-\d+>:1:1: car: expected a pair, got 5")
        _type(child, "(double 5)")  # the session carries on, state intact
        _result(child, "10")
        # Ctrl-C abandons a half-typed input
        _type(child, "(+ 1")
        child.sendcontrol("c")
        _type(child, "(+ 2 3)")
        _result(child, "5")
        # tab completion of a bound name
        child.expect_exact(PROMPT_READY)
        child.send("(doub\t")
        child.send(" 2109)\r")  # runs (double 2109) only if Tab completed the name
        _result(child, "4218")
        _type(child, ",quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = hist.read_text()
    assert "(double 21)" in history and ",resume o-1 'visa-77" in history


def test_terminal_colours_and_ctrl_d(tmp_path):
    child = _spawn(tmp_path, "--history", str(tmp_path / "h"))
    try:
        _type(child, '(define s "tea")')
        _type(child, '(string-length (string-append s "pot"))')
        _result(child, "6")
        text = child.before
        child.expect_exact(PROMPT_READY)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert "\x1b[0;32m\"pot\"" in text  # the string coloured as it was typed


# ---------------------------------------------------------------------- plain


def test_piped_session_is_plain(cli):
    r = cli("repl", input="\n".join(SESSION) + "\n")
    assert r.exit_code == 1  # one input failed
    out = r.stdout
    assert "\x1b" not in out and "\x1b" not in r.stderr
    assert out.splitlines() == [
        "42",
        ';; flow o-1 waits on (payment "o-1")',
        "ID   NAME      STATUS     WAITING ON",
        'o-1  checkout  suspended  (payment "o-1")',
        ';; flow o-1 done: (shipped "o-1" visa-77)',
        "10",
    ]
    assert "<stdin>:11:1: car: expected a pair, got 5" in r.stderr
    assert "backtrace" in r.stderr


def test_piped_session_through_a_real_process(tmp_path):
    r = run_process("repl", input="\n".join(SESSION) + "\n", cwd=tmp_path)
    assert r.returncode == 1
    assert ';; flow o-1 waits on (payment "o-1")' in r.stdout
    assert ';; flow o-1 done: (shipped "o-1" visa-77)' in r.stdout
    assert "car: expected a pair" in r.stderr
    assert "Traceback" not in r.stderr and "\x1b" not in r.stdout


def test_clean_session_exits_0_and_unspecified_prints_nothing(cli):
    r = cli("repl", input='(define x 1)\n(if #f #f)\n(display "hi")\n(+ x 1)\n')
    assert r.exit_code == 0
    assert r.stdout == "hi\n2\n"


def test_exit_code_from_scheme_exit(cli):
    r = cli("repl", input="(+ 1 2)\n(exit 3)\n(+ 4 5)\n")
    assert r.exit_code == 3
    assert r.stdout == "3\n"


def test_incomplete_input_at_end_is_reported(cli):
    r = cli("repl", input="(+ 1 2)\n(+ 1\n")
    assert r.exit_code == 1
    assert r.stdout == "3\n"
    assert "<stdin>:2:1: unclosed (" in r.stderr


def test_several_forms_on_a_line_and_a_form_over_lines(cli):
    r = cli("repl", input='(define a 1) (define b 2)\n(list a\n   b\n   "x)")\n')
    assert r.stdout == '(1 2 "x)")\n'


def test_meta_command_errors_keep_the_session(cli, tmp_path):
    bad = tmp_path / "bad.flows"
    bad.write_bytes(b"not a store")
    inputs = [
        "(define x 7)",
        ",show nope",
        ",resume nope 1",
        ",load /no/such/file.scm",
        f",import {bad}",
        f",import {tmp_path / 'missing.flows'}",
        ",resume",
        ",frobnicate",
        "x",
        ",resume o-1 (+ 1",
    ]
    r = cli("repl", input="\n".join(inputs) + "\n")
    assert r.exit_code == 1
    assert r.stdout == "7\n"
    err = r.stderr
    assert "no flow with id 'nope'" in err
    assert "cannot read /no/such/file.scm" in err
    assert "not a flowscheme flow store" in err
    assert "missing.flows" in err
    assert "usage: ,resume ID EXPR" in err
    assert "unknown command ,frobnicate" in err
    assert "<repl-10>:1:1: unclosed ( opened at 1:1" in err  # the unfinished ,resume at the end
    assert "Traceback" not in err


def test_time_help_export_import(cli, tmp_path, shop_scm):
    out = tmp_path / "saved.flows"
    inputs = [
        ",help",
        f",load {shop_scm}",
        '(flow/start-with-id "s-1" \'shop "s-1")',
        ",time (length (iota 1000))",
        f",export {out}",
        "(flow-reset!)",
        f",load {shop_scm}",
        ",flows",
        f",import {out}",
        ",flows",
        ",resume s-1 'ok",
        ",resume s-1 'shipped",
        ",resume s-1 'again",
        ",cancel s-1",
    ]
    r = cli("repl", input="\n".join(inputs) + "\n")
    out_text = r.stdout
    assert ",show ID" in out_text and ",resume ID EXPR" in out_text
    assert f";; loaded {shop_scm}" in out_text
    assert ';; flow s-1 waits on (payment ("s-1" 42))' in out_text
    assert "1000\n;; " in out_text and " elapsed, " in out_text
    assert f";; exported 1 flow to {out}" in out_text
    assert "no flows" in out_text
    assert f";; imported 1 flow from {out}" in out_text
    assert ';; flow s-1 waits on (ship "s-1")' in out_text
    assert ";; flow s-1 done: (ok (tea mug))" in out_text
    assert "flow s-1 is not waiting (it is done)" in r.stderr
    assert ";; flow s-1 is done: nothing to cancel" in out_text


def test_show_where_it_stopped_and_locals(cli, shop_scm):
    r = cli("repl", input=f",load {shop_scm}\n(flow/start-with-id \"s-1\" 'shop \"s-1\")\n,show s-1\n")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "flow s-1 (shop): suspended, step 1" in out
    assert 'waits on: (payment ("s-1" 42))' in out
    assert f"stopped at: {shop_scm}:5:21 in flow shop" in out
    assert "total = 42" in out and "items = (tea mug)" in out and 'oid   = "s-1"' in out


def test_cancel_and_failed_flow(cli):
    inputs = [
        "(defflow boom (lambda (x) (request 'go x) (car x)))",
        '(flow/start-with-id "b" \'boom 5)',
        ",resume b 1",
        ",show b",
        '(flow/start-with-id "c" \'boom 6)',
        ",cancel c",
        ",flows",
    ]
    r = cli("repl", input="\n".join(inputs) + "\n")
    out = r.stdout
    assert ";; flow b failed: <stdin>:1:" in out and "car: expected a pair, got 5" in out
    assert "flow b (boom): failed" in out and "error: <stdin>:1:" in out
    assert ";; flow c cancelled" in out
    assert "c   boom  cancelled" in out


# ---------------------------------------------------------------------- durable


def test_store_keeps_flows_across_repls(cli, store_location, shop_scm):
    store = store_location
    first = cli("repl", "--store", store, input=f",load {shop_scm}\n(flow/start-with-id \"s-1\" 'shop \"s-1\")\n,quit\n")
    assert ';; flow s-1 waits on (payment ("s-1" 42))' in first.stdout
    second = cli("repl", "--store", store, input=",flows\n,show s-1\n,resume s-1 'paid\n")
    assert 's-1  shop  suspended  (payment ("s-1" 42))' in second.stdout
    assert "code not loaded" in second.stdout and f"load {shop_scm}" in second.stdout
    assert "stopped at" not in second.stdout
    assert "needs code unit" in second.stderr and second.exit_code == 1
    third = cli("repl", "--store", store, "--load", shop_scm, input=",show s-1\n,resume s-1 'paid\n")
    assert "stopped at:" in third.stdout
    assert ';; flow s-1 waits on (ship "s-1")' in third.stdout
    assert third.exit_code == 0


def test_repl_defined_flow_says_to_retype_it(cli, store_location):
    store = store_location
    cli("repl", "--store", store, input="(defflow f (lambda () (request 'x 1)))\n(flow/start-with-id \"f1\" 'f)\n")
    r = cli("repl", "--store", store, input=",show f1\n")
    assert "typed at a REPL" in r.stdout and "evaluate the defflow of f again" in r.stdout


@pytest.mark.file_only("a flow store file holding garbage")
def test_bad_store_is_an_error_not_a_traceback(cli, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "flows.log").write_bytes(b"garbage garbage garbage")
    r = cli("repl", "--store", store, input="(+ 1 2)\n")
    assert r.exit_code == 1
    assert "not a flowscheme flow store" in r.stderr
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------- engine pieces


def test_input_completeness():
    from flow.repl import Repl

    assert Repl.input_complete("(+ 1 2)")
    assert not Repl.input_complete("(+ 1")
    assert not Repl.input_complete('"abc')
    assert Repl.input_complete(")")  # wrong, so it runs and reports the error
    assert Repl.input_complete(",flows")
    assert not Repl.input_complete(",resume o-1 (list 1")
    assert Repl.input_complete("")


def test_lexer_covers_the_text_and_finds_tokens():
    from flow.repl import scheme_tokens

    text = '(define (f x) ; note\n  (if #t "s" 12))'
    toks = scheme_tokens(text)
    assert "".join(t for _, t in toks) == text
    styles = {t: s for s, t in toks}
    assert styles["define"] == "class:keyword"
    assert styles["; note"] == "class:comment"
    assert styles['"s"'] == "class:string"
    assert styles["12"] == "class:number"
    assert styles["#t"] == "class:constant"


def test_completion_of_names_commands_and_flow_ids():
    from prompt_toolkit.document import Document

    from flow import FlowRuntime
    from flow.repl import Repl, make_completer

    rt = FlowRuntime()
    repl = Repl(rt)
    rt.load("(define (frobnicate x) x) (defflow w (lambda () (request 'k 1)))")
    rt.start("w", flow_id="wait-1")
    comp = make_completer(repl)

    def words(text):
        return [c.text for c in comp.get_completions(Document(text), None)]

    assert "frobnicate" in words("(frob")
    assert "flow/start" in words("(flow/st")
    assert "define" in words("(defi")
    assert words(",sh") == ["show"]
    assert words(",show wa") == ["wait-1"]


def test_default_history_path(monkeypatch, tmp_path):
    from flow.repl import default_history_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_history_path() == os.path.join(str(tmp_path), "flowscheme", "history")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_history_path().endswith(os.path.join(".local", "state", "flowscheme", "history"))


def test_help(cli):
    r = cli("repl", "--help")
    assert r.exit_code == 0
    assert ",resume ID EXPR" in r.stdout and "--store DIR" in r.stdout
