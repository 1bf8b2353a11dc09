"""Ports (R7RS 6.13 and the (scheme read), (scheme write), (scheme file) procedures).

A port is textual (characters: string ports, text files, the console) or binary
(bytes: bytevector ports, binary files), for input or for output, and open until
closed; a closed port refuses to read or write with an error naming the procedure.
Binary ports hold bytes; the bytevectors they take and give are `bytearray`s.
Every class here ends in `Port`: flow data names a port by the global it is bound to.
"""

import re
import select
import sys

from ..barrier import touch
from ..errors import ErrorObject, SchemeError, scheme_error, type_error
from ..values import EOF_OBJECT, UNSPECIFIED, Char, MString, char, is_string, string_text
from . import primitive
from .bytevectors import check_byte, check_bytevector
from .sequences import check_range


class OutputClosed(BaseException):
    """The reader of an output port went away (a broken pipe): the program stops,
    as a command line tool writing into `| head` does."""


class _CurrentPorts:
    """Holds the current output and input port parameters (set by the interpreter)."""

    param = None
    input = None


CURRENT = _CurrentPorts()


def current_port():
    return CURRENT.param.value if CURRENT.param is not None else None


def current_input_port():
    return CURRENT.input.value if CURRENT.input is not None else None


def _io_error(who, name, e, doing="read"):
    """A file error for an OSError while reading or writing an open port."""
    reason = getattr(e, "strerror", None) or str(e)
    where = f" {name}" if name else ""
    return SchemeError(ErrorObject(f"{who}: cannot {doing}{where}: {reason}", (), kind="file"))


# ------------------------------------------------------------------ port types


class Port:
    """What every port has: a direction, a kind (textual or binary), an open/closed state."""

    type_name = "port"
    textual = True
    closed = False
    name = None
    fold_case = False  # an input port: #!fold-case read from it is in force (see read)

    def close(self):
        """Close the port (a second close does nothing); releases a file it opened."""
        if not self.closed:
            self.closed = True
            self.release()

    def release(self):
        pass

    def __scheme_write__(self):
        return f"#<{'closed ' if self.closed else ''}{self.type_name}>"


class InputPort(Port):
    """A textual input port over a string, or over a stream read a line at a time."""

    type_name = "input-port"

    def __init__(self, text, name=None, stream=None, file=None, console=False):
        self.text = text
        self.pos = 0
        self.name = name
        self.stream = stream  # a file-like object still to be read, or None
        self.file = file  # what closing the port closes (None: strings, the console)
        self.console = console

    def more(self, who="read"):
        """Read another line from the stream into the buffer; False at its end."""
        if self.stream is None:
            return False
        try:
            line = self.stream.readline()
        except UnicodeDecodeError:
            self.stream = None
            raise scheme_error(
                f"{who}: {self.name or 'the input'} is not UTF-8 text (open-binary-input-file reads bytes)"
            ) from None
        except (OSError, ValueError) as e:
            self.stream = None
            raise _io_error(who, self.name, e) from None
        if not line:
            self.stream = None
            return False
        if self.pos > 4096 and self.pos > len(self.text) // 2:  # drop what was consumed
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += line
        return True

    def ensure(self, n=1, who="read"):
        """At least n unread characters are buffered, unless the input ends first."""
        while len(self.text) - self.pos < n and self.more(who):
            pass
        return len(self.text) - self.pos >= n

    def release(self):
        self.stream = None
        self.text = ""
        self.pos = 0
        if self.file is not None:
            try:
                self.file.close()
            except Exception:
                pass
            self.file = None


class OutputPort(Port):
    """A textual output port over a stream (the console's unless `owns`)."""

    type_name = "output-port"

    def __init__(self, stream, name=None, owns=False):
        self.stream = stream
        self.name = name
        self.owns = owns  # closing the port closes the stream

    def write(self, s, who="write"):
        try:
            self.stream.write(s)
        except BrokenPipeError:
            raise OutputClosed() from None
        except UnicodeError as e:
            raise scheme_error(f"{who}: cannot encode the text as UTF-8: {e.reason}") from None
        except (OSError, ValueError) as e:
            raise _io_error(who, self.name, e, "write to") from None

    def flush(self, who="flush-output-port"):
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            try:
                flush()
            except BrokenPipeError:
                raise OutputClosed() from None
            except (OSError, ValueError) as e:
                raise _io_error(who, self.name, e, "write to") from None

    def release(self):
        if self.owns:
            try:
                self.stream.close()
            except Exception:
                pass


class StringOutputPort(OutputPort):
    """open-output-string: what was written stays readable after the port is closed."""

    def __init__(self):
        super().__init__(None)
        self.chunks = []

    def write(self, s, who="write"):
        self.chunks.append(s)

    def flush(self, who="flush-output-port"):
        pass

    def getvalue(self):
        if len(self.chunks) > 1:
            self.chunks = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""


class FileOutputPort(OutputPort):
    """open-output-file: a text file, UTF-8."""

    def __init__(self, stream, name=None):
        super().__init__(stream, name, owns=True)


class BinaryInputPort(Port):
    """A binary input port over bytes, or over a binary file read in chunks."""

    type_name = "binary-input-port"
    textual = False

    def __init__(self, data, name=None, stream=None):
        self.data = bytes(data)
        self.pos = 0
        self.name = name
        self.stream = stream  # a binary file still to be read, or None
        self.file = stream

    def ensure(self, n, who):
        """At least n unread bytes are buffered, unless the input ends first."""
        while len(self.data) - self.pos < n and self.stream is not None:
            try:
                chunk = self.stream.read(max(n - (len(self.data) - self.pos), 1 << 16))
            except (OSError, ValueError) as e:
                self.stream = None
                raise _io_error(who, self.name, e) from None
            if not chunk:
                self.stream = None
                break
            if self.pos:
                self.data = self.data[self.pos :]
                self.pos = 0
            self.data += chunk
        return len(self.data) - self.pos >= n

    def take(self, n, who):
        """Up to n bytes (fewer at the end of the input), consumed."""
        self.ensure(n, who)
        b = self.data[self.pos : self.pos + n]
        self.pos += len(b)
        return b

    def release(self):
        self.stream = None
        self.data = b""
        self.pos = 0
        if self.file is not None:
            try:
                self.file.close()
            except Exception:
                pass
            self.file = None


class BinaryOutputPort(Port):
    """A binary output port over a binary file."""

    type_name = "binary-output-port"
    textual = False

    def __init__(self, stream, name=None):
        self.stream = stream
        self.name = name

    def write(self, b, who):
        try:
            self.stream.write(b)
        except BrokenPipeError:
            raise OutputClosed() from None
        except (OSError, ValueError) as e:
            raise _io_error(who, self.name, e, "write to") from None

    def flush(self, who="flush-output-port"):
        try:
            self.stream.flush()
        except (OSError, ValueError) as e:
            raise _io_error(who, self.name, e, "write to") from None

    def release(self):
        try:
            self.stream.close()
        except Exception:
            pass


class BytevectorOutputPort(BinaryOutputPort):
    """open-output-bytevector: what was written stays readable after the port is closed."""

    def __init__(self):
        super().__init__(None)
        self.buffer = bytearray()

    def write(self, b, who):
        self.buffer += b

    def flush(self, who="flush-output-port"):
        pass

    def release(self):
        pass


def stdin_port():
    return InputPort("", "<stdin>", sys.stdin, console=True)


# ------------------------------------------------------------------ argument checks


def _closed(who, doing):
    return scheme_error(f"{who}: cannot {doing} a closed port")


def _open_port(p, who, current, cls, what, doing):
    """p (or the current port of its direction when None) as an open port of class cls."""
    if p is None:
        p = current()
    if not isinstance(p, cls):
        raise type_error(who, what, p)
    if p.closed:
        raise _closed(who, doing)
    return p


def textual_input(p, who):
    return _open_port(p, who, current_input_port, InputPort, "a textual input port", "read from")


def textual_output(p, who):
    return _open_port(p, who, current_port, OutputPort, "a textual output port", "write to")


def binary_input(p, who):
    return _open_port(p, who, current_input_port, BinaryInputPort, "a binary input port", "read from")


def binary_output(p, who):
    return _open_port(p, who, current_port, BinaryOutputPort, "a binary output port", "write to")


_INPUT = (InputPort, BinaryInputPort)
_OUTPUT = (OutputPort, BinaryOutputPort)


# ------------------------------------------------------------------ predicates, state


@primitive("port?")
def port_p(x):
    return isinstance(x, Port)


@primitive("input-port?")
def input_port_p(x):
    return isinstance(x, _INPUT)


@primitive("output-port?")
def output_port_p(x):
    return isinstance(x, _OUTPUT)


@primitive("textual-port?")
def textual_port_p(x):
    return isinstance(x, (InputPort, OutputPort))


@primitive("binary-port?")
def binary_port_p(x):
    return isinstance(x, (BinaryInputPort, BinaryOutputPort))


@primitive("input-port-open?")
def input_port_open_p(p):
    if not isinstance(p, Port):
        raise type_error("input-port-open?", "a port", p)
    return isinstance(p, _INPUT) and not p.closed


@primitive("output-port-open?")
def output_port_open_p(p):
    if not isinstance(p, Port):
        raise type_error("output-port-open?", "a port", p)
    return isinstance(p, _OUTPUT) and not p.closed


def _close(who, p, kinds, what):
    if not isinstance(p, kinds):
        raise type_error(who, what, p)
    p.close()
    return UNSPECIFIED


@primitive("close-port")
def close_port(p):
    return _close("close-port", p, Port, "a port")


@primitive("close-input-port")
def close_input_port(p):
    return _close("close-input-port", p, _INPUT, "an input port")


@primitive("close-output-port")
def close_output_port(p):
    return _close("close-output-port", p, _OUTPUT, "an output port")


@primitive("eof-object")
def eof_object():
    return EOF_OBJECT


@primitive("eof-object?")
def eof_object_p(x):
    return x is EOF_OBJECT


# ------------------------------------------------------------------ string and bytevector ports


@primitive("open-input-string")
def open_input_string(s):
    if not is_string(s):
        raise type_error("open-input-string", "a string", s)
    return InputPort(string_text(s))


@primitive("open-output-string")
def open_output_string():
    return StringOutputPort()


@primitive("get-output-string")
def get_output_string(port):
    if not isinstance(port, StringOutputPort):
        raise type_error("get-output-string", "a string output port (from open-output-string)", port)
    return MString(port.getvalue())


@primitive("open-input-bytevector")
def open_input_bytevector(b):
    return BinaryInputPort(check_bytevector("open-input-bytevector", b))


@primitive("open-output-bytevector")
def open_output_bytevector():
    return BytevectorOutputPort()


@primitive("get-output-bytevector")
def get_output_bytevector(port):
    if not isinstance(port, BytevectorOutputPort):
        raise type_error("get-output-bytevector", "a bytevector output port (from open-output-bytevector)", port)
    return bytearray(port.buffer)


# ------------------------------------------------------------------ textual input


@primitive("read-char")
def read_char(port=None):
    p = textual_input(port, "read-char")
    if not p.ensure(1, "read-char"):
        return EOF_OBJECT
    c = p.text[p.pos]
    p.pos += 1
    return char(c)


@primitive("peek-char")
def peek_char(port=None):
    p = textual_input(port, "peek-char")
    if not p.ensure(1, "peek-char"):
        return EOF_OBJECT
    return char(p.text[p.pos])


_END_OF_LINE = re.compile(r"\r\n?|\n")


@primitive("read-line")
def read_line(port=None):
    """The next line without its end (a newline, CR LF or a lone CR, as chibi); eof at the end."""
    p = textual_input(port, "read-line")
    while True:
        m = _END_OF_LINE.search(p.text, p.pos)
        if m is not None and not (m.end() == len(p.text) and m.group() == "\r" and p.stream is not None):
            break
        if not p.more("read-line"):
            m = _END_OF_LINE.search(p.text, p.pos)
            break
    if m is None:
        if p.pos >= len(p.text):
            return EOF_OBJECT
        line = p.text[p.pos :]
        p.pos = len(p.text)
        return MString(line)
    line = p.text[p.pos : m.start()]
    p.pos = m.end()
    return MString(line)


@primitive("read-string")
def read_string(k, port=None):
    """(read-string k [port]): up to k characters; "" when k is 0, eof when none are left."""
    if isinstance(k, InputPort):  # the older (read-string port k) order
        k, port = port, k
    if type(k) is not int or k < 0:
        raise type_error("read-string", "an exact non-negative integer", k)
    p = textual_input(port, "read-string")
    if k == 0:
        return MString("")
    p.ensure(k, "read-string")
    if p.pos >= len(p.text):
        return EOF_OBJECT
    s = p.text[p.pos : p.pos + k]
    p.pos += len(s)
    return MString(s)


@primitive("char-ready?")
def char_ready(port=None):
    """#t unless the port is the console and typing has not reached it yet."""
    p = textual_input(port, "char-ready?")
    if p.pos < len(p.text) or p.stream is None or not p.console:
        return True
    try:
        ready, _, _ = select.select([p.stream], [], [], 0)
    except (OSError, ValueError, TypeError):  # not a real file (a StringIO): never blocks
        return True
    return bool(ready)


@primitive("read")
def read(port=None):
    """The next datum (any syntax the reader knows); eof when only blanks and comments remain."""
    from ..reader import is_complete, read_datum

    p = textual_input(port, "read")
    while p.stream is not None and not (p.text[p.pos :].strip() and is_complete(p.text[p.pos :])):
        if not p.more("read"):
            break
    try:
        datum, end = read_datum(p.text, p.pos, p.name, fold_state=p)  # p.fold_case: #!fold-case
    except SchemeError as e:
        e.payload.kind = "read"
        raise
    p.pos = end
    return datum


# ------------------------------------------------------------------ textual output


@primitive("display")
def display(x, port=None):
    from ..printer import display_string

    p = textual_output(port, "display")
    p.write(display_string(x), "display")
    return UNSPECIFIED


@primitive("write", "write-simple")
def write(x, port=None):
    from ..printer import write_string

    p = textual_output(port, "write")
    p.write(write_string(x), "write")
    return UNSPECIFIED


@primitive("write-shared")
def write_shared(x, port=None):
    from ..printer import write_shared_string

    p = textual_output(port, "write-shared")
    p.write(write_shared_string(x), "write-shared")
    return UNSPECIFIED


@primitive("newline")
def newline(port=None):
    textual_output(port, "newline").write("\n", "newline")
    return UNSPECIFIED


@primitive("write-char")
def write_char(c, port=None):
    if type(c) is not Char:
        raise type_error("write-char", "a char", c)
    textual_output(port, "write-char").write(chr(c.code), "write-char")
    return UNSPECIFIED


@primitive("write-string")
def write_string_(s, port=None, start=None, end=None):
    """(write-string string [port [start [end]]])"""
    if not is_string(s):
        raise type_error("write-string", "a string", s)
    s = string_text(s)
    p = textual_output(port, "write-string")
    start, end = check_range("write-string", len(s), start, end)
    p.write(s[start:end], "write-string")
    return UNSPECIFIED


@primitive("flush-output-port", "force-output")
def flush_output(port=None):
    if port is None:
        port = current_port()
    if not isinstance(port, _OUTPUT):
        raise type_error("flush-output-port", "an output port", port)
    if port.closed:
        raise _closed("flush-output-port", "flush")
    port.flush("flush-output-port")
    return UNSPECIFIED


# ------------------------------------------------------------------ binary input and output


@primitive("read-u8")
def read_u8(port=None):
    p = binary_input(port, "read-u8")
    if not p.ensure(1, "read-u8"):
        return EOF_OBJECT
    b = p.data[p.pos]
    p.pos += 1
    return b


@primitive("peek-u8")
def peek_u8(port=None):
    p = binary_input(port, "peek-u8")
    if not p.ensure(1, "peek-u8"):
        return EOF_OBJECT
    return p.data[p.pos]


@primitive("u8-ready?")
def u8_ready(port=None):
    binary_input(port, "u8-ready?")
    return True  # bytes in memory or a file: a read never blocks


@primitive("read-bytevector")
def read_bytevector(k, port=None):
    """(read-bytevector k [port]): up to k bytes; #u8() when k is 0, eof when none are left."""
    if type(k) is not int or k < 0:
        raise type_error("read-bytevector", "an exact non-negative integer", k)
    p = binary_input(port, "read-bytevector")
    if k == 0:
        return bytearray()
    b = p.take(k, "read-bytevector")
    return bytearray(b) if b else EOF_OBJECT


@primitive("read-bytevector!")
def read_bytevector_bang(bv, port=None, start=None, end=None):
    """(read-bytevector! bytevector [port [start [end]]]): the number of bytes read into
    bytevector[start, end); 0 for an empty range, eof when no bytes are left."""
    check_bytevector("read-bytevector!", bv)
    p = binary_input(port, "read-bytevector!")
    start, end = check_range("read-bytevector!", len(bv), start, end)
    if start == end:
        return 0
    b = p.take(end - start, "read-bytevector!")
    if not b:
        return EOF_OBJECT
    bv[start : start + len(b)] = b
    touch(bv)
    return len(b)


@primitive("write-u8")
def write_u8(b, port=None):
    check_byte("write-u8", b)
    binary_output(port, "write-u8").write(bytes((b,)), "write-u8")
    return UNSPECIFIED


@primitive("write-bytevector")
def write_bytevector(bv, port=None, start=None, end=None):
    """(write-bytevector bytevector [port [start [end]]])"""
    check_bytevector("write-bytevector", bv)
    p = binary_output(port, "write-bytevector")
    start, end = check_range("write-bytevector", len(bv), start, end)
    p.write(bytes(bv[start:end]), "write-bytevector")
    return UNSPECIFIED


# ------------------------------------------------------------------ files


def file_error(who, path, e):
    """The file error (file-error? answers #t) for an OSError e on path."""
    reason = getattr(e, "strerror", None) or str(e)
    return SchemeError(ErrorObject(f"{who}: cannot open {path}: {reason}", (), kind="file"))


def check_path(who, path):
    if not is_string(path):
        raise type_error(who, "a file name string", path)
    return string_text(path)


def _open(who, path, mode, **kw):
    path = check_path(who, path)
    try:
        return open(path, mode, **kw)
    except (OSError, ValueError) as e:
        raise file_error(who, path, e) from None


@primitive("open-input-file")
def open_input_file(path):
    stream = _open("open-input-file", path, "r", encoding="utf-8")
    return InputPort("", path, stream, file=stream)


@primitive("open-binary-input-file")
def open_binary_input_file(path):
    return BinaryInputPort(b"", path, _open("open-binary-input-file", path, "rb"))


@primitive("open-output-file")
def open_output_file(path, append=False):
    """(open-output-file path [append?]): truncates the file unless append? is true."""
    mode = "a" if append is not False else "w"
    return FileOutputPort(_open("open-output-file", path, mode, encoding="utf-8"), path)


@primitive("open-binary-output-file")
def open_binary_output_file(path, append=False):
    """(open-binary-output-file path [append?]): truncates the file unless append? is true."""
    mode = "ab" if append is not False else "wb"
    return BinaryOutputPort(_open("open-binary-output-file", path, mode), path)


@primitive("file-exists?")
def file_exists_p(path):
    import os

    return os.path.exists(check_path("file-exists?", path))


@primitive("delete-file")
def delete_file(path):
    import os

    try:
        os.remove(check_path("delete-file", path))
    except OSError as e:
        raise SchemeError(
            ErrorObject(f"delete-file: cannot delete {path}: {getattr(e, 'strerror', None) or e}", (), kind="file")
        ) from None
    return UNSPECIFIED
