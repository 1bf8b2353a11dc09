"""Symbol primitives: symbol?, symbol<->string, symbol=?, uninterned symbols and gensym."""

from ..errors import type_error
from ..values import Symbol, gensym as _gensym, is_string, string_text, sym
from . import primitive


@primitive("symbol?")
def is_symbol(x):
    return type(x) is Symbol


@primitive("symbol->string")
def symbol_to_string(s):
    if type(s) is not Symbol:
        raise type_error("symbol->string", "a symbol", s)
    return s.name


@primitive("string->symbol")
def string_to_symbol(s):
    if not is_string(s):
        raise type_error("string->symbol", "a string", s)
    return sym(string_text(s))


@primitive("string->uninterned-symbol")
def string_to_uninterned_symbol(s):
    if not is_string(s):
        raise type_error("string->uninterned-symbol", "a string", s)
    return Symbol(string_text(s))


@primitive("symbol=?")
def symbol_eq(a, b, *rest):
    for x in (a, b) + rest:
        if type(x) is not Symbol:
            raise type_error("symbol=?", "a symbol", x)
    return a is b and all(x is a for x in rest)


@primitive("symbol<?")
def symbol_lt(a, b, *rest):
    args = (a, b) + rest
    for x in args:
        if type(x) is not Symbol:
            raise type_error("symbol<?", "a symbol", x)
    return all(args[i].name < args[i + 1].name for i in range(len(args) - 1))


@primitive("symbol-append")
def symbol_append(*syms):
    for x in syms:
        if type(x) is not Symbol:
            raise type_error("symbol-append", "a symbol", x)
    return sym("".join(x.name for x in syms))


@primitive("gensym")
def gensym(prefix="g"):
    """A fresh uninterned symbol; the optional prefix is a string or a symbol."""
    if type(prefix) is Symbol:
        prefix = prefix.name
    elif is_string(prefix):
        prefix = string_text(prefix)
    else:
        raise type_error("gensym", "a string or a symbol", prefix)
    return _gensym(prefix)
