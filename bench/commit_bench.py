"""Commit cost as a flow's state grows: resume + commit time and bytes written per commit.

Two flows, each answered one request at a time:

  growing   conses every answer onto a list it keeps (its state grows by one
            element per request)
  steady    drops every answer (its state stays the same size)

For each, after 20, 2,000 and 10,000 answers (--points), on each store, the
median time of one `rt.resume` (run the flow on to its next request + commit)
and the bytes each commit costs:

  encoded   what the runtime hands the store per commit: the encoded snapshot
            plus the new journal entries (flow.runtime `_commit` ->
            store.commit(flow_id, snapshot, entries)); measured on every store
  written   what reaches the durable medium: the growth of the file store's
            files (DIR/flows.log ...); PostgreSQL's WAL bytes (pg_current_wal_lsn
            before and after; the whole server's, so run it on a quiet one)

Stores: memory (FlowRuntime() with no store), file (a FileStore in a temporary
directory, every commit fsync'd) and PostgreSQL when FLOWSCHEME_BENCH_PG=<url>
or --pg URL is given (a database is created on that server for the run and
dropped after it; the user needs CREATEDB).

The flows are brought to each point in memory and then imported into a fresh
runtime on each store (export_store / import_store), so reaching 10,000 answers
does not take 10,000 fsyncs. One unmeasured resume follows each import.

Payload: how many times a large answer is stored. On each flow and store, after
20 answers, one resume whose answer is a --payload-character string (100,000
random letters and digits: incompressible, so PostgreSQL's TOAST compression
does not hide copies):
(its commit's bytes - a small answer's commit bytes) / payload length is the
number of copies that commit writes, and the same for the next (small-answer)
commit gives the copies written again afterwards.

    python bench/commit_bench.py [--points 20,2000,10000] [--samples 20] [--payload 100000]

Progress goes to stderr, the tables to stdout. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import string
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from flow import FlowRuntime  # noqa: E402

FLOWS = {
    "growing": ("(defflow growing (lambda () (let loop ((n 0) (answers '())) "
                "(loop (+ n 1) (cons (request 'next n) answers)))))"),
    "steady": ("(defflow steady (lambda () (let loop ((n 0)) "
               "(request 'next n) (loop (+ n 1)))))"),
}
FLOW_ID = "f"


def progress(msg: str) -> None:
    print(f"[commit_bench] {msg}", file=sys.stderr, flush=True)


def csv_ints(text: str) -> list[int]:
    try:
        values = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"want positive integers, got {text!r}")
    return values


# ------------------------------------------------------------------ stores


def dir_bytes(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


class MemoryTarget:
    name = "memory"
    written_what = "—"

    def open(self, label):
        return None

    def written(self):
        return None

    def done(self):
        pass


class FileTarget:
    name = "file"
    written_what = "growth of the store's files"

    def __init__(self, base):
        self.base = base
        self.dir = None

    def open(self, label):
        self.dir = os.path.join(self.base, label)
        return self.dir

    def written(self):
        return dir_bytes(self.dir)

    def done(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PgTarget:
    name = "postgresql"
    written_what = "server WAL bytes"

    def __init__(self, url):
        for p in (os.path.join(ROOT, "tests"),):
            if p not in sys.path:
                sys.path.insert(0, p)
        import psycopg
        import pgserver

        self.psycopg = psycopg
        self.server = pgserver.PgServer(url).start()
        self.dbname = None
        self.conn = None

    def open(self, label):
        self.dbname = self.server.new_database_name("commit_" + label)
        url = self.server.create_database(self.dbname)
        self.conn = self.psycopg.connect(self.server.base_url, autocommit=True)
        return url

    def written(self):
        row = self.conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").fetchone()
        return int(row[0])

    def done(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.dbname is not None:
            self.server.drop_database(self.dbname)
            self.dbname = None


# ------------------------------------------------------------------ measuring


def runtime(flow: str, store=None) -> FlowRuntime:
    rt = FlowRuntime(store=store)
    rt.load(FLOWS[flow], "commit_bench.scm")
    return rt


def recording(rt: FlowRuntime, sink: list) -> None:
    """Record the bytes the runtime hands its store on every commit."""
    commit = rt.store.commit

    def counted(flow_id, snapshot, new_entries=(), index=None, **how):
        entries = list(new_entries)
        sink.append(len(snapshot) + sum(len(e) for e in entries))
        return commit(flow_id, snapshot, entries, index, **how)

    rt.store.commit = counted


def one_resume(rt, target, encoded, value):
    """(seconds, encoded bytes, written bytes or None) of one resume + commit."""
    before = target.written()
    n = len(encoded)
    t = time.perf_counter()
    rt.resume(FLOW_ID, value)
    seconds = time.perf_counter() - t
    after = target.written()
    if len(encoded) != n + 1:
        raise RuntimeError(f"flow {FLOW_ID!r}: expected one commit per resume, saw {len(encoded) - n}")
    return seconds, encoded[-1], (None if before is None else after - before)


def measure_point(flow, data, answers, target, samples, payload):
    """Median seconds, encoded and written bytes of `samples` resumes of a flow
    imported from `data`; with payload, also the payload commit and the next one."""
    where = target.open(f"{flow}-{answers}")
    rt = runtime(flow, where)
    try:
        rt.import_store(data)
        encoded = []
        recording(rt, encoded)
        n = answers
        rt.resume(FLOW_ID, n)  # warm-up: the first decode after an import
        n += 1
        times, enc, wri = [], [], []
        for _ in range(samples):
            s, e, w = one_resume(rt, target, encoded, n)
            n += 1
            times.append(s)
            enc.append(e)
            wri.append(w)
        out = {
            "seconds": statistics.median(times),
            "encoded": statistics.median(enc),
            "written": None if wri[0] is None else statistics.median(wri),
        }
        if payload:
            _, e1, w1 = one_resume(rt, target, encoded, payload_text(payload))
            _, e2, w2 = one_resume(rt, target, encoded, n)
            out["payload"] = {"encoded": (e1, e2), "written": (w1, w2)}
        return out
    finally:
        rt.close()
        target.done()


def payload_text(n):
    """n pseudo-random ASCII letters and digits (n bytes in UTF-8; LZ compression finds no repeats)."""
    return "".join(random.Random(14).choices(string.ascii_letters + string.digits, k=n))


def fill(flow, points):
    """Yield (answers, exported store) with the flow answered up to each point, in memory."""
    rt = runtime(flow)
    rt.start(flow, flow_id=FLOW_ID)
    answered = 0
    for point in sorted(points):
        while answered < point:
            rt.resume(FLOW_ID, answered)
            answered += 1
        yield point, rt.export_store()
    rt.close()


# ------------------------------------------------------------------ reporting


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def fmt(r):
        return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def num(v, fmt="{:,.0f}"):
    return "—" if v is None else fmt.format(v)


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"×{a / b:.1f}"


def load_average():
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average unknown"


# ------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/commit_bench.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=csv_ints, default=[20, 2000, 10000],
                    help="answers accumulated before measuring (default 20,2000,10000)")
    ap.add_argument("--samples", type=int, default=20,
                    help="resumes measured at each point; the median is reported (default 20)")
    ap.add_argument("--payload", type=int, default=100_000,
                    help="characters of the large answer (default 100000; 0 skips it)")
    ap.add_argument("--flows", default="growing,steady",
                    help="which flows (default growing,steady)")
    ap.add_argument("--pg", default=os.environ.get("FLOWSCHEME_BENCH_PG"),
                    help="a PostgreSQL server URL (default $FLOWSCHEME_BENCH_PG; none: no PostgreSQL rows)")
    ap.add_argument("--dir", default=None,
                    help="where the file stores go (default: a temporary directory, removed after)")
    args = ap.parse_args(argv)
    if args.samples < 1:
        ap.error("--samples must be at least 1")
    if args.payload < 0:
        ap.error("--payload must not be negative")
    flows = [f.strip() for f in args.flows.split(",") if f.strip()]
    unknown = [f for f in flows if f not in FLOWS]
    if unknown or not flows:
        ap.error(f"unknown flow(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(FLOWS)}")
    points = sorted(set(args.points))
    first, last = points[0], points[-1]

    base = tempfile.mkdtemp(prefix="commit-bench-", dir=args.dir)
    load_before = load_average()
    started = time.perf_counter()
    try:
        targets = [MemoryTarget(), FileTarget(base)]
        if args.pg:
            progress("connecting to PostgreSQL ...")
            targets.append(PgTarget(args.pg))
        results = {}  # (flow, store, answers) -> measurement
        for flow in flows:
            for answers, data in fill(flow, points):
                for target in targets:
                    progress(f"{flow}: {answers:,} answers, {target.name} store "
                             f"(export {len(data):,} bytes) ...")
                    results[flow, target.name, answers] = measure_point(
                        flow, data, answers, target, args.samples,
                        args.payload if answers == first else 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    elapsed = time.perf_counter() - started

    names = [t.name for t in targets]
    print(f"Commit cost: one resume + commit, median of {args.samples} per point "
          f"({load_before} at the start, {load_average()} at the end; {elapsed:.0f} s)")
    print("encoded = bytes handed to the store (snapshot + new journal entries); "
          "written = growth of the file store's files / PostgreSQL WAL bytes")
    print()
    rows = []
    for flow in flows:
        for name in names:
            for answers in points:
                r = results[flow, name, answers]
                rows.append([flow, name, f"{answers:,}", num(r["seconds"] * 1e3, "{:.3f}"),
                             num(r["encoded"]), num(r["written"])])
    print(table(["flow", "store", "answers", "ms/resume", "encoded B/commit", "written B/commit"], rows))
    print()

    print(f"Growth: after {last:,} answers ÷ after {first:,}")
    rows = []
    for flow in flows:
        for name in names:
            a, b = results[flow, name, last], results[flow, name, first]
            rows.append([flow, name, ratio(a["seconds"], b["seconds"]),
                         ratio(a["encoded"], b["encoded"]), ratio(a["written"], b["written"])])
    print(table(["flow", "store", "time", "encoded", "written"], rows))
    print()

    if args.payload:
        print(f"Payload: one answer of {args.payload:,} characters after {first:,} answers; copies = "
              f"(bytes of the commit - median commit) ÷ {args.payload:,}")
        rows = []
        for flow in flows:
            for name in names:
                r = results[flow, name, first]
                p = r["payload"]
                for kind in ("encoded", "written"):
                    base_bytes = r[kind]
                    big, after = p[kind]
                    if base_bytes is None:
                        continue
                    rows.append([flow, name, kind, num(big), f"{(big - base_bytes) / args.payload:.2f}",
                                 num(after), f"{(after - base_bytes) / args.payload:.2f}"])
        print(table(["flow", "store", "bytes", "payload commit", "copies", "next commit", "copies again"],
                    rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
