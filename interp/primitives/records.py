"""Record types (define-record-type), parameter objects and arity checks."""

from ..barrier import WATCHED
from ..errors import scheme_error, type_error
from ..values import NIL, Pair, Symbol, UNSPECIFIED
from . import Primitive, primitive


class RecordType:
    __slots__ = ("name", "fields")
    type_name = "record-type"

    def __init__(self, name, fields):
        self.name = name  # str, without the <> decoration
        self.fields = fields  # tuple of field names (str)

    def __scheme_write__(self):
        return f"#<record-type {self.name}>"


class Record:
    __slots__ = ("rtd", "values")

    def __init__(self, rtd, values):
        self.rtd = rtd
        self.values = values  # a list, one slot per field

    @property
    def type_name(self):
        return self.rtd.name

    def __scheme_write__(self):
        from ..printer import write_string

        parts = " ".join(f"{f}: {write_string(v)}" for f, v in zip(self.rtd.fields, self.values))
        return f"#<{self.rtd.name} {parts}>" if parts else f"#<{self.rtd.name}>"


class RecordProcedure(Primitive):
    """A constructor, predicate, accessor or modifier of a record type."""

    __slots__ = ("rtd", "kind", "field")


def _strip_brackets(name):
    return name[1:-1] if name.startswith("<") and name.endswith(">") and len(name) > 2 else name


@primitive("%make-record-type")
def make_record_type(name, specs):
    fields = []
    x = specs
    while type(x) is Pair:
        spec = x.car
        fields.append((spec.car if type(spec) is Pair else spec).name)
        x = x.cdr
    return RecordType(_strip_brackets(name.name), tuple(fields))


def record_procedure(rtd, kind, field, name):
    """The record procedure of `kind` for rtd (also used to rebuild one on import)."""
    if kind == "constructor":
        idx = [rtd.fields.index(f) for f in field] if field is not None else list(range(len(rtd.fields)))
        n = len(rtd.fields)

        def construct(*args):
            if len(args) != len(idx):
                raise scheme_error(f"{name}: expected {len(idx)} arguments, got {len(args)}")
            values = [False] * n
            for i, a in zip(idx, args):
                values[i] = a
            return Record(rtd, values)

        fn = construct
    elif kind == "predicate":

        def fn(x):
            return type(x) is Record and x.rtd is rtd

    elif kind == "accessor":
        i = rtd.fields.index(field)

        def fn(r):
            if type(r) is not Record or r.rtd is not rtd:
                raise type_error(name, f"a {rtd.name} record", r)
            return r.values[i]

    elif kind == "modifier":
        i = rtd.fields.index(field)
        watcher_of = WATCHED.get  # the write barrier (interp.barrier)

        def fn(r, v):
            if type(r) is not Record or r.rtd is not rtd:
                raise type_error(name, f"a {rtd.name} record", r)
            r.values[i] = v
            w = watcher_of(id(r))
            if w is not None:
                w.touched(r)
            return UNSPECIFIED

    else:  # pragma: no cover
        raise ValueError(kind)
    p = RecordProcedure(name, fn)
    p.rtd = rtd
    p.kind = kind
    p.field = field
    return p


def _rtd(x, who):
    if type(x) is not RecordType:
        raise type_error(who, "a record type", x)
    return x


@primitive("%record-constructor")
def record_constructor(rtd, fields, name):
    rtd = _rtd(rtd, "define-record-type")
    names = None
    if fields is not False:
        names = []
        x = fields
        while type(x) is Pair:
            if x.car.name not in rtd.fields:
                raise scheme_error(f"define-record-type: {x.car.name} is not a field of {rtd.name}")
            names.append(x.car.name)
            x = x.cdr
        names = tuple(names)
    return record_procedure(rtd, "constructor", names, name.name)


@primitive("%record-predicate")
def record_predicate(rtd):
    rtd = _rtd(rtd, "define-record-type")
    return record_procedure(rtd, "predicate", None, f"{rtd.name}?")


@primitive("%record-accessor")
def record_accessor(rtd, field, name):
    rtd = _rtd(rtd, "define-record-type")
    return record_procedure(rtd, "accessor", field.name, name.name)


@primitive("%record-modifier")
def record_modifier(rtd, field, name):
    rtd = _rtd(rtd, "define-record-type")
    return record_procedure(rtd, "modifier", field.name, name.name)


@primitive("record?")
def record_p(x):
    return type(x) is Record
