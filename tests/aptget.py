"""Installing the Debian packages the tests need (GNU Guile, PostgreSQL, chromium)
with apt-get when they are missing: as root only, each step bounded in time, and
one installer at a time across the test processes (`pytest -n` runs several, and
dpkg takes one at a time)."""

import fcntl
import os
import shutil
import subprocess
import tempfile

STEP_TIMEOUT = 900  # seconds for each apt-get step (a hang detector)
LOCK_PATH = os.path.join(tempfile.gettempdir(), "flowscheme-tests-apt.lock")


def why_not():
    """None when apt-get may be used here, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so not installing it"
    if not shutil.which("apt-get"):
        return "apt-get is not available to install it"
    return None


def _step(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"apt-get {args[0]} timed out after {STEP_TIMEOUT} s"
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:] or ["(no output)"]
        return f"apt-get {' '.join(args)} exited {done.returncode}: " + " / ".join(tail)
    return None


def install(packages, present):
    """Install `packages` unless present() says they are there (checked again once
    this process holds the lock: another one may have installed them meanwhile).
    None on success, else why it failed."""
    reason = why_not()
    if reason:
        return reason
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if present():
                return None
            command = ("install", "-y", "--no-install-recommends", *packages)
            failure = _step(*command)
            if failure:  # a stale package list: update it and try once more
                failure = _step("update") or _step(*command)
            if not failure and not present():
                failure = f"apt-get installed {' '.join(packages)} but it is still missing"
            return failure
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
