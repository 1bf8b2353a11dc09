"""Fixtures shared by every test directory.

`native_scheme` finds GNU Guile 3.0, the reference Scheme the differential tests
compare flowscheme against. If Guile is missing and we are root on a machine with
apt-get, it installs the `guile-3.0` package; if Guile still cannot be had, every
test that asks for it is skipped with the reason (never silently passed).
"""

import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

# Make the repository's packages importable however pytest is launched.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

NativeScheme = namedtuple("NativeScheme", "path version")

_GUILE_NAMES = ("guile", "guile3.0", "guile-3.0")
_APT_PACKAGE = "guile-3.0"
_APT_TIMEOUT = 900  # seconds for each apt-get step


def _find_guile():
    """(path, version line) of the first Guile 3.x on PATH, else (None, reason)."""
    seen = []
    for name in _GUILE_NAMES:
        path = shutil.which(name)
        if not path:
            continue
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=60
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            seen.append(f"{path}: {exc}")
            continue
        version = out.splitlines()[0].strip() if out else ""
        if " 3." in version:
            return path, version
        seen.append(f"{path} is {version or 'of unknown version'}")
    return None, "; ".join(seen) or "no guile on PATH"


def _apt_get(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, text=True, timeout=_APT_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return f"apt-get {args[0]} timed out after {_APT_TIMEOUT}s"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"apt-get {args[0]} exited {done.returncode}: {tail[0]}"
    return None


def _install_guile():
    """Try to install Guile with apt-get; None on success, else why not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so not installing it"
    if not shutil.which("apt-get"):
        return "apt-get not available to install it"
    failure = _apt_get("install", "-y", "--no-install-recommends", _APT_PACKAGE)
    if failure:
        failure = _apt_get("update") or _apt_get(
            "install", "-y", "--no-install-recommends", _APT_PACKAGE
        )
    return failure


@pytest.fixture(scope="session")
def native_scheme():
    """NativeScheme(path, version) for GNU Guile 3.x, or a skip saying why not."""
    path, info = _find_guile()  # info: the version line, or why none was found
    if path is None:
        install_failure = _install_guile()
        path, info = _find_guile()
        if path is None:
            pytest.skip(
                "GNU Guile 3.0 is required for differential tests and is unavailable: "
                + (install_failure or info)
            )
    return NativeScheme(path, info)
