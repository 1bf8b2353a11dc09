"""Several processes (and threads) resuming the same flows with kind=...: each
request is answered exactly once."""

import multiprocessing
import threading
from collections import Counter

from flow import NotWaiting

from flowhelp import ORDER, runtime

FLOWS = 40
KINDS = ["reserve", "payment", "fulfil"]


def worker(directory, seed, queue):
    """Deliver every flow's three 'webhooks' (possibly late or twice); report
    which answers this process got accepted."""
    import random

    rt = runtime(ORDER, store=directory)
    rng = random.Random(seed)
    accepted = []
    ids = [f"c{i}" for i in range(FLOWS)]
    for kind in KINDS:
        rng.shuffle(ids)
        for fid in ids:
            for _ in range(2):  # a duplicated webhook
                r = rt.resume(fid, f"{kind}-by-{seed}", kind=kind)
                if not isinstance(r, NotWaiting):
                    accepted.append((fid, kind))
    rt.close()
    queue.put((seed, accepted))


def test_processes_answer_each_request_exactly_once(store_location):
    rt = runtime(ORDER, store=store_location)
    for i in range(FLOWS):
        rt.start("order-lifecycle", i, flow_id=f"c{i}")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(store_location, seed, queue)) for seed in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    accepted = Counter(x for r in results.values() for x in r)
    # every (flow, kind) answered by exactly one delivery, across all processes
    assert accepted == Counter({(f"c{i}", k): 1 for i in range(FLOWS) for k in KINDS})
    for i in range(FLOWS):
        fid = f"c{i}"
        assert rt.status(fid) == "done"
        journal = rt.journal(fid)
        assert [e.key for e in journal] == [f"{fid}:1", f"{fid}:2", f"{fid}:3"]
        assert [e.kind.name for e in journal] == KINDS
        # the answer recorded is the one the accepting process gave
        winners = {k: seed for seed, r in results.items() for (f, k) in r if f == fid}
        assert [e.answer for e in journal] == [f"{k}-by-{winners[k]}" for k in KINDS]
    rt.close()


def test_threads_with_their_own_runtimes_on_one_store(store_location):
    rt = runtime(ORDER, store=store_location)
    for i in range(20):
        rt.start("order-lifecycle", i, flow_id=f"t{i}")
    runtimes = [runtime(ORDER, store=store_location) for _ in range(3)] + [rt]
    accepted = Counter()
    lock = threading.Lock()

    def deliver(r_):
        for kind in KINDS:
            for i in range(20):
                if not isinstance(r_.resume(f"t{i}", kind, kind=kind), NotWaiting):
                    with lock:
                        accepted[(i, kind)] += 1

    threads = [threading.Thread(target=deliver, args=(r_,)) for r_ in runtimes for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert accepted == Counter({(i, k): 1 for i in range(20) for k in KINDS})
    assert all(len(rt.journal(f"t{i}")) == 3 for i in range(20))
    for r_ in runtimes:
        r_.close()


def test_threads_sharing_one_in_memory_runtime(order_rt):
    rt = order_rt
    for i in range(20):
        rt.start("order-lifecycle", i, flow_id=f"m{i}")
    accepted = Counter()
    lock = threading.Lock()

    def deliver():
        for kind in KINDS:
            for i in range(20):
                if not isinstance(rt.resume(f"m{i}", kind, kind=kind), NotWaiting):
                    with lock:
                        accepted[(i, kind)] += 1

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert accepted == Counter({(i, k): 1 for i in range(20) for k in KINDS})
    assert all(rt.status(f"m{i}") == "done" and len(rt.journal(f"m{i}")) == 3 for i in range(20))
