"""The host API: an Interpreter owns a global environment and runs Scheme text.

    it = Interpreter()
    it.eval("(define (sq x) (* x x)) (sq 12)")   # -> 144
    it.eval_file("prog.scm")
    it.define("py-add", lambda a, b: a + b)

Suspendable runs (the mechanism flows are built on): a primitive made with
`suspender(name)` stops the computation; `run_suspendable` then returns a
`Suspension` (its continuation is plain data) that `resume` continues, as often
as you like, with a value.
"""

import os
import sys
from importlib import resources

from . import control  # noqa: F401  (registers the control primitives)
from .analyzer import Analyzer, GlobalEnv
from .errors import SchemeError, scheme_error
from .machine import (
    Capture,
    Closure,
    D,
    Lambda as LambdaInfo,
    Parameter,
    Suspension,
    TailCall,
    TailPrimitive,
    run,
)
from .nodes import CodeUnit
from .primitives import Primitive, load_all
from .primitives.io import CURRENT, OutputPort, SchemeExit
from .values import UNSPECIFIED, MultipleValues, sym

_PRELUDE = None


def _prelude_text():
    global _PRELUDE
    if _PRELUDE is None:
        _PRELUDE = resources.files("interp").joinpath("prelude.scm").read_text(encoding="utf-8")
    return _PRELUDE


class Interpreter:
    """A Scheme global environment plus the means to run code in it."""

    def __init__(self, stdout=None):
        self.genv = GlobalEnv()
        self.units = {}  # hash -> CodeUnit (every unit analysed here)
        self.stdout = stdout if stdout is not None else sys.stdout
        prims = load_all()
        self.genv.primitives = prims
        for name, p in prims.items():
            self.genv.define(name, p)
        for alias, name in (("%member", "member"), ("%assoc", "assoc"), ("%hash-table-ref", "hash-table-ref")):
            if name in prims:
                self.genv.define(alias, prims[name])
        self.output = Parameter(OutputPort(self.stdout), None)
        self.genv.define("current-output-port", self.output)
        self.genv.define("current-error-port", Parameter(OutputPort(sys.stderr), None))
        self.define_tail("eval", self._eval_primitive)
        self.define("load", self._load_primitive)
        for name in ("interaction-environment", "system-global-environment"):
            self.define(name, lambda: sym("interaction-environment"))
        self.define("scheme-report-environment", lambda version=5: sym("interaction-environment"))
        self.define("environment", lambda *specs: sym("interaction-environment"))
        self.eval(_prelude_text(), filename="<prelude>")
        control.install_raise(self.genv.lookup("raise"))

    # -------------------------------------------------------------- host API

    def define(self, name, value):
        """Bind a global: Python callables become primitives named `name`."""
        if callable(value) and not isinstance(value, (Primitive, Closure, Parameter)):
            value = Primitive(name, value)
        self.genv.define(name, value)

    def define_tail(self, name, fn):
        self.genv.define(name, TailPrimitive(name, fn))

    def lookup(self, name):
        """The value of a global variable (KeyError if unbound)."""
        return self.genv.lookup(name)

    def call(self, proc, *args):
        """Call a Scheme procedure (or the global procedure named proc) with args."""
        if isinstance(proc, str):
            proc = self.lookup(proc)
        return self._run(lambda: TailCall(proc, list(args)))

    def eval(self, text, filename=None):
        """Evaluate every form of `text`; return the last value."""
        result = UNSPECIFIED
        for code in self.compile(text, filename):
            result = self._run(lambda code=code: code(None))
        return result

    def eval_file(self, path):
        """Evaluate a file (the code unit is named by its path)."""
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise scheme_error(f"cannot read {path}: {e.strerror}", kind="file") from None
        except UnicodeDecodeError as e:
            raise scheme_error(f"cannot read {path}: not UTF-8 text ({e.reason})", kind="file") from None
        return self.eval(text, filename=path)

    def compile(self, text, filename=None):
        """Yield the compiled top-level forms of text one by one (each analysed
        only after the previous ran, so its macros are in force)."""
        from .reader import read_all

        datums = read_all(text, filename)
        unit = CodeUnit(text, filename)
        analyzer = Analyzer(self.genv, unit)
        try:
            for d in datums:
                yield analyzer.analyze_toplevel(d).compile()
        finally:
            self.units[unit.hash] = unit

    # -------------------------------------------------------------- running

    def _run(self, action, k=None, winders=None, handlers=None, may_suspend=False):
        from .values import NIL

        saved = CURRENT.param
        CURRENT.param = self.output
        try:
            return run(
                action,
                k,
                NIL if winders is None else winders,
                NIL if handlers is None else handlers,
                may_suspend,
            )
        finally:
            CURRENT.param = saved

    def run_suspendable(self, text, filename=None):
        """Evaluate text; return its value, or a Suspension if a suspender stopped it."""
        result = UNSPECIFIED
        for code in self.compile(text, filename):
            result = self._run(lambda code=code: code(None), may_suspend=True)
            if type(result) is Suspension:
                return result
        return result

    def call_suspendable(self, proc, args):
        """Call a Scheme procedure; its value, or a Suspension."""
        return self._run(lambda: TailCall(proc, list(args)), may_suspend=True)

    def resume(self, suspension, value):
        """Continue a Suspension with `value` (the suspension itself is unchanged,
        so it can be resumed again)."""
        return self._run(
            lambda: value,
            suspension.k,
            suspension.winders,
            suspension.handlers,
            may_suspend=True,
        )

    def suspender(self, name, check=None):
        """A primitive that suspends the running computation with its arguments
        as the suspension's payload. `check(args)` may raise a SchemeError first."""

        def suspend(*args):
            if not D.may_suspend:
                raise scheme_error(f"{name}: cannot suspend here (not inside a suspendable run)")
            if check is not None:
                check(args)
            raise Capture("suspend", args)

        return TailPrimitive(name, suspend)

    # -------------------------------------------------------------- primitives needing the interpreter

    def _eval_primitive(self, expr, env=None):
        from .analyzer import Analyzer
        from .printer import write_string

        unit = CodeUnit(write_string(expr), "<eval>")
        code = Analyzer(self.genv, unit).analyze_toplevel(expr).compile()
        self.units[unit.hash] = unit
        info = LambdaInfo(0, False, 0, lambda env: code(None), "eval", None)
        return TailCall(Closure(info, None), [])

    def _load_primitive(self, path, env=None):
        if type(path) is not str:
            from .errors import type_error

            raise type_error("load", "a string", path)
        self.eval_file(path)
        return UNSPECIFIED


def format_value(value):
    """How the REPL and `flowscheme eval` show a value (nothing for unspecified)."""
    from .printer import write_string

    if value is UNSPECIFIED:
        return ""
    if type(value) is MultipleValues:
        return "\n".join(write_string(v) for v in value.items)
    return write_string(value)


__all__ = ["Interpreter", "SchemeError", "SchemeExit", "format_value", "Suspension"]
