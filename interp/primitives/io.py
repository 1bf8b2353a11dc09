"""Ports and I/O primitives: display, write, newline, string ports, read, time, exit."""

import io
import random as _random
import sys
import time

from ..errors import SchemeError, scheme_error, type_error
from ..values import EOF_OBJECT, UNSPECIFIED, Char, char
from . import primitive


class OutputClosed(BaseException):
    """The reader of an output port went away (a broken pipe): the program stops,
    as a command line tool writing into `| head` does."""


class OutputPort:
    type_name = "output-port"

    def __init__(self, stream):
        self.stream = stream

    def write(self, s):
        try:
            self.stream.write(s)
        except BrokenPipeError:
            raise OutputClosed() from None

    def close(self):
        pass

    def __scheme_write__(self):
        return "#<output-port>"


class StringOutputPort(OutputPort):
    def __init__(self):
        super().__init__(io.StringIO())

    def getvalue(self):
        return self.stream.getvalue()


class InputPort:
    """A textual input port over a string, or over a stream read a line at a time."""

    type_name = "input-port"

    def __init__(self, text, name=None, stream=None):
        self.text = text
        self.pos = 0
        self.name = name
        self.stream = stream  # a file-like object still to be read, or None

    def more(self):
        """Read another line from the stream into the buffer; False at its end."""
        if self.stream is None:
            return False
        line = self.stream.readline()
        if not line:
            self.stream = None
            return False
        if self.pos > 4096 and self.pos > len(self.text) // 2:  # drop what was consumed
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += line
        return True

    def ensure(self, n=1):
        """At least n unread characters are buffered, unless the input ends first."""
        while len(self.text) - self.pos < n and self.more():
            pass
        return len(self.text) - self.pos >= n

    def close(self):
        if self.stream is not None and self.stream is not sys.stdin:
            try:
                self.stream.close()
            except Exception:
                pass
        self.stream = None

    def __scheme_write__(self):
        return "#<input-port>"


class _CurrentOutput:
    """Holds the current output and input port parameters (set by the interpreter)."""

    param = None
    input = None


CURRENT = _CurrentOutput()


def current_port():
    return CURRENT.param.value


def _port(p, who):
    if p is None:
        return current_port()
    if not isinstance(p, OutputPort):
        raise type_error(who, "an output port", p)
    return p


@primitive("display")
def display(x, port=None):
    from ..printer import display_string

    _port(port, "display").write(display_string(x))
    return UNSPECIFIED


@primitive("write", "write-shared", "write-simple")
def write(x, port=None):
    from ..printer import write_string

    _port(port, "write").write(write_string(x))
    return UNSPECIFIED


@primitive("newline")
def newline(port=None):
    _port(port, "newline").write("\n")
    return UNSPECIFIED


@primitive("write-string")
def write_string_(s, port=None, start=0, end=None):
    if type(s) is not str:
        raise type_error("write-string", "a string", s)
    _port(port, "write-string").write(s[start:end])
    return UNSPECIFIED


@primitive("write-char")
def write_char(c, port=None):
    if type(c) is not Char:
        raise type_error("write-char", "a char", c)
    _port(port, "write-char").write(chr(c.code))
    return UNSPECIFIED


@primitive("flush-output-port", "force-output")
def flush_output(port=None):
    p = _port(port, "flush-output-port")
    flush = getattr(p.stream, "flush", None)
    if flush:
        flush()
    return UNSPECIFIED


@primitive("open-output-string")
def open_output_string():
    return StringOutputPort()


@primitive("get-output-string")
def get_output_string(port):
    if not isinstance(port, StringOutputPort):
        raise type_error("get-output-string", "a string output port", port)
    return port.getvalue()


@primitive("open-input-string")
def open_input_string(s):
    if type(s) is not str:
        raise type_error("open-input-string", "a string", s)
    return InputPort(s)


def stdin_port():
    return InputPort("", "<stdin>", sys.stdin)


def _in(p, who):
    if p is None:
        p = CURRENT.input.value if CURRENT.input is not None else None
    if not isinstance(p, InputPort):
        raise type_error(who, "an input port", p)
    return p


@primitive("read-char")
def read_char(port=None):
    p = _in(port, "read-char")
    if not p.ensure(1):
        return EOF_OBJECT
    c = p.text[p.pos]
    p.pos += 1
    return char(c)


@primitive("peek-char")
def peek_char(port=None):
    p = _in(port, "peek-char")
    if not p.ensure(1):
        return EOF_OBJECT
    return char(p.text[p.pos])


@primitive("read-line")
def read_line(port=None):
    p = _in(port, "read-line")
    while p.text.find("\n", p.pos) < 0 and p.more():
        pass
    if p.pos >= len(p.text):
        return EOF_OBJECT
    end = p.text.find("\n", p.pos)
    if end < 0:
        line = p.text[p.pos :]
        p.pos = len(p.text)
    else:
        line = p.text[p.pos : end]
        p.pos = end + 1
    return line


@primitive("read-string")
def read_string(k, port=None):
    if isinstance(k, InputPort):  # the older (read-string port k) order
        k, port = port, k
    if type(k) is not int or k < 0:
        raise type_error("read-string", "a non-negative integer", k)
    p = _in(port, "read-string")
    p.ensure(k)
    if p.pos >= len(p.text) and k > 0:
        return EOF_OBJECT
    s = p.text[p.pos : p.pos + k]
    p.pos += len(s)
    return s


@primitive("char-ready?")
def char_ready(port=None):
    return True


@primitive("read")
def read(port=None):
    from ..reader import is_complete, read_datum

    p = _in(port, "read")
    while p.stream is not None and not (p.text[p.pos :].strip() and is_complete(p.text[p.pos :])):
        if not p.more():
            break
    try:
        datum, end = read_datum(p.text, p.pos, p.name)
    except SchemeError as e:
        e.payload.kind = "read"
        raise
    p.pos = end
    return datum


@primitive("eof-object")
def eof_object():
    return EOF_OBJECT


@primitive("eof-object?")
def eof_object_p(x):
    return x is EOF_OBJECT


@primitive("input-port?")
def input_port_p(x):
    return isinstance(x, InputPort)


@primitive("output-port?")
def output_port_p(x):
    return isinstance(x, OutputPort)


@primitive("port?")
def port_p(x):
    return isinstance(x, (InputPort, OutputPort))


@primitive("textual-port?")
def textual_port_p(x):
    return isinstance(x, (InputPort, OutputPort))


@primitive("close-port", "close-input-port", "close-output-port")
def close_port(p):
    if not isinstance(p, (InputPort, OutputPort)):
        raise type_error("close-port", "a port", p)
    p.close()
    return UNSPECIFIED


# ------------------------------------------------------------------ files


def _file_error(who, path, e):
    from ..errors import ErrorObject

    reason = getattr(e, "strerror", None) or str(e)
    return SchemeError(ErrorObject(f"{who}: cannot open {path}: {reason}", (), kind="file"))


def _path(who, path):
    if type(path) is not str:
        raise type_error(who, "a file name string", path)
    return path


@primitive("open-input-file")
def open_input_file(path):
    _path("open-input-file", path)
    try:
        stream = open(path, encoding="utf-8")
    except (OSError, ValueError) as e:
        raise _file_error("open-input-file", path, e) from None
    return InputPort("", path, stream)


class FileOutputPort(OutputPort):
    def close(self):
        try:
            self.stream.close()
        except Exception:
            pass


@primitive("open-output-file")
def open_output_file(path, append=False):
    _path("open-output-file", path)
    try:
        stream = open(path, "a" if append is not False else "w", encoding="utf-8")
    except (OSError, ValueError) as e:
        raise _file_error("open-output-file", path, e) from None
    return FileOutputPort(stream)


@primitive("file-exists?")
def file_exists_p(path):
    import os

    return os.path.exists(_path("file-exists?", path))


@primitive("delete-file")
def delete_file(path):
    import os

    try:
        os.remove(_path("delete-file", path))
    except OSError as e:
        raise _file_error("delete-file", path, e) from None
    return UNSPECIFIED


@primitive("get-environment-variable")
def get_environment_variable(name):
    import os

    if type(name) is not str:
        raise type_error("get-environment-variable", "a string", name)
    v = os.environ.get(name)
    return False if v is None else v


@primitive("get-environment-variables")
def get_environment_variables():
    import os

    from ..values import Pair, list_to_pairs

    return list_to_pairs([Pair(k, v) for k, v in sorted(os.environ.items())])


# ------------------------------------------------------------------ format (SRFI 28, plus ~d ~%)


@primitive("format")
def format_(dest, *args):
    """(format "fmt" arg ...) -> string (SRFI 28); (format #f ...) likewise;
    (format #t ...) writes to the current output port; (format port ...) to port."""
    from ..printer import display_string, write_string

    if type(dest) is str:
        fmt, to = dest, None
    else:
        if not args or type(args[0]) is not str:
            raise type_error("format", "a format string", args[0] if args else dest)
        fmt, args = args[0], args[1:]
        if dest is False:
            to = None
        elif dest is True:
            to = current_port()
        else:
            to = _port(dest, "format")
    out = []
    i = 0
    n = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "~":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(fmt):
            raise scheme_error("format: incomplete escape at the end of", fmt)
        d = fmt[i + 1].lower()
        i += 2
        if d in "asd":
            if n >= len(args):
                raise scheme_error("format: too few arguments for", fmt)
            v = args[n]
            n += 1
            out.append(write_string(v) if d == "s" else display_string(v))
        elif d == "%" or d == "n":
            out.append("\n")
        elif d == "~":
            out.append("~")
        else:
            raise scheme_error(f"format: unknown escape ~{fmt[i - 1]} in", fmt)
    text = "".join(out)
    if to is None:
        return text
    to.write(text)
    return UNSPECIFIED


# ------------------------------------------------------------------ system


class SchemeExit(BaseException):
    """Raised by (exit): unwinds everything to the host."""

    def __init__(self, code):
        self.code = code


@primitive("exit", "emergency-exit")
def exit_(code=0):
    if code is True:
        code = 0
    elif code is False:
        code = 1
    elif type(code) is not int:
        code = 0
    raise SchemeExit(code)


@primitive("current-time")
def current_time():
    return int(time.time())


@primitive("current-second")
def current_second():
    return time.time()


@primitive("current-jiffy")
def current_jiffy():
    return time.perf_counter_ns() // 1000


@primitive("jiffies-per-second")
def jiffies_per_second():
    return 1000000


@primitive("runtime")
def runtime():
    return time.process_time()


RNG = _random.Random(0)


@primitive("random")
def random(n, state=None):
    if type(n) is int:
        if n <= 0:
            raise scheme_error(f"random: expected a positive integer, got {n}")
        return RNG.randrange(n)
    if type(n) is float:
        return RNG.random() * n
    raise type_error("random", "a positive number", n)


@primitive("random-seed!", "set-random-seed!")
def random_seed(seed):
    RNG.seed(seed)
    return UNSPECIFIED


@primitive("command-line")
def command_line():
    from ..values import list_to_pairs

    return list_to_pairs(list(sys.argv))
