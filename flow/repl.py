"""The flowscheme REPL: Scheme evaluated in a flow environment, meta-commands for
poking at flows (,flows ,show ,resume ...), and two front ends — prompt_toolkit on
a terminal (multi-line input, history, paren matching, completion, colouring) and
a plain line reader when stdin is not a terminal (no escape codes, scriptable).

`Repl` is the engine (one `handle(text)` per complete input); `run_terminal` and
`run_plain` feed it.
"""

import os
import re
import sys
import time
import traceback

from interp.errors import SchemeError
from interp.interpreter import format_value
from interp.primitives.io import SchemeExit
from interp.printer import write_string
from interp.reader import is_complete, read_all
from interp.values import Pair, Symbol

from . import codec
from .convert import SchemeObject
from .errors import FlowError
from .inspect import describe, flow_rows, flows_table, format_description, outcome_text

HELP = """\
Type Scheme expressions; an input runs when its parentheses balance.
Flows: (defflow name (lambda (arg ...) ... (request 'kind payload) ...)),
(flow/start 'name arg ...), (flow/start-with-id "id" 'name arg ...), (flow/resume "id" value).

Meta-commands:
  ,help               this text
  ,load FILE          evaluate a Scheme file here (defflows included)
  ,flows              every flow: id, name, status, what it waits on
  ,show ID            a flow made readable: where it stopped, its locals, its journal
  ,resume ID EXPR     answer the request flow ID waits on with the value of EXPR
  ,cancel ID          cancel a suspended flow
  ,export FILE        write every flow to FILE (the msgpack store format)
  ,import FILE        replace the flows with those in FILE (their defflows must be loaded)
  ,time EXPR          evaluate EXPR and say how long it took
  ,quit               leave (also Ctrl-D); flows in a --store survive, definitions do not
Keys (terminal): Enter runs a complete input, Esc Enter inserts a newline,
Tab completes names, Ctrl-C abandons the input or interrupts a running one."""

COMMANDS = ("help", "load", "flows", "show", "resume", "cancel", "export", "import", "time", "quit")
ALIASES = {"h": "help", "?": "help", "l": "load", "q": "quit", "exit": "quit", "ls": "flows"}
SHAPES = ("flow-suspended", "flow-done", "flow-failed", "flow-cancelled", "flow-not-waiting")


class ReplError(Exception):
    """A meta-command misused (bad arguments, unreadable file, ...)."""


class Quit(Exception):
    """End the session; code None means "as usual" (see run_plain / run_terminal)."""

    def __init__(self, code=None):
        super().__init__(code)
        self.code = code


class TrackingWriter:
    """Wraps a text stream and remembers whether the last thing written ended a line
    (so the REPL can end a line left open by `display` before it prompts again)."""

    def __init__(self, stream):
        self.stream = stream
        self.at_line_start = True

    def write(self, text):
        if text:
            self.stream.write(text)
            self.at_line_start = text.endswith("\n")
        return len(text)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class Repl:
    """One REPL session over a FlowRuntime: `handle(text)` runs one complete input."""

    def __init__(self, runtime, out=None, err=None, debug=False, store_dir=None):
        self.rt = runtime
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.debug = debug
        self.store_dir = store_dir
        self.count = 0
        self.errors = 0

    # ------------------------------------------------------------------ output

    def say(self, text=""):
        self._fresh_line()
        self.out.write(text + "\n")
        self.out.flush()

    def complain(self, text):
        self.errors += 1
        self._fresh_line()
        self.out.flush()
        self.err.write(text + "\n")
        self.err.flush()

    def _fresh_line(self):
        if getattr(self.out, "at_line_start", True) is False:
            self.out.write("\n")

    def end_line(self):
        """End a line that output left open (before a prompt is drawn)."""
        self._fresh_line()
        self.out.flush()

    def banner(self):
        where = f"flows kept in {self.store_dir}" if self.store_dir else "flows kept in memory (use --store DIR to keep them)"
        return f"flowscheme REPL - {where}. ,help for help, ,quit to leave."

    # ------------------------------------------------------------------ input

    @staticmethod
    def input_complete(text):
        """Is `text` a whole input (balanced), so that Enter should run it?"""
        s = text.strip()
        if not s:
            return True
        if s.startswith(","):
            name, _, rest = s[1:].partition(" ")
            return is_complete(rest) if rest.strip() else True
        return is_complete(text)

    def handle(self, text):
        """Run one complete input; errors are reported and the session carries on.
        Raises Quit to end the session."""
        if not text.strip():
            return
        self.count += 1
        s = text.strip()
        if s.startswith(","):
            self.guard(lambda: self.meta(s[1:]))
        else:
            self.guard(lambda: self.show_value(self.eval(text)))

    def load(self, path):
        """What ,load does, for a file named on the command line."""
        self.guard(lambda: self._load(path))

    def guard(self, fn):
        """Run fn(), reporting any error; only Quit ends the session."""
        try:
            fn()
        except Quit:
            raise
        except SchemeExit as e:
            raise Quit(e.code if isinstance(e.code, int) else 0) from None
        except KeyboardInterrupt:
            self.complain(";; interrupted")
        except SchemeError as e:
            self._debug_trace(e)
            self.complain(e.format())
        except (FlowError, ReplError, codec.MissingUnit) as e:
            self._debug_trace(e)
            self.complain(str(e))
        except Exception as e:  # a bug: say so, keep the session
            self.complain(f"internal error: {type(e).__name__}: {e}")
            if self.debug:
                traceback.print_exception(e, file=self.err)

    def _debug_trace(self, e):
        if self.debug:
            traceback.print_exception(e, file=self.err)

    def eval(self, text, name=None):
        return self.rt.interp.eval(text, filename=name or f"<repl-{self.count}>")

    def show_value(self, value):
        if _is_flow_shape(value):
            self.say(self._shape_text(value))
            return
        text = format_value(value)
        if text:
            self.say(text)

    def _shape_text(self, value):
        tag = value.car.name
        flow_id = value.cdr.car
        if tag == "flow-not-waiting":
            status = value.cdr.cdr.car
            return f";; flow {flow_id} is not waiting (it is {write_string(status)})"
        try:
            return ";; " + outcome_text(self.rt.flow(flow_id))
        except (FlowError, codec.MissingUnit):
            return format_value(value)

    # ------------------------------------------------------------------ meta-commands

    def meta(self, line):
        name, _, rest = line.partition(" ")
        name = name.strip().lower()
        name = ALIASES.get(name, name)
        rest = rest.strip()
        fn = getattr(self, f"cmd_{name}", None) if name in COMMANDS else None
        if fn is None:
            raise ReplError(f"unknown command ,{name} (,help lists the commands)")
        fn(rest)

    def cmd_help(self, rest):
        self.say(HELP)

    def cmd_quit(self, rest):
        raise Quit()

    def cmd_load(self, rest):
        self._load(_path_arg(rest, ",load FILE"))

    def _load(self, path):
        self.rt.load_file(path)
        self.say(f";; loaded {path}")

    def cmd_flows(self, rest):
        self.say(flows_table(flow_rows(self.rt)))

    def cmd_show(self, rest):
        flow_id, extra = _id_arg(rest, ",show ID")
        if extra:
            raise ReplError(",show takes one flow id")
        self.say(format_description(describe(self.rt, flow_id)))

    def cmd_resume(self, rest):
        flow_id, expr = _id_arg(rest, ",resume ID EXPR")
        if not expr:
            raise ReplError("usage: ,resume ID EXPR (the value of EXPR answers the flow's request)")
        value = self.eval(expr)
        r = self.rt.resume(flow_id, SchemeObject(value))
        if not r and type(r).__name__ == "NotWaiting":
            raise ReplError(f"flow {flow_id} is not waiting (it is {r.status}); nothing changed")
        self.say(";; " + outcome_text(self.rt.flow(flow_id)))

    def cmd_cancel(self, rest):
        flow_id, extra = _id_arg(rest, ",cancel ID")
        if extra:
            raise ReplError(",cancel takes one flow id")
        before = self.rt.status(flow_id)
        status = self.rt.cancel(flow_id)
        if before == "suspended":
            self.say(f";; flow {flow_id} cancelled")
        else:
            self.say(f";; flow {flow_id} is {status}: nothing to cancel")

    def cmd_export(self, rest):
        path = _path_arg(rest, ",export FILE")
        data = self.rt.export_store()
        try:
            with open(path, "wb") as f:
                f.write(data)
        except OSError as e:
            raise ReplError(f"cannot write {path}: {e.strerror}") from None
        n = len(self.rt.ids())
        self.say(f";; exported {n} flow{'s' if n != 1 else ''} to {path} ({len(data)} bytes)")

    def cmd_import(self, rest):
        path = _path_arg(rest, ",import FILE")
        data = read_bytes(path)
        n = self.rt.import_store(data)
        self.say(f";; imported {n} flow{'s' if n != 1 else ''} from {path} (replacing the flows here)")

    def cmd_time(self, rest):
        if not rest:
            raise ReplError("usage: ,time EXPR")
        t0, c0 = time.perf_counter(), time.process_time()
        value = self.eval(rest)
        t1, c1 = time.perf_counter(), time.process_time()
        self.show_value(value)
        self.say(f";; {_duration(t1 - t0)} elapsed, {_duration(c1 - c0)} cpu")

    # ------------------------------------------------------------------ completion

    def names(self):
        """Every bound global name, every macro and special form (for completion)."""
        from interp.analyzer import SPECIAL_FORMS

        genv = self.rt.interp.genv
        out = {s.name for s, c in genv.cells.items() if hasattr(c, "value")}
        out.update(getattr(s, "name", str(s)) for s in genv.macros)
        out.update(s.name for s in SPECIAL_FORMS)
        return sorted(n for n in out if not n.startswith("%"))

    def flow_ids(self):
        try:
            return sorted(self.rt.ids())
        except Exception:
            return []


def _duration(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _is_flow_shape(v):
    return (
        type(v) is Pair
        and type(v.car) is Symbol
        and v.car.name in SHAPES
        and type(v.cdr) is Pair
        and type(v.cdr.car) is str
    )


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ReplError(f"cannot read {path}: {e.strerror}") from None


def _path_arg(rest, usage):
    """A file name: bare, or a Scheme string "with spaces"."""
    if not rest:
        raise ReplError(f"usage: {usage}")
    if rest.startswith('"'):
        try:
            items = read_all(rest)
        except SchemeError as e:
            raise ReplError(f"usage: {usage} ({e.message})") from None
        if len(items) != 1 or type(items[0]) is not str:
            raise ReplError(f"usage: {usage}")
        return items[0]
    return rest


_ID = re.compile(r'\s*("(?:\\.|[^"\\])*"|[^\s()]+)\s*')


def _id_arg(rest, usage):
    """(flow id, the rest of the line): the id bare (o-1) or as a string ("o-1")."""
    m = _ID.match(rest)
    if not m:
        raise ReplError(f"usage: {usage}")
    token = m.group(1)
    if token.startswith('"'):
        try:
            (token,) = read_all(token)
        except (SchemeError, ValueError):
            raise ReplError(f"usage: {usage} (bad flow id {m.group(1)})") from None
    return token, rest[m.end():].strip()


# ====================================================================== front ends


def run_plain(repl, stream=None):
    """Read inputs from a non-terminal stream: no prompts, no escape codes.
    Returns the exit status: 0, or 1 if any input failed (or (exit n)'s n)."""
    stream = stream if stream is not None else sys.stdin
    buf = []
    try:
        for line in stream:
            buf.append(line)
            text = "".join(buf)
            if not text.strip():
                buf = []
                continue
            if repl.input_complete(text):
                buf = []
                repl.handle(text)
        text = "".join(buf)
        if text.strip():
            repl.handle(text)  # incomplete at end of input: reported as a read error
    except Quit as q:
        if q.code is not None:
            return q.code
    except KeyboardInterrupt:
        return 130
    return 1 if repl.errors else 0


# ---------------------------------------------------------------------- terminal

KEYWORDS = frozenset(
    """define lambda let let* letrec letrec* named-lambda if cond case and or when unless begin do
    set! quote quasiquote unquote define-syntax let-syntax letrec-syntax syntax-rules define-record-type
    define-values let-values let*-values parameterize guard delay delay-force case-lambda else =>
    defflow request fresh conde run run* == assert""".split()
)

_TOKEN = re.compile(
    r"""
    (?P<comment>;[^\n]*)
  | (?P<block>\#\|(?:.|\n)*?(?:\|\#|\Z))
  | (?P<string>"(?:\\.|\\\n|[^"\\])*(?:"|\Z))
  | (?P<char>\#\\(?:x[0-9a-fA-F]+|[A-Za-z]+|.))
  | (?P<paren>[()\[\]]|\#\(|\#u8\()
  | (?P<quote>,@|[',`]|\#;)
  | (?P<space>\s+)
  | (?P<atom>\|[^|]*\|?|[^\s()\[\]";'`,]+)
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"^(?:#[xXbBoOdDeEiI])*[-+]?(?:\d+(?:/\d+)?(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf\.0|nan\.0)$")
_BOOLEAN = re.compile(r"^#(?:t|f|true|false)$")


def scheme_tokens(text):
    """[(style class, text)] covering `text` exactly (for colouring)."""
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            out.append(("", text[pos]))
            pos += 1
            continue
        kind = m.lastgroup
        tok = m.group()
        if kind == "atom":
            if _NUMBER.match(tok):
                kind = "number"
            elif _BOOLEAN.match(tok):
                kind = "constant"
            elif tok in KEYWORDS:
                kind = "keyword"
            elif tok.startswith(","):
                kind = "meta"
        elif kind == "block":
            kind = "comment"
        elif kind == "char":
            kind = "constant"
        out.append(("" if kind == "space" else f"class:{kind}", tok))
        pos = m.end()
    return out


def _meta_tokens(text):
    m = re.match(r"(\s*,\S*)(.*)", text, re.S)
    return [("class:meta", m.group(1))] + scheme_tokens(m.group(2))


def make_lexer():
    from prompt_toolkit.lexers import Lexer

    class SchemeLexer(Lexer):
        def lex_document(self, document):
            text = document.text
            tokens = _meta_tokens(text) if text.lstrip().startswith(",") else scheme_tokens(text)
            lines = [[]]
            for style, tok in tokens:
                parts = tok.split("\n")
                for i, part in enumerate(parts):
                    if i:
                        lines.append([])
                    if part:
                        lines[-1].append((style, part))

            def get_line(n):
                return lines[n] if n < len(lines) else []

            return get_line

    return SchemeLexer()


def make_completer(repl):
    from prompt_toolkit.completion import Completer, Completion

    word_re = re.compile(r"[^\s()\[\]\"';`,]*$")

    class SchemeCompleter(Completer):
        def get_completions(self, document, complete_event):
            before = document.text_before_cursor
            stripped = before.lstrip()
            if stripped.startswith(",") and "\n" not in before:
                head, sep, tail = stripped[1:].partition(" ")
                if not sep:
                    for c in COMMANDS:
                        if c.startswith(head):
                            yield Completion(c, start_position=-len(head))
                    return
                if head in ("show", "resume", "cancel") and " " not in tail.strip():
                    word = tail.strip()
                    for fid in repl.flow_ids():
                        if fid.startswith(word):
                            yield Completion(fid, start_position=-len(word))
                    return
                if head in ("load", "export", "import"):
                    return
            word = word_re.search(before).group()
            if not word:
                return
            for name in repl.names():
                if name.startswith(word):
                    yield Completion(name, start_position=-len(word))

    return SchemeCompleter()


def default_history_path():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "flowscheme", "history")


def _indent_for(text):
    depth = 0
    for style, tok in scheme_tokens(text):
        if style == "class:paren":
            depth += 1 if tok in ("(", "[", "#(", "#u8(") else -1
    return "  " * max(depth, 0)


def make_session(repl, history_path):
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.styles import Style

    history = InMemoryHistory()
    if history_path:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(history_path)), exist_ok=True)
            with open(history_path, "a", encoding="utf-8"):
                pass
            history = FileHistory(history_path)
        except OSError as e:
            repl.complain(f";; history not kept: cannot open {history_path}: {e.strerror}")
            repl.errors -= 1

    kb = KeyBindings()

    @kb.add("enter")
    @kb.add("c-j")  # what Enter becomes when typed ahead while the previous input ran
    def _(event):
        buf = event.current_buffer
        if buf.complete_state:
            if buf.complete_state.current_completion:
                buf.apply_completion(buf.complete_state.current_completion)
            else:
                buf.complete_state = None
            return
        text = buf.document.text
        if not text.strip() or (repl.input_complete(text) and not buf.document.text_after_cursor.strip()):
            buf.validate_and_handle()
        else:
            buf.insert_text("\n" + _indent_for(buf.document.text_before_cursor))

    @kb.add("escape", "enter")
    def _(event):
        event.current_buffer.insert_text("\n" + _indent_for(event.current_buffer.document.text_before_cursor))

    style = Style.from_dict({
        "keyword": "ansimagenta bold",
        "string": "ansigreen",
        "comment": "ansibrightblack italic",
        "number": "ansicyan",
        "constant": "ansicyan",
        "quote": "ansiyellow",
        "meta": "ansiblue bold",
        "prompt": "ansiblue bold",
        "matching-bracket.cursor": "bg:ansiblue ansiwhite",
        "matching-bracket.other": "bg:ansiblue ansiwhite",
    })

    def continuation(width, line_number, is_soft_wrap):
        return "." * (width - 1) + " "

    return PromptSession(
        multiline=True,
        key_bindings=kb,
        lexer=make_lexer(),
        completer=make_completer(repl),
        complete_while_typing=False,
        history=history,
        style=style,
        include_default_pygments_style=False,
        input_processors=[HighlightMatchingBracketProcessor(chars="()[]")],
        prompt_continuation=continuation,
        enable_history_search=False,
    )


def run_terminal(repl, history_path):
    """The interactive loop on a terminal. Returns the exit status."""
    from prompt_toolkit.formatted_text import FormattedText

    session = make_session(repl, history_path)
    repl.say(repl.banner())
    while True:
        repl.end_line()
        try:
            text = session.prompt(FormattedText([("class:prompt", "> ")]))
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            repl.handle(text)
        except Quit as q:
            return q.code or 0
        except KeyboardInterrupt:
            repl.complain(";; interrupted")
