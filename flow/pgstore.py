"""PgStore: the flow store on a PostgreSQL server (psycopg 3), for workers on
several machines. `open_store("postgresql://...")` opens one.

Tables (flow.pgschema versions them; opening migrates an older schema and
refuses a newer one): `flows` — one row per flow: its snapshot (bytea), the
index columns the worker reads (wait_kind, wake: a partial index on wake where
it is set, one on wait_kind), descriptive columns (status, name, code_unit,
owner: host:pid of the last committer, timestamps), `version` (a number drawn
from a sequence at every commit: never reused, so it also validates caches),
`journal_len` and `commit_id` (a random id per commit), `pieces` (how many
pieces follow the snapshot) and `based` (the version of the commit that wrote
the snapshot; NULL for rows of schema version 2: unknown); `flow_journal`
(flow id, seq, entry bytea); and `flow_pieces` (flow id, seq from 0, piece
bytea): the pieces committed after the snapshot, in order. A full commit sets
the snapshot (based = its version, pieces = 0) and deletes the flow's pieces; a
piece commit sets every column of the row but the snapshot and inserts the
piece. A commit is ONE statement (update or insert of the row, the new
journal entries and piece, a NOTIFY), so one transaction — or, when a
step has written ledger records through this store (below), part of the step's
transaction, committed with them: the statement and the COMMIT then go in one
round trip (psycopg pipeline), the statement raising (flowscheme_fenced) when
the fence fails so that the COMMIT never runs, and the NOTIFY follows the COMMIT
in a transaction of its own (see _write for why).

Round trips per step: taking the lock and reading the version is one statement
(flowscheme_lock), the commit one round trip, the unlock one. Connections of the
store run read committed whatever the database's default (flowscheme_lock's
version read must see the commit made while the lock was awaited).

Locking. `lock(flow_id)` holds a session-level advisory lock
(pg_advisory_lock on a 64-bit hash of the schema and the flow id) on a
connection taken from this process's pool for the whole step, with NO
transaction open while the step's Scheme runs. Chosen over a row lock
(SELECT ... FOR UPDATE), which needs a transaction open for the whole step (a
long step would hold back vacuum and pin a snapshot), and over a lease column
(which needs expiry times and heartbeats, and guesses when a worker is dead):
the server drops a session's advisory locks the moment its connection ends, so
when a worker is SIGKILLed its flows are free at once and another worker
finishes them. Threads of one process queue on an in-process lock first (one
connection per held flow, not one per waiter). Re-entrant within a thread.

Fencing: the lock records the flow's version when taken; a commit updates the
row only `WHERE version = <that version>`. If the lock was lost meanwhile (the
connection dropped: a server restart, a network cut) and another worker moved
the flow, the commit changes nothing and raises StoreWriteError. When the
connection drops during a commit, the store opens a new connection, takes the
lock again (which waits until the old session is gone, so its transaction is
decided) and looks for its commit id: found, the commit happened; not found and
the flow unchanged with no ledger writes lost, it commits again on the new
connection; otherwise StoreWriteError, nothing done. Either way a transition
happens once or not at all, and retrying it is harmless.

Spreading workers out: `try_lock(flow_id)` (pg_try_advisory_lock) takes the
flow if it is free and yields False at once if another worker has it; the
Worker fires and serves through it, so N workers walking the same due list
skip each other's flows instead of queueing on one. (The equivalent of
FOR UPDATE SKIP LOCKED without a transaction open across the step.)

Visibility. Every read (get, ids, due, next_wake, waiting_on) asks the
database, so it is never stale: get() keeps each flow it has read in a cache
validated by one small query (the version; when it changed, only the journal
entries after those cached are sent, and the snapshot with all the pieces if
the base changed (`based`), else only the pieces after those cached; while
this thread holds the flow's lock and has just committed it, no query). A
writer of its own that changes a row's snapshot must set `based` (to NULL, or
the row's new version). refresh() costs nothing.
Every commit of a flow that waits on a kind or has a wake-up time NOTIFYs
(channel per schema; payload: flow id, waiting kind and wake time; a finished
flow is of no interest to a waiting worker and is not announced);
`wait_for_change(...)`, which the Worker sleeps in, LISTENs and
returns early when another process commits a flow due sooner than the worker
planned to look, or waiting on a kind it serves. A process that never waits
never LISTENs (a listener that does not read would hold back the server's
notification queue).

Same transaction as the ledger: while a thread holds a flow's lock, the
step's connection is that thread's "current step" (`current_step(dbkey)`);
commerce.pgledger.PgLedger on the same database appends through it, BEGINning
a transaction at the first ledger write (only then is a transaction open across
the rest of the step). The flow's commit then COMMITs the ledger records and
the flow together; a step that ends without a commit (an error, a limit, a kill)
rolls both back.

Limits: a flow id cannot hold a NUL character (PostgreSQL text cannot);
FlowError names it.
"""

import hashlib
import json
import os
import select
import socket
import threading
import time
import uuid
import weakref
from contextlib import contextmanager

import msgpack

from .errors import FlowError, StoreFormatError, StoreWriteError
from .pgschema import Migration, Schema, ensure, redacted
from .store import FlowLocks, StoredFlow, piece_of_unknown_flow

FENCED = "FS409"  # the SQLSTATE flowscheme_fenced() raises

SCHEMA = Schema("flows", (
    Migration(1, "flows and flow_journal, indexes on wake-up time and waiting kind", (
        "CREATE SEQUENCE flow_version",
        """CREATE TABLE flows (
            id          text PRIMARY KEY,
            position    bigserial NOT NULL,
            name        text,
            status      text,
            code_unit   text,
            wait_kind   text,
            wake        double precision,
            snapshot    bytea NOT NULL,
            journal_len integer NOT NULL DEFAULT 0,
            version     bigint NOT NULL,
            born        bigint NOT NULL,
            commit_id   uuid,
            owner       text,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        )""",
        "CREATE INDEX flows_by_wake ON flows (wake, id) WHERE wake IS NOT NULL",
        "CREATE INDEX flows_by_wait_kind ON flows (wait_kind, id) WHERE wait_kind IS NOT NULL",
        "CREATE INDEX flows_by_position ON flows (position)",
        """CREATE TABLE flow_journal (
            flow_id text NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
            seq     integer NOT NULL,
            entry   bytea NOT NULL,
            PRIMARY KEY (flow_id, seq)
        )""",
    )),
    Migration(2, "flowscheme_lock(): a flow's advisory lock and its version in one statement; "
                 "flowscheme_fenced(): a commit whose version fence fails raises (so its COMMIT can be sent "
                 "in the same round trip and never commits the step's ledger writes)", (
        # volatile plpgsql: under read committed (PgStore's connections) the version
        # read takes its snapshot after the lock is held, so it sees the latest commit
        """CREATE FUNCTION flowscheme_lock(lock_key bigint, flow_id text, wait boolean,
                                       OUT got boolean, OUT version bigint, OUT journal_len integer)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF wait THEN
                PERFORM pg_advisory_lock(lock_key);
                got := true;
            ELSE
                got := pg_try_advisory_lock(lock_key);
            END IF;
            IF got THEN
                SELECT f.version, f.journal_len INTO version, journal_len FROM flows f WHERE f.id = flow_id;
            END IF;
        END $$""",
        f"""CREATE FUNCTION flowscheme_fenced(flow_id text) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION 'the commit of flow % is fenced off: another worker moved it while this step ran', flow_id
                USING ERRCODE = '{FENCED}';
        END $$""",
    )),
    Migration(3, "flow_pieces: the pieces committed after a flow's snapshot; flows.pieces (how many) and "
                 "flows.based (the version of the commit that wrote the snapshot)", (
        """CREATE TABLE flow_pieces (
            flow_id text NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
            seq     integer NOT NULL,
            piece   bytea NOT NULL,
            PRIMARY KEY (flow_id, seq)
        )""",
        "ALTER TABLE flows ADD COLUMN pieces integer NOT NULL DEFAULT 0",
        # NULL (the rows of an older schema): unknown, a reader re-reads the snapshot
        "ALTER TABLE flows ADD COLUMN based bigint",
    )),
)).check()

POOL_MAX = 20  # connections per store and process (one per flow held, plus reads)
OPEN = weakref.WeakSet()  # the PgStores of this process not closed yet (each holds a pool's threads)
RECONNECT_SECONDS = 30.0  # how long an operation keeps trying to reach a restarted server
CACHE_FLOWS = 10_000  # flows kept in get()'s cache
_NOTIFY_MAX = 7900  # bytes of a NOTIFY payload (the server's limit is 8000)
_OWNER = f"{socket.gethostname()}:{os.getpid()}"
# every connection: named in pg_stat_activity, and TCP keepalives so that a peer
# that vanished without closing (a cut network) is noticed and its locks dropped
CONNECT_OPTIONS = {"autocommit": True, "application_name": "flowscheme", "keepalives": 1,
                   "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

_active = threading.local()  # .steps: [_Step] this thread holds, innermost last (all PgStores);
#                               .held: {database key: {flow id: _Step}}
_thread_locks = {}  # database key -> FlowLocks, shared by the PgStores of a process on that database
_thread_locks_guard = threading.Lock()


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as e:  # pragma: no cover - the dependency is declared
        raise FlowError(f"a postgresql:// store needs psycopg 3 and psycopg_pool ({e}): "
                        f"pip install 'psycopg[binary]' psycopg_pool") from None
    return psycopg, psycopg_pool


def database_key(url):
    """What identifies a database and schema across objects opened on the same URL
    (the parsed connection parameters, password left out)."""
    from psycopg.conninfo import conninfo_to_dict

    d = conninfo_to_dict(url)
    d.pop("password", None)
    return tuple(sorted((k, str(v)) for k, v in d.items()))


def _read_committed(conn):
    """A PgStore connection runs read committed, whatever the database's default:
    flowscheme_lock and the ledger's conditional append rely on each statement
    seeing the latest commits."""
    conn.execute("SET default_transaction_isolation TO 'read committed'")


def current_step(dbkey):
    """The innermost flow step this thread runs (holding its lock) on a PgStore of
    database `dbkey`, or None: PgLedger writes through it (see the module docstring)."""
    for step in reversed(getattr(_active, "steps", ())):
        if step.store.dbkey == dbkey and not step.store.closed:
            return step
    return None


def _lock_key(schema, flow_id):
    digest = hashlib.blake2b(f"{schema}\x00{flow_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _meta(snapshot):
    """(status, name, code unit) from a snapshot's metadata, for the descriptive columns."""
    try:
        meta = msgpack.unpackb(snapshot, raw=False, max_bin_len=len(snapshot), max_str_len=len(snapshot))
        unit = meta.get("def")
        unit = unit[0] if isinstance(unit, list) and unit and isinstance(unit[0], str) else None
        status, name = meta.get("status"), meta.get("name")
        return (status if isinstance(status, str) else None, name if isinstance(name, str) else None, unit)
    except Exception:
        return (None, None, None)


def _text(value, what):
    if "\x00" in value:
        raise FlowError(f"{what} {value!r} holds a NUL character, which a PostgreSQL store cannot keep")
    return value


class _Cached:
    """A flow as get() last read it: its row's version, born and based (the
    version that wrote its snapshot: None when unknown), the snapshot (base),
    pieces and journal."""

    __slots__ = ("version", "born", "based", "snapshot", "pieces", "journal")

    def __init__(self, version, born, based, snapshot, pieces, journal):
        self.version, self.born, self.based = version, born, based
        self.snapshot, self.pieces, self.journal = snapshot, pieces, journal

    def stored(self):
        return StoredFlow(self.snapshot, list(self.journal), list(self.pieces))


class _Step:
    """A flow held by this thread: the connection holding its advisory lock, the
    version it had when taken (fencing), and the step's transaction, if a ledger
    write began one."""

    __slots__ = ("store", "flow_id", "key", "conn", "pooled", "depth", "version", "journal_len",
                 "in_tx", "tx_lost", "on_commit", "written")

    def __init__(self, store, flow_id, key, conn, pooled):
        self.store, self.flow_id, self.key = store, flow_id, key
        self.conn, self.pooled = conn, pooled
        self.depth = 1
        self.version = None  # None: no such flow when taken
        self.journal_len = 0
        self.in_tx = False  # a transaction is open on conn (ledger writes in it)
        self.tx_lost = None  # why the step's transaction is gone (its connection dropped)
        self.on_commit = []  # functions to call once the step's transaction has committed
        # what writers keep of their writes in the step's open transaction (PgLedger: rows
        # by key, read back within the step without a query); valid only while in_tx
        self.written = {}

    def transaction(self):
        """The step's connection inside its transaction (BEGUN now if not yet):
        what a ledger write of this step runs on."""
        conn, begin = self.writer()
        if begin:
            try:
                conn.execute("BEGIN")
            except self.store._pg.OperationalError as e:
                self.failed(e)
                raise
        return conn

    def writer(self):
        """(connection, begin) for a write in the step's transaction: when `begin`,
        the caller sends BEGIN first (in the same round trip as its write). From
        now on the step counts as holding a transaction (rolled back unless the
        flow's commit commits it)."""
        if self.tx_lost is not None:
            raise StoreWriteError(self.store.where, self.tx_lost, "writing in a step's transaction",
                                  f"{self.store.where}: flow {self.flow_id!r}: the step's connection to the "
                                  f"database was lost ({self.tx_lost}); nothing of this step was committed")
        begin = not self.in_tx
        if begin:
            self.written = {}  # (what an earlier transaction of the step wrote is not this one's)
        self.in_tx = True
        return self.conn, begin

    def failed(self, error):
        """A write on the step's transaction lost its connection: the step cannot commit."""
        if self.in_tx:
            self.tx_lost = error
            self.on_commit = []


class PgStore:
    """The flow store on PostgreSQL (see the module docstring)."""

    durable = True
    takes_pieces = True

    def __init__(self, url, index_of=None, pool_size=None):
        psycopg, psycopg_pool = _psycopg()
        self._pg = psycopg
        self.url = url
        self.where = redacted(url)
        self.dbkey = database_key(url)
        self.index_of = index_of
        self.closed = False
        with _thread_locks_guard:
            self._threads = _thread_locks.setdefault(self.dbkey, FlowLocks())
        self._cache = {}  # flow id -> _Cached (insertion order: oldest first)
        self._cache_lock = threading.Lock()
        self._listen = None  # the LISTEN connection, opened by the first wait_for_change
        self._listen_lock = threading.Lock()
        self.migrated = None  # what opening did to the schema (pgschema.Applied), if anything
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=30) as conn:
                self.migrated = ensure(conn, SCHEMA, self.where)
                self.schema = conn.execute("SELECT current_schema()").fetchone()[0]
        except psycopg.Error as e:
            raise StoreWriteError(self.where, e, "opening the store",
                                  f"{self.where}: cannot open the flow store: {e}".strip()) from None
        if self.schema is None:
            raise StoreFormatError(f"{self.where}: no schema to keep the flow tables in (search_path is empty)")
        self.channel = "flowscheme_" + hashlib.blake2b(self.schema.encode(), digest_size=8).hexdigest()
        self._pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=pool_size or POOL_MAX, kwargs=dict(CONNECT_OPTIONS), open=True,
            configure=_read_committed,
            name=f"flowscheme-flows-{os.getpid()}", num_workers=2, reconnect_timeout=RECONNECT_SECONDS,
        )
        OPEN.add(self)

    # ------------------------------------------------------------------ connections

    def _held(self):
        """{flow id: _Step} this thread holds on this database (through any PgStore:
        a second store of the process on the same database shares the holds, as it
        shares the in-process locks, so a thread never waits for itself)."""
        held = getattr(_active, "held", None)
        if held is None:
            held = _active.held = {}
        return held.setdefault(self.dbkey, {})

    def _check_open(self):
        if self.closed:
            raise FlowError(f"{self.where}: the flow store is closed")

    def _run(self, fn, doing):
        """fn(conn) on this thread's innermost step connection of this store, else
        a pooled one; a dropped connection (a restarted server) is retried on a
        fresh one until RECONNECT_SECONDS pass. For reads and idempotent writes."""
        self._check_open()
        held = self._held()
        if held:
            step = next(reversed(held.values()))
            if step.tx_lost is None:
                try:
                    return fn(step.conn)
                except self._pg.OperationalError as e:
                    step.failed(e)  # fall back to the pool below
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            try:
                with self._pool.connection() as conn:
                    return fn(conn)
            except self._pg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise StoreWriteError(self.where, e, doing,
                                          f"{self.where}: {doing}: the database cannot be reached ({e})") from None
                self._pool.check()
                time.sleep(0.05)
            except self._pg.Error as e:
                raise StoreWriteError(self.where, e, doing, f"{self.where}: {doing} failed: {e}") from None
            except Exception as e:
                if type(e).__name__ == "PoolTimeout":
                    raise StoreWriteError(self.where, e, doing,
                                          f"{self.where}: {doing}: no database connection ({e})") from None
                raise

    def _connect(self, deadline):
        """A new connection (not from the pool), retried until `deadline`."""
        while True:
            try:
                conn = self._pg.connect(self.url, connect_timeout=10, **CONNECT_OPTIONS)
                _read_committed(conn)
                return conn
            except self._pg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    # ------------------------------------------------------------------ locks

    @contextmanager
    def lock(self, flow_id):
        """Hold flow_id across threads and processes (an advisory lock on a
        connection of this thread; see the module docstring). Re-entrant."""
        with self._holding(flow_id, wait=True) as got:
            assert got
            yield

    @contextmanager
    def try_lock(self, flow_id):
        """Like lock, but yields False at once (holding nothing) when another
        thread or process holds flow_id; True when this thread now holds it."""
        with self._holding(flow_id, wait=False) as got:
            yield got

    @contextmanager
    def _holding(self, flow_id, wait):
        self._check_open()
        flow_id = _text(str(flow_id), "flow id")
        held = self._held()
        step = held.get(flow_id)
        if step is not None:
            step.depth += 1
            try:
                yield True
            finally:
                step.depth -= 1
            return
        with self._threads.hold(flow_id, blocking=wait) as depth:
            if not depth:
                yield False
                return
            step = self._acquire(flow_id, wait)
            if step is None:
                yield False
                return
            held[flow_id] = step
            stack = getattr(_active, "steps", None)
            if stack is None:
                stack = _active.steps = []
            stack.append(step)
            try:
                yield True
            finally:
                stack.remove(step)
                del held[flow_id]
                self._release(step)

    def _acquire(self, flow_id, wait):
        """Take flow_id's advisory lock on a pooled connection -> _Step (None:
        not waiting, and another session holds it)."""
        key = _lock_key(self.schema, flow_id)
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            conn = self._getconn()
            try:
                # one statement: the lock (the session's), then the version, read after
                # the lock is held (see flowscheme_lock), so it sees the latest commit
                got, version, journal_len = conn.execute(
                    "SELECT * FROM flowscheme_lock(%s, %s, %s)", (key, flow_id, wait)).fetchone()
                if not got:
                    self._pool.putconn(conn)
                    return None
                step = _Step(self, flow_id, key, conn, True)
                step.version, step.journal_len = version, (journal_len or 0)
                return step
            except self._pg.OperationalError as e:
                self._pool.putconn(conn)  # (broken: the pool drops it)
                if time.monotonic() > deadline:
                    raise StoreWriteError(self.where, e, "locking a flow",
                                          f"{self.where}: cannot lock flow {flow_id!r}: the database "
                                          f"cannot be reached ({e})") from None
                self._pool.check()
                time.sleep(0.05)
            except BaseException:
                self._discard(conn)
                raise

    def _discard(self, conn):
        """Give back a connection whose state is unknown (a statement failed midway):
        closed, so that no lock or transaction of it outlives this."""
        try:
            conn.close()
        except Exception:
            pass
        self._pool.putconn(conn)

    def _getconn(self):
        try:
            return self._pool.getconn()
        except Exception as e:
            raise StoreWriteError(self.where, e, "taking a connection",
                                  f"{self.where}: no database connection for a step ({e})") from None

    def _release(self, step):
        conn = step.conn
        try:
            if step.in_tx:
                with conn.pipeline():
                    conn.execute("ROLLBACK")  # a step that did not commit: its ledger writes go too
                    conn.execute("SELECT pg_advisory_unlock(%s)", (step.key,))
                step.in_tx = False
            else:
                conn.execute("SELECT pg_advisory_unlock(%s)", (step.key,))
        except self._pg.Error:
            if not conn.closed:
                conn.close()  # a lock we cannot drop goes with its session
        finally:
            if step.pooled:
                self._pool.putconn(conn)
            else:
                conn.close()

    # ------------------------------------------------------------------ reading

    def get(self, flow_id):
        flow_id = str(flow_id)
        if "\x00" in flow_id:
            return None
        step = self._held().get(flow_id)
        with self._cache_lock:
            cached = self._cache.get(flow_id)
        if step is not None and step.tx_lost is None:
            if step.version is None:
                return None
            if cached is not None and cached.version == step.version:
                return cached.stored()

        def read(conn):
            if cached is None:
                row = conn.execute(
                    "SELECT version, born, based, snapshot, journal_len, pieces, "
                    "ARRAY(SELECT entry FROM flow_journal j WHERE j.flow_id = f.id ORDER BY seq), "
                    "ARRAY(SELECT piece FROM flow_pieces p WHERE p.flow_id = f.id ORDER BY seq) "
                    "FROM flows f WHERE id = %s", (flow_id,)).fetchone()
                return row, False
            # only what changed since the cached read: the snapshot when the base moved,
            # the journal entries and pieces after those cached (all when the flow was
            # made anew, or, for the pieces, the base moved)
            row = conn.execute(
                "SELECT version, born, based, "
                "CASE WHEN version = %(version)s OR based = %(based)s THEN NULL ELSE snapshot END, "
                "journal_len, pieces, "
                "CASE WHEN version = %(version)s THEN NULL "
                "  WHEN born <> %(born)s THEN ARRAY(SELECT entry FROM flow_journal j WHERE j.flow_id = f.id "
                "    ORDER BY seq) "
                "  ELSE ARRAY(SELECT entry FROM flow_journal j WHERE j.flow_id = f.id AND seq >= %(journal)s "
                "    ORDER BY seq) END, "
                "CASE WHEN version = %(version)s THEN NULL "
                "  WHEN based = %(based)s THEN ARRAY(SELECT piece FROM flow_pieces p WHERE p.flow_id = f.id "
                "    AND seq >= %(pieces)s ORDER BY seq) "
                "  ELSE ARRAY(SELECT piece FROM flow_pieces p WHERE p.flow_id = f.id ORDER BY seq) END "
                "FROM flows f WHERE id = %(id)s",
                dict(version=cached.version, born=cached.born, based=cached.based, journal=len(cached.journal),
                     pieces=len(cached.pieces), id=flow_id)).fetchone()
            return row, True

        row, had = self._run(read, f"reading flow {flow_id!r}")
        if row is None:
            self._forget(flow_id)
            return None
        version, born, based, snapshot, journal_len, pieces_len, entries, pieces = row
        entries = [bytes(e) for e in entries or ()]
        pieces = [bytes(p) for p in pieces or ()]
        if had and version == cached.version:
            entry = cached
        else:
            # (a base is known by `based`, a version never reused: the same based, the same base)
            same_base = had and based is not None and based == cached.based
            journal = cached.journal + entries if had and born == cached.born else entries
            if same_base:
                entry = _Cached(version, born, based, cached.snapshot, cached.pieces + pieces, journal)
            else:
                entry = _Cached(version, born, based, bytes(snapshot), pieces, journal)
        if len(entry.journal) != journal_len or len(entry.pieces) != pieces_len:
            # a commit between our reads of the row and of the journal or pieces
            entry = _Cached(version, born, based, entry.snapshot, entry.pieces[:pieces_len],
                            entry.journal[:journal_len])
        self._remember(flow_id, entry)
        return entry.stored()

    def _remember(self, flow_id, entry):
        with self._cache_lock:
            self._cache.pop(flow_id, None)
            self._cache[flow_id] = entry
            while len(self._cache) > CACHE_FLOWS:
                del self._cache[next(iter(self._cache))]

    def _forget(self, flow_id=None):
        with self._cache_lock:
            if flow_id is None:
                self._cache.clear()
            else:
                self._cache.pop(flow_id, None)

    def ids(self):
        return self._run(lambda conn: [r[0] for r in conn.execute("SELECT id FROM flows ORDER BY position")],
                         "listing flows")

    def refresh(self):
        """Nothing to take in: every read asks the database. Drains the
        notifications a waiting worker's connection has received meanwhile."""
        self._check_open()
        if self._listen is not None and self._listen_lock.acquire(blocking=False):
            try:
                self._drain(None, ())
            finally:
                self._listen_lock.release()

    def due(self, now, limit=None):
        """[(wake, flow id)] of the flows whose wake time is <= now, earliest first."""
        return self._run(lambda conn: [(r[0], r[1]) for r in conn.execute(
            "SELECT wake, id FROM flows WHERE wake <= %s ORDER BY wake, id LIMIT %s", (float(now), limit))],
            "reading the due flows")

    def next_wake(self):
        return self._run(lambda conn: conn.execute(
            "SELECT min(wake) FROM flows WHERE wake IS NOT NULL").fetchone()[0], "reading the next wake-up time")

    def waiting_on(self, kind):
        return self._run(lambda conn: [r[0] for r in conn.execute(
            "SELECT id FROM flows WHERE wait_kind = %s ORDER BY id", (str(kind),))], "reading waiting flows")

    # ------------------------------------------------------------------ committing

    def _entry(self, snapshot, index):
        if index is not None:
            kind, wake = index
        elif self.index_of is not None:
            kind, wake = self.index_of(snapshot)
        else:
            kind, wake = None, None
        return kind, (None if wake is None else float(wake))

    def commit(self, flow_id, snapshot, new_entries=(), index=None, piece=False):
        """Make a transition durable (see the module docstring): one statement —
        the row (fenced by the version the lock saw), the journal entries, a
        NOTIFY — committed with the step's ledger writes if it has any. Without
        this thread holding the flow, the commit takes its lock for itself.
        piece=True: `snapshot` is a piece (see FlowStore.commit), inserted into
        flow_pieces, the row's columns but its snapshot set from it; a piece of
        a flow the database does not have (as the lock saw it) raises
        StoreWriteError, nothing written (the step's transaction, if any, is
        left as it is: the step may still commit a full snapshot)."""
        self._check_open()
        flow_id = _text(str(flow_id), "flow id")
        step = self._held().get(flow_id)
        if step is None:
            with self.lock(flow_id):
                return self.commit(flow_id, snapshot, new_entries, index, piece)
        if piece and step.version is None:
            raise piece_of_unknown_flow(self.where, flow_id)
        snapshot = bytes(snapshot)
        entries = [bytes(e) for e in new_entries]
        kind, wake = self._entry(snapshot, index)
        if kind is not None:
            _text(kind, "request kind")
        status, name, unit = _meta(snapshot)
        # a waiting listener (wait_for_change) only cares about a flow that waits on
        # a kind or has a wake-up time: a finished flow is not announced (a NOTIFY
        # serialises the commits of the whole server on the notification queue's lock)
        notify = kind is not None or wake is not None
        payload = json.dumps({"i": flow_id, "k": kind, "w": wake})
        if len(payload.encode()) > _NOTIFY_MAX:
            payload = json.dumps({"i": None})
        row = dict(id=flow_id, name=name, status=status, unit=unit, kind=kind, wake=wake, snapshot=snapshot,
                   piece=bool(piece), entries=entries, n=len(entries), owner=_OWNER, channel=self.channel,
                   payload=payload, notify=notify)
        if step.tx_lost is not None:
            step.transaction()  # raises: the step's ledger writes are gone
        commit_id = uuid.uuid4()
        try:
            try:
                version = self._write(step, row, commit_id)
            except self._pg.OperationalError as e:
                version = self._recover(step, row, commit_id, e)
            except self._pg.Error as e:
                self._abort(step)
                raise StoreWriteError(self.where, e, f"committing flow {flow_id!r}",
                                      f"{self.where}: committing flow {flow_id!r} failed, nothing was committed: "
                                      f"{e}") from None
        except BaseException:
            step.on_commit = []  # what was to follow the step's transaction went with it
            raise
        cached = self._cache.get(flow_id)
        if step.version is None:  # created: the row is born with this version
            entry = _Cached(version, version, version, snapshot, [], list(entries))
        elif cached is not None and cached.version == step.version:
            if piece:
                entry = _Cached(version, cached.born, cached.based, cached.snapshot, cached.pieces + [snapshot],
                                cached.journal + entries)
            else:
                entry = _Cached(version, cached.born, version, snapshot, [], cached.journal + entries)
        else:
            entry = None
        step.version = version
        step.journal_len += len(entries)
        if entry is not None:
            self._remember(flow_id, entry)
        else:
            self._forget(flow_id)
        hooks, step.on_commit = step.on_commit, []
        for hook in hooks:
            hook()

    def _write(self, step, row, commit_id):
        """The commit's statement on the step's connection (and COMMIT, when the
        step has a transaction open) -> the new version; StoreWriteError when
        the version moved (fenced off: nothing done)."""
        conn = step.conn
        params = dict(row, version=step.version, start=step.journal_len, commit_id=commit_id)
        sql = _INSERT if step.version is None else _PIECE if row["piece"] else _UPDATE
        try:
            if step.in_tx:
                # one round trip: when the fence fails the statement raises, so the
                # COMMIT after it never runs and the step's ledger writes roll back.
                # The NOTIFY follows the COMMIT, in a transaction of its own that does
                # not wait for the disk: inside the step's transaction it would hold
                # the server's notification lock — which serialises every notifying
                # commit — through the WAL flush, with the rows the step's ledger
                # writes locked (stock balances every order touches) held all along.
                with conn.pipeline():
                    cur = conn.execute(sql, dict(params, notify=False))
                    conn.execute("COMMIT")
                    if row["notify"]:
                        conn.execute(_ANNOUNCE, (self.channel, row["payload"]))
                step.in_tx = False
            else:
                cur = conn.execute(sql, params)
        except self._pg.Error as e:
            if getattr(e, "sqlstate", None) != FENCED:
                if step.in_tx and not isinstance(e, self._pg.OperationalError):
                    landed = self._landed(step, commit_id)
                    if landed is not None:  # only the announcement failed: a worker looks again anyway
                        step.in_tx = False
                        return landed
                raise
            self._abort(step)
            now = conn.execute(_STATE, (step.flow_id,)).fetchone()
            raise StoreWriteError(
                self.where, None, f"committing flow {step.flow_id!r}",
                f"{self.where}: flow {step.flow_id!r} was "
                + ("created" if step.version is None else "changed" if now else "removed")
                + " by another worker while this step ran (this worker's lock on it was lost: its "
                  "connection dropped?); nothing of this step was committed") from None
        return cur.fetchone()[0]

    def _landed(self, step, commit_id):
        """After an error in a pipelined commit: the new version if our commit is
        in the database (what failed came after the COMMIT), else None."""
        conn = step.conn
        if conn.info.transaction_status != self._pg.pq.TransactionStatus.IDLE:
            return None  # the statement or the COMMIT failed inside the transaction: not committed
        try:
            found = conn.execute(_STATE, (step.flow_id,)).fetchone()
        except self._pg.Error:
            return None
        return found[0] if found is not None and found[2] == commit_id else None

    def _abort(self, step):
        step.on_commit = []
        if step.in_tx:
            try:
                step.conn.execute("ROLLBACK")
            except self._pg.Error:
                pass
            step.in_tx = False

    def _recover(self, step, row, commit_id, error):
        """The connection dropped during a commit: on a new connection, take the
        lock again (it waits for the old session to end, so its transaction is
        decided), then see whether the commit landed (our commit id), and if not,
        commit again when that is safe. The new connection becomes the step's."""
        had_tx = step.in_tx or step.tx_lost is not None
        step.in_tx = False
        old = step.conn
        try:
            old.close()
        except Exception:
            pass
        deadline = time.monotonic() + RECONNECT_SECONDS
        try:
            conn = self._connect(deadline)
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(RECONNECT_SECONDS * 1000)}ms",))
            conn.execute("SELECT pg_advisory_lock(%s)", (step.key,))
            conn.execute("RESET lock_timeout")
        except self._pg.Error as e:
            raise StoreWriteError(
                self.where, error, f"committing flow {step.flow_id!r}",
                f"{self.where}: the connection was lost while committing flow {step.flow_id!r} ({error}), "
                f"and the database cannot be reached to tell whether the commit landed ({e}); look at the "
                f"flow again before retrying (a retry of the transition is harmless)") from None
        if step.pooled:
            step.store._pool.putconn(old)  # (closed: the pool drops it)
        step.conn, step.pooled, step.tx_lost = conn, False, None
        found = conn.execute(_STATE, (step.flow_id,)).fetchone()
        if found is not None and found[2] == commit_id:
            return found[0]  # it landed
        now = found[0] if found is not None else None
        if had_tx or now != step.version:
            step.version, step.journal_len = now, (found[1] if found is not None else 0)
            why = ("the step's ledger writes went with the connection" if had_tx
                   else "another worker moved the flow meanwhile")
            raise StoreWriteError(self.where, error, f"committing flow {step.flow_id!r}",
                                  f"{self.where}: the connection was lost while committing flow "
                                  f"{step.flow_id!r} ({error}); nothing of this step was committed "
                                  f"({why}), and the step can be run again")
        try:
            return self._write(step, row, commit_id)  # unchanged and we hold it again: commit now
        except self._pg.Error as e:
            raise StoreWriteError(self.where, e, f"committing flow {step.flow_id!r}",
                                  f"{self.where}: committing flow {step.flow_id!r} failed after a lost "
                                  f"connection, nothing was committed: {e}") from None

    def replace_all(self, flows):
        """Replace every flow at once, in one transaction (import, reset)."""
        flows = {_text(str(i), "flow id"): s for i, s in flows.items()}
        rows, journal = [], []
        for flow_id, stored in flows.items():
            snapshot = bytes(stored.snapshot)  # (a StoredFlow with pieces: assembled, the flow's new base)
            kind, wake = self._entry(snapshot, None)
            status, name, unit = _meta(snapshot)
            rows.append((flow_id, name, status, unit, kind, wake, snapshot, len(stored.journal), _OWNER))
            journal.extend((flow_id, i, bytes(e)) for i, e in enumerate(stored.journal))

        def write(conn):
            with conn.transaction():
                conn.execute("LOCK TABLE flows IN SHARE ROW EXCLUSIVE MODE")
                conn.execute("DELETE FROM flow_journal")
                conn.execute("DELETE FROM flow_pieces")
                conn.execute("DELETE FROM flows")
                with conn.cursor() as cur:
                    cur.executemany(
                        "WITH v AS (SELECT nextval('flow_version') AS n) INSERT INTO flows "
                        "(id, name, status, code_unit, wait_kind, wake, snapshot, journal_len, owner, version, born, "
                        "based) SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, v.n, v.n, v.n FROM v", rows)
                    if journal:
                        cur.executemany("INSERT INTO flow_journal (flow_id, seq, entry) VALUES (%s, %s, %s)",
                                        journal)
                conn.execute("SELECT pg_notify(%s, %s)", (self.channel, json.dumps({"i": None})))

        self._run(write, "replacing every flow")
        self._forget()

    # ------------------------------------------------------------------ waiting for commits

    def wait_for_change(self, seconds, stop=None, wake_before=None, kinds=()):
        """Wait up to `seconds` (checking the threading.Event `stop`) for another
        process to commit a flow that is due before `wake_before` (epoch seconds;
        None: any wake-up time) or waits on one of `kinds`. True when one did (or
        when it cannot tell: the listening connection was lost)."""
        self._check_open()
        kinds = frozenset(kinds)
        end = time.monotonic() + max(0.0, seconds)
        with self._listen_lock:
            while True:
                if stop is not None and stop.is_set():
                    return False
                try:
                    conn = self._listener()
                except self._pg.OperationalError:
                    time.sleep(min(0.2, max(0.0, end - time.monotonic())))
                    return True
                if self._drain(wake_before, kinds):
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                try:
                    select.select([conn.fileno()], [], [], min(left, 0.1))
                except (OSError, ValueError):
                    self._drop_listener()
                    return True

    def _listener(self):
        if self._listen is None or self._listen.closed:
            conn = self._pg.connect(self.url, connect_timeout=10, **CONNECT_OPTIONS)
            conn.execute(f'LISTEN "{self.channel}"')
            self._listen = conn
        return self._listen

    def _drop_listener(self):
        conn, self._listen = self._listen, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _drain(self, wake_before, kinds):
        """Read the notifications received (never blocking) -> True if one is relevant."""
        conn = self._listen
        if conn is None:
            return False
        relevant = False
        try:
            pgconn = conn.pgconn
            pgconn.consume_input()
            while True:
                n = pgconn.notifies()
                if n is None:
                    break
                relevant = relevant or _relevant(n.extra, wake_before, kinds)
        except Exception:
            self._drop_listener()
            return True
        return relevant

    # ------------------------------------------------------------------ closing

    def close(self):
        if self.closed:
            return
        self.closed = True
        OPEN.discard(self)
        with self._listen_lock:
            self._drop_listener()
        try:
            self._pool.close(timeout=5)
        except Exception:
            pass

    def __repr__(self):
        return f"<PgStore {self.where}{' closed' if self.closed else ''}>"


def _relevant(payload, wake_before, kinds):
    try:
        d = json.loads(payload)
    except (ValueError, TypeError, UnicodeDecodeError):
        return True
    if not isinstance(d, dict) or d.get("i") is None:
        return True  # replaced, or an id too long to name: look again
    wake = d.get("w")
    if isinstance(wake, (int, float)) and (wake_before is None or wake < wake_before):
        return True
    return d.get("k") in kinds


# the descriptive and index columns every commit sets (a full one sets snapshot too)
_COLUMNS = ("name = %(name)s, status = %(status)s, code_unit = %(unit)s, wait_kind = %(kind)s, "
            "wake = %(wake)s, commit_id = %(commit_id)s, owner = %(owner)s, updated_at = now()")

# where a flow stands: what a commit that failed or was fenced off looks at
_STATE = "SELECT version, journal_len, commit_id FROM flows WHERE id = %s"

_JOURNAL = ("j AS (INSERT INTO flow_journal (flow_id, seq, entry) "
            "SELECT c.id, %(start)s + t.o - 1, t.e FROM c, unnest(%(entries)s::bytea[]) WITH ORDINALITY AS t(e, o)), "
            "n AS (SELECT pg_notify(%(channel)s, %(payload)s) FROM c WHERE %(notify)s) ")
# a NOTIFY after a step's COMMIT: its own transaction, not waiting for the WAL flush (a
# notification is a hint, lost with the server anyway; a worker looks again within its idle time)
_ANNOUNCE = "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, %s)"
# the new version, or (no row matched the fence) flowscheme_fenced() raises
_FENCE = "SELECT coalesce((SELECT c.version FROM c), flowscheme_fenced(%(id)s)), (SELECT count(*) FROM n)"

# a full commit: the new snapshot (the base: `based` is this commit's version), the flow's pieces deleted
_UPDATE = ("WITH v AS (SELECT nextval('flow_version') AS n), "
           "c AS (UPDATE flows SET " + _COLUMNS + ", snapshot = %(snapshot)s, version = v.n, based = v.n, "
           "pieces = 0, journal_len = journal_len + %(n)s FROM v WHERE id = %(id)s AND version = %(version)s "
           "RETURNING id, version), "
           "d AS (DELETE FROM flow_pieces p USING c WHERE p.flow_id = c.id), " + _JOURNAL + _FENCE)

# a piece commit (row["snapshot"] holds the piece): the row's columns but not its snapshot, the piece
# numbered after the flow's others
_PIECE = ("WITH c AS (UPDATE flows SET " + _COLUMNS + ", version = nextval('flow_version'), "
          "pieces = pieces + 1, journal_len = journal_len + %(n)s WHERE id = %(id)s AND version = %(version)s "
          "RETURNING id, version, pieces), "
          "p AS (INSERT INTO flow_pieces (flow_id, seq, piece) SELECT c.id, c.pieces - 1, %(snapshot)s FROM c), "
          + _JOURNAL + _FENCE)

_INSERT = ("WITH v AS (SELECT nextval('flow_version') AS n), "
           "c AS (INSERT INTO flows (id, name, status, code_unit, wait_kind, wake, snapshot, journal_len, "
           "version, born, based, commit_id, owner) SELECT %(id)s, %(name)s, %(status)s, %(unit)s, %(kind)s, "
           "%(wake)s, %(snapshot)s, %(n)s, v.n, v.n, v.n, %(commit_id)s, %(owner)s FROM v "
           "ON CONFLICT (id) DO NOTHING RETURNING id, version), " + _JOURNAL + _FENCE)
