"""`flowscheme demo`: the guided tour runs end to end in a fresh process, narrates
each step in one line, and leaves a verified ledger in a fresh directory — with the
lifecycles beyond the happy path: a duplicate payment made refund-due, an order
out of stock, one expired on a skipped clock (its stock back)."""

import os
import re

from clihelp import run_process


def test_demo_runs_end_to_end(tmp_path):
    r = run_process("demo", cwd=tmp_path, timeout=300)
    out = r.stdout
    shown = f"\n--- stdout:\n{out}\n--- stderr:\n{r.stderr}"
    assert r.returncode == 0, shown
    assert "Traceback" not in r.stderr, shown
    m = re.search(r"\(data in (flowscheme-data/demo-[0-9-]+)\)", out)
    assert m, shown
    where = tmp_path / m.group(1)
    assert where.is_dir()

    steps = re.findall(r"^ ?\d+\. (\w+)", out, re.M)
    assert steps == ["price", "begin", "begin", "begin", "restart", "webhooks", "replay", "duplicate", "stockout",
                     "expire", "backward", "ledger"], shown
    assert "tea 2 x 4.50 + mug 1 x 12.00 = 21.00" in out, shown
    assert re.search(r"a fresh process \(pid \d+\) opens the same data: o-1001, o-1002, o-1003 awaiting-payment", out), shown
    assert "o-1001, o-1002, o-1003 settled (fulfilled)" in out, shown
    assert "-> already-settled: nothing recorded twice" in out, shown
    assert "o-1001 paid again under another reference -> duplicate-payment: the money is recorded refund-due" \
        in out, shown
    assert "o-1004: pot x2 -> out-of-stock (pot: 2 wanted, 1 on hand): nothing reserved" in out, shown
    assert re.search(r"o-1005: tray x1 -> awaiting-payment \(tray on hand 0\); the clock skips 30 minutes, "
                     r"no payment: o-1005 expired, tray on hand 1 again", out), shown
    assert "cost exactly 24.00? the same rules run backwards: tray x1 | mug x2" in out, shown
    assert "19 records, every effect written once; verified" in out, shown
    assert f"flowscheme ledger show --data {m.group(1)}" in out, shown

    from commerce.ledger import Ledger

    lg = Ledger(os.path.join(where, "ledger.log"))
    try:
        for order_id in ("o-1002", "o-1003"):
            assert [x.kind for x in lg.records(order_id)] == ["created", "reserved", "paid", "fulfilled"]
        assert [x.kind for x in lg.records("o-1001")] == ["created", "reserved", "paid", "fulfilled", "refund-due"]
        assert [x.kind for x in lg.records("o-1004")] == ["created", "out-of-stock"]
        assert [x.kind for x in lg.records("o-1005")] == ["created", "reserved", "released"]
        assert lg.stock()["tray"] == 1 and lg.stock()["pot"] == 1
        assert lg.verify().ok
    finally:
        lg.close()


def test_each_run_gets_a_fresh_directory(tmp_path):
    from commerce.cli import _fresh_demo_dir

    a = _fresh_demo_dir(str(tmp_path))
    b = _fresh_demo_dir(str(tmp_path))
    assert a != b and os.path.isdir(a) and os.path.isdir(b)
    assert os.path.basename(a).startswith("demo-")
