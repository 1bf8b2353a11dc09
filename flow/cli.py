"""The flow commands of `flowscheme`: `repl` (an interactive Scheme with flows) and
the `flows` group (list, show, resume, cancel, export, import on a durable store).
Loaded lazily through the `flowscheme.commands` entry points.

Exit status: 0 success, 1 a Scheme or flow error, 2 a usage error.
"""

import json
import os
import sys

import click

from interp.cli import debug_of, report_error

EXIT_HELP = "Exit status: 0 success, 1 a Scheme or flow error, 2 a usage error."


def fail(ctx, message, code=1):
    sys.stdout.flush()
    click.echo(message, err=True)
    ctx.exit(code)


def guarded(ctx, fn):
    """Run fn(); Scheme, flow and file errors become a message and exit status 1."""
    from interp.errors import SchemeError

    from . import codec
    from .errors import CodeNotLoaded, FlowError
    from .repl import ReplError

    try:
        return fn()
    except CodeNotLoaded as e:
        sys.stdout.flush()
        report_error(e, debug_of(ctx))
        if not e.filename.startswith("<"):
            click.echo(f"(pass --load {e.filename})", err=True)
        ctx.exit(1)
    except (SchemeError, FlowError, ReplError, codec.MissingUnit, OSError) as e:
        sys.stdout.flush()
        report_error(e, debug_of(ctx))
        ctx.exit(1)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
        raise
    except Exception as e:
        internal_error(ctx, e)


def internal_error(ctx, e):
    """An exception nobody meant: one line (the traceback only with --debug), exit 1."""
    sys.stdout.flush()
    if debug_of(ctx):
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    click.echo(f"internal error (a bug in flowscheme): {type(e).__name__}: {e}"
               + ("" if debug_of(ctx) else "; run with --debug for the traceback"), err=True)
    ctx.exit(1)


def allow_option(fn):
    return click.option(
        "--allow", metavar="NAME", multiple=True,
        help="Let flow code call this restricted procedure, or every one of a category: file, "
             "process, eval, environment-variables, flows (repeatable; by default flows get none of them).")(fn)


def open_runtime(ctx, store, loads=(), create=False, allow=()):
    """A FlowRuntime on the store DIR (or postgresql:// URL: opening migrates its
    tables), with the files in `loads` evaluated in it."""
    from .runtime import FlowRuntime
    from .store import is_store_url

    if store is not None and not create and not is_store_url(store) \
            and not os.path.isfile(os.path.join(store, "flows.log")):
        hint = ""
        if os.path.isfile(os.path.join(store, "flows", "flows.log")):
            hint = f" (an order data directory keeps its flows in {os.path.join(store, 'flows')}: use that)"
        elif not os.path.exists(store):
            hint = " (the directory does not exist)"
        fail(ctx, f"no flow store at {store}{hint}")
    rt = guarded(ctx, lambda: FlowRuntime(store=store, allow=_grant(ctx, allow)))
    for path in loads:
        guarded(ctx, lambda path=path: rt.load_file(path))
    return rt


def shown_store(store):
    """A store location for messages: a URL without its password."""
    from .store import is_store_url

    if is_store_url(store):
        from .pgschema import redacted
        return redacted(store)
    return store


def _grant(ctx, allow):
    from interp.capabilities import grant

    try:
        grant(list(allow))
    except ValueError as e:
        raise click.UsageError(str(e).replace("allow: ", "--allow: "), ctx) from None
    return list(allow)


# ====================================================================== repl


@click.command(short_help="Interactive Scheme where flows run (,help inside).")
@click.option("--store", metavar="DIR|URL", type=click.Path(file_okay=False),
              help="Keep flows durably in DIR (created if missing) or a postgresql:// URL: quit, start "
                   "another REPL on the same store, and the flows are there (reload their code with ,load).")
@click.option("--load", "loads", metavar="FILE", multiple=True, type=click.Path(dir_okay=False),
              help="Evaluate FILE before the first prompt (repeatable).")
@click.option("--history", metavar="FILE", type=click.Path(dir_okay=False),
              help="History file (default: $XDG_STATE_HOME/flowscheme/history, "
                   "i.e. ~/.local/state/flowscheme/history).")
@click.option("--plain", is_flag=True,
              help="Read plain lines even on a terminal (no prompt, colours or editing).")
@allow_option
@click.pass_context
def repl(ctx, store, loads, history, plain, allow):
    """An interactive Scheme where flows run: defflow, flow/start and friends work
    directly; a flow that suspends is reported as `;; flow ID waits on (KIND PAYLOAD)`.

    \b
    Meta-commands: ,help ,load FILE ,flows ,show ID ,resume ID EXPR ,cancel ID
                   ,export FILE ,import FILE ,time EXPR ,quit
    An input runs when its parentheses balance. An error prints file:line:col,
    the message and a short backtrace; the session carries on.

    What you type at the prompt may use every procedure (files, eval, ...);
    flow code runs without the restricted ones unless granted with --allow.

    When stdin is not a terminal the REPL reads it plainly (no prompt, no escape
    codes): `flowscheme repl < session.scm`. Then the exit status is 1 if any
    input failed, else 0.
    """
    from .repl import Repl, TrackingWriter, default_history_path, run_plain, run_terminal
    from .runtime import FlowRuntime

    out = TrackingWriter(sys.stdout)
    rt = guarded(ctx, lambda: FlowRuntime(store=store, stdout=out, allow=_grant(ctx, allow)))
    session = Repl(rt, out=out, err=sys.stderr, debug=debug_of(ctx), store_dir=shown_store(store) if store else None)
    terminal = not plain and sys.stdin.isatty() and sys.stdout.isatty()
    try:
        for path in loads:
            session.load(path)
        if terminal:
            code = run_terminal(session, history or default_history_path())
        else:
            code = run_plain(session, sys.stdin)
    finally:
        rt.close()
    sys.stdout.flush()
    ctx.exit(code)


# ====================================================================== flows


def store_options(fn):
    fn = click.option("--load", "loads", metavar="FILE", multiple=True, type=click.Path(dir_okay=False),
                      help="Evaluate FILE first, e.g. the file with the flows' defflow (repeatable).")(fn)
    fn = click.option("--store", metavar="DIR|URL", required=True, envvar="FLOWSCHEME_STORE",
                      type=click.Path(file_okay=False),
                      help="The flow store directory, or a postgresql:// URL (or set FLOWSCHEME_STORE).")(fn)
    return fn


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(fn)


def _echo_json(data):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(short_help="List, show, resume, cancel, export, import stored flows.",
             context_settings={"help_option_names": ["-h", "--help"]})
def flows():
    """List, inspect and drive the flows in a durable store (--store DIR).

    \b
    flowscheme flows list --store DIR
    flowscheme flows show o-1 --store DIR [--load schemes/order.scm]
    flowscheme flows resume o-1 '"pay-1"' --store DIR --load schemes/order.scm
    flowscheme flows cancel o-1 --store DIR
    flowscheme flows retry o-1 --store DIR --load schemes/order.scm
    flowscheme flows upgrade --all --dry-run --store DIR --load new/order.scm
    flowscheme flows export backup.flows --store DIR
    flowscheme flows import backup.flows --store DIR --load schemes/order.scm

    Resuming (and showing where a flow stopped) needs the flow's code: pass the
    file holding its defflow with --load. The store of an order data directory
    is DATA/flows.

    Exit status: 0 success, 1 a Scheme or flow error (no store there, no such
    flow, its code not loaded), 2 a usage error (bad arguments, a malformed VALUE).
    """


@flows.command("list")
@click.option("--status", type=click.Choice(["suspended", "sleeping", "done", "failed", "cancelled"]),
              help="Only the flows with this status.")
@click.option("--name", metavar="NAME", help="Only the flows of this defflow.")
@store_options
@json_option
@click.pass_context
def flows_list(ctx, status, name, store, loads, as_json):
    """Every flow in the store: id, name, status, what it waits on, and when its
    timer, deadline or next retry comes (UTC)."""
    from .inspect import flow_rows, flows_table

    rt = open_runtime(ctx, store, loads)
    rows = guarded(ctx, lambda: flow_rows(rt, status, name))
    if as_json:
        _echo_json(rows)
    else:
        click.echo(flows_table(rows))


@flows.command("show")
@click.argument("flow_id", metavar="ID")
@store_options
@json_option
@click.pass_context
def flows_show(ctx, flow_id, store, loads, as_json):
    """One flow made readable: its status, the request it waits on, where it
    stopped (file:line:col) with its local variables (when its code is loaded
    with --load), and its journal of answered requests."""
    from .inspect import describe, format_description

    rt = open_runtime(ctx, store, loads)
    info = guarded(ctx, lambda: describe(rt, flow_id))
    if as_json:
        _echo_json(info)
    else:
        click.echo(format_description(info))


def read_value(ctx, text):
    """VALUE on the command line: exactly one Scheme datum."""
    from interp.errors import SchemeError
    from interp.reader import read_all

    try:
        items = read_all(text, "<VALUE>")
    except SchemeError as e:
        raise click.BadParameter(f"{text!r} is not a Scheme datum: {e.message}", ctx, param_hint="VALUE") from None
    if len(items) != 1:
        raise click.BadParameter(
            f"{text!r} must be exactly one Scheme datum (got {len(items)}); "
            "quote a string for the shell: '\"pay-1\"'", ctx, param_hint="VALUE")
    return items[0]


@flows.command("resume")
@click.argument("flow_id", metavar="ID")
@click.argument("value", metavar="VALUE")
@click.option("--kind", metavar="KIND", help="Answer only if the flow waits on this request kind.")
@click.option("--key", metavar="KEY",
              help="Answer only if the flow waits on the request with this key (ID:STEP, as "
                   "`flows show` prints it): a replayed answer to an earlier request changes nothing.")
@store_options
@allow_option
@click.pass_context
def flows_resume(ctx, flow_id, value, kind, key, store, loads, allow):
    """Answer the request flow ID waits on with VALUE, a Scheme datum read by the
    reader: 42, paid, '"pay-1"', '(ok 2100)'. The flow runs to its next request
    or to its end. Needs the flow's code: --load FILE."""
    from .convert import SchemeObject
    from .runtime import Failed, NotWaiting

    datum = read_value(ctx, value)
    rt = open_runtime(ctx, store, loads, allow=allow)
    r = guarded(ctx, lambda: rt.resume(flow_id, SchemeObject(datum), kind=kind, key=key))
    if isinstance(r, NotWaiting):
        if not r.waiting_on:
            why = f"it is {r.status}"
        elif kind is not None and r.waiting_on != kind:
            why = f"it waits on {r.waiting_on}, not {kind}"
        else:
            why = f"it waits on request {rt.flow(flow_id, data=False).key}, not {key}"
        fail(ctx, f"flow {flow_id} is not waiting ({why}); nothing changed")
    if isinstance(r, Failed) and rt.status(flow_id) == "suspended":  # a limit: nothing committed
        fail(ctx, f"flow {flow_id}: {r.error.message}; nothing changed")
    _echo_outcome(ctx, rt, flow_id)


def _echo_outcome(ctx, rt, flow_id):
    """Print where flow_id is now (exit 1 if it failed)."""
    from .inspect import outcome_text

    f = guarded(ctx, lambda: rt.flow(flow_id))
    text = outcome_text(f)
    if f.status == "failed":
        fail(ctx, text)
    click.echo(text)


@flows.command("retry")
@click.argument("flow_id", metavar="ID")
@store_options
@allow_option
@click.pass_context
def flows_retry(ctx, flow_id, store, loads, allow):
    """Run failed flow ID again from its last committed state, on the code loaded
    with --load (say, with a bug fixed). Its journal answers what it had asked
    before, so nothing is asked twice."""
    from .runtime import NotWaiting

    rt = open_runtime(ctx, store, loads, allow=allow)
    r = guarded(ctx, lambda: rt.retry(flow_id))
    if isinstance(r, NotWaiting):
        fail(ctx, f"flow {flow_id} is {r.status}, not failed: nothing to retry")
    _echo_outcome(ctx, rt, flow_id)


@flows.command("upgrade")
@click.argument("flow_ids", metavar="[ID]...", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every suspended flow in the store.")
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@store_options
@allow_option
@json_option
@click.pass_context
def flows_upgrade(ctx, flow_ids, every, dry_run, store, loads, allow, as_json):
    """Move suspended flows onto the code loaded with --load, by replaying each
    one's journal: a flow whose new code asks for the same requests moves on; one
    whose code diverges is named, with the step and both requests, and left as it
    is. A flow otherwise keeps the code it started with while that is loaded.

    Exit status: 0 when every flow named is upgraded (or would be, or is current),
    1 when any diverges."""
    rt = open_runtime(ctx, store, loads, allow=allow)
    if every == bool(flow_ids):
        raise click.UsageError("name the flows to upgrade, or give --all (not both)", ctx)
    if every:
        flow_ids = [i for i, _kind, _key in guarded(ctx, rt.waiting)]
    reports = [guarded(ctx, lambda i=i: rt.upgrade(i, dry_run=dry_run)) for i in flow_ids]
    if as_json:
        _echo_json([r._asdict() for r in reports])
    else:
        for r in reports:
            click.echo(f"{r.flow_id}: {r.outcome} ({r.detail})")
        if not reports:
            click.echo("no suspended flows")
    if any(r.outcome == "diverges" for r in reports):
        ctx.exit(1)


@flows.command("cancel")
@click.argument("flow_id", metavar="ID")
@click.option("--unwind", is_flag=True,
              help="Let the flow compensate: the request it waits on raises a flow-cancellation "
                   "its guard can handle (release what it holds, ...); needs its code (--load).")
@store_options
@allow_option
@click.pass_context
def flows_cancel(ctx, flow_id, unwind, store, loads, allow):
    """Cancel flow ID if it is waiting (a finished flow is left as it is).
    With --unwind the flow handles its cancellation itself and runs on to where
    that takes it: done, or waiting on a compensating request (which its host
    then serves, e.g. `flowscheme order recover` for an order)."""
    rt = open_runtime(ctx, store, loads, allow=allow)
    before = guarded(ctx, lambda: rt.status(flow_id))
    if before not in ("suspended", "sleeping"):
        click.echo(f"flow {flow_id} is {before}: nothing to cancel")
        return
    status = guarded(ctx, lambda: rt.cancel(flow_id, unwind=unwind))
    if status == "cancelled":
        click.echo(f"flow {flow_id} cancelled")
    else:
        _echo_outcome(ctx, rt, flow_id)


def key_option(fn):
    return click.option(
        "--key-file", metavar="FILE", envvar="FLOWSCHEME_STORE_KEY_FILE", type=click.Path(dir_okay=False),
        help="The store key (its bytes, surrounding whitespace removed; or set FLOWSCHEME_STORE_KEY_FILE, "
             "or the key itself in FLOWSCHEME_STORE_KEY). With a key, an export carries an HMAC-SHA256 "
             "and an import refuses a store without a valid one. Without a key an import cannot check "
             "a store's MAC: it accepts the store (its checksum still catches corruption, not tampering).")(fn)


def _store_key(ctx, key_file):
    """The key from --key-file, or None (then flow.transfer reads $FLOWSCHEME_STORE_KEY)."""
    if key_file is None:
        return None
    from .errors import FlowError
    from .transfer import read_key_file

    try:
        return read_key_file(key_file)
    except OSError as e:
        fail(ctx, f"cannot read the key file {key_file}: {e.strerror}")
    except FlowError as e:
        fail(ctx, str(e))


@flows.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@store_options
@key_option
@click.pass_context
def flows_export(ctx, file, store, loads, key_file):
    """Write every flow of the store (state and journal) to FILE, in the
    versioned msgpack store format that `flows import` and (flow-store-import!) read.
    With a store key (--key-file, or FLOWSCHEME_STORE_KEY) the export is authenticated."""
    key = _store_key(ctx, key_file)
    rt = open_runtime(ctx, store, loads)
    data = guarded(ctx, lambda: rt.export_store(key=key))

    def write():
        with open(file, "wb") as f:
            f.write(data)

    try:
        write()
    except OSError as e:
        fail(ctx, f"cannot write {file}: {e.strerror}")
    n = len(rt.ids())
    click.echo(f"exported {n} flow{'s' if n != 1 else ''} to {file} ({len(data)} bytes)")


@flows.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@store_options
@key_option
@allow_option
@click.pass_context
def flows_import(ctx, file, store, loads, key_file, allow):
    """Replace the flows of the store (created if missing) with those in FILE
    (- for standard input). Nothing runs; malformed, oversized or (with a store
    key) unauthenticated input is refused and the store left unchanged, as is
    a continuation the loaded code could not have made, or one naming a
    restricted procedure the flows are not granted (--allow).
    Suspended flows need their defflow loaded: --load FILE."""
    from .errors import StoreFormatError
    from .transfer import MAX_IMPORT_BYTES, read_store

    key = _store_key(ctx, key_file)

    def read(f):
        try:
            return read_store(f, MAX_IMPORT_BYTES)
        except StoreFormatError as e:
            fail(ctx, f"cannot import {file}: {e}")
        except MemoryError:
            fail(ctx, f"cannot import {file}: out of memory reading it")

    if file == "-":
        data = read(sys.stdin.buffer)
    else:
        try:
            f = open(file, "rb")
        except OSError as e:
            fail(ctx, f"cannot read {file}: {e.strerror}")
        try:
            with f:
                data = read(f)
        except OSError as e:
            fail(ctx, f"cannot read {file}: {e.strerror}")
    rt = open_runtime(ctx, store, loads, create=True, allow=allow)
    n = guarded(ctx, lambda: rt.import_store(data, key=key))
    click.echo(f"imported {n} flow{'s' if n != 1 else ''} from {file} into {shown_store(store)}")


# ====================================================================== worker


def _load_handlers(ctx, specs):
    """{kind: fn} from MODULE:ATTR specs (a dict, or a callable returning one)."""
    import importlib

    handlers = {}
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for spec in specs:
        module, _, attr = spec.partition(":")
        if not module or not attr:
            raise click.UsageError(f"--handlers {spec}: expected MODULE:ATTR (say, myapp.flows:HANDLERS)", ctx)
        try:
            value = getattr(importlib.import_module(module), attr)
        except ImportError as e:
            fail(ctx, f"--handlers {spec}: cannot import {module}: {e}")
        except AttributeError:
            fail(ctx, f"--handlers {spec}: {module} has no {attr}")
        if callable(value) and not isinstance(value, dict):
            value = value()
        if not isinstance(value, dict) or not all(isinstance(k, str) and callable(v) for k, v in value.items()):
            fail(ctx, f"--handlers {spec}: expected a dict of request kind -> function, got {type(value).__name__}")
        handlers.update(value)
    return handlers


@click.command(short_help="Run a worker: fire timers, deadlines and retries; serve requests.")
@click.option("--handlers", "handler_specs", metavar="MODULE:ATTR", multiple=True,
              help="A dict {request kind: function(request) -> answer} to serve requests with "
                   "(repeatable; the module is imported from the current directory or sys.path).")
@click.option("--once", is_flag=True, help="Do what is due now, then exit.")
@click.option("--idle", metavar="SECONDS", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="The longest sleep between looks when nothing is due (other processes may add work).")
@store_options
@allow_option
@json_option
@click.pass_context
def worker(ctx, handler_specs, once, idle, store, loads, allow, as_json):
    """Move the flows in --store DIR on by themselves: fire the timers
    ((sleep ...), (sleep-until ...)), deadlines ((request/timeout ...)) and
    handler retries that are due, and answer the requests that --handlers
    serve. Prints one line per transition (--json: one JSON object per line).
    Stops on SIGTERM or Ctrl-C after the step under way. Several workers on one
    store (processes on one machine) fire each timer and serve each request once.

    \b
    flowscheme worker --store data/flows --load schemes/order.scm
    flowscheme worker --store D --load loan.scm --handlers loan_handlers:HANDLERS
    """
    from .worker import Worker, describe

    handlers = _load_handlers(ctx, handler_specs)
    rt = open_runtime(ctx, store, loads, allow=allow)

    def show(t):
        if as_json:
            r = t.result
            data = {"flow": t.flow_id, "did": t.what, "result": type(r).__name__}
            for k, v in r._asdict().items():
                if k != "flow_id":
                    data[k] = v if k != "error" else v.message
            click.echo(json.dumps(data, default=str, ensure_ascii=False))
        else:
            click.echo(describe(t))
        sys.stdout.flush()

    w = Worker(rt, handlers=handlers, on_transition=show, idle=idle)
    try:
        if once:
            guarded(ctx, w.run_once)
        else:
            if not as_json:
                click.echo(f"worker on {shown_store(store)}: {len(handlers)} handler(s)"
                           f"{' (' + ', '.join(sorted(handlers)) + ')' if handlers else ''}; Ctrl-C stops",
                           err=True)
            guarded(ctx, w.run)
    finally:
        rt.close()
