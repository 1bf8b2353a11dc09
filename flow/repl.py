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
from interp.errors import SchemeExit
from interp.printer import write_string
from interp.pretty import pretty_string
from interp.reader import is_complete, read_all
from interp.values import NIL, UNSPECIFIED, Pair, Symbol, sym

from . import codec
from .convert import SchemeObject
from .errors import FlowError
from .inspect import clip, describe, flow_rows, flows_table, format_description, outcome_text

HELP = """\
Type Scheme expressions; an input runs when its parentheses balance.
Flows: (defflow name (lambda (arg ...) ... (request 'kind payload) ...)),
(flow/start 'name arg ...), (flow/start-with-id "id" 'name arg ...), (flow/resume "id" value).

Meta-commands (aliases after the slash):
  ,help / ,h ,?       this text
  ,load FILE / ,l     evaluate a Scheme file here (defflows included)
  ,flows / ,ls        every flow: id, name, status, what it waits on
  ,show ID            a flow made readable: where it stopped, its locals, its journal
  ,resume ID EXPR     answer the request flow ID waits on with the value of EXPR
  ,cancel ID          cancel a suspended flow
  ,export FILE        write every flow to FILE (the msgpack store format)
  ,import FILE        replace the flows with those in FILE (their defflows must be loaded)
  ,bt / ,backtrace    the whole backtrace of the last error
  ,describe X / ,d    what X is: a name (procedure, macro, special form, variable) or
                      the value of an expression, with its parameters and where defined
  ,apropos TEXT / ,a  every bound name containing TEXT, with what it is
  ,expand EXPR / ,x   EXPR with its macros expanded (the code the evaluator sees)
  ,trace NAME ...     print each call of these global procedures and what it returns
  ,untrace [NAME ...] stop tracing them (all of them without a name)
  ,pp EXPR            pretty-print the value of EXPR
  ,time EXPR / ,t     evaluate EXPR and say how long it took
  ,quit / ,q ,exit    leave (also Ctrl-D); flows in a --store survive, definitions do not
Several expressions on one line each print their value.
Keys (terminal): Enter runs a complete input, Esc Enter inserts a newline,
Tab completes names, Ctrl-C abandons the input or interrupts a running one."""

COMMANDS = ("help", "load", "flows", "show", "resume", "cancel", "export", "import", "bt", "describe",
            "apropos", "expand", "trace", "untrace", "pp", "time", "quit")
ALIASES = {"h": "help", "?": "help", "l": "load", "q": "quit", "exit": "quit", "ls": "flows",
           "backtrace": "bt", "d": "describe", "a": "apropos", "x": "expand", "t": "time"}
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
        self.last_error = None  # the SchemeError ,bt shows
        self.traced = {}  # global name -> the procedure it named before ,trace

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

    def handle(self, text, filename=None, line=1):
        """Run one complete input; errors are reported and the session carries on.
        Raises Quit to end the session. Several expressions in it each print their
        value. filename/line: where the input came from (piped input names its
        line in errors), else `<repl-N>`."""
        if not text.strip():
            return
        self.count += 1
        s = text.strip()
        if s.startswith(","):
            self.guard(lambda: self.meta(s[1:]))
            return
        name = filename or f"<repl-{self.count}>"
        for form in _forms(text, name, line):
            if not self.guard(lambda: self.show_value(self.eval(form, name))):
                break

    def load(self, path):
        """What ,load does, for a file named on the command line."""
        self.guard(lambda: self._load(path))

    def guard(self, fn):
        """Run fn(), reporting any error (then False); only Quit ends the session."""
        try:
            fn()
            return True
        except Quit:
            raise
        except SchemeExit as e:
            raise Quit(e.code if isinstance(e.code, int) else 0) from None
        except KeyboardInterrupt:
            self.complain(";; interrupted")
        except SchemeError as e:
            self._debug_trace(e)
            self.last_error = e
            more = "\n;; ,bt shows the whole backtrace" if len(e.backtrace) > BACKTRACE_SHOWN else ""
            self.complain(e.format(BACKTRACE_SHOWN) + more)
        except (FlowError, ReplError, codec.MissingUnit) as e:
            self._debug_trace(e)
            self.complain(str(e))
        except Exception as e:  # a bug: say so, keep the session
            self.complain(f"internal error: {type(e).__name__}: {e}")
            if self.debug:
                traceback.print_exception(e, file=self.err)
        return False

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

    def cmd_bt(self, rest):
        e = self.last_error
        if e is None:
            raise ReplError("no error yet: ,bt shows the backtrace of the last one")
        self.say(e.format(limit=len(e.backtrace)))

    def cmd_describe(self, rest):
        if not rest:
            raise ReplError("usage: ,describe NAME or ,describe EXPR")
        self.say(describe_text(self, rest))

    def cmd_apropos(self, rest):
        if not rest or len(rest.split()) != 1:
            raise ReplError("usage: ,apropos TEXT (one word: part of the names to look for)")
        found = [n for n in self.names() if rest.lower() in n.lower()]
        if not found:
            self.say(f";; no bound name contains {rest!r}")
            return
        width = max(len(n) for n in found)
        self.say("\n".join(f"{n.ljust(width)}  {self.what_is(n)}" for n in found))

    def cmd_expand(self, rest):
        if not rest:
            raise ReplError("usage: ,expand EXPR")
        data = read_all(rest, "<expand>")
        if len(data) != 1:
            raise ReplError(",expand takes one expression")
        self.say(pretty_string(expand_all(self.rt.interp, data[0])))

    def cmd_pp(self, rest):
        if not rest:
            raise ReplError("usage: ,pp EXPR")
        value = self.eval(rest)
        self.say(pretty_string(value) if value is not UNSPECIFIED else "")

    def cmd_trace(self, rest):
        names = rest.split()
        if not names:
            shown = ", ".join(sorted(self.traced)) or "nothing"
            self.say(f";; tracing {shown} (,trace NAME ... adds, ,untrace removes)")
            return
        for name in names:
            self._trace(name)
        self.say(f";; tracing {', '.join(names)}")

    def _trace(self, name):
        interp = self.rt.interp
        try:
            proc = interp.lookup(name)
        except KeyError:
            raise ReplError(f",trace: {name} is not a bound global variable") from None
        if not callable_value(proc):
            raise ReplError(f",trace: {name} is not a procedure (it is {write_string(proc)[:60]})")
        if name in self.traced:
            return
        interp.define("%traced-procedure", proc)
        try:
            interp.lookup("%trace-depth")
        except KeyError:
            interp.eval("(define %trace-depth (make-parameter 0))", filename="<trace>")
        interp.eval(TRACER.replace("NAME", _symbol_text(name)), filename="<trace>")
        self.traced[name] = proc

    def cmd_untrace(self, rest):
        names = rest.split() or sorted(self.traced)
        for name in names:
            if name not in self.traced:
                raise ReplError(f",untrace: {name} is not traced")
        for name in names:
            self.rt.interp.define(name, self.traced.pop(name))
        self.say(f";; untraced {', '.join(names)}" if names else ";; nothing is traced")

    def what_is(self, name):
        """`special form`, `macro`, `procedure (a b)`, `variable`: what a global name is."""
        from interp.analyzer import SPECIAL_FORMS

        genv = self.rt.interp.genv
        s = sym(name)
        if s in genv.macros:
            return "macro"
        if s in SPECIAL_FORMS and s not in getattr(genv, "shadowed", ()):
            return "special form"
        try:
            value = self.rt.interp.lookup(name)
        except KeyError:
            return "unbound"
        return value_kind(value)

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


BACKTRACE_SHOWN = 10  # frames an error shows; ,bt shows them all

# ,trace NAME: rebinds the global to a procedure that prints the call, calls the
# original (held in %traced-procedure when this is evaluated) and prints the result
TRACER = """
(define NAME
  (let ((original %traced-procedure) (name 'NAME))
    (lambda args
      (let ((depth (%trace-depth)))
        (display (make-string (* 2 depth) #\\space))
        (write (cons name args))
        (newline)
        (call-with-values
          (lambda () (parameterize ((%trace-depth (+ depth 1))) (apply original args)))
          (lambda results
            (display (make-string (* 2 depth) #\\space))
            (display "=>")
            (for-each (lambda (r) (display " ") (write r)) results)
            (newline)
            (apply values results)))))))
"""


def _symbol_text(name):
    return write_string(sym(name))


def callable_value(x):
    return getattr(x, "type_name", None) == "procedure" or type(x).__name__ in ("Closure", "Primitive")


def value_kind(value):
    """What a value is, in a few words (`procedure (n)`, `number`, `list of 3`)."""
    from interp.machine import Closure, parameter_text
    from interp.values import scheme_type_name

    if type(value) is Closure:
        return f"procedure {parameter_text(value.lam) or ''}".rstrip()
    if callable_value(value):
        arity = getattr(value, "arity_text", None)
        return f"procedure ({arity()})" if arity else "procedure"
    kind = scheme_type_name(value)
    if type(value) is Pair:
        n, x = 0, value
        while type(x) is Pair and n <= 1_000_000:
            n, x = n + 1, x.cdr
        if x is NIL:
            return f"list of {n} element{'s' if n != 1 else ''}"
    size = {"string": "character", "vector": "element", "bytevector": "byte"}.get(kind)
    if size is not None:
        try:
            n = len(value)
        except TypeError:
            return kind
        return f"{kind} of {n} {size}{'s' if n != 1 else ''}"
    return kind


def describe_text(repl, text):
    """,describe: a name's kind and value, or an expression's value, made readable."""
    from interp.machine import Closure

    name = text.strip()
    if re.fullmatch(r"[^\s()'`,\"]+", name) and not re.fullmatch(r"[-+]?[\d.].*|#.*", name):
        kind = repl.what_is(name)
        if kind in ("macro", "special form"):
            return f"{name} is a {kind}" + (" (,expand shows what a use of it becomes)" if kind == "macro" else "")
        if kind == "unbound":
            raise ReplError(f",describe: {name} is not bound (,apropos {name} finds names containing it)")
        value = repl.rt.interp.lookup(name)
        head = f"{name} is a global variable whose value is a {value_kind(value)}"
    else:
        value = repl.eval(text)
        head = f"a {value_kind(value)}"
    lines = [head, f"  written: {clip(write_string(value), 200)}"]
    if type(value) is Closure:
        pos = getattr(value.lam.node, "pos", None)
        if pos is not None:
            lines.append(f"  defined at {pos}")
    elif callable_value(value) and hasattr(value, "arity_text"):
        lines.append("  a primitive (written in Python)")
    return "\n".join(lines)


def expand_all(interp, form):
    """form with every macro use expanded, in head position and below (quoted data
    and binding names are left alone), as plain data."""
    from interp.analyzer import Analyzer, SpecialForm, is_ident, strip
    from interp.nodes import CodeUnit

    analyzer = Analyzer(interp.genv, CodeUnit("", "<expand>"))

    def expand(x, depth=0):
        if depth > 10000:
            raise ReplError(",expand: the expression is nested too deeply")
        x = analyzer.expand_head(x, None, getattr(x, "pos", None))
        if type(x) is not Pair:
            return x
        items, tail = [], x
        while type(tail) is Pair:
            items.append(tail.car)
            tail = tail.cdr
        head = items[0]
        syn = analyzer.syntax_of(head, None) if is_ident(head) else None
        name = getattr(strip(head), "name", None) if type(syn) is SpecialForm else None
        if name in ("quote", "quasiquote", "syntax-rules", "define-syntax", "let-syntax", "letrec-syntax",
                    "define-record-type", "cond-expand", "import", "define-library", "include", "include-ci"):
            return x
        out = list(items)
        if name in ("lambda", "define", "named-lambda", "set!", "defflow", "define-values", "case-lambda"):
            start = 2 if name != "case-lambda" else 1
            out[start:] = [expand(i, depth + 1) for i in items[start:]]
        elif name in ("let", "let*", "letrec", "letrec*", "let-values", "let*-values"):
            at = 2 if len(items) > 2 and is_ident(items[1]) else 1  # a named let
            out[at] = _map_list(items[at], lambda b: _expand_binding(b, expand, depth)) if len(items) > at else None
            out[at + 1:] = [expand(i, depth + 1) for i in items[at + 1:]]
        else:
            out[1:] = [expand(i, depth + 1) if type(i) is Pair else i for i in items[1:]]
        result = tail
        for item in reversed(out):
            result = Pair(item, result)
        return result

    return _readable(interp, expand(form))


def _readable(interp, x):
    """Expanded code as data: an identifier a macro introduced keeps its name when
    it means a global (a procedure, a special form, a macro), else gets a number
    (`t.1`) so that two macros' temporaries are told apart, as hygiene keeps them."""
    from interp.analyzer import SPECIAL_FORMS, Alias, map_leaves

    genv = interp.genv
    names = {}

    def leaf(v):
        if type(v) is not Alias:
            return v
        base = v.base
        if base in genv.macros or base in SPECIAL_FORMS or base in genv.cells:
            return base
        if v not in names:
            names[v] = sym(f"{base.name}.{len(names) + 1}")
        return names[v]

    return map_leaves(x, leaf)


def _expand_binding(b, expand, depth):
    if type(b) is Pair and type(b.cdr) is Pair:
        return Pair(b.car, Pair(expand(b.cdr.car, depth + 1), b.cdr.cdr))
    return b


def _map_list(x, fn):
    items = []
    while type(x) is Pair:
        items.append(fn(x.car))
        x = x.cdr
    result = x
    for item in reversed(items):
        result = Pair(item, result)
    return result


def _forms(text, filename, line):
    """The top-level forms of one input as separate texts, each padded so that
    positions in it are those in the input (which starts at `line` of its source).
    Input that does not read is returned whole (evaluating it reports the error)."""
    pad = "\n" * (line - 1)
    positions = []
    try:
        read_all(text, filename, positions)
    except SchemeError:
        return [pad + text]
    if len(positions) <= 1:
        return [pad + text]
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    offsets = [starts[p.line - 1] + p.col - 1 for p in positions]
    offsets[0] = 0
    offsets.append(len(text))
    out = []
    for i in range(len(positions)):
        p = positions[i]
        chunk = text[offsets[i]:offsets[i + 1]]
        lead = "\n" * (line - 1 + (p.line - 1 if i else 0)) + (" " * (p.col - 1) if i else "")
        out.append(lead + chunk)
    return out


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
    name = getattr(stream, "name", None)
    name = name if isinstance(name, str) and not name.startswith("<") else "<stdin>"
    first = number = 0  # the line where the input being gathered starts; the last line read
    try:
        for line in stream:
            number += 1
            if not buf:
                first = number
            buf.append(line)
            text = "".join(buf)
            if not text.strip():
                buf = []
                continue
            if repl.input_complete(text):
                buf = []
                repl.handle(text, name, first)
        text = "".join(buf)
        if text.strip():
            repl.handle(text, name, first)  # incomplete at end of input: reported as a read error
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
