"""The `flowscheme` command: `run` and `eval` live here; other packages add their
command groups through the `flowscheme.commands` entry points (loaded lazily, so
`flowscheme eval 1` starts fast and interp never imports flow or commerce).

`main` is the command line: calling it runs sys.argv; everything else about it
(`main.main(...)`, click's CliRunner) is the click group, built on first use. A plain
`flowscheme [--debug] run FILE [ARGS]` or `flowscheme [--debug] eval EXPR` (no other
options) is run without importing click at all, with the same output and exit
status; anything else goes through click.

Exit status: 0 success, 1 a Scheme (or flow) error, 2 a usage error, the
program's own status after (exit n), 130 on Ctrl-C, 141 when stdout's reader
went away (`flowscheme run prog.scm | head`).
"""

import sys

from .errors import SchemeError


def report_error(e, debug=False):
    """Print a Scheme error as `file:line:col: message` plus a short backtrace."""
    if debug:
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    _echo(e.format() if isinstance(e, SchemeError) else str(e), err=True)


def _echo(text, err=False):
    """click.echo(text, err=err): the same bytes, without importing click for plain
    ASCII text (click's echo may re-encode other text or strip ANSI escapes)."""
    if text.isascii() and "\x1b" not in text:
        stream = sys.stderr if err else sys.stdout
        if stream is not None:
            stream.write(text + "\n")
            stream.flush()
        return
    import click

    click.echo(text, err=err)


def debug_of(ctx):
    """Whether the command line asked for --debug (click context ctx)."""
    return bool(ctx.find_root().params.get("debug", False))


def _guarded(debug, exit, fn):
    """Run fn(), turning Scheme errors and (exit) into exit statuses: exit(status)."""
    from .errors import SchemeExit
    from .primitives.io import OutputClosed

    try:
        return fn()
    except SchemeExit as e:
        _flush()
        exit(e.code)
    except SchemeError as e:
        _flush()
        report_error(e, debug)
        exit(1)
    except KeyboardInterrupt:
        _flush()
        _echo("interrupted", err=True)
        exit(130)
    except (BrokenPipeError, OutputClosed):  # `flowscheme run prog.scm | head`: the reader left
        _quiet_stdout()
        exit(141)


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


# ---------------------------------------------------------------- the two commands


def _started(freeze):
    """After start-up in a process that is only this command: the objects start-up
    made last as long as the process, so the cyclic garbage collector need never
    look at them again (nor at exit)."""
    if freeze:
        import gc

        gc.freeze()


def run_file(file, args, debug, exit, freeze=False):
    """`flowscheme run FILE ARGS...`; exit(status) ends it early. freeze: the process
    is just this command (see _started)."""
    from .interpreter import Interpreter

    sys.argv = [file, *args]
    it = Interpreter()
    _started(freeze)
    _guarded(debug, exit, lambda: it.eval_file(file))
    _flush()


def eval_text(expr, debug, exit, freeze=False):
    """`flowscheme eval EXPR`; exit(status) ends it early (freeze: as for run_file)."""
    from .interpreter import Interpreter, format_value

    it = Interpreter()
    _started(freeze)
    value = _guarded(debug, exit, lambda: it.eval(expr, filename="<eval>"))
    text = format_value(value)
    if text:
        _guarded(debug, exit, lambda: _echo(text))
    _flush()


# ---------------------------------------------------------------- without click


def _plain_command(argv):
    """(debug, command, operands) when argv is a plain run/eval that click would parse
    without complaint and hand to run_file / eval_text as it is; else None."""
    import os

    debug = bool(argv) and argv[0] == "--debug"
    rest = argv[1:] if debug else argv
    if not rest or any(a.startswith("-") for a in rest):
        return None  # options (--help, --, -x ...) and usage errors: click's business
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None  # shell completion
    command, operands = rest[0], rest[1:]
    if command == "eval" and len(operands) == 1:
        return debug, command, operands
    if command == "run" and operands:
        import stat

        try:  # click.Path(dir_okay=False): a directory or unreadable file is a usage error
            st = os.stat(operands[0])
        except (OSError, ValueError):
            return debug, command, operands
        if stat.S_ISDIR(st.st_mode) or not os.access(operands[0], os.R_OK):
            return None
        return debug, command, operands
    return None


def _run_plain(debug, command, operands):
    """Run a plain command as click's standalone mode would (same exits and messages)."""
    try:
        if command == "run":
            run_file(operands[0], operands[1:], debug, sys.exit, freeze=True)
        else:
            eval_text(operands[0], debug, sys.exit, freeze=True)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        import errno

        if e.errno != errno.EPIPE:
            raise
        from click.utils import PacifyFlushWrapper

        sys.stdout = PacifyFlushWrapper(sys.stdout)
        sys.stderr = PacifyFlushWrapper(sys.stderr)
        sys.exit(1)
    sys.exit(0)


# ---------------------------------------------------------------- the click group

_GROUP = None


def _click_group():
    """The click group of every command (built once, on first use)."""
    global _GROUP
    if _GROUP is not None:
        return _GROUP
    import click

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

    @click.group(name="main", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
    @click.version_option(package_name="flowscheme")
    def group(debug):
        """flowscheme: durable business processes written as plain Scheme.

        Run Scheme programs, poke at flows in a REPL, and drive the order
        lifecycle demo. Every command takes --help.
        """

    @group.command()
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.argument("args", nargs=-1)
    @click.pass_context
    def run(ctx, file, args):
        """Run a Scheme program FILE; its output goes to stdout.

        On an error, prints `file:line:col: message` and a backtrace to stderr and
        exits with status 1. ARGS are available to the program as (command-line).
        """
        run_file(file, args, debug_of(ctx), ctx.exit)

    @group.command("eval")
    @click.argument("expr")
    @click.pass_context
    def eval_(ctx, expr):
        """Evaluate EXPR and print its value in `write` notation.

        Example: flowscheme eval '(map (lambda (x) (* x x)) (iota 5))'
        """
        eval_text(expr, debug_of(ctx), ctx.exit)

    _GROUP = group
    return group


class CommandLine:
    """`main`: called with no arguments, runs sys.argv (a plain run/eval without
    click); any other use is the click group's (see the module doc)."""

    def __call__(self, *args, **kwargs):
        if not args and not kwargs:
            plain = _plain_command(sys.argv[1:])
            if plain is not None:
                _run_plain(*plain)
        return _click_group()(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(_click_group(), name)


main = CommandLine()


if __name__ == "__main__":  # pragma: no cover
    main()
