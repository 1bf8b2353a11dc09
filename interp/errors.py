"""The one exception type a Scheme error raises, and the error objects it carries.

`SchemeError` carries the raised Scheme object (`payload`: an `ErrorObject` for
`(error ...)` and primitive errors, anything at all for `(raise obj)`), the source
position of the innermost expression that failed, and a Scheme-level backtrace of
(procedure name, call position) pairs, innermost first.
"""


class ErrorObject:
    """An R7RS error object: message, irritants, and a kind for the predicates."""

    __slots__ = ("message", "irritants", "kind", "pos")
    type_name = "error-object"

    def __init__(self, message, irritants=(), kind="error", pos=None):
        self.message = message
        self.irritants = list(irritants)
        self.kind = kind  # "error", "file", "read", "assertion", ...
        self.pos = pos  # where it was raised, once known

    def __repr__(self):
        return f"ErrorObject({self.message!r}, {self.irritants!r})"


class SchemeError(Exception):
    """A Scheme-level error: what was raised, where, and the Scheme backtrace."""

    def __init__(self, payload, pos=None):
        super().__init__()
        self.payload = payload
        self.pos = pos
        self.backtrace = []  # [(name, SourcePos or None)], innermost first
        self.dispatched = False  # already handed to the Scheme handlers

    @property
    def message(self):
        from .printer import write_string

        p = self.payload
        if isinstance(p, ErrorObject):
            parts = [p.message] + [write_string(x) for x in p.irritants]
            return " ".join(parts)
        return "uncaught raise: " + write_string(p)

    @property
    def irritants(self):
        p = self.payload
        return list(p.irritants) if isinstance(p, ErrorObject) else [p]

    def add_frame(self, name, pos):
        if len(self.backtrace) < 1000:
            self.backtrace.append((name, pos))

    def located_message(self):
        """`file:line:col: message`, or just the message when the place is unknown."""
        if self.pos is not None:
            return f"{self.pos}: {self.message}"
        return self.message

    def format(self, limit=10):
        """The message with its place, then a short backtrace, for humans."""
        lines = [self.located_message()]
        if self.backtrace:
            lines.append("backtrace (innermost first):")
            for name, pos in self.backtrace[:limit]:
                where = f" at {pos}" if pos is not None else ""
                lines.append(f"  {name}{where}")
            if len(self.backtrace) > limit:
                lines.append(f"  ... {len(self.backtrace) - limit} more")
        return "\n".join(lines)

    def __str__(self):
        return self.located_message()


def scheme_error(message, *irritants, kind="error"):
    """A SchemeError for an error object (raise it: `raise scheme_error(...)`)."""
    return SchemeError(ErrorObject(message, irritants, kind))


def type_error(proc_name, expected, got):
    """`car: expected a pair, got 5`."""
    from .printer import write_string

    return SchemeError(
        ErrorObject(f"{proc_name}: expected {expected}, got {write_string(got)}", ())
    )


class SchemeSyntaxError(SchemeError):
    """A malformed program: reader errors and bad special forms (a SchemeError too)."""

    def __init__(self, message, pos=None, kind="syntax"):
        super().__init__(ErrorObject(message, (), kind), pos)


class SchemeExit(BaseException):
    """Raised by (exit): unwinds everything to the host (not an error: a
    BaseException, so that Scheme handlers and `except Exception` never catch it)."""

    def __init__(self, code):
        self.code = code

    @classmethod
    def of(cls, obj):
        """The exit of (exit obj): #t or no argument is status 0, #f is 1, an
        integer is itself, anything else is 0 (R7RS 6.14)."""
        if obj is False:
            return cls(1)
        return cls(obj if type(obj) is int else 0)
