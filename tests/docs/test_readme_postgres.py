"""The README's "On PostgreSQL" commands, run as shown against the tests' throwaway
PostgreSQL server (its URL in place of the example's): migrate, the demo, a worker
pass, and the HTTP service answering /healthz."""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from snippets import ROOT, blocks

EXAMPLE_URL = "postgresql://app@db.internal/shop"


def postgres_block():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## On PostgreSQL")
    end = text.index("\n## ", start + 1)
    section = [b for b in blocks(ROOT / "README.md", ("sh",))
               if start < text.index(b.source) < end]
    assert len(section) == 1, "the README's PostgreSQL section has one sh block"
    return section[0]


def commands(block):
    """[(argv, comment)] of the block's lines (`cmd args  # comment`)."""
    out = []
    for line in block.source.splitlines():
        code, _, comment = line.partition("  #")
        if code.strip():
            out.append((shlex.split(code), comment.strip()))
    return out


def flowscheme(argv):
    assert argv[0] == "flowscheme"
    return [sys.executable, "-m", "interp.cli", *argv[1:]]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_command_of_the_postgresql_section_runs_on_a_real_server(pg_url, tmp_path):
    lines = commands(postgres_block())
    assert [argv[1] for argv, _ in lines] == ["db", "demo", "worker", "serve"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv, comment in lines:
        assert EXAMPLE_URL in argv, argv
        argv = [pg_url if a == EXAMPLE_URL else a for a in argv]
        if argv[1] == "worker":
            argv += ["--once"]  # one pass, then exit (the README's runs until stopped)
        if argv[1] == "serve":
            port = _free_port()
            proc = subprocess.Popen(flowscheme(argv) + ["--port", str(port)], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                            assert r.status == 200
                            break
                    except OSError:
                        assert proc.poll() is None, proc.stdout.read()
                        assert time.monotonic() < deadline, "serve never answered /healthz"
                        time.sleep(0.2)
            finally:
                proc.send_signal(signal.SIGTERM)
                out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, out
            continue
        r = subprocess.run(flowscheme(argv), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{argv}:\n{r.stdout}\n{r.stderr}"
        if argv[1] == "demo":
            assert "every effect written once; verified" in r.stdout
            schema = re.search(r"search_path%3D(demo_\w+)", r.stdout)
            assert schema, "the demo names the schema it ran in"
            # the commands it suggests work on that schema
            shown = re.search(r"flowscheme order list --data (\S+)", r.stdout).group(1)
            listed = subprocess.run(flowscheme(["flowscheme", "order", "list", "--data", shown]), cwd=ROOT,
                                    env=env, capture_output=True, text=True, timeout=300)
            assert listed.returncode == 0 and "o-1001" in listed.stdout, listed.stderr
