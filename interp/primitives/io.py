"""Formatted output (SRFI 28 `format`) and the system interface: environment
variables, time, random numbers, exit, the command line. The ports themselves,
and every procedure that reads or writes through one, live in ports.py."""

import random as _random
import sys
import time

from ..errors import SchemeExit, scheme_error, type_error
from ..values import UNSPECIFIED, MString, is_string, string_text
from . import primitive

from .ports import textual_output

# Port names the interpreter and the command line import from here.
from .ports import CURRENT, OutputClosed, OutputPort, stdin_port  # noqa: F401


@primitive("get-environment-variable")
def get_environment_variable(name):
    import os

    if not is_string(name):
        raise type_error("get-environment-variable", "a string", name)
    v = os.environ.get(string_text(name))
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

    if is_string(dest):
        fmt, to = string_text(dest), None
    else:
        if not args or not is_string(args[0]):
            raise type_error("format", "a format string", args[0] if args else dest)
        fmt, args = string_text(args[0]), args[1:]
        if dest is False:
            to = None
        elif dest is True:
            to = textual_output(None, "format")
        else:
            to = textual_output(dest, "format")
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
        return MString(text)
    to.write(text, "format")
    return UNSPECIFIED


# ------------------------------------------------------------------ system


@primitive("exit")
def exit_(code=0):
    raise SchemeExit.of(code)


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
