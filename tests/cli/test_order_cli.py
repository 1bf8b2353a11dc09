"""`flowscheme order ...` and `flowscheme ledger ...`: the order lifecycle from the
command line, --json, and the errors (unknown sku or order, bad quantity, wrong
amount, missing data, damaged ledger) — a message and an exit status each."""

import json

import pytest


def no_traceback(r):
    assert "Traceback" not in r.output


@pytest.fixture
def data(tmp_path):
    return tmp_path / "shop"


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
    assert rows[1] == ["1", "o-1", "created", "21.00", "o-1:created"]
    assert [r[2] for r in rows[1:]] == ["created", "reserved", "paid", "fulfilled"]
    assert "payment pay-7" in r.stdout and "tea x2, mug x1" in r.stdout
    r = cli("ledger", "show", "o-1", "--data", begun, "--json")
    recs = json.loads(r.stdout)
    assert recs[2]["details"] == {"payment_ref": "pay-7"} and recs[2]["amount"] == 2100
    r = cli("ledger", "show", "o-2", "--data", begun)
    assert r.stdout == "no records for o-2\n"
    r = cli("ledger", "verify", "--data", begun)
    assert r.exit_code == 0 and r.stdout.endswith("4 records, no problems\n")
    r = cli("ledger", "verify", "--data", begun, "--json")
    assert json.loads(r.stdout)["ok"] is True


def test_damaged_ledger(cli, begun):
    cli("order", "begin", "o-2", "pot=1", "--data", begun)
    path = begun / "ledger.log"
    raw = bytearray(path.read_bytes())
    raw[40] ^= 0xFF  # inside the first record
    path.write_bytes(bytes(raw))
    r = cli("ledger", "verify", "--data", begun)  # verify reads a ledger too damaged to open
    assert r.exit_code == 1
    assert "offset 16: frame body checksum mismatch" in r.stdout
    assert "'reserved' recorded before 'created'" in r.stdout  # the lost frame shows in the lifecycle too
    no_traceback(r)
    r = cli("ledger", "show", "--data", begun)
    assert r.exit_code == 1
    assert "damaged at byte offset" in r.stderr
    no_traceback(r)
    r = cli("order", "list", "--data", begun)
    assert r.exit_code == 1 and "damaged" in r.stderr
    no_traceback(r)


def test_torn_tail_is_a_warning(cli, begun):
    path = begun / "ledger.log"
    with open(path, "ab") as f:
        f.write(b"FSLR\x00")  # an interrupted write
    r = cli("ledger", "show", "--data", begun)
    assert r.exit_code == 0
    assert r.stderr.startswith("warning: ")
    no_traceback(r)


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
