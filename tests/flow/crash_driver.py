"""Drives N order flows on a durable store until each waits on fulfil; prints
"<id> <step>" after every transition returns (i.e. once it is committed).
Run as: python crash_driver.py DIR N [SEED]. Used by test_flow_crash.py."""

import random
import sys

from flow import FlowRuntime

ORDER = (
    "(defflow order-lifecycle (lambda (oid) (begin (request (quote reserve) oid) "
    "(request (quote payment) oid) (request (quote fulfil) oid))))"
)
KINDS = {"reserve": "payment", "payment": "fulfil"}


def main():
    directory, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    rt = FlowRuntime(store=directory)
    rt.load(ORDER, "order.scm")
    print("ready", flush=True)
    ids = [f"f{i:03d}" for i in range(n)]
    todo = list(ids)
    while todo:
        fid = rng.choice(todo)
        r = rt.start("order-lifecycle", fid, flow_id=fid)  # idempotent: the existing state
        if r.kind == "fulfil":
            todo.remove(fid)
            continue
        if fid not in printed:
            printed.add(fid)
            print(fid, rt.flow(fid).step, flush=True)
        r = rt.resume(fid, f"{r.kind}-{fid}", kind=r.kind)
        print(fid, rt.flow(fid).step, flush=True)


printed = set()

if __name__ == "__main__":
    main()
