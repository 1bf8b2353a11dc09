"""Ledger throughput: fsync'd appends per second (1 process, N processes, threads), replays, open time.

Every figure is set against a peer measured in the same run on the same disk:
a bare loop of `os.write` + `os.fsync` of a same-sized record, the floor any
durable append pays.

    python bench/ledger_bench.py [--dir DIR] [--count 2000] [--processes 4] [--open-records 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from commerce.ledger import KINDS, Ledger, encode_file_header, encode_frame  # noqa: E402

DETAILS = {"sku": "TEA-250G", "qty": 2, "currency": "EUR"}


def raw_fsync(path: str, count: int) -> float:
    """The peer: append a same-sized blob and fsync, `count` times."""
    blob = encode_frame({"seq": 1, "order": "order-00000", "kind": "created", "key": "order-00000/created",
                         "amount": 1999, "time": time.time(), "details": DETAILS})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, blob)
            os.fsync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def append_range(ledger: Ledger, prefix: str, count: int) -> None:
    for i in range(count):
        order = f"{prefix}{i // 4:05d}"
        kind = KINDS[i % 4]
        ledger.append(order, kind, f"{order}/{kind}", amount=1999, details=DETAILS)


def single_process(path: str, count: int) -> float:
    with Ledger(path) as ledger:
        start = time.perf_counter()
        append_range(ledger, "order-", count)
        return time.perf_counter() - start


def replays(path: str, count: int) -> float:
    """Appends whose key is already there: an index hit, nothing written."""
    with Ledger(path) as ledger:
        start = time.perf_counter()
        append_range(ledger, "order-", count)
        return time.perf_counter() - start


def _worker(path: str, worker: int, count: int, barrier) -> None:
    with Ledger(path) as ledger:
        barrier.wait()
        append_range(ledger, f"p{worker}-order-", count)


def processes(path: str, count: int, workers: int) -> float:
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier = context.Barrier(workers + 1)
    procs = [context.Process(target=_worker, args=(path, w, count // workers, barrier)) for w in range(workers)]
    for proc in procs:
        proc.start()
    barrier.wait()
    start = time.perf_counter()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    if any(proc.exitcode for proc in procs):
        raise SystemExit("a worker process failed")
    return elapsed


def threads(path: str, count: int, workers: int) -> float:
    with Ledger(path) as ledger:
        pool = [threading.Thread(target=append_range, args=(ledger, f"t{w}-order-", count // workers))
                for w in range(workers)]
        start = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.perf_counter() - start


def open_time(path: str, records: int) -> float:
    """Time to open (scan, checksum, index) a ledger of `records` records."""
    with open(path, "wb") as f:
        f.write(encode_file_header())
        now = time.time()
        for seq in range(1, records + 1):
            order = f"order-{(seq - 1) // 4:06d}"
            kind = KINDS[(seq - 1) % 4]
            f.write(encode_frame({"seq": seq, "order": order, "kind": kind, "key": f"{order}/{kind}",
                                  "amount": 1999, "time": now, "details": DETAILS}))
    start = time.perf_counter()
    with Ledger(path) as ledger:
        elapsed = time.perf_counter() - start
        assert ledger.has_key(f"order-{(records - 1) // 4:06d}/{KINDS[(records - 1) % 4]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="where to put the files (the disk is what is measured)")
    parser.add_argument("--count", type=int, default=1000, help="appends per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--open-records", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ledger-bench-") as folder:
        n, p = args.count, args.processes
        measures = {
            "raw write+fsync (peer)": (n, lambda path: raw_fsync(path, n)),
            "ledger, 1 process": (n, lambda path: single_process(path, n)),
            "ledger, replayed keys (no write)": (n, lambda path: (single_process(path, n), replays(path, n))[1]),
            f"ledger, {p} processes": (n // p * p, lambda path: processes(path, n, p)),
            f"ledger, {p} threads (group commit)": (n // p * p, lambda path: threads(path, n, p)),
        }
        # Disk latency drifts: interleave the runs (every measure once per round), keep each one's best.
        times: dict[str, list[float]] = {name: [] for name in measures}
        for round_ in range(args.repeat):
            for i, (name, (_, measure)) in enumerate(measures.items()):
                times[name].append(measure(os.path.join(folder, f"r{round_}-{i}")))
        rows = [(name, ops, min(times[name])) for name, (ops, _) in measures.items()]
        opened = min(open_time(os.path.join(folder, f"big{r}"), args.open_records) for r in range(args.repeat))
        peer = rows[0][2]

    print(f"ledger bench: {n} appends per run, best of {args.repeat}, fsync per commit, "
          f"files in {args.dir or tempfile.gettempdir()}")
    print(f"{'run':<38}{'appends':>9}{'seconds':>10}{'appends/s':>12}{'vs peer':>9}")
    peer_rate = n / peer
    for name, ops, seconds in rows:
        rate = ops / seconds
        print(f"{name:<38}{ops:>9}{seconds:>10.3f}{rate:>12,.0f}{rate / peer_rate:>8.2f}x")
    print(f"open a ledger of {args.open_records:,} records: {opened:.2f} s "
          f"({args.open_records / opened:,.0f} records/s)")


if __name__ == "__main__":
    main()
