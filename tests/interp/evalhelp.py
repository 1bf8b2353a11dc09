"""Helpers for the evaluator tests: run Scheme text in a fresh interpreter and look
at its value (in write notation), its output, or the error it raised."""

import io

import pytest

from interp import Interpreter, write_string
from interp.errors import SchemeError


def interp():
    """A fresh interpreter writing to a StringIO (its `.stdout`)."""
    return Interpreter(stdout=io.StringIO())


def ev(src, it=None):
    """The value of the last form of src, in write notation."""
    it = it or interp()
    return write_string(it.eval(src))


def output(src, it=None):
    """What src printed."""
    it = it or interp()
    it.eval(src)
    return it.stdout.getvalue()


def error(src, it=None, filename=None):
    """The SchemeError src raises (fails the test if it raises none)."""
    it = it or interp()
    with pytest.raises(SchemeError) as info:
        it.eval(src, filename=filename)
    return info.value
