"""`flowscheme worker` (fire what is due, serve requests with --handlers,
--once, --json, SIGTERM) and `flows list` with timers, --status and --name; on the
file store and on PostgreSQL."""

import json
import os
import signal
import subprocess
import sys
import time

from flow import FlowRuntime

from clihelp import ROOT, flowscheme_argv

NAP = "(defflow nap (lambda (s) (sleep s) (request 'ask s)))\n"
HANDLERS = "HANDLERS = {'ask': lambda req: 'answered ' + req.key}\nNOT_A_DICT = 42\n"


def make_store(tmp_path, where, sleeps):
    """Flows `nap` sleeping each of `sleeps` seconds in the store at `where`; (where, nap.scm)."""
    (tmp_path / "nap.scm").write_text(NAP)
    (tmp_path / "hs.py").write_text(HANDLERS)
    rt = FlowRuntime(store=where)
    rt.load_file(str(tmp_path / "nap.scm"))
    for i, s in enumerate(sleeps):
        rt.start("nap", s, flow_id=f"n{i}")
    rt.close()
    return where, tmp_path / "nap.scm"


def test_worker_once_fires_what_is_due_and_serves_with_handlers(cli, tmp_path, store_location, monkeypatch):
    d, src = make_store(tmp_path, store_location, [0, 0, 3600])
    monkeypatch.chdir(tmp_path)
    r = cli("worker", "--store", d, "--load", src, "--handlers", "hs:HANDLERS", "--once")
    assert r.exit_code == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["n0: fired -> done", "n1: fired -> done"]
    r = cli("worker", "--store", d, "--load", src, "--handlers", "hs:HANDLERS", "--once")
    assert r.stdout == ""  # nothing is due twice
    r = cli("flows", "list", "--store", d, "--status", "sleeping")
    assert "n2" in r.stdout and "n0" not in r.stdout and "wakes 20" in r.stdout
    r = cli("flows", "list", "--store", d, "--status", "done", "--json")
    assert [row["id"] for row in json.loads(r.stdout)] == ["n0", "n1"]
    r = cli("flows", "list", "--store", d, "--name", "other")
    assert r.stdout.strip() == "no flows"


def test_worker_without_handlers_leaves_requests_waiting(cli, tmp_path, store_location):
    d, src = make_store(tmp_path, store_location, [0])
    r = cli("worker", "--store", d, "--load", src, "--once", "--json")
    assert r.exit_code == 0, r.stderr
    line = json.loads(r.stdout)
    assert line == {"flow": "n0", "did": "fired", "result": "Suspended", "kind": "ask", "payload": 0, "key": "n0:2"}


def test_worker_handler_errors(cli, tmp_path, store_location, monkeypatch):
    d, src = make_store(tmp_path, store_location, [0])
    monkeypatch.chdir(tmp_path)
    for spec, message in (("hs:NOPE", "hs has no NOPE"), ("nosuchmodule:X", "cannot import nosuchmodule"),
                          ("hs:NOT_A_DICT", "expected a dict of request kind -> function, got int")):
        r = cli("worker", "--store", d, "--load", src, "--handlers", spec, "--once")
        assert r.exit_code == 1 and message in r.stderr, (spec, r.stderr)
    r = cli("worker", "--store", d, "--load", src, "--handlers", "hs", "--once")
    assert r.exit_code == 2 and "expected MODULE:ATTR" in r.stderr


def test_worker_runs_until_sigterm_and_sleeps_until_the_next_timer(tmp_path, store_location):
    d, src = make_store(tmp_path, store_location, [0.5, 1.0])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + str(tmp_path))
    p = subprocess.Popen(flowscheme_argv("worker", "--store", d, "--load", src, "--handlers", "hs:HANDLERS"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rt = FlowRuntime(store=str(d))
            done = [i for i in rt.ids() if rt.status(i) == "done"]
            rt.close()
            if len(done) == 2:
                break
            time.sleep(0.1)
        assert len(done) == 2
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert sorted(out.splitlines()) == ["n0: fired -> done", "n1: fired -> done"]
    assert "Ctrl-C stops" in err
