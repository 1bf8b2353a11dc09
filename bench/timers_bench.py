"""Durable-timer figures: timers fired per second with every commit fsync'd,
how late a Worker fires with 100,000 flows asleep, and what finding the due
flows costs as the number of sleeping flows grows.

(a) Fire rate. --timers flows in a durable store (a FileStore in a temporary
    directory) each `(sleep 60)` and are all due at once (a ManualClock moved
    past them); `fire_due()` is timed from 1 thread and from several at once
    (their commits share fsyncs: group commit). Peers in the same run: the same
    fire_due() on the in-memory store (the CPU ceiling) and a bare
    `os.write` + `os.fsync` loop of as many same-sized commits (the disk floor).

(b) Lateness. --flows flows sleep far in the future while --waking more wake at
    times spread evenly over --spread seconds; Worker.run loops on the
    SystemClock (--workers of them, each in a thread) fire them. Lateness =
    fire time − wake time, measured two ways: in the flow, by `(current-second)` right after the sleep
    (the flow returns it), and committed, when the Worker reports the
    transition (after the fsync on the durable store). p50 / p99 / max.

(c) Finding due flows. `rt.due(now)` with 10 flows due, at 1,000 flows and at
    --flows flows (in memory and on the durable store): the median call. It
    must stay flat: the ratio big / small is printed.

    python bench/timers_bench.py [--flows 100000] [--waking 500] [--spread 5] [--workers 1]
                                 [--timers 1000] [--threads 1,4] [--quick] [--dir DIR]

Progress goes to stderr, the table to stdout. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flow import FlowRuntime  # noqa: E402
from flow.clock import ManualClock  # noqa: E402
from flow.worker import Worker  # noqa: E402

NAP = "(defflow nap (lambda (s) (sleep s) 'done))"
ALARM = "(defflow alarm (lambda (t) (sleep-until t) (current-second)))"
T0 = 1_800_000_000.0
SETUP_THREADS = 4  # flows are started from this many threads (their commits share fsyncs)


def progress(msg: str) -> None:
    print(f"[timers_bench] {msg}", file=sys.stderr, flush=True)


def runtime(store=None, clock=None, source=ALARM) -> FlowRuntime:
    rt = FlowRuntime(store=store, clock=clock)
    rt.load(source, "timers.scm")
    return rt


def in_threads(n: int, work) -> None:
    """work(k) for k in 0..n-1, each in its own thread (n == 1: in this one)."""
    if n == 1:
        work(0)
        return
    ts = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def percentile(sorted_xs, p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_xs:
        return float("nan")
    k = max(0, min(len(sorted_xs) - 1, math.ceil(p * len(sorted_xs)) - 1))
    return sorted_xs[k]


# ------------------------------------------------------------------ (a) fire rate


def fire_rate(store, timers: int, threads: int) -> tuple[float, int]:
    """(timers fired per second, bytes the store grew by while firing)."""
    clock = ManualClock(T0)
    rt = runtime(store, clock, NAP)
    in_threads(SETUP_THREADS, lambda k: [rt.start("nap", 60, flow_id=f"nap-{i:06d}")
                                         for i in range(k, timers, SETUP_THREADS)])
    clock.advance(60)
    size = rt.store.size_bytes() if store is not None else 0
    fired = []
    start = time.perf_counter()
    in_threads(threads, lambda k: fired.extend(rt.fire_due()))
    elapsed = time.perf_counter() - start
    grew = (rt.store.size_bytes() - size) if store is not None else 0
    if len(fired) != timers or rt.due() != []:
        progress(f"  !!! fired {len(fired)} of {timers} timers, {len(rt.due())} still due")
    rt.close()
    return len(fired) / elapsed, grew


def raw_fsync_per_second(directory: str, commits: int, size: int) -> float:
    """The floor: append `size` bytes and fsync, `commits` times."""
    path = os.path.join(directory, "raw.bin")
    blob = b"x" * max(1, size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(commits):
            os.write(fd, blob)
            os.fsync(fd)
        return commits / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.remove(path)


def fire_rates(base: str, timers: int, thread_counts, repeat: int):
    configs = [("memory", None, 1)] + [(f"durable-{t}", "fire", t) for t in thread_counts]
    rates = {name: [] for name, _, _ in configs}
    frame_sizes, raws = [], []
    for rep in range(repeat):  # interleaved, so drift on a busy machine hits all alike
        for name, sub, t in configs:
            progress(f"run {rep + 1}/{repeat}: fire {timers} timers, {name}")
            where = None if sub is None else os.path.join(base, f"{sub}-{t}-{rep}")
            rate, grew = fire_rate(where, timers, t)
            rates[name].append(rate)
            if grew:
                frame_sizes.append(grew / timers)
            if where is not None:
                shutil.rmtree(where, ignore_errors=True)
        progress(f"run {rep + 1}/{repeat}: bare write+fsync peer")
        raws.append(raw_fsync_per_second(base, timers, int(statistics.median(frame_sizes))))
    return ({name: statistics.median(v) for name, v in rates.items()},
            statistics.median(raws), statistics.median(frame_sizes))


# ------------------------------------------------------------------ (c) finding due flows


def sleepers(rt: FlowRuntime, n: int, due_at: float, far: float, due: int = 10) -> None:
    """n flows asleep in rt: `due` of them wake at due_at - 1 .. due_at - due,
    the rest at `far` and after (one second apart)."""
    for i in range(n):
        t = due_at - 1 - i if i < due else far + i
        rt.start("alarm", t, flow_id=f"alarm-{i:06d}")
        if n >= 20000 and i and i % 20000 == 0:
            progress(f"  started {i:,}/{n:,}")


def due_time(rt: FlowRuntime, now: float, calls: int) -> tuple[float, int]:
    """(median seconds per rt.due(now), how many it found)."""
    found = len(rt.due(now))
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        rt.due(now)
        times.append(time.perf_counter() - t)
    return statistics.median(times), found


def durable_copy(base: str, name: str, rt: FlowRuntime) -> FlowRuntime:
    """A runtime on a new durable store holding rt's flows (export + import)."""
    copy = runtime(os.path.join(base, name))
    copy.import_store(rt.export_store())
    return copy


# ------------------------------------------------------------------ (b) lateness


def lateness(rt: FlowRuntime, waking: int, spread: float, setup_rate: float, label: str, workers: int = 1):
    """Start `waking` flows on rt waking over `spread` s from shortly after they
    are all started, run `workers` Workers (SystemClock), each in a thread, until
    every one has fired -> (in-flow lateness, committed lateness, overrun, missing)."""
    slack = max(2.0, 1.5 * waking / setup_rate + 1.0)  # time to start them all, then some
    first = time.time() + slack
    wakes = {f"wake-{i:06d}": first + spread * i / waking for i in range(waking)}
    ids = list(wakes)
    progress(f"  {label}: starting {waking:,} flows waking over {spread:g} s, from {slack:.1f} s from now")
    in_threads(SETUP_THREADS, lambda k: [rt.start("alarm", wakes[i], flow_id=i)
                                         for i in ids[k::SETUP_THREADS]])
    overrun = time.time() - first  # > 0: the first flows were due before all had started
    in_flow, committed = [], []
    all_fired = threading.Event()

    def note(t):
        wake = wakes.get(t.flow_id)
        if wake is None:
            return
        committed.append(time.time() - wake)
        value = getattr(t.result, "value", None)
        if isinstance(value, float):
            in_flow.append(value - wake)
        if len(committed) == waking:
            all_fired.set()

    stop = threading.Event()
    threads = [threading.Thread(target=Worker(rt, on_transition=note).run, kwargs=dict(stop=stop, signals=False),
                                daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    all_fired.wait(slack + spread + 120)
    stop.set()
    for thread in threads:
        thread.join(30)
    return sorted(in_flow), sorted(committed), overrun, waking - len(committed)


# ------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timers", type=int, default=1000,
                    help="(a) durable timers fired per run, all due at once (default 1000)")
    ap.add_argument("--threads", default="1,4",
                    help="(a) threads calling fire_due() at once on the durable store (default 1,4)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="(a) runs per configuration, interleaved; the median is shown (default 3)")
    ap.add_argument("--flows", type=int, default=100_000,
                    help="(b, c) flows asleep in the big store (default 100000)")
    ap.add_argument("--small", type=int, default=1000, help="(c) flows asleep in the small store (default 1000)")
    ap.add_argument("--waking", type=int, default=500,
                    help="(b) flows that wake during the lateness run, besides --flows (default 500)")
    ap.add_argument("--spread", type=float, default=5.0,
                    help="(b) seconds their wake times are spread over (default 5)")
    ap.add_argument("--workers", type=int, default=1,
                    help="(b) Worker threads firing them (default 1; more share fsyncs on the durable store)")
    ap.add_argument("--calls", type=int, default=2000, help="(c) rt.due() calls timed per store (default 2000)")
    ap.add_argument("--no-durable-lateness", action="store_true",
                    help="(b) only in memory (skips importing the big store into a durable one)")
    ap.add_argument("--quick", action="store_true",
                    help="a small run: --timers 200 --repeat 1 --flows 5000 --waking 200 --spread 2 --calls 300")
    ap.add_argument("--dir", default=None, help="where the durable stores go (default: a temporary directory)")
    args = ap.parse_args(argv)
    if args.quick:
        args.timers, args.repeat, args.flows, args.waking, args.spread, args.calls = 200, 1, 5000, 200, 2.0, 300
    thread_counts = [int(t) for t in args.threads.split(",") if t]

    base = tempfile.mkdtemp(prefix="timers-bench-", dir=args.dir)
    rows = []
    try:
        # (a)
        rates, raw, frame = fire_rates(base, args.timers, thread_counts, args.repeat)

        # (c)
        now = time.time()
        due_at = now + 7 * 86400  # a week ahead: nothing here wakes during the lateness run
        far = now + 30 * 86400
        progress(f"starting {args.small:,} and {args.flows:,} sleeping flows (in memory)")
        t = time.perf_counter()
        small = runtime()
        sleepers(small, args.small, due_at, far)
        big = runtime()
        sleepers(big, args.flows, due_at, far)
        start_rate = (args.small + args.flows) / (time.perf_counter() - t)
        due = {}
        progress(f"timing rt.due() x{args.calls}, in memory")
        due["memory", "small"] = due_time(small, due_at, args.calls)
        due["memory", "big"] = due_time(big, due_at, args.calls)
        progress("copying both stores into durable ones (export + import)")
        small_file = durable_copy(base, "due-small", small)
        t = time.perf_counter()
        big_file = durable_copy(base, "due-big", big)
        import_s = time.perf_counter() - t
        progress(f"timing rt.due() x{args.calls}, durable")
        due["file", "small"] = due_time(small_file, due_at, args.calls)
        due["file", "big"] = due_time(big_file, due_at, args.calls)
        small_file.close()

        # (b)
        late = {"memory": lateness(big, args.waking, args.spread, start_rate, "memory", args.workers)}
        if not args.no_durable_lateness:
            late["durable"] = lateness(big_file, args.waking, args.spread, rates[f"durable-{thread_counts[-1]}"],
                                       "durable", args.workers)
        big_file.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)

    # ------------------------------------------------------------------ report
    mem = rates["memory"]
    rows.append(("(a) timers fired /s, in memory (CPU ceiling)", f"{mem:,.0f}", f"{args.timers:,} due at once"))
    for t in thread_counts:
        r = rates[f"durable-{t}"]
        rows.append((f"(a) timers fired /s, durable, fire_due() from {t} thread{'s' if t > 1 else ''}",
                     f"{r:,.0f}", f"x{r / mem:.2f} of memory; x{r / raw:.2f} of bare fsyncs/s"))
    rows.append(("(a) bare write+fsync /s (peer: the durable floor)", f"{raw:,.0f}",
                 f"{frame:,.0f} bytes each, the store's growth per fired timer"))

    for store, (in_flow, committed, overrun, missing) in late.items():
        flows = args.flows
        what = (f"{args.waking:,} waking over {args.spread:g} s ({args.waking / args.spread:,.0f}/s), "
                f"{flows:,} more asleep, {args.workers} worker{'s' if args.workers > 1 else ''}")
        for name, xs in (("in the flow", in_flow), ("committed", committed)):
            figures = "/".join(f"{percentile(xs, p) * 1e3:,.1f}" for p in (0.5, 0.99)) + f"/{xs[-1] * 1e3:,.1f}" \
                if xs else "n/a"
            rows.append((f"(b) lateness p50/p99/max ms, {store}, {name}", figures, what))
        if overrun > 0:
            rows.append((f"(b) !!! {store}: setup overran the first wake time", f"{overrun * 1e3:,.0f} ms",
                         "the earliest flows' lateness includes it"))
        if missing:
            rows.append((f"(b) !!! {store}: flows never fired", f"{missing:,}", ""))

    for store in ("memory", "file"):
        (ts, ns), (tb, nb) = due[store, "small"], due[store, "big"]
        label = "memory" if store == "memory" else "durable"
        rows.append((f"(c) rt.due(now), {args.small:,} flows, {ns} due ({label})", f"{ts * 1e6:,.1f} µs", ""))
        rows.append((f"(c) rt.due(now), {args.flows:,} flows, {nb} due ({label})", f"{tb * 1e6:,.1f} µs",
                     f"x{tb / ts:.2f} of {args.small:,} flows"))
    rows.append(("(c) setup: sleeping flows started /s (memory)", f"{start_rate:,.0f}",
                 f"import of {args.flows:,} into a durable store: {import_s:,.1f} s"))

    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>{v}}  note")
    print("-" * (w + v + 40))
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>{v}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
