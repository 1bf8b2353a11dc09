"""Helpers for the command-line tests: run `flowscheme` as a real process, strip
terminal escapes, and a small flow file to poke at."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")

SHOP_FLOW = """\
;; a flow with locals, for ,show
(defflow shop
  (lambda (oid)
    (let ((total (* 2 21)) (items '(tea mug)))
      (let ((answer (request 'payment (list oid total))))
        (request 'ship oid)
        (list answer items)))))
"""


def strip_ansi(text):
    return ANSI.sub("", text)


def flowscheme_argv(*args):
    return [sys.executable, "-m", "interp.cli", *map(str, args)]


def run_process(*args, input=None, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(flowscheme_argv(*args), input=input, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)
