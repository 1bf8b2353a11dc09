"""`flowscheme flows list|show|resume|cancel|export|import --store DIR|URL`: happy paths,
--json, and the errors a user meets (missing store, unknown flow, malformed value,
code not loaded, unreadable file) — each a message and an exit status, no traceback.
Every test with a store runs on the file store and on PostgreSQL."""

import json

import pytest

from storestate import committed
from flow import FlowRuntime
from flow.cli import shown_store


@pytest.fixture
def store(store_location, shop_scm, order_scm):
    """A durable store with: s-1 (shop) waiting on payment, o-1 (order-lifecycle)
    waiting on payment after one answered request, done-1 finished."""
    d = store_location
    rt = FlowRuntime(store=str(d))
    rt.load_file(str(shop_scm))
    rt.load_file(str(order_scm))
    rt.load("(defflow quick (lambda (x) (* x 2)))", filename="<quick>")
    rt.start("shop", "s-1", flow_id="s-1")
    rt.start("order-lifecycle", "o-1", flow_id="o-1")
    rt.resume("o-1", "reserved")
    rt.start("quick", 21, flow_id="done-1")
    rt.close()
    return d


def no_traceback(r):
    assert "Traceback" not in r.output


# ---------------------------------------------------------------------- list / show


def test_list(cli, store):
    r = cli("flows", "list", "--store", store)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "WAITING", "ON"]
    assert 'o-1     order-lifecycle  suspended  (payment "o-1")' in lines
    assert "done-1  quick            done       -" in lines
    assert 's-1     shop             suspended  (payment ("s-1" 42))' in lines


def test_list_json(cli, store):
    r = cli("flows", "list", "--store", store, "--json")
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows["o-1"] == {"id": "o-1", "name": "order-lifecycle", "status": "suspended", "step": 2,
                           "waiting_on": '(payment "o-1")', "wake": None, "timer": None, "attempts": 0}
    assert rows["done-1"]["status"] == "done" and rows["done-1"]["waiting_on"] is None


def test_list_from_the_environment(cli, store, monkeypatch):
    monkeypatch.setenv("FLOWSCHEME_STORE", str(store))
    r = cli("flows", "list")
    assert r.exit_code == 0 and "s-1" in r.stdout


def test_show_without_code_says_so(cli, store, order_scm):
    r = cli("flows", "show", "o-1", "--store", store)
    assert r.exit_code == 0
    out = r.stdout
    assert "flow o-1 (order-lifecycle): suspended, step 2" in out
    assert 'waits on: (payment "o-1")   key o-1:2' in out
    assert '1  (reserve "o-1") -> "reserved"   key o-1:1' in out
    assert "code not loaded" in out and f"load {order_scm}" in out
    assert "stopped at" not in out


def test_show_with_code(cli, store, shop_scm):
    r = cli("flows", "show", "s-1", "--store", store, "--load", shop_scm)
    assert r.exit_code == 0
    out = r.stdout
    assert f"stopped at: {shop_scm}:5:21 in flow shop" in out
    assert "total = 42" in out and "items = (tea mug)" in out
    assert "code not loaded" not in out


def test_show_json(cli, store, order_scm):
    r = cli("flows", "show", "o-1", "--store", store, "--load", order_scm, "--json")
    info = json.loads(r.stdout)
    assert info["status"] == "suspended"
    assert info["waiting_on"] == '(payment "o-1")'
    assert info["where"] == f"{order_scm}:3:77"
    assert info["locals"] == [{"name": "oid", "value": '"o-1"'}]
    [entry] = info["journal"]
    assert {k: entry[k] for k in ("step", "key", "request", "answer")} == {
        "step": 1, "key": "o-1:1", "request": '(reserve "o-1")', "answer": '"reserved"'}
    assert 0 < entry["asked"] <= entry["answered"]  # when it was asked and answered (epoch seconds)
    assert info["code"]["loaded"] is True


def test_show_done_flow(cli, store):
    r = cli("flows", "show", "done-1", "--store", store)
    assert r.exit_code == 0
    assert "flow done-1 (quick): done" in r.stdout and "result: 42" in r.stdout


def test_show_unknown_flow(cli, store):
    r = cli("flows", "show", "nope", "--store", store)
    assert r.exit_code == 1
    assert "no flow with id 'nope'" in r.stderr
    no_traceback(r)


# ---------------------------------------------------------------------- resume


def test_resume_to_the_next_request_and_to_the_end(cli, store, order_scm):
    r = cli("flows", "resume", "o-1", '"paid"', "--store", store, "--load", order_scm)
    assert r.exit_code == 0, r.output
    assert r.stdout == 'flow o-1 waits on (fulfil "o-1")\n'
    r = cli("flows", "resume", "o-1", "(fulfilled 3)", "--store", store, "--load", order_scm)
    assert r.stdout == "flow o-1 done: (fulfilled 3)\n"
    r = cli("flows", "list", "--store", store, "--json")
    assert {x["id"]: x["status"] for x in json.loads(r.stdout)}["o-1"] == "done"


def test_resume_needs_the_code(cli, store, order_scm):
    r = cli("flows", "resume", "o-1", "1", "--store", store)
    assert r.exit_code == 1
    assert "not loaded" in r.stderr and f"--load {order_scm}" in r.stderr
    no_traceback(r)


@pytest.mark.parametrize("value", ["(paid", "paid extra", "", ")"])
def test_resume_malformed_value_is_a_usage_error(cli, store, order_scm, value):
    r = cli("flows", "resume", "o-1", value, "--store", store, "--load", order_scm)
    assert r.exit_code == 2
    assert "VALUE" in r.stderr
    no_traceback(r)


def test_resume_unknown_flow(cli, store, order_scm):
    r = cli("flows", "resume", "nope", "1", "--store", store, "--load", order_scm)
    assert r.exit_code == 1 and "no flow with id 'nope'" in r.stderr


def test_resume_not_waiting(cli, store):
    r = cli("flows", "resume", "done-1", "1", "--store", store)
    assert r.exit_code == 1
    assert "flow done-1 is not waiting (it is done); nothing changed" in r.stderr


def test_resume_wrong_kind_changes_nothing(cli, store, order_scm):
    r = cli("flows", "resume", "o-1", "1", "--kind", "fulfil", "--store", store, "--load", order_scm)
    assert r.exit_code == 1
    assert "it waits on payment, not fulfil" in r.stderr
    r = cli("flows", "show", "o-1", "--store", store, "--json")
    assert json.loads(r.stdout)["waiting_on"] == '(payment "o-1")'


def test_resume_into_a_failure_exits_1(cli, tmp_path, store_location):
    d = store_location
    src = tmp_path / "boom.scm"
    src.write_text("(defflow boom (lambda () (car (request 'x 1))))\n")
    rt = FlowRuntime(store=str(d))
    rt.load_file(str(src))
    rt.start("boom", flow_id="b")
    rt.close()
    r = cli("flows", "resume", "b", "5", "--store", d, "--load", src)
    assert r.exit_code == 1
    assert "flow b failed:" in r.stderr and "car: expected a pair, got 5" in r.stderr
    r = cli("flows", "show", "b", "--store", d)
    assert "error: " in r.stdout and "car: expected a pair" in r.stdout


def test_resume_grants_only_what_allow_names(cli, tmp_path, store_location):
    d = store_location
    src = tmp_path / "env.scm"
    src.write_text("(defflow env (lambda () (request 'x 1) (get-environment-variable \"HOME\")))\n")
    rt = FlowRuntime(store=str(d))
    rt.load_file(str(src))
    rt.start("env", flow_id="e")
    rt.start("env", flow_id="e2")
    rt.close()
    r = cli("flows", "resume", "e", "5", "--store", d, "--load", src)
    assert r.exit_code == 1
    assert "get-environment-variable: not granted" in r.stderr and "nothing changed" not in r.stderr
    r = cli("flows", "resume", "e", "5", "--store", d, "--load", src, "--allow", "getenv")
    assert r.exit_code == 2 and "--allow: 'getenv' is neither" in r.stderr
    r = cli("flows", "resume", "e2", "5", "--store", d, "--load", src, "--allow", "environment-variables")
    assert r.exit_code == 0, r.stderr
    assert "flow e2 finished" in r.stdout.lower() or "done" in r.stdout.lower(), r.stdout


# ---------------------------------------------------------------------- cancel


def test_cancel(cli, store):
    r = cli("flows", "cancel", "s-1", "--store", store)
    assert (r.exit_code, r.stdout) == (0, "flow s-1 cancelled\n")
    r = cli("flows", "cancel", "s-1", "--store", store)
    assert (r.exit_code, r.stdout) == (0, "flow s-1 is cancelled: nothing to cancel\n")
    r = cli("flows", "cancel", "nope", "--store", store)
    assert r.exit_code == 1 and "no flow with id 'nope'" in r.stderr


# ---------------------------------------------------------------------- export / import


def test_export_import_round_trip(cli, store, tmp_path, order_scm, shop_scm, new_store_location):
    saved = tmp_path / "saved.flows"
    r = cli("flows", "export", saved, "--store", store)
    assert r.exit_code == 0
    assert r.stdout.startswith(f"exported 3 flows to {saved} (")
    other = new_store_location()
    r = cli("flows", "import", saved, "--store", other, "--load", order_scm, "--load", shop_scm)
    assert r.exit_code == 0, r.output
    assert r.stdout == f"imported 3 flows from {saved} into {shown_store(other)}\n"
    r = cli("flows", "resume", "o-1", "ok", "--store", other, "--load", order_scm)
    assert r.stdout == 'flow o-1 waits on (fulfil "o-1")\n'


def test_import_needs_the_code_and_changes_nothing(cli, store, tmp_path, order_scm, new_store_location):
    saved = tmp_path / "saved.flows"
    cli("flows", "export", saved, "--store", store)
    other = new_store_location()
    r = cli("flows", "import", saved, "--store", other, "--load", order_scm)  # shop.scm missing
    assert r.exit_code == 1
    assert "shop" in r.stderr and "not loaded" in r.stderr
    r = cli("flows", "list", "--store", other)
    assert r.stdout == "no flows\n"


def test_import_malformed_file_leaves_the_store(cli, store, tmp_path):
    saved = tmp_path / "saved.flows"
    cli("flows", "export", saved, "--store", store)
    bad = tmp_path / "bad.flows"
    bad.write_bytes(saved.read_bytes()[:-40])  # truncated
    r = cli("flows", "import", bad, "--store", store)
    assert r.exit_code == 1
    assert "truncated" in r.stderr or "malformed" in r.stderr
    no_traceback(r)
    r = cli("flows", "list", "--store", store, "--json")
    assert len(json.loads(r.stdout)) == 3


def test_import_unreadable_file(cli, store, tmp_path):
    r = cli("flows", "import", tmp_path / "missing.flows", "--store", store)
    assert r.exit_code == 1
    assert "cannot read" in r.stderr and "missing.flows" in r.stderr


def test_export_unwritable_file(cli, store, tmp_path):
    r = cli("flows", "export", tmp_path / "no" / "such" / "dir.flows", "--store", store)
    assert r.exit_code == 1
    assert "cannot write" in r.stderr


# ---------------------------------------------------------------------- store and usage errors


@pytest.mark.file_only("a store directory that does not exist")
@pytest.mark.parametrize("cmd", [["list"], ["show", "x"], ["resume", "x", "1"], ["cancel", "x"], ["export", "f"]])
def test_missing_store(cli, tmp_path, cmd):
    r = cli("flows", *cmd, "--store", tmp_path / "nowhere")
    assert r.exit_code == 1
    assert f"no flow store at {tmp_path / 'nowhere'} (the directory does not exist)" in r.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("cmd", [["list"], ["show", "x"], ["cancel", "x"], ["export", "f"]])
def test_a_database_that_does_not_exist(cli, pg_url, cmd):
    """The PostgreSQL counterpart of a missing store directory: a clear error naming
    the database, exit 1, no traceback, and no database created."""
    missing = pg_url.rsplit("/", 1)[0] + "/no_such_database"
    r = cli("flows", *cmd, "--store", missing)
    assert r.exit_code == 1, r.output
    assert "no_such_database" in r.stderr
    no_traceback(r)
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("select count(*) from pg_database where datname = 'no_such_database'"
                            ).fetchone()[0] == 0


@pytest.mark.file_only("an order data directory given where a flow store directory goes")
def test_order_data_dir_is_not_a_store(cli, tmp_path):
    (tmp_path / "data" / "flows").mkdir(parents=True)
    (tmp_path / "data" / "flows" / "flows.log").write_bytes(b"")
    r = cli("flows", "list", "--store", tmp_path / "data")
    assert r.exit_code == 1 and "use that" in r.stderr


def test_store_option_is_required(cli):
    r = cli("flows", "list")
    assert r.exit_code == 2 and "--store" in r.stderr


def test_load_unreadable_file(cli, store, tmp_path):
    r = cli("flows", "list", "--store", store, "--load", tmp_path / "nope.scm")
    assert r.exit_code == 1 and "cannot read" in r.stderr


def test_load_file_with_an_error(cli, store, tmp_path):
    bad = tmp_path / "bad.scm"
    bad.write_text("(define x 1)\n(car '())\n")
    r = cli("flows", "list", "--store", store, "--load", bad)
    assert r.exit_code == 1
    assert f"{bad}:2:1: car: expected a pair" in r.stderr


def test_internal_errors_have_no_traceback_unless_debug(cli, store, monkeypatch):
    import flow.inspect

    def broken(rt, *filters):
        raise RuntimeError("boom")

    monkeypatch.setattr(flow.inspect, "flow_rows", broken)
    r = cli("flows", "list", "--store", store)
    assert r.exit_code == 1
    assert "internal error (a bug in flowscheme): RuntimeError: boom" in r.stderr
    no_traceback(r)
    r = cli("--debug", "flows", "list", "--store", store)
    assert r.exit_code == 1 and "Traceback" in r.stderr


@pytest.mark.parametrize("cmd", [[], ["list"], ["show"], ["resume"], ["cancel"], ["export"], ["import"]])
def test_help(cli, cmd):
    r = cli("flows", *cmd, "--help")
    assert r.exit_code == 0
    assert "Usage:" in r.stdout and len(r.stdout.splitlines()) > 5


def test_show_after_the_code_changed(cli, tmp_path, store_location):
    d = store_location
    v1, v2 = tmp_path / "v1.scm", tmp_path / "v2.scm"
    flow = "(defflow w (lambda (x) (let ((y (* x 2))) (request 'a y) (request 'b y))))\n"
    v1.write_text(flow)
    v2.write_text(";; edited\n" + flow)
    rt = FlowRuntime(store=str(d))
    rt.load_file(str(v1))
    rt.start("w", 4, flow_id="w1")
    rt.resume("w1", 1)
    rt.close()
    r = cli("flows", "show", "w1", "--store", d, "--load", v2)
    assert r.exit_code == 0
    assert "the defflow of w changed since this flow stopped" in r.stdout
    assert "replays its journal" in r.stdout
    r = cli("flows", "resume", "w1", "2", "--store", d, "--load", v2)
    assert r.stdout == "flow w1 done: 2\n"


def test_flow_holding_unloaded_code_is_listed_not_crashed(cli, tmp_path, store_location):
    d = store_location
    rt = FlowRuntime(store=str(d))
    rt.load("(defflow g (lambda (f) (request 'x f)))", filename="g.scm")
    rt.load("(define (sq x) (* x x))", filename="sq.scm")
    rt.eval("(flow/start-with-id \"g1\" 'g sq)")
    rt.close()
    r = cli("flows", "list", "--store", d)
    assert r.exit_code == 0 and r.stdout.splitlines()[1].split()[0] == "g1"
    r = cli("flows", "show", "g1", "--store", d)
    assert r.exit_code == 1 and "sq.scm" in r.stderr and "not loaded" in r.stderr
    no_traceback(r)


def test_resume_by_key(cli, store, order_scm):
    # o-1 waits on its second request, key o-1:2: the first request's key is a replay
    r = cli("flows", "resume", "o-1", "paid", "--key", "o-1:1", "--store", store, "--load", order_scm)
    assert r.exit_code == 1
    assert "it waits on request o-1:2, not o-1:1" in r.stderr and "nothing changed" in r.stderr
    r = cli("flows", "resume", "o-1", "paid", "--key", "o-1:2", "--store", store, "--load", order_scm)
    assert r.exit_code == 0, r.stderr


def test_retry_and_upgrade(cli, tmp_path, store_location):
    d = store_location
    v1, fixed, v3 = tmp_path / "v1.scm", tmp_path / "fixed.scm", tmp_path / "v3.scm"
    v1.write_text("(defflow calc (lambda (x) (let ((n (request 'n x))) (list n (car n) (request 'more n)))))\n")
    fixed.write_text("(defflow calc (lambda (x) (let ((n (request 'n x))) (list n n (request 'more n)))))\n")
    v3.write_text("(defflow calc (lambda (x) (request 'other x)))\n")
    rt = FlowRuntime(store=str(d))
    rt.load_file(str(v1))
    rt.start("calc", 1, flow_id="c")
    rt.start("calc", 2, flow_id="w")
    rt.resume("c", 5)  # fails: (car 5)
    rt.close()
    r = cli("flows", "retry", "w", "--store", d, "--load", v1)
    assert r.exit_code == 1 and "flow w is suspended, not failed" in r.stderr
    r = cli("flows", "retry", "c", "--store", d, "--load", v1)
    assert r.exit_code == 1 and "car: expected a pair" in r.stderr
    r = cli("flows", "retry", "c", "--store", d, "--load", fixed)
    assert r.exit_code == 0, r.stderr
    assert "more" in r.stdout
    before = committed(d)
    r = cli("flows", "upgrade", "--all", "--dry-run", "--store", d, "--load", v3)
    assert r.exit_code == 1
    assert "w: diverges" in r.stdout and "expected (request 'n 2), got (request 'other 2)" in r.stdout
    assert committed(d) == before
    r = cli("flows", "upgrade", "w", "--store", d, "--load", fixed, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"flow_id": "w", "outcome": "upgraded", "detail": f"now on {fixed}"}]
    r = cli("flows", "upgrade", "--store", d, "--load", fixed)
    assert r.exit_code == 2 and "name the flows to upgrade, or give --all" in r.stderr
