"""Ports and I/O primitives: display, write, newline, string ports, read, time, exit."""

import io
import random as _random
import sys
import time

from ..errors import SchemeError, scheme_error, type_error
from ..values import EOF_OBJECT, UNSPECIFIED, Char, char
from . import primitive


class OutputPort:
    type_name = "output-port"

    def __init__(self, stream):
        self.stream = stream

    def write(self, s):
        self.stream.write(s)

    def __scheme_write__(self):
        return "#<output-port>"


class StringOutputPort(OutputPort):
    def __init__(self):
        super().__init__(io.StringIO())

    def getvalue(self):
        return self.stream.getvalue()


class InputPort:
    type_name = "input-port"

    def __init__(self, text, name=None):
        self.text = text
        self.pos = 0
        self.name = name

    def __scheme_write__(self):
        return "#<input-port>"


class _CurrentOutput:
    """Holds the current output port parameter (set by the interpreter)."""

    param = None


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


def _in(p, who):
    if not isinstance(p, InputPort):
        raise type_error(who, "an input port", p)
    return p


@primitive("read-char")
def read_char(port):
    p = _in(port, "read-char")
    if p.pos >= len(p.text):
        return EOF_OBJECT
    c = p.text[p.pos]
    p.pos += 1
    return char(c)


@primitive("peek-char")
def peek_char(port):
    p = _in(port, "peek-char")
    if p.pos >= len(p.text):
        return EOF_OBJECT
    return char(p.text[p.pos])


@primitive("read-line")
def read_line(port):
    p = _in(port, "read-line")
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
def read_string(k, port):
    p = _in(port, "read-string")
    if p.pos >= len(p.text):
        return EOF_OBJECT
    s = p.text[p.pos : p.pos + k]
    p.pos += len(s)
    return s


@primitive("char-ready?")
def char_ready(port=None):
    return True


@primitive("read")
def read(port):
    from ..reader import read_datum

    p = _in(port, "read")
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
