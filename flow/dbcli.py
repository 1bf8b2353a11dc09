"""`flowscheme db`: the PostgreSQL database of a store — `db migrate` creates or
migrates the tables of every component (the flows, the order ledger: those
registered under the `flowscheme.schemas` entry points) and says what it did;
`db status` shows each component's version beside the one this flowscheme knows.

Exit status: 0 success, 1 a database error or a schema newer than this
flowscheme (nothing changed), 2 a usage error.
"""

from importlib.metadata import entry_points

import click

from .cli import fail, shown_store


def schemas():
    """[pgschema.Schema] of every registered component, flows first."""
    found = []
    for ep in sorted(entry_points(group="flowscheme.schemas"), key=lambda e: (e.name != "flows", e.name)):
        found.append(ep.load())
    if not any(s.component == "flows" for s in found):
        from .pgstore import SCHEMA
        found.insert(0, SCHEMA)
    return found


def _url_option(fn):
    return click.option("--store", "url", metavar="URL", required=True, envvar="FLOWSCHEME_STORE",
                        help="The database: a postgresql:// URL (or set FLOWSCHEME_STORE).")(fn)


def _connect(ctx, url):
    from .store import is_store_url

    if not is_store_url(url):
        raise click.BadParameter(f"{url!r} is not a postgresql:// URL (`db` commands are for PostgreSQL "
                                 f"stores; a file store needs no migration)", ctx, param_hint="--store")
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=30)
    except psycopg.Error as e:
        fail(ctx, f"{shown_store(url)}: cannot connect: {str(e).strip()}")


@click.group(short_help="The PostgreSQL database of a store: migrate its tables, show their versions.")
def db():
    """The PostgreSQL database a store or an order shop lives in.

    \b
    flowscheme db migrate --store postgresql://user@host/db
    flowscheme db status --store postgresql://user@host/db

    Opening a store or a shop on a database migrates it too; `db migrate` does
    it on purpose and says what it did. A database whose tables are newer than
    this flowscheme is refused, naming both versions, and left unchanged.
    """


@db.command("migrate")
@_url_option
@click.pass_context
def db_migrate(ctx, url):
    """Create or migrate the tables of every component, each in one transaction."""
    import psycopg

    from .pgschema import migrate

    with _connect(ctx, url) as conn:
        for schema in schemas():
            try:
                applied = migrate(conn, schema, shown_store(url))
            except psycopg.Error as e:
                fail(ctx, f"{shown_store(url)}: migrating {schema.component} failed, nothing of it changed: "
                          f"{str(e).strip()}")
            except Exception as e:  # SchemaTooNew (a FlowError)
                from .errors import FlowError
                if not isinstance(e, FlowError):
                    raise
                fail(ctx, str(e))
            click.echo(applied.describe())


@db.command("status")
@_url_option
@click.pass_context
def db_status(ctx, url):
    """Each component's schema version in the database, and the latest known here."""
    from .pgschema import versions

    with _connect(ctx, url) as conn:
        found = versions(conn)
    for schema in schemas():
        have = found.pop(schema.component, 0)
        state = ("not created" if have == 0 else "current" if have == schema.latest
                 else "older: `flowscheme db migrate` brings it up" if have < schema.latest
                 else "NEWER than this flowscheme knows: upgrade flowscheme")
        click.echo(f"{schema.component}: version {have} (this flowscheme: {schema.latest}) — {state}")
    for component, have in sorted(found.items()):
        click.echo(f"{component}: version {have} (unknown to this flowscheme)")
