"""Control primitives: apply, call/cc, values, dynamic state, raise, and the
higher-order procedures written in Python (map, for-each) that keep a
continuation capturable while they call back into Scheme."""

from .barrier import touch
from .errors import ErrorObject, SchemeError, scheme_error, type_error
from .machine import (
    NIL,
    RAISE,
    Capture,
    D,
    Frame,
    RESUMERS,
    TailCall,
    TailPrimitive,
    Winder,
    call,
    is_procedure,
    resumer,
)
from .primitives import PRIMITIVES, Primitive, primitive
from .primitives.lists import list_items
from .values import MultipleValues, Pair, UNSPECIFIED, list_to_pairs


def tail_primitive(*names):
    def register(fn):
        for name in names:
            PRIMITIVES[name] = TailPrimitive(name, fn)
        return fn

    return register


def _check_proc(who, f):
    if not is_procedure(f):
        raise type_error(who, "a procedure", f)


@tail_primitive("apply")
def apply_(f, *args):
    _check_proc("apply", f)
    if not args:
        raise scheme_error("apply: expected a procedure and a list of arguments, got no list")
    lst = args[-1]
    if type(lst) is not Pair and lst is not NIL:
        raise type_error("apply", "a proper list as last argument", lst)
    return TailCall(f, list(args[:-1]) + list_items("apply", lst))  # (a circular list is an error)


@tail_primitive("call-with-current-continuation", "call/cc")
def call_cc(f):
    _check_proc("call/cc", f)
    raise Capture("callcc", f)


@primitive("values")
def values(*xs):
    if len(xs) == 1:
        return xs[0]
    return MultipleValues(list(xs))


def _as_list(v):
    if type(v) is MultipleValues:
        return list(v.items)
    return [v]


@tail_primitive("call-with-values")
def call_with_values(producer, consumer):
    _check_proc("call-with-values", producer)
    _check_proc("call-with-values", consumer)
    try:
        v = call(producer, [])
    except Capture as cap:
        cap.frames.append(Frame(RESUMERS["call-with-values"], None, consumer))
        raise
    return TailCall(consumer, _as_list(v))


@resumer("call-with-values")
def _resume_cwv(frame, value):
    return TailCall(frame.data, _as_list(value))


@primitive("procedure?")
def procedure_p(x):
    return is_procedure(x)


# ------------------------------------------------------------------ dynamic state


@primitive("%wind-push!")
def wind_push(before, after):
    D.winders = Pair(Winder(before, after), D.winders)
    return UNSPECIFIED


@primitive("%wind-pop!")
def wind_pop():
    D.winders = D.winders.cdr
    return UNSPECIFIED


@primitive("%handlers")
def handlers():
    return D.handlers


@primitive("%set-handlers!")
def set_handlers(hs):
    D.handlers = hs
    return UNSPECIFIED


@primitive("%handlers-push!")
def handlers_push(h):
    _check_proc("with-exception-handler", h)
    D.handlers = Pair(h, D.handlers)
    return UNSPECIFIED


@primitive("%raise-uncaught")
def raise_uncaught(obj):
    e = SchemeError(obj, obj.pos if type(obj) is ErrorObject else None)
    e.dispatched = True
    raise e


@primitive("%handler-returned")
def handler_returned(obj):
    raise scheme_error("handler returned from non-continuable raise:", obj)


@primitive("error")
def error(message, *irritants):
    from .printer import display_string

    msg = message if type(message) is str else display_string(message)
    raise SchemeError(ErrorObject(msg, irritants))


@primitive("error-object?")
def error_object_p(x):
    return type(x) is ErrorObject


@primitive("error-object-message", "condition/report-string")
def error_object_message(x):
    if type(x) is not ErrorObject:
        raise type_error("error-object-message", "an error object", x)
    return x.message


@primitive("error-object-irritants")
def error_object_irritants(x):
    if type(x) is not ErrorObject:
        raise type_error("error-object-irritants", "an error object", x)
    return list_to_pairs(x.irritants)


@primitive("file-error?")
def file_error_p(x):
    return type(x) is ErrorObject and x.kind == "file"


@primitive("read-error?")
def read_error_p(x):
    return type(x) is ErrorObject and x.kind in ("read", "syntax")


# ------------------------------------------------------------------ map / for-each


def _check_list(who, lst):
    x = lst
    while type(x) is Pair:
        x = x.cdr
    if x is not NIL:
        raise type_error(who, "a proper list", lst)


@primitive("map")
def map_(f, lst, *more):
    _check_proc("map", f)
    if more:
        return _map_n(f, (lst,) + more, [])
    _check_list("map", lst)
    return _map1(f, lst, [])


def _map1(f, x, out):
    prim = type(f) is Primitive
    while type(x) is Pair:
        if prim:
            out.append(f.fn(x.car))
        else:
            try:
                v = call(f, [x.car])
            except Capture as cap:
                cap.frames.append(Frame(RESUMERS["map1"], None, (f, x.cdr, tuple(out))))
                raise
            out.append(v)
        x = x.cdr
    return list_to_pairs(out)


@resumer("map1")
def _resume_map1(frame, value):
    f, rest, acc = frame.data
    out = list(acc)
    out.append(value)
    return _map1(f, rest, out)


def _map_n(f, lists, out):
    lists = list(lists)
    while all(type(x) is Pair for x in lists):
        args = [x.car for x in lists]
        rest = tuple(x.cdr for x in lists)
        try:
            v = call(f, args)
        except Capture as cap:
            cap.frames.append(Frame(RESUMERS["map-n"], None, (f, rest, tuple(out))))
            raise
        out.append(v)
        lists = rest
    return list_to_pairs(out)


@resumer("map-n")
def _resume_map_n(frame, value):
    f, rest, acc = frame.data
    out = list(acc)
    out.append(value)
    return _map_n(f, rest, out)


def _list_kind(x):
    """"proper", "circular" or "improper" (Brent's cycle check, no extra memory)."""
    mark = x
    n, limit = 0, 2
    while type(x) is Pair:
        x = x.cdr
        if x is mark:
            return "circular"
        n += 1
        if n == limit:
            mark = x
            limit <<= 1
    return "proper" if x is NIL else "improper"


@primitive("for-each")
def for_each(f, lst, *more):
    """Stops at the end of the shortest list: with several lists, some may be
    circular as long as one is finite (R7RS 6.10, as chibi)."""
    _check_proc("for-each", f)
    lists = (lst,) + more
    kinds = [_list_kind(x) for x in lists]
    for x, kind in zip(lists, kinds):
        if kind == "improper":
            raise type_error("for-each", "a proper list", x)
    if "proper" not in kinds:
        raise type_error("for-each", "a finite list (every list is circular)", lst)
    return _for_each(f, lists)


def _for_each(f, lists):
    lists = list(lists)
    while all(type(x) is Pair for x in lists):
        args = [x.car for x in lists]
        rest = tuple(x.cdr for x in lists)
        try:
            call(f, args)
        except Capture as cap:
            cap.frames.append(Frame(RESUMERS["for-each"], None, (f, rest)))
            raise
        lists = rest
    return UNSPECIFIED


@resumer("for-each")
def _resume_for_each(frame, value):
    f, rest = frame.data
    return _for_each(f, rest)


def install_raise(proc):
    """Tell the machine which Scheme procedure raises (for primitive errors)."""
    RAISE[0] = proc


# ------------------------------------------------------------------ parameters, arity


@primitive("%make-parameter")
def make_parameter(value, converter):
    from .machine import Parameter

    return Parameter(value, converter)


def _param(p):
    from .machine import Parameter

    if type(p) is not Parameter:
        raise type_error("parameterize", "a parameter object", p)
    return p


@primitive("%parameter-converter")
def parameter_converter(p):
    return _param(p).converter or False


@primitive("%parameter-value")
def parameter_value(p):
    return _param(p).value


@primitive("%parameter-set!")
def parameter_set(p, v):
    _param(p).value = v
    touch(p)
    return UNSPECIFIED


@primitive("%arity-accepts?")
def arity_accepts(f, n):
    from .machine import Closure

    if type(f) is Closure:
        lam = f.lam
        return n == lam.nreq or (lam.rest and n >= lam.nreq)
    if isinstance(f, Primitive):
        return f.arity_ok(n)
    return True


@primitive("features")
def features():
    from .libraries import FEATURES
    from .values import sym

    return list_to_pairs([sym(f) for f in FEATURES])


@primitive("emergency-exit")
def emergency_exit(code=0):
    """(emergency-exit [code]): like exit, but the dynamic-wind `after` thunks of
    the extents it leaves do not run (R7RS 6.14)."""
    from .errors import SchemeExit

    D.winders = NIL  # nothing left to unwind
    raise SchemeExit.of(code)
