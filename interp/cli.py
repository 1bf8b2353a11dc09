"""The `flowscheme` command: `run` and `eval` live here; other packages add their
command groups through the `flowscheme.commands` entry points (loaded lazily, so
`flowscheme eval 1` starts fast and interp never imports flow or commerce).

Exit status: 0 success, 1 a Scheme (or flow) error, 2 a usage error, the
program's own status after (exit n), 130 on Ctrl-C, 141 when stdout's reader
went away (`flowscheme run prog.scm | head`).
"""

import sys

import click

from .errors import SchemeError


class LazyGroup(click.Group):
    """A click group whose plug-in commands are imported only when used."""

    def _plugins(self):
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="flowscheme.commands")}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        ep = self._plugins().get(name)
        return ep.load() if ep is not None else None


def report_error(e, debug=False):
    """Print a Scheme error as `file:line:col: message` plus a short backtrace."""
    if debug:
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    click.echo(e.format() if isinstance(e, SchemeError) else str(e), err=True)


def run_guarded(ctx, fn):
    """Run fn(), turning Scheme errors and (exit) into exit statuses."""
    from .errors import SchemeExit
    from .primitives.io import OutputClosed

    debug = ctx.find_root().params.get("debug", False)
    try:
        return fn()
    except SchemeExit as e:
        _flush()
        ctx.exit(e.code)
    except SchemeError as e:
        _flush()
        report_error(e, debug)
        ctx.exit(1)
    except KeyboardInterrupt:
        _flush()
        click.echo("interrupted", err=True)
        ctx.exit(130)
    except (BrokenPipeError, OutputClosed):  # `flowscheme run prog.scm | head`: the reader left
        _quiet_stdout()
        ctx.exit(141)


def _flush():
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()


def _quiet_stdout():
    """Point stdout at /dev/null so the interpreter's exit does not fail flushing it."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="flowscheme")
def main(debug):
    """flowscheme: durable business processes written as plain Scheme.

    Run Scheme programs, poke at flows in a REPL, and drive the order
    lifecycle demo. Every command takes --help.
    """


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1)
@click.pass_context
def run(ctx, file, args):
    """Run a Scheme program FILE; its output goes to stdout.

    On an error, prints `file:line:col: message` and a backtrace to stderr and
    exits with status 1. ARGS are available to the program as (command-line).
    """
    from .interpreter import Interpreter

    sys.argv = [file, *args]
    it = Interpreter()
    run_guarded(ctx, lambda: it.eval_file(file))
    _flush()


@main.command("eval")
@click.argument("expr")
@click.pass_context
def eval_(ctx, expr):
    """Evaluate EXPR and print its value in `write` notation.

    Example: flowscheme eval '(map (lambda (x) (* x x)) (iota 5))'
    """
    from .interpreter import Interpreter, format_value

    it = Interpreter()
    value = run_guarded(ctx, lambda: it.eval(expr, filename="<eval>"))
    text = format_value(value)
    if text:
        run_guarded(ctx, lambda: click.echo(text))
    _flush()


if __name__ == "__main__":  # pragma: no cover
    main()
