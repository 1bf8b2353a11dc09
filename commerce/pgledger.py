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
back with a step that does not commit. Each append in a step is a savepoint, so
a failed one leaves the step's other writes alone.

Limits: order, key, kind and sku cannot hold a NUL character (LedgerInputError).
"""

from __future__ import annotations

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
_COLUMNS = "seq, order_id, kind, key, amount, time, details, append_id"


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
                try:
                    if write:
                        with conn.transaction():  # a savepoint in the step's transaction
                            return fn(conn)
                    return fn(conn)
                except self._pg.OperationalError as e:
                    step.failed(e)
                    raise LedgerError(f"{self.path}: {doing}: the connection was lost ({e}); nothing of "
                                      f"flow {step.flow_id!r}'s step is committed") from None
                except self._pg.Error as e:
                    raise LedgerError(f"{self.path}: {doing} failed: {e}") from None
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
        return self._run(lambda conn: self._append_on(conn, order, kind, key, amount, details, when, short_kind,
                                                      append_id),
                         f"appending {kind!r} for order {order!r} under key {key!r}", write=True)

    def _append_on(self, conn, order, kind, key, amount, details, when, short_kind, append_id):
        row = conn.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE key = %s", (key,)).fetchone()
        if row is not None:
            return _record(row), row[7] == append_id  # (ours: an earlier try whose answer was lost)
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
            return _record(row), False
        for sku in sorted(change or ()):
            conn.execute("INSERT INTO ledger_stock (sku, on_hand) VALUES (%s, %s) ON CONFLICT (sku) "
                         "DO UPDATE SET on_hand = ledger_stock.on_hand + EXCLUDED.on_hand", (sku, change[sku]))
        return _record(row), True

    # ----------------------------------------------------------------- reading

    def has_key(self, key: str) -> bool:
        if not isinstance(key, str) or "\x00" in key:
            return False
        return self._run(lambda conn: conn.execute("SELECT 1 FROM ledger_records WHERE key = %s",
                                                   (key,)).fetchone() is not None, "looking up a key")

    def get(self, key: str) -> LedgerRecord | None:
        """The record committed under `key`, or None."""
        if not isinstance(key, str) or "\x00" in key:
            return None
        row = self._run(lambda conn: conn.execute(f"SELECT {_COLUMNS} FROM ledger_records WHERE key = %s",
                                                  (key,)).fetchone(), "reading a record")
        return None if row is None else _record(row)

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
