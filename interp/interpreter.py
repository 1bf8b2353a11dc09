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

import gc
import os
import sys

from . import control  # noqa: F401  (registers the control primitives)
from .capabilities import guard_environment
from .recording import record_environment
from .analyzer import Analyzer
from .scopes import GlobalEnv
from .errors import SchemeError, scheme_error
from .machine import (
    Capture,
    Closure,
    D,
    Parameter,
    Suspension,
    TailCall,
    TailPrimitive,
    run,
)
from .nodes import CodeUnit
from .primitives import Primitive, load_all
from .program import Program
from .sources import read_source
from .errors import SchemeExit
from .primitives.io import CURRENT, OutputPort, stdin_port
from .libraries import Environment
from .values import NIL, UNSPECIFIED, MString, MultipleValues, Pair, is_string, string_text, sym

_PRELUDE = None


def _prelude_text():
    global _PRELUDE
    if _PRELUDE is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prelude.scm")
        with open(path, encoding="utf-8") as f:
            _PRELUDE = f.read()
    return _PRELUDE


class Interpreter:
    """A Scheme global environment plus the means to run code in it."""

    def __init__(self, stdout=None):
        self.stdout = stdout if stdout is not None else sys.stdout
        collecting = gc.isenabled()
        gc.disable()  # start-up makes only lasting objects: collecting them is wasted time
        try:
            self._build_globals()
            by_plan = self._load_prelude()
            control.install_raise(self.genv.lookup("raise"))
            guard_environment(self.genv)
            record_environment(self.genv)
            if by_plan:  # some prelude globals are still pending: snapshot them as such
                from .prelude_plan import snapshot_builtins

                snapshot_builtins(self.genv)
            else:
                self.genv.snapshot_builtins()  # what the standard libraries export
        finally:
            if collecting:
                gc.enable()

    def _build_globals(self):
        """A fresh global environment holding the primitives (the prelude not loaded)."""
        self.genv = GlobalEnv()
        self.units = {}  # hash -> CodeUnit (every unit analysed here)
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
        self.input = Parameter(stdin_port(), None)
        self.genv.define("current-input-port", self.input)
        self.define_tail("eval", self._eval_primitive)
        self.define_tail("load", self._load_primitive)
        self.interaction = Environment(self.genv)
        for name in ("interaction-environment", "system-global-environment"):
            self.define(name, lambda: self.interaction)
        self.define("scheme-report-environment", self._report_environment)
        self.define("null-environment", self._null_environment)
        self.define("environment", self._environment)

    def _load_prelude(self):
        """Load interp/prelude.scm (by its cached plan when there is one, see
        interp/prelude_plan.py); True when loaded by plan."""
        from .prelude_plan import load_prelude

        return load_prelude(self, _prelude_text())

    # -------------------------------------------------------------- host API

    def define(self, name, value):
        """Bind a global: Python callables become primitives named `name`. After
        start-up, the host's definitions are also exported by (flowscheme)."""
        if callable(value) and not isinstance(value, (Primitive, Closure, Parameter)):
            value = Primitive(name, value)
        self.genv.define(name, value)
        self._host_builtin(name, value)

    def define_tail(self, name, fn):
        value = TailPrimitive(name, fn)
        self.genv.define(name, value)
        self._host_builtin(name, value)

    def _host_builtin(self, name, value):
        g = self.genv
        if g.builtins:  # the snapshot is taken: keep it up to date
            s = sym(name)
            g.builtins[s] = value
            if s in g.builtin_cells:
                g.builtin_cells[s].value = value

    def lookup(self, name):
        """The value of a global variable (KeyError if unbound)."""
        return self.genv.lookup(name)

    def call(self, proc, *args):
        """Call a Scheme procedure (or the global procedure named proc) with args."""
        if isinstance(proc, str):
            proc = self.lookup(proc)
        return _host_value(self._run(lambda: TailCall(proc, list(args))))

    def eval(self, text, filename=None):
        """Evaluate every form of `text` in one run; return the last value (a string
        as a Python str, see _host_value)."""
        program = self.program(text, filename)
        return _host_value(self._run_program(program, may_suspend=False))

    def eval_file(self, path):
        """Evaluate a file (the code unit is named by its path)."""
        return self.eval(read_source(path), filename=path)

    def program(self, text, filename=None, datums=None):
        """The Program for text: read now, analysed form by form as it runs."""
        return Program(self.genv, self.units, text, filename, datums)

    def compile(self, text, filename=None):
        """Yield the compiled top-level forms of text one by one (each analysed
        only when the previous one has been, so its macros are in force)."""
        program = self.program(text, filename)
        try:
            for i in range(program.count):
                yield program.code(i)
        finally:
            program.register()

    def _run_program(self, program, may_suspend):
        try:
            return self._run(lambda: program.run_from(0, UNSPECIFIED), may_suspend=may_suspend)
        finally:
            program.register()

    # -------------------------------------------------------------- running

    def _run(self, action, k=None, winders=None, handlers=None, may_suspend=False, **limits):
        """Run action in this interpreter; limits: `granted` and `check` of machine.run."""
        from .values import NIL

        saved = CURRENT.param, CURRENT.input
        CURRENT.param = self.output
        CURRENT.input = self.input
        try:
            return run(
                action,
                k,
                NIL if winders is None else winders,
                NIL if handlers is None else handlers,
                may_suspend,
                **limits,
            )
        finally:
            CURRENT.param, CURRENT.input = saved

    def run_suspendable(self, text, filename=None):
        """Evaluate text; return its value, or a Suspension if a suspender stopped it
        (resuming it runs the rest of the text too)."""
        return self._run_program(self.program(text, filename), may_suspend=True)

    def call_suspendable(self, proc, args, **limits):
        """Call a Scheme procedure; its value, or a Suspension. limits: `granted`
        (the capabilities, see interp.capabilities) and `check` (see machine.run)."""
        return self._run(lambda: TailCall(proc, list(args)), may_suspend=True, **limits)

    def resume(self, suspension, value, **limits):
        """Continue a Suspension with `value` (the suspension itself is unchanged,
        so it can be resumed again); limits as for call_suspendable."""
        return self._run(
            lambda: value,
            suspension.k,
            suspension.winders,
            suspension.handlers,
            may_suspend=True,
            **limits,
        )

    def resume_raising(self, suspension, condition, **limits):
        """Continue a Suspension by raising `condition` (a Scheme value, e.g. an
        error object) where it stopped: its handlers (`guard`,
        `with-exception-handler`) see it as raised there."""
        from .errors import SchemeError

        def action():
            raise SchemeError(condition)

        return self._run(
            action,
            suspension.k,
            suspension.winders,
            suspension.handlers,
            may_suspend=True,
            **limits,
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
        """(eval expr [env]): analyse expr at top level of env (the interaction
        environment by default) and run it right here, so a continuation captured
        inside it is the caller's continuation too."""
        from .printer import write_string

        if env is None or env is sym("interaction-environment"):  # (the latter: older suspensions)
            genv = self.genv
        elif type(env) is Environment:
            genv = env.genv
        else:
            from .errors import type_error

            raise type_error("eval", "an environment", env)
        unit = CodeUnit(write_string(expr), "<eval>")
        try:
            code = Analyzer(genv, unit).compile_toplevel(expr)
        finally:
            self.units[unit.hash] = unit
        return code(None)

    def _environment(self, *specs):
        """(environment import-set ...): a new environment holding just what the
        import sets bring (definitions made in it by eval stay in it)."""
        from .analyzer import import_into

        genv = GlobalEnv(self.genv, "this environment (made by environment from its import sets)")
        genv.restricted = True
        a = Analyzer(genv, CodeUnit("(environment)", "<environment>"))
        import_into(a, list(specs), None)
        return Environment(genv)

    def _report_environment(self, version):
        """(scheme-report-environment 5): the bindings of (scheme r5rs)."""
        self._check_version("scheme-report-environment", version)
        return self._environment(Pair(sym("scheme"), Pair(sym("r5rs"), NIL)))

    def _null_environment(self, version):
        """(null-environment 5): only the syntax of (scheme r5rs)."""
        from .libraries import bind_import, exports_of

        self._check_version("null-environment", version)
        genv = GlobalEnv(self.genv, "the null environment (syntax only)")
        genv.restricted = True
        for name, binding in exports_of(genv, ["scheme", "r5rs"]).items():
            if binding[0] in ("macro", "special"):
                bind_import(genv, name, binding)
        return Environment(genv)

    @staticmethod
    def _check_version(who, version):
        if version != 5 or type(version) is not int:
            from .errors import scheme_error

            raise scheme_error(f"{who}: only version 5 is provided, got", version)

    def _load_primitive(self, path, env=None):
        """(load path): run the file's forms here, in the caller's run."""
        if not is_string(path):
            from .errors import type_error

            raise type_error("load", "a string", path)
        path = string_text(path)
        program = self.program(read_source(path), path)
        try:
            return program.run_from(0, UNSPECIFIED)
        finally:
            program.register()


def _host_value(value):
    """What eval and call hand the host: a mutable string (MString) as the Python str of
    its characters; anything else, data inside lists included, as it is."""
    return value.text() if type(value) is MString else value


def format_value(value):
    """How the REPL and `flowscheme eval` show a value (nothing for unspecified)."""
    from .printer import write_string

    if value is UNSPECIFIED:
        return ""
    if type(value) is MultipleValues:
        return "\n".join(write_string(v) for v in value.items)
    return write_string(value)


__all__ = ["Interpreter", "SchemeError", "SchemeExit", "format_value", "Suspension"]
