"""README.md's "Serving over HTTP" shell block, run as written: bash runs it in a
fresh directory holding the repository's schemes/, with its port (8000) replaced by
a free one, `localhost` by 127.0.0.1, and the server's own output sent to a file;
`flowscheme` is this Python's. Where a
comment line right after a curl command shows JSON (`# {"order":...}`), that
command's output must be that JSON. The block's last comment also claims that the
webhook delivered again answers "already-settled" and records nothing: the test
sends it again and checks both. Then the server it started is still there: the
dashboard at / answers, and the order is listed. (tests/docs/test_readme.py runs
the README's Python blocks; this one is its shell counterpart for this section.)

Needs bash, curl and openssl (as the README does); a missing one fails the test
saying so."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import command
from htmltree import parse

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"
SECTION = "## Serving over HTTP"
BOUND = 120.0  # seconds for the whole block (a hang detector)
MARK = "@@flowscheme-readme@@"


def section_block():
    """(document line, text) of the first ```sh block in README's serving section."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else len(text)]
    m = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)
    assert m, f"README.md: no ```sh block under {SECTION!r}"
    return text.count("\n", 0, start + m.start(1)) + 1, m.group(1)


def commands(block):
    """[(logical command text, the comment lines right after it)]: backslash
    continuations joined; comment lines belong to the command above them."""
    out = []
    pending = ""
    for line in block.splitlines():
        if pending:
            pending += "\n" + line
            if not line.endswith("\\"):
                out.append([pending, []])
                pending = ""
            continue
        if line.lstrip().startswith("#"):
            if out:
                out[-1][1].append(line.lstrip()[1:].strip())
            continue
        if not line.strip():
            continue
        if line.endswith("\\"):
            pending = line
        else:
            out.append([line, []])
    return [(c, comments) for c, comments in out]


def shown_json(comments):
    """The JSON value the first comment shows, if it starts with one (else None)."""
    if not comments or not comments[0].startswith(("{", "[")):
        return None
    value, _ = json.JSONDecoder().raw_decode(comments[0])
    return value


def test_the_readme_serving_block_runs_and_shows_true_outputs(tmp_path):
    for tool in ("bash", "curl", "openssl"):
        assert shutil.which(tool), f"README.md's serving block needs {tool}, which is not installed"
    first_line, block = section_block()
    port = _free_port()
    cmds = commands(block)
    assert any("flowscheme serve" in c for c, _ in cmds)
    script, claims = ["set -u"], []
    for n, (cmd, comments) in enumerate(cmds):
        cmd = cmd.replace("localhost:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")
        assert "8000" not in cmd and "localhost" not in cmd, f"README.md: a command the test cannot place: {cmd}"
        if "flowscheme serve" in cmd:
            assert cmd.endswith("&"), f"README.md: the server is started in the background: {cmd}"
            cmd = cmd[:-1] + "> server.log 2>&1 &"  # (its own lines kept apart from the outputs)
            script += [cmd, f'echo "{MARK} server $!"']
            continue
        script.append(cmd)
        if cmd.startswith("curl"):
            script.append(f'echo; echo "{MARK} output {n}"')
            claims.append((n, cmd, shown_json(comments)))
        if cmd.startswith("curl") and "/webhooks/payment" in cmd:
            webhook = cmd
    script += [webhook, f'echo; echo "{MARK} output again"', f'echo "{MARK} done"', "wait"]
    shutil.copytree(ROOT / "schemes", tmp_path / "schemes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSCHEME_")}
    env["PATH"] = os.pathsep.join([str(Path(command()[0]).parent), env.get("PATH", "")])
    if command()[0] == sys.executable:  # (no console script: a function standing in for it)
        script.insert(0, f'flowscheme() {{ {sys.executable} -c "from interp.cli import main; main()" "$@"; }}')
    proc = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True).start()
    server_pid, outputs, current = None, {}, []
    try:
        deadline = time.monotonic() + BOUND
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"README.md line {first_line}: the block took over {BOUND} s") from None
            assert line is not None, (f"README.md line {first_line}: the block ended early "
                                      f"(exit {proc.wait(10)}):\n{proc.stderr.read()[-3000:]}\n{_log(tmp_path)}")
            line = line.rstrip("\n")
            if line.startswith(f"{MARK} server "):
                server_pid = int(line.split()[-1])
            elif line.startswith(f"{MARK} output "):
                outputs[line.split()[-1]] = "".join(current).strip()
                current = []
            elif line == f"{MARK} done":
                break
            else:
                current.append(line)
        assert server_pid is not None
        for n, cmd, claim in claims:
            got = outputs[str(n)]
            if claim is not None:
                assert json.loads(got) == claim, f"README.md: {cmd!r}\nshows {claim!r}\ngives {got!r}"
        assert sum(claim is not None for _, _, claim in claims) >= 2  # (the comments are read as claims)
        again = json.loads(outputs["again"])
        assert again == {"order": "o-1", "outcome": "already-settled"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            order = client.get("/orders/o-1").json()
            assert order["status"] == "fulfilled"
            assert [r["kind"] for r in order["records"]] == ["created", "reserved", "paid", "fulfilled"]
            page = client.get("/", headers={"Accept": "text/html"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            orders = parse(page.text).by_id("orders-region")
            assert "o-1" in orders.text and "fulfilled" in orders.text
    finally:
        if server_pid is not None and proc.poll() is None:
            os.kill(server_pid, signal.SIGTERM)  # bash waits for it, then ends
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            raise AssertionError("the README's server did not stop on SIGTERM")
    assert proc.returncode == 0, proc.stderr.read()[-3000:]


def _log(directory):
    path = Path(directory) / "server.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no server log)"


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_commands_and_their_comments_are_read_as_the_test_expects():
    block = 'a x \\\n  y\n# {"k": 1}; more\n# words\nb\n\n# ["z"]\n'
    assert commands(block) == [('a x \\\n  y', ['{"k": 1}; more', "words"]), ("b", ['["z"]'])]
    assert shown_json(['{"k": 1}; more']) == {"k": 1} and shown_json(["a payment webhook"]) is None
    with pytest.raises(ValueError):
        shown_json(["{not json"])
