"""The registry of primitive procedures written in Python.

A primitive is a plain Python function registered under its Scheme name:

    @primitive("car")
    def car(x): ...

Arity is read from the Python signature (`*args` means variadic). A primitive
signals a Scheme error by raising `interp.errors.SchemeError` (see `type_error`,
`scheme_error`); the evaluator adds the source position and backtrace. Any other
Python exception escaping a primitive is converted to a SchemeError naming it.
Primitives never call back into Scheme: the higher-order ones (map, apply, ...)
live with the evaluator so that continuations can be captured inside them.
"""


class Primitive:
    """A Scheme procedure implemented by a Python function."""

    __slots__ = ("name", "fn", "min_args", "max_args")
    type_name = "procedure"

    def __init__(self, name, fn, min_args=None, max_args=None):
        self.name = name
        self.fn = fn
        if min_args is None:
            min_args, max_args = _arity(fn)
        self.min_args = min_args
        self.max_args = max_args  # None: variadic

    def __repr__(self):
        return f"#<procedure {self.name}>"

    __scheme_write__ = __repr__

    def arity_ok(self, n):
        return n >= self.min_args and (self.max_args is None or n <= self.max_args)

    def arity_text(self):
        lo, hi = self.min_args, self.max_args
        if hi is None:
            return f"at least {lo} argument{'s' if lo != 1 else ''}"
        if lo == hi:
            return f"{lo} argument{'s' if lo != 1 else ''}"
        return f"{lo} to {hi} arguments"


def _arity(fn):
    bound = type(fn).__name__ == "method"  # a bound method: its first parameter is taken
    f = fn.__func__ if bound else fn
    code = getattr(f, "__code__", None)
    if type(f).__name__ == "function" and code is not None and not hasattr(f, "__wrapped__"):
        hi = code.co_argcount - bound  # read off the code object: importing inspect slows start-up
        lo = max(hi - len(f.__defaults__ or ()), 0)
        return (lo, None) if code.co_flags & 0x04 else (lo, hi)  # 0x04: CO_VARARGS
    import inspect

    lo = 0
    hi = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return lo, None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
    return lo, hi


PRIMITIVES = {}


def primitive(*names):
    """Decorator: register a Python function as the Scheme primitive(s) `names`."""

    def register(fn):
        for name in names:
            PRIMITIVES[name] = Primitive(name, fn)
        return fn

    return register


def load_all():
    """Import every primitive module so that PRIMITIVES is complete."""
    import importlib
    import os

    # pkgutil.iter_modules would do, but it imports inspect (slow to import at start-up)
    for filename in sorted(os.listdir(__path__[0])):
        name = filename[:-3]
        if filename.endswith(".py") and name.isidentifier() and name != "__init__":
            importlib.import_module(f"{__name__}.{name}")
    return PRIMITIVES
