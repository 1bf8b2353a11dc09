#!/usr/bin/env python3
"""Time flowscheme's start-up against `python3 -c pass` (and lispy), in one run.

Each command is a whole process, timed wall-clock from spawn to exit (and its CPU
time, user + system, which a busy machine disturbs less); the runs are
interleaved (run 1 of every command, then run 2, ...) so drift on a busy machine
spreads over all of them, and each row shows the median of --repeat runs and its
ratio to `python3 -c pass` measured in the same run. Nothing is asserted.

Rows:
  python3 -c pass                the floor: the same Python the console script runs on
  flowscheme run one-line.scm    the installed console script ([project.scripts])
  python -m interp.cli run ...   the same through -m, from the repository
  flowscheme eval '(+ 1 2)'
  lispy one-line.scm             Norvig's lispy via bench/peers/lispy_shim.py, if
                                 /tmp/peers/lispy.py (or --lispy) exists
  baseline: run / eval           with --baseline DIR: `python -m interp.cli` from another
                                 copy of the repository (say the last commit's, from
                                 `git archive HEAD interp | tar -x -C DIR`), to compare
                                 before and after in the same run

Bytecode: by default the children run as a user's would, with .pyc files cached
(PYTHONDONTWRITEBYTECODE is dropped and PYTHONPYCACHEPREFIX points at a temporary
directory, so the repository is not written to); one untimed warm-up run of each
command fills that cache and flowscheme's own caches. --no-bytecode-cache runs them
with PYTHONDONTWRITEBYTECODE=1 instead (every module compiled from source each run).

    python bench/startup_bench.py                  # 15 runs each
    python bench/startup_bench.py --repeat 31 --no-bytecode-cache
    python bench/startup_bench.py --repeat 21 --baseline /tmp/before
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
PEERS = os.path.join(BENCH, "peers")
DEFAULT_LISPY = os.environ.get("FLOWSCHEME_BENCH_LISPY", "/tmp/peers/lispy.py")
ONE_LINE = '(display "ok")(newline)\n'


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def console_script(explicit):
    """The flowscheme console script to time: --flowscheme, else the one installed
    beside this Python, else the one on PATH (resolving a pyenv shim)."""
    if explicit:
        return explicit.split()
    beside = os.path.join(os.path.dirname(sys.executable), "flowscheme")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return [beside]
    found = shutil.which("flowscheme")
    if found and "/shims/" in found and shutil.which("pyenv"):
        r = subprocess.run(["pyenv", "which", "flowscheme"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return [r.stdout.strip()]
    return [found] if found else None


def _children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def time_once(argv, env, expect, cwd=REPO):
    """(wall seconds, CPU seconds) of one run of argv."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    if r.returncode != 0 or (expect is not None and r.stdout.strip() != expect):
        raise RuntimeError(
            f"{' '.join(argv)}: exit {r.returncode}, stdout {r.stdout.strip()!r} "
            f"(expected {expect!r}), stderr {r.stderr.strip()[-300:]!r}"
        )
    return seconds, cpu


def _command(argv, env):
    """(argv, env, cwd) of a row: its argv with the common env, run in the repository,
    or its own (argv, env, cwd)."""
    return argv if type(argv) is tuple else (argv, env, REPO)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=15, help="timed runs of each command (default 15)")
    ap.add_argument("--flowscheme", metavar="CMD", help="command running flowscheme (default: the console script)")
    ap.add_argument("--lispy", metavar="PATH", default=DEFAULT_LISPY, help=f"Norvig's lispy.py (default {DEFAULT_LISPY})")
    ap.add_argument("--no-bytecode-cache", action="store_true", help="children run with PYTHONDONTWRITEBYTECODE=1")
    ap.add_argument("--baseline", metavar="DIR", help="also time python -m interp.cli from the copy of the repository in DIR")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="flowscheme-startup-")
    one = os.path.join(work, "one-line.scm")
    with open(one, "w") as f:
        f.write(ONE_LINE)
    env = dict(os.environ)
    if args.no_bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
        mode = "PYTHONDONTWRITEBYTECODE=1 (every module compiled each run)"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(work, "pycache")
        mode = "bytecode cached (PYTHONPYCACHEPREFIX in a temporary directory)"
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    py = sys.executable
    rows = [("python3 -c pass", [py, "-c", "pass"], None)]
    script = console_script(args.flowscheme)
    if script:
        rows.append(("flowscheme run one-line.scm", script + ["run", one], "ok"))
    else:
        log("no flowscheme console script found (pip install -e .); timing python -m only")
    rows.append(("python -m interp.cli run one-line.scm", [py, "-m", "interp.cli", "run", one], "ok"))
    if script:
        rows.append(("flowscheme eval '(+ 1 2)'", script + ["eval", "(+ 1 2)"], "3"))
    if args.baseline:
        base = os.path.abspath(args.baseline)  # (-m puts the working directory first on sys.path)
        base_env = dict(env, PYTHONPATH=base)
        base_cli = [py, "-m", "interp.cli"]
        rows.append(("baseline: run one-line.scm", (base_cli + ["run", one], base_env, base), "ok"))
        rows.append(("baseline: eval '(+ 1 2)'", (base_cli + ["eval", "(+ 1 2)"], base_env, base), "3"))
    if os.path.isfile(args.lispy):
        rows.append(("lispy one-line.scm", [py, os.path.join(PEERS, "lispy_shim.py"), "--lispy", args.lispy, one], "ok"))
    else:
        log(f"lispy not found at {args.lispy} (bench/README.md says how to get it); no lispy row")

    try:
        log(f"python: {py}; flowscheme: {' '.join(script) if script else '-'}; {mode}")
        for _, argv, expect in rows:  # warm-up: bytecode and flowscheme's own caches
            time_once(*_command(argv, env)[:2], expect, _command(argv, env)[2])
        times = {name: [] for name, _, _ in rows}
        for i in range(args.repeat):
            for name, argv, expect in rows:
                a, e, cwd = _command(argv, env)
                times[name].append(time_once(a, e, expect, cwd))
            log(f"run {i + 1}/{args.repeat}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    wall = {k: [w for w, _ in v] for k, v in times.items()}
    cpu = {k: [c for _, c in v] for k, v in times.items()}
    base = statistics.median(wall["python3 -c pass"])
    cbase = statistics.median(cpu["python3 -c pass"])
    print(f"start-up, median of {args.repeat} interleaved runs; {mode}")
    if hasattr(os, "getloadavg"):
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'command':<40} {'wall ms':>8} {'min ms':>7} {'x pass':>7} {'cpu ms':>7} {'x pass':>7}")
    for name, _, _ in rows:
        med = statistics.median(wall[name])
        cmed = statistics.median(cpu[name])
        print(
            f"{name:<40} {med * 1000:>8.1f} {min(wall[name]) * 1000:>7.1f} {med / base:>7.2f}"
            f" {cmed * 1000:>7.1f} {cmed / cbase:>7.2f}"
        )
    print("(x pass: the ratio to `python3 -c pass` in this run; cpu: user + system time of the process)")
    if "lispy one-line.scm" in wall:
        lispy = statistics.median(wall["lispy one-line.scm"])
        for name in ("flowscheme run one-line.scm", "python -m interp.cli run one-line.scm"):
            if name in wall:
                print(f"{name} / lispy (wall): {statistics.median(wall[name]) / lispy:.2f}")

if __name__ == "__main__":
    main()
