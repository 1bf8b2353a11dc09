"""Schema versions of flowscheme's PostgreSQL tables: one row per component in
`schema_version`, created or migrated when a store or ledger opens, refused
when the database holds a newer schema than this flowscheme knows.

A component (the flow tables, the ledger tables) is a `Schema`: a name and its
migrations, [(version, what it does, [SQL statements])], versions 1, 2, ... in
order. `migrate(conn, schema)` brings the database to the latest version in one
transaction under a transaction-level advisory lock (two processes opening a new
database at once: one creates the tables, the other then finds them) and says
what it did; `ensure(conn, schema)` is the cheap check made on every open (one
query when the schema is current). A database whose component is at a version
above the latest this code knows raises SchemaTooNew, naming both versions,
and nothing is changed.

Tables are created unqualified, in the first schema of the connection's
search_path (a URL may choose one: ?options=-csearch_path%3Dmyschema).
"""

import hashlib
from urllib.parse import urlencode
from typing import NamedTuple

from .errors import StoreFormatError

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    component  text PRIMARY KEY,
    version    integer NOT NULL CHECK (version >= 1),
    updated_at timestamptz NOT NULL DEFAULT now()
)"""


class Migration(NamedTuple):
    version: int
    what: str
    statements: tuple


class Schema(NamedTuple):
    """A component's tables: its name in schema_version and its migrations."""

    component: str
    migrations: tuple

    @property
    def latest(self):
        return self.migrations[-1].version if self.migrations else 0

    def check(self):
        for i, m in enumerate(self.migrations, 1):
            if m.version != i:
                raise ValueError(f"schema {self.component}: migration {i} is numbered {m.version}")
        return self


class SchemaTooNew(StoreFormatError):
    """The database holds a component at a version newer than this code knows."""

    def __init__(self, where, component, found, supported):
        super().__init__(
            f"{where}: the {component} tables are at schema version {found}, but this flowscheme "
            f"knows versions up to {supported}; upgrade flowscheme to use this database "
            f"(nothing was changed)"
        )
        self.where, self.component, self.found, self.supported = where, component, found, supported


class Applied(NamedTuple):
    """What migrate did for a component: from version (0: none) to version, and the steps."""

    component: str
    before: int
    after: int
    steps: tuple  # (version, what) of each migration applied

    def describe(self):
        if not self.steps:
            return f"{self.component}: at version {self.after}, nothing to do"
        done = "; ".join(f"{v}: {what}" for v, what in self.steps)
        verb = "created at" if self.before == 0 else f"migrated {self.before} ->"
        return f"{self.component}: {verb} version {self.after} ({done})"


def _lock_key(conn):
    """A 64-bit advisory lock key for migrating the tables of the connection's schema."""
    schema = conn.execute("SELECT current_schema()").fetchone()[0] or ""
    digest = hashlib.blake2b(f"flowscheme-schema\x00{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def current_version(conn, component):
    """The component's version in the database, 0 when it has none (no table yet)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM schema_version WHERE component = %s", (component,)).fetchone()
    return row[0] if row else 0


def versions(conn):
    """{component: version} of every component in the database."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return {}
    return dict(conn.execute("SELECT component, version FROM schema_version ORDER BY component").fetchall())


def ensure(conn, schema, where):
    """Make sure the component is at its latest version (migrating if it is
    older); SchemaTooNew if it is newer. conn: an autocommit connection."""
    found = current_version(conn, schema.component)
    if found == schema.latest:
        return None
    if found > schema.latest:
        raise SchemaTooNew(where, schema.component, found, schema.latest)
    return migrate(conn, schema, where)


def migrate(conn, schema, where):
    """Bring the component to its latest version -> Applied. One transaction:
    all of it or nothing. conn: an autocommit connection, outside a transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(conn),))
        conn.execute(VERSION_TABLE)
        row = conn.execute("SELECT version FROM schema_version WHERE component = %s FOR UPDATE",
                           (schema.component,)).fetchone()
        before = row[0] if row else 0
        if before > schema.latest:
            raise SchemaTooNew(where, schema.component, before, schema.latest)
        steps = []
        for m in schema.migrations:
            if m.version <= before:
                continue
            for statement in m.statements:
                conn.execute(statement)
            steps.append((m.version, m.what))
        if steps:
            conn.execute(
                "INSERT INTO schema_version (component, version) VALUES (%s, %s) "
                "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
                (schema.component, schema.latest))
    return Applied(schema.component, before, schema.latest if steps else before, tuple(steps))


def redacted(url):
    """The URL without its password (for messages)."""
    try:
        from psycopg.conninfo import conninfo_to_dict
        d = conninfo_to_dict(url)
    except Exception:
        return "<a PostgreSQL URL>"
    host = d.get("host", "")
    port = d.get("port", "")
    user = d.get("user", "")
    db = d.get("dbname", "")
    options = d.get("options")  # a search_path names the schema: part of where the data is
    tail = "?" + urlencode({"options": options}) if options else ""
    return f"postgresql://{user + '@' if user else ''}{host}{':' + port if port else ''}/{db}{tail}"
