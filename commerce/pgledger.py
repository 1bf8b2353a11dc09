"""PgLedger: the order ledger on PostgreSQL — the API of commerce.ledger.Ledger
(append / has_key / get / records / orders / stock / verify) on tables.

`ledger_records` holds one row per record, its idempotency key UNIQUE: append
inserts with ON CONFLICT (key) DO NOTHING, so of two processes appending under
one key exactly one writes and the other gets the existing record (new=False).
Each append carries a random append id kept in its row, so an append retried
after its connection dropped mid-commit still learns that it was the one that
wrote (new=True). `seq` comes from a sequence: increasing in ledger order, with
gaps where a transaction rolled back (verify allows the gaps); a record's
`offset` is its seq. Details are msgpack (bytea), read back exactly as the file
ledger reads them.

Stock: `ledger_stock` keeps the balance per sku, changed in the same
transaction as the record that carries `details["stock"]`. The conditional
append (`short_kind`) locks the balances of its skus (SELECT ... FOR UPDATE, in
sku order: no deadlock between two appends), decides against them, and writes
`kind` with the change or `short_kind` without it — so of two processes
reserving the last unit, exactly one gets it. `verify` re-adds every record's
stock change and reports a balance that disagrees.

Same transaction as the flow: when this thread runs a flow step holding the
flow's lock on a flow.pgstore.PgStore of the same database (same URL), appends
(and reads) go through that step's connection and transaction
(flow.pgstore.current_step): the records commit with the flow's commit, or roll
back with a step that does not commit. A failed append leaves the step's other
writes alone (each append after the step's first is a savepoint; a failed first
one rolls the transaction back, which held nothing else yet).

Round trips. An append is one statement (lock the balances of its skus, decide,
insert the record ON CONFLICT (key) DO NOTHING, change the balances, return the
new or the existing record): outside a step it runs alone, so it is its own
transaction; in a step it goes in one round trip with the step's BEGIN (its
first write) or its savepoint. Only when the balances fall short of a
conditional append, or the key was taken by a transaction that committed while
the statement ran, does a second round follow (the balances locked and read
again, then `short_kind` written). Holding a step's transaction open costs: the
balance rows it changed stay locked until the flow commits, so every round trip
saved there is time another order's reserve does not wait.

Reads: a record never changes once committed (the ledger is append-only), so
`get` and `has_key` keep the committed records they have seen or written (up to
CACHE_RECORDS) and answer those without asking the database; a key not seen yet
is always looked up. A record written in a step is kept only once the step has
committed; until then the step itself reads it back from what it wrote (its
transaction would answer the same), and nobody else sees it.

Limits: order, key, kind and sku cannot hold a NUL character (LedgerInputError).
"""

from __future__ import annotations

import contextlib
import threading
import time as _time
import uuid
import weakref
from typing import Any

from flow.pgschema import Migration, Schema, SchemaTooNew, ensure, redacted
from flow.pgstore import CONNECT_OPTIONS, current_step, database_key

from .ledger import (
    RECORD_KINDS,
    STOCK,
    LedgerError,
    LedgerInputError,
    LedgerRecord,
    VerifyReport,
    _Checker,
    _describe,
    _packb,
    _stock_of,
    _unpack,
    _validate,
)

SCHEMA = Schema("ledger", (
    Migration(1, "ledger_records (unique idempotency key) and ledger_stock (balance per sku)", (
        """CREATE TABLE ledger_records (
            seq         bigserial PRIMARY KEY,
            key         text NOT NULL UNIQUE,
            order_id    text NOT NULL,
            kind        text NOT NULL,
            amount      bigint,
            time        double precision NOT NULL,
            details     bytea NOT NULL,
            append_id   uuid,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )""",
        "CREATE INDEX ledger_records_by_order ON ledger_records (order_id, seq)",
        "CREATE TABLE ledger_stock (sku text PRIMARY KEY, on_hand bigint NOT NULL)",
    )),
)).check()

OPEN = weakref.WeakSet()  # the PgLedgers of this process not closed yet (each holds a pool's threads)
RECONNECT_SECONDS = 30.0  # how long an append or read keeps trying to reach a restarted server
CACHE_RECORDS = 10_000  # committed records kept by get()/has_key()
_COLUMNS = "seq, order_id, kind, key, amount, time, details, append_id"
_SAVEPOINT = "flowscheme_append"

# One append (see the module docstring): -> one row (ok, new, seq, ..., append_id); ok is false
# when a conditional append's balances fall short (then nothing was written); new is NULL when
# nothing was written and no record under the key is visible to this statement.
_APPEND = f"""
WITH change (sku, delta) AS (SELECT * FROM unnest(%(skus)s::text[], %(deltas)s::bigint[])),
balance AS (SELECT s.sku, s.on_hand FROM ledger_stock s WHERE s.sku = ANY(%(skus)s::text[])
            ORDER BY s.sku FOR UPDATE),
decided AS (SELECT NOT %(conditional)s::boolean OR coalesce(bool_and(coalesce(b.on_hand, 0) + c.delta >= 0), true) AS ok
            FROM change c LEFT JOIN balance b ON b.sku = c.sku),
added AS (INSERT INTO ledger_records (order_id, kind, key, amount, time, details, append_id)
          SELECT %(order)s::text, %(kind)s::text, %(key)s::text, %(amount)s::bigint, %(time)s::float8,
                 %(details)s::bytea, %(append_id)s::uuid
          FROM decided WHERE ok
          ON CONFLICT (key) DO NOTHING RETURNING {_COLUMNS}),
moved AS (INSERT INTO ledger_stock (sku, on_hand) SELECT c.sku, c.delta FROM change c, added ORDER BY c.sku
          ON CONFLICT (sku) DO UPDATE SET on_hand = ledger_stock.on_hand + EXCLUDED.on_hand)
SELECT d.ok, r.* FROM decided d LEFT JOIN (
    SELECT true AS new, {_COLUMNS} FROM added
    UNION ALL SELECT false, {_COLUMNS} FROM ledger_records WHERE key = %(key)s) r ON true
"""


class LedgerSchemaError(LedgerError):
    """The database's ledger tables are of a newer schema than this code knows."""


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as e:  # pragma: no cover - the dependency is declared
        raise LedgerError(f"a postgresql:// ledger needs psycopg 3 and psycopg_pool ({e})") from None
    return psycopg, psycopg_pool


def _record(row) -> LedgerRecord:
    seq, order, kind, key, amount, when, details = row[:7]
    return LedgerRecord(seq=seq, order=order, kind=kind, key=key, amount=amount, time=when,
                        details=_unpack(bytes(details)), offset=seq)


def _no_nul(name, text):
    if isinstance(text, str) and "\x00" in text:
        raise LedgerInputError(f"{name} {text!r} holds a NUL character, which a PostgreSQL ledger cannot keep")


class PgLedger:
    """An append-only, idempotent ledger on PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, pool_size: int = 10):
        psycopg, psycopg_pool = _psycopg()
        self._pg = psycopg
        self.url = url
        self.path = redacted(url)  # what messages and reports name
        self.dbkey = database_key(url)
        self.repaired: list = []  # (a file ledger's torn-tail repairs: never any here)
        self._closed = False
        self._seen: dict = {}  # key -> the row of its committed record (insertion order: oldest first)
        self._seen_lock = threading.Lock()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=30) as conn:
                self.migrated = ensure(conn, SCHEMA, self.path)
        except SchemaTooNew as e:
            raise LedgerSchemaError(str(e)) from None
        except psycopg.Error as e:
            raise LedgerError(f"{self.path}: cannot open the ledger: {e}".strip()) from None
        #: True when this open created the ledger tables (a new ledger)
        self.created = self.migrated is not None and self.migrated.before == 0
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=pool_size, kwargs=dict(CONNECT_OPTIONS),
                                                 open=True, num_workers=1, reconnect_timeout=RECONNECT_SECONDS)
        OPEN.add(self)

    # ----------------------------------------------------------------- running SQL

    def _check_usable(self) -> None:
        if self._closed:
            raise LedgerError(f"{self.path}: ledger is closed")

    def _step(self):
        return current_step(self.dbkey)

    def _run(self, fn, doing, write=False):
        """fn(conn): in the current flow step's transaction when this thread runs
        one on this database (a savepoint around a write), else on a pooled
        connection (a transaction around a write), retried on a fresh connection
        when one drops — safe: reads, and appends idempotent by key."""
        self._check_usable()
        step = self._step()
        if step is not None:
            try:
                conn = step.transaction() if write else (step.conn if step.tx_lost is None else None)
            except Exception as e:
                raise LedgerError(f"{self.path}: {doing}: {e}") from None
            if conn is not None:
                with self._step_errors(step, doing):
                    if write:
                        with conn.transaction():  # a savepoint in the step's transaction
                            return fn(conn)
                    return fn(conn)
        deadline = _time.monotonic() + RECONNECT_SECONDS
        while True:
            try:
                with self._pool.connection() as conn:
                    if write:
                        with conn.transaction():
                            return fn(conn)
                    return fn(conn)
            except (self._pg.OperationalError, self._pg.errors.DeadlockDetected,
                    self._pg.errors.SerializationFailure) as e:
                if _time.monotonic() > deadline:
                    raise LedgerError(f"{self.path}: {doing}: the database cannot be reached ({e})") from None
                if isinstance(e, self._pg.OperationalError):
                    self._pool.check()
                _time.sleep(0.05)
            except self._pg.Error as e:
                raise LedgerError(f"{self.path}: {doing} failed: {e}") from None
            except LedgerError:
                raise
            except Exception as e:
                if type(e).__name__ == "PoolTimeout":
                    raise LedgerError(f"{self.path}: {doing}: no database connection ({e})") from None
                raise

    # ----------------------------------------------------------------- appending

    def append(
        self,
        order: str,
        kind: str,
        key: str,
        amount: int | None = None,
        details: dict[str, Any] | None = None,
        time: float | None = None,
        short_kind: str | None = None,
    ) -> tuple[LedgerRecord, bool]:
        """Record `kind` for `order` under idempotency `key` (see Ledger.append):
        (record, True) once committed, or (existing record, False) writing nothing.
        Inside a flow step on the same database: committed with the step."""
        details = _validate(order, kind, key, amount, details, time)
        if short_kind is not None and short_kind not in RECORD_KINDS:
            raise LedgerInputError(f"short_kind must be one of {', '.join(map(repr, RECORD_KINDS))}; "
                                   f"got {_describe(short_kind)}")
        for name, text in (("order", order), ("key", key)):
            _no_nul(name, text)
        for sku in (_stock_of(details) or {}):
            _no_nul("sku", sku)
        append_id = uuid.uuid4()
        when = _time.time() if time is None else float(time)
        change = _stock_of(details) or {}
        skus = sorted(change)
        params = dict(order=order, kind=kind, key=key, amount=amount, time=when, details=_packb(details),
                      append_id=append_id, skus=skus, deltas=[change[sku] for sku in skus],
                      conditional=short_kind is not None)
        doing = f"appending {kind!r} for order {order!r} under key {key!r}"
        step = self._step()
        if step is not None:
            return self._append_in_step(step, params, details, short_kind, doing)
        # alone: the statement is its own transaction
        got = self._run(lambda conn: self._answer(conn.execute(_APPEND, params).fetchone(), append_id), doing)
        if got is None:  # the second round, in a transaction of its own
            got = self._run(lambda conn: self._append_on(conn, order, kind, key, amount, details, when, short_kind,
                                                         append_id), doing, write=True)
        self._keep(got[2])
        return got[0], got[1]

    def _append_in_step(self, step, params, details, short_kind, doing):
        """An append in the current flow step's transaction, in one round trip: BEGIN
        and the statement (the step's first write: when it fails, the transaction
        is rolled back, leaving nothing), else the statement inside a savepoint;
        the record is kept by get() once the flow's commit has committed it."""
        try:
            conn, begin = step.writer()
        except Exception as e:
            raise LedgerError(f"{self.path}: {doing}: {e}") from None
        with self._step_errors(step, doing):
            try:
                with conn.pipeline():
                    if begin:  # the step's first write: undone by rolling the transaction back
                        conn.execute("BEGIN")
                        cur = conn.execute(_APPEND, params)
                    else:  # a savepoint keeps the step's other writes when this one fails
                        conn.execute(f"SAVEPOINT {_SAVEPOINT}")
                        cur = conn.execute(_APPEND, params)
                        conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            except self._pg.OperationalError:
                raise
            except self._pg.Error:
                if begin:
                    conn.execute("ROLLBACK")
                    step.in_tx = False
                else:
                    with conn.pipeline():
                        conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                        conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
                raise
            got = self._answer(cur.fetchone(), params["append_id"])
            if got is None:  # the second round (the balances fall short): its own savepoint
                with conn.transaction():
                    got = self._append_on(conn, params["order"], params["kind"], params["key"], params["amount"],
                                          details, params["time"], short_kind,
                                          params["append_id"])
        row = got[2]
        step.written[("ledger", row[3])] = row  # read back in the step without asking (see _row)
        step.on_commit.append(lambda: self._keep(row))
        return got[0], got[1]

    @contextlib.contextmanager
    def _step_errors(self, step, doing):
        """Database errors of work in flow step `step`'s transaction, as LedgerErrors;
        a lost connection fails the step (nothing of it is committed)."""
        try:
            yield
        except self._pg.OperationalError as e:
            step.failed(e)
            raise LedgerError(f"{self.path}: {doing}: the connection was lost ({e}); nothing of "
                              f"flow {step.flow_id!r}'s step is committed") from None
        except self._pg.Error as e:
            raise LedgerError(f"{self.path}: {doing} failed: {e}") from None

    @staticmethod
    def _answer(row, append_id):
        """_APPEND's row -> (record, new, its row), or None: a second round is needed."""
        new, rest = row[1], row[2:]
        if new is None:
            return None  # short (nothing written), or the key taken meanwhile
        return _record(rest), bool(new) or rest[7] == append_id, rest  # (ours: an earlier try whose answer was lost)

    def _append_on(self, conn, order, kind, key, amount, details, when, short_kind, append_id):
        """The append in several statements, in the caller's transaction (the second
        round: a conditional append whose balances fell short, or a key taken
        meanwhile) -> (record, new, its row)."""
        row = conn.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE key = %s", (key,)).fetchone()
        if row is not None:
            return _record(row), row[7] == append_id, row  # (ours: an earlier try whose answer was lost)
        change = _stock_of(details)
        if change:
            skus = sorted(change)
            balances = dict(conn.execute(
                "SELECT sku, on_hand FROM ledger_stock WHERE sku = ANY(%s) ORDER BY sku FOR UPDATE",
                (skus,)).fetchall())
            if short_kind is not None:
                short = {sku: {"wanted": -delta, "on_hand": balances.get(sku, 0)}
                         for sku, delta in change.items() if balances.get(sku, 0) + delta < 0}
                if short:
                    kind = short_kind
                    details = {k: v for k, v in details.items() if k != "stock"}
                    details["short"] = short
                    change = None
        row = conn.execute(
            "INSERT INTO ledger_records (order_id, kind, key, amount, time, details, append_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING "
            f"RETURNING {_COLUMNS}",
            (order, kind, key, amount, when, _packb(details), append_id)).fetchone()
        if row is None:  # another append under this key committed meanwhile
            row = conn.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE key = %s", (key,)).fetchone()
            return _record(row), row[7] == append_id, row
        for sku in sorted(change or ()):
            conn.execute("INSERT INTO ledger_stock (sku, on_hand) VALUES (%s, %s) ON CONFLICT (sku) "
                         "DO UPDATE SET on_hand = ledger_stock.on_hand + EXCLUDED.on_hand", (sku, change[sku]))
        return _record(row), True, row

    # ----------------------------------------------------------------- reading

    def has_key(self, key: str) -> bool:
        return self._row(key, "looking up a key") is not None

    def get(self, key: str) -> LedgerRecord | None:
        """The record committed under `key`, or None."""
        row = self._row(key, "reading a record")
        return None if row is None else _record(row)

    def _row(self, key, doing):
        """The row of the record under `key` (None: none): from the records kept,
        else from the database (kept when it is committed: not read inside a step's
        open transaction, which also sees the step's own writes)."""
        if not isinstance(key, str) or "\x00" in key:
            return None
        with self._seen_lock:
            row = self._seen.get(key)
        if row is not None:
            return row
        step = self._step()
        if step is not None and step.in_tx:
            row = step.written.get(("ledger", key))  # appended in this step's transaction
            if row is not None:
                return row
        row = self._run(lambda conn: conn.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE key = %s",
                                                  (key,)).fetchone(), doing)
        if row is not None and (step is None or not step.in_tx):
            self._keep(row)
        return row

    def _keep(self, row):
        """Remember a committed record's row (records never change)."""
        with self._seen_lock:
            self._seen.pop(row[3], None)
            self._seen[row[3]] = row
            while len(self._seen) > CACHE_RECORDS:
                del self._seen[next(iter(self._seen))]

    def records(self, order: str | None = None) -> list[LedgerRecord]:
        """All records in ledger order, or only those of `order`."""
        if order is not None:
            if not isinstance(order, str) or "\x00" in order:
                return []
            rows = self._run(lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM ledger_records WHERE order_id = %s ORDER BY seq", (order,)).fetchall(),
                "reading records")
        else:
            rows = self._run(lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM ledger_records ORDER BY seq").fetchall(), "reading records")
        return [_record(r) for r in rows]

    def orders(self) -> list[str]:
        """Order ids in the order they first appear in the ledger (not STOCK)."""
        return self._run(lambda conn: [r[0] for r in conn.execute(
            "SELECT order_id FROM ledger_records WHERE order_id <> %s GROUP BY order_id ORDER BY min(seq)",
            (STOCK,))], "listing orders")

    def stock(self) -> dict[str, int]:
        """{sku: stock on hand}: the sum of every record's `details["stock"]` changes."""
        return self._run(lambda conn: dict(conn.execute("SELECT sku, on_hand FROM ledger_stock ORDER BY sku")
                                           .fetchall()), "reading the stock")

    # ----------------------------------------------------------------- verifying

    def verify(self) -> VerifyReport:
        """Check every record (fields, lifecycles, keys: the file ledger's rules;
        seq only has to increase) and that the stock balances equal what the
        records add up to. Never raises for what it finds."""
        def read(conn):
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                rows = conn.execute(
                    "SELECT seq, order_id, kind, key, amount, time, details FROM ledger_records "
                    "ORDER BY seq").fetchall()
                balances = dict(conn.execute("SELECT sku, on_hand FROM ledger_stock").fetchall())
            return rows, balances

        self._check_usable()
        try:
            with self._pool.connection() as conn:  # (its own snapshot, never a step's transaction)
                rows, balances = read(conn)
        except self._pg.Error as e:
            raise LedgerError(f"{self.path}: verifying the ledger failed: {e}") from None
        checker = _Checker()
        sums: dict[str, int] = {}
        for seq, order, kind, key, amount, when, blob in rows:
            try:
                details = _unpack(bytes(blob))
            except Exception as exc:
                checker.problem(seq, f"record {key!r}: its details are not valid msgpack ({exc})", damage=True)
                continue
            checker.lost_frames = True  # a rolled-back transaction leaves a gap in seq
            checker.check(seq, _packb({"seq": seq, "order": order, "kind": kind, "key": key, "amount": amount,
                                       "time": when, "details": details}))
            for sku, n in (_stock_of(details) or {}).items():
                sums[sku] = sums.get(sku, 0) + n
        for sku in sorted(set(sums) | set(balances)):
            if sums.get(sku, 0) != balances.get(sku, 0):
                checker.problem(0, f"stock of {sku!r}: the balance table holds {balances.get(sku, 0)}, but the "
                                   f"records' stock changes add up to {sums.get(sku, 0)}")
        return VerifyReport(self.path, checker.records, tuple(checker.problems))

    # ----------------------------------------------------------------- housekeeping

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        OPEN.discard(self)
        try:
            self._pool.close(timeout=5)
        except Exception:
            pass

    def __enter__(self) -> PgLedger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PgLedger {self.path}{' closed' if self._closed else ''}>"


def exists(url: str) -> bool:
    """True if the database at `url` has ledger tables (without creating any)."""
    psycopg, _ = _psycopg()
    from flow.pgschema import current_version

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=30) as conn:
            return current_version(conn, SCHEMA.component) > 0
    except psycopg.Error as e:
        raise LedgerError(f"{redacted(url)}: cannot reach the database: {e}".strip()) from None
