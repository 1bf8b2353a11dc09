"""The flow commands of `flowscheme`: `repl` (an interactive Scheme with flows) and
the `flows` group (list, show, resume, cancel, export, import on a durable store).
Loaded lazily through the `flowscheme.commands` entry points.

Exit status: 0 success, 1 a Scheme or flow error, 2 a usage error.
"""

import json
import os
import sys

import click

from interp.cli import report_error

EXIT_HELP = "Exit status: 0 success, 1 a Scheme or flow error, 2 a usage error."


def _debug(ctx):
    return bool(ctx.find_root().params.get("debug", False))


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
        report_error(e, _debug(ctx))
        if not e.filename.startswith("<"):
            click.echo(f"(pass --load {e.filename})", err=True)
        ctx.exit(1)
    except (SchemeError, FlowError, ReplError, codec.MissingUnit, OSError) as e:
        sys.stdout.flush()
        report_error(e, _debug(ctx))
        ctx.exit(1)
    except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
        raise
    except Exception as e:
        internal_error(ctx, e)


def internal_error(ctx, e):
    """An exception nobody meant: one line (the traceback only with --debug), exit 1."""
    sys.stdout.flush()
    if _debug(ctx):
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    click.echo(f"internal error (a bug in flowscheme): {type(e).__name__}: {e}"
               + ("" if _debug(ctx) else "; run with --debug for the traceback"), err=True)
    ctx.exit(1)


def open_runtime(ctx, store, loads=(), create=False):
    """A FlowRuntime on the store DIR, with the files in `loads` evaluated in it."""
    from .runtime import FlowRuntime

    if store is not None and not create and not os.path.isfile(os.path.join(store, "flows.log")):
        hint = ""
        if os.path.isfile(os.path.join(store, "flows", "flows.log")):
            hint = f" (an order data directory keeps its flows in {os.path.join(store, 'flows')}: use that)"
        elif not os.path.exists(store):
            hint = " (the directory does not exist)"
        fail(ctx, f"no flow store at {store}{hint}")
    rt = guarded(ctx, lambda: FlowRuntime(store=store))
    for path in loads:
        guarded(ctx, lambda path=path: rt.load_file(path))
    return rt


# ====================================================================== repl


@click.command(short_help="Interactive Scheme where flows run (,help inside).")
@click.option("--store", metavar="DIR", type=click.Path(file_okay=False),
              help="Keep flows durably in DIR (created if missing): quit, start another REPL on "
                   "the same DIR, and the flows are there (reload their code with ,load).")
@click.option("--load", "loads", metavar="FILE", multiple=True, type=click.Path(dir_okay=False),
              help="Evaluate FILE before the first prompt (repeatable).")
@click.option("--history", metavar="FILE", type=click.Path(dir_okay=False),
              help="History file (default: $XDG_STATE_HOME/flowscheme/history, "
                   "i.e. ~/.local/state/flowscheme/history).")
@click.option("--plain", is_flag=True,
              help="Read plain lines even on a terminal (no prompt, colours or editing).")
@click.pass_context
def repl(ctx, store, loads, history, plain):
    """An interactive Scheme where flows run: defflow, flow/start and friends work
    directly; a flow that suspends is reported as `;; flow ID waits on (KIND PAYLOAD)`.

    \b
    Meta-commands: ,help ,load FILE ,flows ,show ID ,resume ID EXPR ,cancel ID
                   ,export FILE ,import FILE ,time EXPR ,quit
    An input runs when its parentheses balance. An error prints file:line:col,
    the message and a short backtrace; the session carries on.

    When stdin is not a terminal the REPL reads it plainly (no prompt, no escape
    codes): `flowscheme repl < session.scm`. Then the exit status is 1 if any
    input failed, else 0.
    """
    from .repl import Repl, TrackingWriter, default_history_path, run_plain, run_terminal
    from .runtime import FlowRuntime

    out = TrackingWriter(sys.stdout)
    rt = guarded(ctx, lambda: FlowRuntime(store=store, stdout=out))
    session = Repl(rt, out=out, err=sys.stderr, debug=_debug(ctx), store_dir=store)
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
    fn = click.option("--store", metavar="DIR", required=True, envvar="FLOWSCHEME_STORE",
                      type=click.Path(file_okay=False),
                      help="The flow store directory (or set FLOWSCHEME_STORE).")(fn)
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
    flowscheme flows export backup.flows --store DIR
    flowscheme flows import backup.flows --store DIR --load schemes/order.scm

    Resuming (and showing where a flow stopped) needs the flow's code: pass the
    file holding its defflow with --load. The store of an order data directory
    is DATA/flows.

    Exit status: 0 success, 1 a Scheme or flow error (no store there, no such
    flow, its code not loaded), 2 a usage error (bad arguments, a malformed VALUE).
    """


@flows.command("list")
@store_options
@json_option
@click.pass_context
def flows_list(ctx, store, loads, as_json):
    """Every flow in the store: id, name, status and what it waits on."""
    from .inspect import flow_rows, flows_table

    rt = open_runtime(ctx, store, loads)
    rows = guarded(ctx, lambda: flow_rows(rt))
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
@store_options
@click.pass_context
def flows_resume(ctx, flow_id, value, kind, store, loads):
    """Answer the request flow ID waits on with VALUE, a Scheme datum read by the
    reader: 42, paid, '"pay-1"', '(ok 2100)'. The flow runs to its next request
    or to its end. Needs the flow's code: --load FILE."""
    from .convert import SchemeObject
    from .inspect import outcome_text
    from .runtime import NotWaiting

    datum = read_value(ctx, value)
    rt = open_runtime(ctx, store, loads)
    r = guarded(ctx, lambda: rt.resume(flow_id, SchemeObject(datum), kind=kind))
    if isinstance(r, NotWaiting):
        why = f"it waits on {r.waiting_on}, not {kind}" if r.waiting_on else f"it is {r.status}"
        fail(ctx, f"flow {flow_id} is not waiting ({why}); nothing changed")
    f = guarded(ctx, lambda: rt.flow(flow_id))
    text = outcome_text(f)
    if f.status == "failed":
        fail(ctx, text)
    click.echo(text)


@flows.command("cancel")
@click.argument("flow_id", metavar="ID")
@store_options
@click.pass_context
def flows_cancel(ctx, flow_id, store, loads):
    """Cancel flow ID if it is suspended (a finished flow is left as it is)."""
    rt = open_runtime(ctx, store, loads)
    before = guarded(ctx, lambda: rt.status(flow_id))
    status = guarded(ctx, lambda: rt.cancel(flow_id))
    if before == "suspended":
        click.echo(f"flow {flow_id} cancelled")
    else:
        click.echo(f"flow {flow_id} is {status}: nothing to cancel")


@flows.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@store_options
@click.pass_context
def flows_export(ctx, file, store, loads):
    """Write every flow of the store (state and journal) to FILE, in the
    versioned msgpack store format that `flows import` and (flow-store-import!) read."""
    rt = open_runtime(ctx, store, loads)
    data = guarded(ctx, rt.export_store)

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
@click.argument("file", type=click.Path(dir_okay=False))
@store_options
@click.pass_context
def flows_import(ctx, file, store, loads):
    """Replace the flows of the store (created if missing) with those in FILE.
    Nothing runs; malformed input is refused and the store left unchanged.
    Suspended flows need their defflow loaded: --load FILE."""
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(ctx, f"cannot read {file}: {e.strerror}")
    rt = open_runtime(ctx, store, loads, create=True)
    n = guarded(ctx, lambda: rt.import_store(data))
    click.echo(f"imported {n} flow{'s' if n != 1 else ''} from {file} into {store}")
