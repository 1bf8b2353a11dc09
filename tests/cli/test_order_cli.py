"""`flowscheme order ...` and `flowscheme ledger ...`: the order lifecycle from the
command line, --json, and the errors (unknown sku or order, bad quantity, wrong
amount, missing data, damaged ledger) — a message and an exit status each; reading
commands that run nothing (even on a hostile store), `order recover`, and `ledger
verify` / `ledger repair` cross-checking and re-deriving the ledger from the flows.
Every test with order data runs on a data directory and on PostgreSQL (--data URL),
but those about the ledger file itself (damage, torn tails, modes, symlinks)."""

import json
import os
import sys

import pytest
from click.testing import CliRunner

from clihelp import ROOT

sys.path.insert(0, str(ROOT / "tests" / "commerce"))
import storebuild  # noqa: E402  (hostile and old-style order stores, shared with tests/commerce)
from shophelp import ledger_state, open_ledger  # noqa: E402


def no_traceback(r):
    assert "Traceback" not in r.output


@pytest.fixture
def data(store_location):
    """Order data: a directory, or a PostgreSQL database (URL)."""
    return store_location


@pytest.fixture
def file_data(tmp_path):
    """A data directory, for the tests about the ledger file itself."""
    return tmp_path / "shop"


@pytest.fixture
def file_begun(cli, file_data):
    r = cli("order", "begin", "o-1", "tea=2", "mug", "--data", file_data)
    assert r.exit_code == 0, r.output
    return file_data


@pytest.fixture
def begun(cli, data):
    r = cli("order", "begin", "o-1", "tea=2", "mug", "--data", data)
    assert r.exit_code == 0, r.output
    return data


# ---------------------------------------------------------------------- pricing


def test_catalog(cli):
    r = cli("order", "catalog")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].split() == ["SKU", "NAME", "PRICE"]
    assert any(line.startswith("tea ") and line.endswith("4.50") for line in r.stdout.splitlines())
    r = cli("order", "catalog", "--json")
    assert {"sku": "mug", "name": "Stoneware mug", "price": 1200} in json.loads(r.stdout)


def test_quote(cli):
    r = cli("order", "quote", "tea=2", "mug=1")
    assert r.exit_code == 0
    lines = [l.split() for l in r.stdout.splitlines()]
    assert lines == [["SKU", "QTY", "UNIT", "TOTAL"], ["tea", "2", "4.50", "9.00"],
                     ["mug", "1", "12.00", "12.00"], ["total", "21.00"]]
    r = cli("order", "quote", "tea=10", "--json")
    q = json.loads(r.stdout)
    assert q == {"lines": [{"sku": "tea", "qty": 10, "unit": 450, "total": 4050}], "total": 4050}


@pytest.mark.parametrize("items, message", [
    (["nope=1"], "unknown sku: nope"),
    (["tea=0"], "quantity must be a positive integer: 0"),
    (["tea=-2"], "quantity must be a positive integer: -2"),
    (["tea=1", "tea=2"], "duplicate sku: tea"),
])
def test_quote_refused(cli, items, message):
    r = cli("order", "quote", *items)
    assert r.exit_code == 1
    assert message in r.stderr
    no_traceback(r)


@pytest.mark.parametrize("items", [[], ["tea=two"], ["=3"]])
def test_quote_usage_errors(cli, items):
    r = cli("order", "quote", *items)
    assert r.exit_code == 2
    no_traceback(r)


def test_carts_backwards(cli):
    r = cli("order", "carts", "2400", "--max-items", "2")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["tray x1", "mug x2"]
    r = cli("order", "carts", "2400", "--max-items", "2", "--json")
    assert json.loads(r.stdout) == [[["tray", 1]], [["mug", 2]]]
    r = cli("order", "carts", "1", "--max-items", "1")
    assert r.stdout == "no cart of at most 1 items costs exactly 0.01\n"
    r = cli("order", "carts", "--", "-5")
    assert r.exit_code == 2 and "TOTAL" in r.stderr


# ---------------------------------------------------------------------- lifecycle


def test_lifecycle(cli, begun):
    data = begun
    r = cli("order", "status", "o-1", "--data", data)
    assert r.stdout == "o-1: awaiting-payment (total 21.00; ledger: created -> reserved)\n"
    r = cli("order", "begin", "o-1", "tea=2", "mug", "--data", data, "--json")  # idempotent
    assert json.loads(r.stdout) == {"order_id": "o-1", "status": "awaiting-payment", "total": 2100}
    r = cli("order", "settle", "o-1", "pay-1", "2100", "--data", data)
    assert (r.exit_code, r.stdout) == (0, "o-1: settled (paid 21.00, fulfilled)\n")
    r = cli("order", "settle", "o-1", "pay-1", "2100", "--data", data, "--json")
    assert json.loads(r.stdout) == {"order_id": "o-1", "result": "already-settled", "status": "fulfilled"}
    r = cli("order", "status", "o-1", "--data", data, "--json")
    s = json.loads(r.stdout)
    assert s["status"] == "fulfilled" and s["total"] == 2100
    assert [x["kind"] for x in s["records"]] == ["created", "reserved", "paid", "fulfilled"]


def test_list(cli, begun):
    cli("order", "begin", "o-2", "pot=1", "--data", begun)
    r = cli("order", "list", "--data", begun)
    assert [l.split() for l in r.stdout.splitlines()] == [
        ["ORDER", "STATUS", "TOTAL"], ["o-1", "awaiting-payment", "21.00"], ["o-2", "awaiting-payment", "39.50"]]
    r = cli("order", "list", "--data", begun, "--json")
    assert json.loads(r.stdout)[1] == {"order_id": "o-2", "status": "awaiting-payment", "total": 3950}


def test_settle_wrong_amount_records_nothing(cli, begun):
    r = cli("order", "settle", "o-1", "pay-1", "2000", "--data", begun)
    assert r.exit_code == 1
    assert "does not match the quoted total 2100" in r.stderr
    r = cli("ledger", "show", "o-1", "--data", begun, "--json")
    assert [x["kind"] for x in json.loads(r.stdout)] == ["created", "reserved"]


@pytest.mark.parametrize("amount", ["21.00", "abc", "2e3"])
def test_settle_amount_must_be_minor_units(cli, tmp_path, amount):
    r = cli("order", "settle", "o-1", "pay-1", amount, "--data", tmp_path)
    assert r.exit_code == 2
    assert "minor units" in r.stderr


def test_unknown_order(cli, begun):
    for args in (["status", "o-9"], ["settle", "o-9", "p", "100"]):
        r = cli("order", *args, "--data", begun)
        assert r.exit_code == 1
        assert "unknown order: o-9" in r.stderr
        no_traceback(r)


def test_begin_refused_records_nothing(cli, data):
    r = cli("order", "begin", "o-1", "nope=1", "--data", data)
    assert r.exit_code == 1 and "unknown sku: nope" in r.stderr
    r = cli("order", "list", "--data", data)
    assert r.stdout == "no orders\n"


@pytest.mark.file_only("a data directory that does not exist")
@pytest.mark.parametrize("cmd", [["status", "o-1"], ["settle", "o-1", "p", "1"], ["list"]])
def test_missing_data(cli, tmp_path, cmd):
    r = cli("order", *cmd, "--data", tmp_path / "nowhere")
    assert r.exit_code == 1
    assert "no order data at" in r.stderr and "does not exist" in r.stderr
    assert not (tmp_path / "nowhere").exists()


def test_data_option_required(cli):
    r = cli("order", "list")
    assert r.exit_code == 2 and "--data" in r.stderr


# ---------------------------------------------------------------------- ledger


def test_ledger_show_and_verify(cli, begun):
    cli("order", "settle", "o-1", "pay-7", "2100", "--data", begun)
    r = cli("ledger", "show", "--data", begun)
    assert r.exit_code == 0
    rows = [l.split()[:5] for l in r.stdout.splitlines()]
    assert rows[0] == ["SEQ", "ORDER", "KIND", "AMOUNT", "KEY"]
    assert rows[1] == ["1", "%stock", "received", "-", "stock:opening"]  # the shop's opening stock
    assert rows[2] == ["2", "o-1", "created", "21.00", "o-1:created"]
    assert [r[2] for r in rows[2:]] == ["created", "reserved", "paid", "fulfilled"]
    assert "payment pay-7" in r.stdout and "tea x2, mug x1" in r.stdout
    r = cli("ledger", "show", "o-1", "--data", begun, "--json")
    recs = json.loads(r.stdout)
    assert recs[2]["details"] == {"payment_ref": "pay-7"} and recs[2]["amount"] == 2100
    r = cli("ledger", "show", "o-2", "--data", begun)
    assert r.stdout == "no records for o-2\n"
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 0 and r.stdout.endswith("5 records, no problems\n")
    r = cli("ledger", "verify", "--data", begun, "--json")
    assert json.loads(r.stdout)["ok"] is True


@pytest.mark.file_only("damages the ledger file")
def test_damaged_ledger(cli, file_begun):
    begun = file_begun
    cli("order", "begin", "o-2", "pot=1", "--data", begun)
    path = begun / "ledger.log"
    with storebuild.Ledger(path) as ledger:
        created = ledger.get("o-1:created")
    raw = bytearray(path.read_bytes())
    raw[created.offset + 24] ^= 0xFF  # inside o-1's created record (the first is the opening stock)
    path.write_bytes(bytes(raw))
    r = cli("ledger", "verify", "--data", begun)  # verify reads a ledger too damaged to open
    assert r.exit_code == 1
    assert f"offset {created.offset}: frame body checksum mismatch" in r.stdout
    assert "'reserved' recorded before 'created'" in r.stdout  # the lost frame shows in the lifecycle too
    no_traceback(r)
    r = cli("ledger", "show", "--data", begun)
    assert r.exit_code == 1
    assert "damaged at byte offset" in r.stderr
    no_traceback(r)
    r = cli("order", "list", "--data", begun)
    assert r.exit_code == 1 and "damaged" in r.stderr
    no_traceback(r)


@pytest.mark.file_only("tears the ledger file's last frame")
def test_torn_tail_is_a_warning(cli, file_begun):
    begun = file_begun
    path = begun / "ledger.log"
    with open(path, "ab") as f:
        f.write(b"FSLR\x00")  # an interrupted write
    r = cli("ledger", "show", "--data", begun)
    assert r.exit_code == 0
    assert r.stderr.startswith("warning: ")
    no_traceback(r)


@pytest.mark.parametrize("cmd", [["order", "status", "o-1"], ["order", "list"], ["ledger", "show"],
                                 ["ledger", "verify"], ["order", "recover"]])
def test_a_database_that_does_not_exist(cli, pg_url, cmd):
    """The PostgreSQL counterpart of a missing data directory: a clear error naming the
    database, exit 1, no traceback, and no database created."""
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    r = cli(*cmd, "--data", missing)
    assert r.exit_code == 1, r.output
    assert "no_such_database" in r.stderr
    no_traceback(r)
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from pg_database where datname = 'no_such_database'"
                            ).fetchone()[0] == 0


@pytest.mark.file_only("a data directory that does not exist")
def test_ledger_missing_data(cli, tmp_path):
    for cmd in ("show", "verify"):
        r = cli("ledger", cmd, "--data", tmp_path / "nowhere")
        assert r.exit_code == 1 and "no order data at" in r.stderr


@pytest.mark.parametrize("cmd", [["order"], ["order", "catalog"], ["order", "quote"], ["order", "carts"],
                                 ["order", "begin"], ["order", "settle"], ["order", "status"], ["order", "list"],
                                 ["ledger"], ["ledger", "show"], ["ledger", "verify"], ["demo"]])
def test_help(cli, cmd):
    r = cli(*cmd, "--help")
    assert r.exit_code == 0
    assert "Usage:" in r.stdout and len(r.stdout.splitlines()) > 5


# ---------------------------------------------------------------------- opening is not running


@pytest.fixture
def hostile(store_location):
    data = store_location
    return data, storebuild.build_hostile(data)


@pytest.mark.parametrize("cmd", [["order", "list"], ["order", "list", "--json"], ["order", "status", "h1"],
                                 ["order", "status", "h3", "--json"], ["ledger", "show"]])
def test_reading_a_hostile_store_runs_nothing(cli, hostile, cmd):
    """Flows a recovery pass would run (one waiting on a served step, one whose
    payment the ledger records), flows of a name this flowscheme does not know,
    an order flow whose code is not loaded: reading leaves every byte as it was."""
    data, statuses = hostile
    before = storebuild.tree_bytes(data)
    r = cli(*cmd, "--data", data)
    assert r.exit_code == 0, r.output
    no_traceback(r)
    assert storebuild.tree_bytes(data) == before
    if cmd == ["order", "list"]:
        assert {l.split()[0]: l.split()[1] for l in r.stdout.splitlines()[1:]} == statuses
    if cmd == ["order", "status", "h3", "--json"]:
        assert json.loads(r.stdout)["status"] == "unknown-flow"


def test_order_list_where_the_flows_code_is_not_loaded(cli, data):
    """Every order's flow is from another version of order.scm, whose code is
    not loaded (its payload holds a procedure of that code): listing reads the
    flows' metadata only, and runs and writes nothing."""
    with open_ledger(data) as ledger:
        for order in ("v1", "v2"):
            storebuild.created(ledger, order)
    rt = storebuild.runtime(str(data), storebuild.OTHER_ORDER, "order-v0.scm")
    try:
        for order in ("v1", "v2"):
            rt.start("order-lifecycle", order, flow_id=order)
    finally:
        rt.close()
    before = storebuild.tree_bytes(data)
    r = cli("order", "list", "--data", data, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"order_id": "v1", "status": "reserving", "total": 900},
                                    {"order_id": "v2", "status": "reserving", "total": 900}]
    assert storebuild.tree_bytes(data) == before
    r = cli("order", "recover", "--data", data)  # the explicit call names what it cannot drive
    assert r.exit_code == 1 and "v1" in r.stderr and "order-v0.scm" in r.stderr
    no_traceback(r)


def test_recover_is_explicit(cli, begun, new_store_location):
    """A payment recorded before a crash: listing shows it half-done and changes
    nothing; `order recover` finishes it."""
    from commerce import Shop

    with Shop(begun) as shop:
        shop.ledger.append("o-1", "paid", shop.flows.result("o-1").key, amount=2100,
                           details={"payment_ref": "pay-1"})
    before = storebuild.tree_bytes(begun)
    r = cli("order", "list", "--data", begun)
    assert r.stdout.splitlines()[1].split() == ["o-1", "awaiting-payment", "21.00"]
    assert storebuild.tree_bytes(begun) == before
    r = cli("order", "recover", "--data", begun)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "recovered 1 half-done order(s)"
    assert r.stdout.splitlines()[2].split() == ["o-1", "fulfilled", "21.00"]
    r = cli("order", "recover", "--data", begun, "--json")
    assert json.loads(r.stdout) == {"recovered": 0, "orders": [
        {"order_id": "o-1", "status": "fulfilled", "total": 2100}]}
    nowhere = new_store_location()
    if not nowhere.startswith("postgresql:"):  # (an empty new database is order data with no orders)
        r = cli("order", "recover", "--data", nowhere)
        assert r.exit_code == 1 and "no order data at" in r.stderr


# ---------------------------------------------------------------------- ledger integrity from the CLI


@pytest.mark.file_only("tears the ledger file's last frame")
def test_a_torn_tail_is_announced_prominently(cli, file_begun):
    begun = file_begun
    path = begun / "ledger.log"
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b"FSLR\x00")
    r = cli("order", "list", "--data", begun)
    assert r.exit_code == 0
    assert f"warning: LEDGER REPAIRED: {path}: truncated a torn tail of 5 bytes at offset {size}" in r.stderr
    assert "nothing committed was lost" in r.stderr and "ledger verify" in r.stderr
    assert r.stderr.count("torn tail") == 1  # announced once, not also as a plain warning line
    assert path.stat().st_size == size


@pytest.mark.file_only("flips a bit of the ledger file")
def test_a_flipped_bit_in_the_last_record_is_corruption_set_aside_only_on_request(cli, file_begun):
    begun = file_begun
    cli("order", "settle", "o-1", "pay-1", "2100", "--data", begun)
    path = begun / "ledger.log"
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x04  # in the fsync'd 'fulfilled' record
    path.write_bytes(bytes(data))
    for cmd in (["order", "list"], ["ledger", "show"], ["order", "status", "o-1"]):
        r = cli(*cmd, "--data", begun)
        assert r.exit_code == 1 and "frame body checksum mismatch" in r.stderr and str(path) in r.stderr
        no_traceback(r)
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 1 and "damage to committed data" in r.stdout and "skipped" in r.stdout
    r = cli("ledger", "repair", "--data", begun)
    assert r.exit_code == 1 and "--set-aside-damaged-tail" in r.stderr
    assert path.read_bytes() == bytes(data)  # nothing cut without being asked
    r = cli("ledger", "repair", "--data", begun, "--set-aside-damaged-tail")
    assert r.exit_code == 0, r.output
    assert "LEDGER CUT" in r.stderr and "damaged-at-" in r.stderr
    assert "re-appended 'fulfilled' for order o-1 under key o-1:3" in r.stdout
    copies = [p for p in os.listdir(begun) if p.startswith("ledger.log.damaged-at-")]
    assert len(copies) == 1
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 0, r.output


@pytest.mark.file_only("a symbolic link where the ledger file goes")
def test_a_symlinked_ledger_is_refused(cli, file_begun, tmp_path):
    begun = file_begun
    real = tmp_path / "real.log"
    os.rename(begun / "ledger.log", real)
    os.symlink(real, begun / "ledger.log")
    before = real.read_bytes()
    for cmd in (["order", "list"], ["ledger", "show"], ["ledger", "verify"], ["ledger", "repair"]):
        r = cli(*cmd, "--data", begun)
        assert r.exit_code == 1, (cmd, r.output)
        assert "symbolic link" in r.output
        no_traceback(r)
    assert real.read_bytes() == before


@pytest.mark.file_only("the modes of the files the shop creates")
def test_a_new_data_directory_is_private(cli, tmp_path):
    data = tmp_path / "fresh"
    old = os.umask(0o002)
    try:
        r = cli("order", "begin", "o-1", "tea", "--data", data)
    finally:
        os.umask(old)
    assert r.exit_code == 0
    assert (data.stat().st_mode & 0o777, (data / "ledger.log").stat().st_mode & 0o777) == (0o700, 0o600)


def cut_ledger(data, keep):
    with storebuild.Ledger(data / "ledger.log") as ledger:
        records = ledger.records()
    os.truncate(data / "ledger.log", records[keep].offset)
    return records[keep:]


@pytest.mark.file_only("loses ledger records by truncating the ledger file")
def test_verify_names_every_gap_and_repair_re_derives_it(cli, file_begun):
    begun = file_begun
    cli("order", "settle", "o-1", "pay-1", "2100", "--data", begun)
    cli("order", "begin", "o-2", "pot", "--data", begun)
    lost = cut_ledger(begun, 4)  # o-1's fulfilled, o-2's created and reserved (record 0: the opening stock)
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 1
    assert "cross-check of 2 order(s) against their flows: 3 gap(s)" in r.stdout
    for record in lost:
        assert f"order {record.order}, key {record.key}: no '{record.kind}' record" in r.stdout
    r = cli("ledger", "verify", "--data", begun, "--json")
    report = json.loads(r.stdout)
    assert report["ok"] is False and report["problems"] == []
    assert [(g["order"], g["key"], g["remedy"]) for g in report["cross_check"]["gaps"]] == \
        [(x.order, x.key, "repair") for x in lost]

    r = cli("ledger", "repair", "--data", begun)
    assert r.exit_code == 0, r.output
    assert r.stdout.count("re-appended") == 3 and "no gaps" in r.stdout
    r = cli("ledger", "repair", "--data", begun, "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["appended"] == [] and json.loads(r.stdout)["ok"] is True
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 0 and r.stdout.endswith("7 records, no problems\n")
    r = cli("order", "settle", "o-2", "pay-2", "3950", "--data", begun)
    assert r.stdout == "o-2: settled (paid 39.50, fulfilled)\n"


@pytest.mark.file_only("loses ledger records by truncating the ledger file")
def test_repair_names_what_it_cannot_re_derive(cli, tmp_path):
    data = tmp_path / "old"
    storebuild.build_old_style(data, "x")
    cut_ledger(data, 2)
    r = cli("ledger", "repair", "--data", data)
    assert r.exit_code == 1
    assert "not repaired: order x, key x:2" in r.stdout and "payment reference" in r.stdout
    assert "not repaired: order x, key x:3" in r.stdout
    r = cli("ledger", "repair", "--data", data, "--json")
    assert [g["key"] for g in json.loads(r.stdout)["left"]] == ["x:2", "x:3"]


@pytest.mark.parametrize("cmd", [["order", "recover"], ["ledger", "repair"]])
def test_help_of_the_new_commands(cli, cmd):
    r = cli(*cmd, "--help")
    assert r.exit_code == 0 and "Usage:" in r.stdout


# ---------------------------------------------------------------------- #15: the lifecycles a shop runs


@pytest.mark.parametrize("args", [["o-1", "pay-1", "-2100"], ["o-1", "pay-1", "--", "-2100"]])
def test_a_negative_amount_gets_a_clear_message_and_records_nothing(cli, begun, args):
    before = ledger_state(begun)
    r = cli("order", "settle", "--data", begun, *args)
    assert r.exit_code == 2, r.output
    assert "-2100: AMOUNT is negative" in r.stderr and "No such option" not in r.stderr
    no_traceback(r)
    assert ledger_state(begun) == before
    r = cli("order", "carts", "-5")
    assert r.exit_code == 2 and "-5: TOTAL is negative" in r.stderr


def test_payments_that_do_not_fit_are_refund_due(cli, begun):
    r = cli("order", "settle", "o-1", "pay-1", "2100", "--data", begun)
    assert r.stdout == "o-1: settled (paid 21.00, fulfilled)\n"
    r = cli("order", "settle", "o-1", "pay-2", "2100", "--data", begun)
    assert r.exit_code == 0
    assert r.stdout == ("o-1: duplicate-payment (the order was already paid under another reference: "
                        "payment pay-2 of 21.00 recorded refund-due)\n")
    r = cli("order", "settle", "o-1", "pay-2", "2100", "--data", begun, "--json")
    assert json.loads(r.stdout) == {"order_id": "o-1", "result": "duplicate-payment", "status": "fulfilled"}
    r = cli("ledger", "show", "o-1", "--data", begun, "--json")
    assert [x["kind"] for x in json.loads(r.stdout)] == ["created", "reserved", "paid", "fulfilled", "refund-due"]


def test_cancel_and_list_by_status(cli, begun):
    cli("order", "begin", "o-2", "pot", "--data", begun)
    r = cli("order", "cancel", "o-1", "--data", begun)
    assert (r.exit_code, r.stdout) == (0, "o-1: cancelled (reservation released (tea x2, mug x1 back))\n")
    r = cli("order", "cancel", "o-1", "--data", begun)
    assert r.stdout == "o-1: cancelled (nothing recorded)\n"
    r = cli("order", "list", "--status", "cancelled", "--data", begun)
    assert [l.split() for l in r.stdout.splitlines()] == [["ORDER", "STATUS", "TOTAL"], ["o-1", "cancelled", "21.00"]]
    r = cli("order", "list", "--status", "expired", "--data", begun)
    assert r.stdout == "no expired orders\n"
    r = cli("order", "list", "--status", "nonsense", "--data", begun)
    assert r.exit_code == 2 and "--status" in r.stderr
    r = cli("order", "settle", "o-1", "pay-1", "2100", "--data", begun)
    assert "o-1: cancelled (the order was cancelled: payment pay-1 of 21.00 recorded refund-due)" in r.stdout
    cli("order", "settle", "o-2", "pay-2", "3950", "--data", begun)
    r = cli("order", "cancel", "o-2", "--data", begun, "--json")
    assert r.exit_code == 1 and "order o-2 is fulfilled: it cannot be cancelled" in r.stderr
    no_traceback(r)
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 0, r.output


def test_begin_out_of_stock_and_with_another_cart(cli, begun):
    r = cli("order", "begin", "o-2", "tea=1001", "--data", begun)
    assert r.exit_code == 0
    assert r.stdout == "o-2: out-of-stock (total 4054.05; nothing reserved: tea 1001 wanted, 998 on hand)\n"
    r = cli("order", "begin", "o-2", "tea=1001", "--data", begun, "--json")
    assert json.loads(r.stdout)["short"] == {"tea": {"wanted": 1001, "on_hand": 998}}
    r = cli("order", "begin", "o-1", "tea=3", "--data", begun)
    assert r.exit_code == 1 and "order o-1 exists with a different cart (tea x2, mug x1)" in r.stderr
    no_traceback(r)


def test_order_show(cli, begun):
    before = storebuild.tree_bytes(begun)
    r = cli("order", "show", "o-1", "--data", begun)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "o-1: awaiting-payment (total 21.00; tea x2, mug x1)"
    assert lines[1].startswith("flow:   shop-order suspended, waiting on payment (key o-1:2), deadline ")
    assert lines[2] == "ledger:" and "o-1:created" in lines[4] and "o-1:1" in lines[5]
    r = cli("order", "show", "o-1", "--data", begun, "--json")
    shown = json.loads(r.stdout)
    assert shown["flow"]["waiting_on"] == "payment" and shown["flow"]["deadline"] is not None
    assert [x["kind"] for x in shown["records"]] == ["created", "reserved"]
    assert storebuild.tree_bytes(begun) == before
    r = cli("order", "show", "o-9", "--data", begun)
    assert r.exit_code == 1 and "unknown order: o-9" in r.stderr


def test_run_due_expires_an_order_whose_window_passed(cli, data):
    import time

    r = cli("order", "begin", "o-1", "tray", "--payment-window", "0.01", "--data", data)
    assert r.exit_code == 0, r.output
    time.sleep(0.05)  # the CLI runs on the real clock; the Python API tests skip time instead
    r = cli("order", "run-due", "--data", data)
    assert (r.exit_code, r.stdout) == (0, "fired 1: o-1 expired\n")
    assert cli("order", "run-due", "--data", data).stdout == "nothing due\n"
    r = cli("order", "status", "o-1", "--data", data)
    assert r.stdout == "o-1: expired (total 24.00; ledger: created -> reserved -> released)\n"
    r = cli("order", "begin", "o-2", "tea", "--payment-window", "0", "--data", data)
    assert r.exit_code == 2


def test_stock_show_and_add(cli, begun):
    from commerce.cli import stock

    r = cli("order", "stock", "show", "--data", begun)
    rows = {l.split()[0]: l.split()[1:] for l in r.stdout.splitlines()}
    assert rows["SKU"] == ["ON", "HAND", "HELD", "SHIPPED", "RECEIVED"]
    assert rows["tea"] == ["998", "2", "0", "1000"] and rows["pot"] == ["1000", "0", "0", "1000"]
    r = cli("order", "stock", "add", "tea=5", "pot=2", "--ref", "note-1", "--data", begun)
    assert (r.exit_code, r.stdout) == (0, "on hand: tea 1003, pot 1002\n")
    r = cli("order", "stock", "add", "tea=5", "pot=2", "--ref", "note-1", "--data", begun, "--json")
    assert json.loads(r.stdout)["tea"] == 1003  # once per reference
    r = cli("order", "stock", "add", "nope=1", "--data", begun)
    assert r.exit_code == 1 and "unknown sku: nope" in r.stderr
    r = CliRunner().invoke(stock, ["show", "--json", "--data", str(begun)])  # the `flowscheme stock` group
    assert r.exit_code == 0 and {"sku": "pot", "on_hand": 1002, "held": 0, "shipped": 0,
                                 "received": 1002} in json.loads(r.stdout)


@pytest.mark.parametrize("cmd", [["order", "cancel"], ["order", "show"], ["order", "run-due"], ["order", "stock"],
                                 ["order", "stock", "show"], ["order", "stock", "add"]])
def test_help_of_the_lifecycle_commands(cli, cmd):
    r = cli(*cmd, "--help")
    assert r.exit_code == 0 and "Usage:" in r.stdout
