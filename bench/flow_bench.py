"""Durable-flow figures: resume latency as history grows, flows per second (in
memory and on the durable store, 1..N threads), export/import speed and size.

Peers measured in the same run: resume latency after 10,000 answered requests
is set against the latency after 20 (it must stay flat: no replay on the common
path); the durable store against the in-memory one and against a bare
`os.write` + `os.fsync` loop of the same number of commits on the same disk.

    python bench/flow_bench.py [--flows 1000] [--history 10000] [--threads 1,2,4,8] [--dir DIR]

Progress goes to stderr, the table to stdout. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flow import FlowRuntime  # noqa: E402

ORDER = (
    "(defflow order-lifecycle (lambda (oid) (begin (request (quote reserve) oid) "
    "(request (quote payment) oid) (request (quote fulfil) oid))))"
)
LOOP = "(defflow counter (lambda () (let loop ((i 0) (total 0)) (loop (+ i 1) (+ total (request 'next i))))))"


def progress(msg: str) -> None:
    print(f"[flow_bench] {msg}", file=sys.stderr, flush=True)


def make(store=None, *sources) -> FlowRuntime:
    rt = FlowRuntime(store=store)
    for s in sources:
        rt.load(s, "bench.scm")
    return rt


# ------------------------------------------------------------------ resume latency


def resume_latency(store, history: int, samples: int) -> tuple[float, float]:
    """Median seconds per resume of a loop flow after 20 and after `history` answers."""
    rt = make(store, LOOP)
    rt.start("counter", flow_id="loop")
    answered = 0

    def answer(n):
        nonlocal answered
        for _ in range(n):
            rt.resume("loop", 1)
            answered += 1

    def sample():
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            rt.resume("loop", 1)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    answer(20)
    early = sample()
    answered += samples
    step = max(1, (history - answered) // 10)
    while answered < history:
        answer(min(step, history - answered))
        progress(f"  answered {answered}/{history}")
    late = sample()
    rt.close()
    return early, late


# ------------------------------------------------------------------ throughput


def order_flows(rt: FlowRuntime, ids) -> None:
    for fid in ids:
        rt.start("order-lifecycle", fid, flow_id=fid)
        rt.resume(fid, "reserved", kind="reserve")
        rt.resume(fid, "paid", kind="payment")
        rt.resume(fid, "shipped", kind="fulfil")


def flows_per_second(store, n: int, threads: int = 1) -> float:
    rt = make(store, ORDER)
    ids = [f"o{i}" for i in range(n)]
    chunks = [ids[i::threads] for i in range(threads)]
    start = time.perf_counter()
    if threads == 1:
        order_flows(rt, ids)
    else:
        ts = [threading.Thread(target=order_flows, args=(rt, c)) for c in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    elapsed = time.perf_counter() - start
    assert all(rt.status(i) == "done" for i in ids[:10])
    rt.close()
    return n / elapsed


def raw_fsync_per_second(directory: str, commits: int, size: int) -> float:
    """The floor: append `size` bytes and fsync, `commits` times."""
    path = os.path.join(directory, "raw.bin")
    blob = b"x" * size
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


# ------------------------------------------------------------------ export / import


def export_import(n: int) -> tuple[int, float, float]:
    """(bytes, export s, import s) for n order flows suspended at payment."""
    rt = make(None, ORDER)
    for i in range(n):
        rt.start("order-lifecycle", f"order-{i:06d}", flow_id=f"order-{i:06d}")
        rt.resume(f"order-{i:06d}", "reserved")
    best_export = best_import = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        data = rt.export_store()
        best_export = min(best_export, time.perf_counter() - t)
        fresh = make(None, ORDER)
        t = time.perf_counter()
        fresh.import_store(data)
        best_import = min(best_import, time.perf_counter() - t)
    return len(data), best_export, best_import


# ------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=500, help="order flows per throughput run (default 500)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="throughput runs per configuration, interleaved; the median is shown (default 3)")
    ap.add_argument("--history", type=int, default=10000, help="answered requests before the late latency sample")
    ap.add_argument("--samples", type=int, default=200, help="resumes timed per latency sample (median)")
    ap.add_argument("--threads", default="1,2,4,8", help="thread counts for the durable store (default 1,2,4,8)")
    ap.add_argument("--export-flows", type=int, default=5000, help="suspended flows in the export/import run")
    ap.add_argument("--dir", default=None, help="where the durable stores go (default: a temporary directory)")
    args = ap.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t]

    base = tempfile.mkdtemp(prefix="flow-bench-", dir=args.dir)
    rows = []
    try:
        def store(name):
            return os.path.join(base, name)

        progress("resume latency, in memory")
        m_early, m_late = resume_latency(None, args.history, args.samples)
        progress("resume latency, durable store")
        f_early, f_late = resume_latency(store("latency"), args.history, args.samples)

        configs = [("memory", None, 1)] + [(f"durable-{t}", f"tp{t}", t) for t in threads]
        rates = {name: [] for name, _, _ in configs}
        raws = []
        for rep in range(args.repeat):  # interleaved, so drift on a busy machine hits all alike
            for name, sub, t in configs:
                progress(f"run {rep + 1}/{args.repeat}: {args.flows} order flows, {name}")
                where = None if sub is None else store(f"{sub}-{rep}")
                rates[name].append(flows_per_second(where, args.flows, t))
            progress(f"run {rep + 1}/{args.repeat}: bare write+fsync peer")
            raws.append(raw_fsync_per_second(base, args.flows, 600))
        mem = statistics.median(rates["memory"])
        file_rates = {t: statistics.median(rates[f"durable-{t}"]) for t in threads}
        raw = statistics.median(raws)
        empty = len(make(None, ORDER).export_store())  # the header and an empty flow list

        progress(f"export/import of {args.export_flows} suspended flows")
        size, t_exp, t_imp = export_import(args.export_flows)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    mb = size / 1e6
    rows.append(("resume latency after 20 answers (memory)", f"{m_early * 1e6:,.0f} µs", ""))
    rows.append((f"resume latency after {args.history:,} answers (memory)", f"{m_late * 1e6:,.0f} µs",
                 f"x{m_late / m_early:.2f} of after-20"))
    rows.append(("resume latency after 20 answers (durable)", f"{f_early * 1e6:,.0f} µs", ""))
    rows.append((f"resume latency after {args.history:,} answers (durable)", f"{f_late * 1e6:,.0f} µs",
                 f"x{f_late / f_early:.2f} of after-20"))
    rows.append(("order flows started+completed /s (memory)", f"{mem:,.0f}", ""))
    for t, rate in file_rates.items():
        rows.append((f"order flows started+completed /s (durable, {t} thread{'s' if t > 1 else ''})",
                     f"{rate:,.0f}", f"x{rate / mem:.2f} of memory; commits/s x{rate * 4 / raw:.2f} of bare fsyncs/s"))
    rows.append(("bare write+fsync /s (peer: the durable floor)", f"{raw:,.0f}",
                 f"= {raw / 4:,.0f} flows/s at 4 commits per flow"))
    rows.append((f"export {args.export_flows:,} suspended flows", f"{mb / t_exp:,.1f} MB/s",
                 f"{size:,} bytes in {t_exp * 1e3:,.0f} ms"))
    rows.append((f"import {args.export_flows:,} suspended flows", f"{mb / t_imp:,.1f} MB/s",
                 f"{t_imp * 1e3:,.0f} ms, every continuation checked"))
    rows.append(("bytes per suspended flow (export)", f"{(size - empty) / args.export_flows:,.0f}",
                 "the seed order flow waiting on payment, journal of 1"))

    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>{v}}  note")
    print("-" * (w + v + 40))
    for name, value, note in rows:
        print(f"{name:<{w}}  {value:>{v}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
