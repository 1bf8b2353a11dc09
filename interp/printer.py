"""Scheme values as text: `write_string` (R7RS `write`), `display_string` (`display`)
and `format_number` (`number->string`).

Printing never recurses on the Python stack (long lists, deep nesting) and writes
cycles with R7RS datum labels (`#0=(1 . #0#)`); shared but acyclic structure is
printed in full, as `write` requires. `write_shared_string` (`write-shared`) labels
every pair and vector met more than once. Both kinds of string (str, MString) print alike.
"""

import re
from fractions import Fraction
from functools import lru_cache

from .complexes import ExactComplex
from .numsyntax import format_number, parse_number
from .values import (
    EOF_OBJECT,
    NIL,
    UNSPECIFIED,
    Char,
    MString,
    Pair,
    Symbol,
    Vector,
    scheme_type_name,
)

# ---------------------------------------------------------------- numbers
# Number syntax (format_number, and parse_number for symbols that would read as
# numbers) lives in interp/numsyntax.py, shared with the reader.


# ---------------------------------------------------------------- atoms

CHAR_NAMES = {
    0: "null",
    7: "alarm",
    8: "backspace",
    9: "tab",
    10: "newline",
    11: "vtab",
    12: "page",
    13: "return",
    27: "escape",
    32: "space",
    127: "delete",
}

# the mnemonic escapes Guile writes (\v and \f are Guile's, the rest R7RS)
_STRING_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\a": "\\a",
    "\b": "\\b",
    "\v": "\\v",
    "\f": "\\f",
}


def _escape_char(c, quote):
    e = _STRING_ESCAPES.get(c)
    if e is not None:
        if c == '"' and quote != '"':
            return c
        return e
    if c == quote:
        return "\\" + c
    if c.isprintable():
        return c
    return "\\x%x;" % ord(c)


def _write_str(s):
    if s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    return '"' + "".join([_escape_char(c, '"') for c in s]) + '"'


def _write_char(ch):
    code = ch.code
    name = CHAR_NAMES.get(code)
    if name is not None:
        return "#\\" + name
    c = chr(code)
    if c.isprintable():
        return "#\\" + c
    return "#\\x%x" % code


# A symbol is written without bars when the reader would read the same characters back
# as this symbol: a run of non-delimiters (see ATOM in scheme.lark) that does not start
# with '#', is not '.', and does not read as a number.
_PLAIN_SYMBOL = re.compile(r"[^\s()\[\]\";|'`,#][^\s()\[\]\";|'`,]*\Z")


@lru_cache(maxsize=8192)
def _write_symbol_name(name):
    if (
        _PLAIN_SYMBOL.match(name)
        and name.isprintable()
        and name != "."
        and _reads_as_number(name) is None
    ):
        return name
    return "|" + "".join([_escape_char(c, "|") for c in name]) + "|"


def _reads_as_number(name):
    return parse_number(name)


def _atom(x, write):
    """The text of a value that is not a pair or vector."""
    if x is True:
        return "#t"
    if x is False:
        return "#f"
    t = type(x)
    if t is int or t is float or t is Fraction:
        return format_number(x)
    if t is str:
        return _write_str(x) if write else x
    if t is Symbol:
        return _write_symbol_name(x.name) if write else x.name
    if t is Char:
        return _write_char(x) if write else chr(x.code)
    if t is MString:
        x = x.text()
        return _write_str(x) if write else x
    if x is NIL:
        return "()"
    if t is bytearray:
        return "#u8(" + " ".join(map(str, x)) + ")"
    if x is UNSPECIFIED:
        return "#<unspecified>"
    if x is EOF_OBJECT:
        return "#<eof>"
    if t is complex or t is ExactComplex:
        return format_number(x)
    if not write:
        d = getattr(x, "__scheme_display__", None)
        if d is not None:
            return d()
    w = getattr(x, "__scheme_write__", None)
    if w is not None:
        return w()
    return "#<" + str(scheme_type_name(x)) + ">"


# ---------------------------------------------------------------- structure

# Guile 3.0 writes (quote x), (quasiquote x), (unquote x), (unquote-splicing x) in
# full, and so does flowscheme (the differential tests compare with Guile); set this
# to True to write 'x `x ,x ,@x instead.
ABBREVIATE_QUOTES = False
_ABBREVIATIONS = {"quote": "'", "quasiquote": "`", "unquote": ",", "unquote-splicing": ",@"}


class _Text:
    """Literal output text on the printer's work stack (never a Scheme value)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


_OPEN = _Text("(")
_CLOSE = _Text(")")
_SPACE = _Text(" ")
_DOT = _Text(" . ")


class _TooLarge(Exception):
    pass


_OPTIMISTIC_BUDGET = 20000  # containers the first pass writes before it looks for cycles
_OPTIMISTIC_DEPTH = 200  # nesting the first pass allows before it looks for cycles


def _find_cycle_targets(root, shared=None):
    """ids of the pairs/vectors that close a cycle (targets of DFS back edges).

    Every cycle passes through one of them, so labelling just these lets `write`
    terminate while leaving acyclic sharing unlabelled. A depth-first search with an
    explicit stack; the cdr chain of a list is walked in a loop (a list's pairs stay
    "grey", i.e. on the current path, until the whole list is done). The ids of all
    containers met more than once go into the set `shared`, if given."""
    GREY, BLACK = 1, 2
    color = {}
    targets = set()
    stack = [root]  # containers to visit, and tuples: (pair, spine) = go on with pair.cdr;
    push = stack.append  # (None, objs) = objs are finished
    while stack:
        x = stack.pop()
        t = type(x)
        if t is tuple:
            if x[0] is None:
                for o in x[1]:
                    color[id(o)] = BLACK
                continue
            spine = x[1]
            p = x[0].cdr
        else:
            c = color.get(id(x))
            if c is not None:
                if c == GREY:
                    targets.add(id(x))
                elif shared is not None:
                    shared.add(id(x))
                continue
            if t is Vector:
                color[id(x)] = GREY
                push((None, (x,)))
                for i in range(len(x) - 1, -1, -1):
                    e = x[i]
                    if type(e) is Pair or type(e) is Vector:
                        push(e)
                continue
            spine = []
            push((None, spine))
            p = x
        while type(p) is Pair:
            c = color.get(id(p))
            if c is not None:
                if c == GREY:
                    targets.add(id(p))
                elif shared is not None:
                    shared.add(id(p))
                break
            color[id(p)] = GREY
            spine.append(p)
            a = p.car
            if type(a) is Pair or type(a) is Vector:
                push((p, spine))  # the rest of the list, after the car
                push(a)
                break
            p = p.cdr
        else:
            if type(p) is Vector:
                push(p)
    return targets


# Acyclic shared structure is written in full, as `write` requires; but a small
# structure can share its way to an exponential text (x = (y y), y = (z z), ...).
# When writing in full would print over this many more containers than there are, the
# shared ones get datum labels too (as write-shared would), which read back equal.
_EXPANSION_LIMIT = 1_000_000


def _expansion(root, cut, limit):
    """How many more containers writing root would print than there are, when the
    ones in `cut` (ids) are written once each and referred to by label elsewhere;
    stops early once over limit. A depth-first walk with an explicit path; sizes
    are memoised per container."""
    memo = {}
    later = {id(root)}  # cut containers, each counted once on its own
    starts = [root]
    total = 0
    while starts and total - len(memo) <= limit:
        start = starts.pop()
        path = [[start, (start.car, start.cdr) if type(start) is Pair else start, 0, 1]]
        on_path = {id(start)}
        while path:
            top = path[-1]
            kids = top[1]
            i = top[2]
            n = top[3]
            while i < len(kids):
                c = kids[i]
                i += 1
                if type(c) is not Pair and type(c) is not Vector:
                    continue
                ci = id(c)
                if ci in cut or ci in on_path:  # a label reference
                    n += 1
                    if ci not in later:
                        later.add(ci)
                        starts.append(c)
                    continue
                m = memo.get(ci)
                if m is not None:
                    n += m
                    continue
                top[2] = i
                top[3] = n
                path.append([c, (c.car, c.cdr) if type(c) is Pair else c, 0, 1])
                on_path.add(ci)
                break
            else:
                path.pop()
                on_path.discard(id(top[0]))
                memo[id(top[0])] = n
                if path:
                    path[-1][3] += n
        total += memo[id(start)]
    return total - len(memo)


def _render(root, write, targets, budget):
    """Print a pair or vector with an explicit work stack.

    `targets`: ids of objects that get datum labels (None: assume no cycles).
    `budget`: give up with _TooLarge after this many containers, or on nesting
    deeper than _OPTIMISTIC_DEPTH, as a cycle through cars or vectors soon is
    (None: no limit)."""
    out = []
    depth = 0  # containers open
    emit = out.append
    labels = {}  # id -> label number, once the labelled object has been started
    stack = [root]
    pop = stack.pop
    push = stack.append
    while stack:
        x = pop()
        t = type(x)
        if t is _Text:
            emit(x.text)
            if x is _CLOSE:
                depth -= 1
            continue
        if t is not Pair and t is not Vector:
            emit(_atom(x, write))
            continue
        if budget is not None:
            budget -= 1
            if budget < 0 or depth > _OPTIMISTIC_DEPTH:
                raise _TooLarge
        if targets and id(x) in targets:
            n = labels.get(id(x))
            if n is not None:
                emit("#%d#" % n)
                continue
            n = labels[id(x)] = len(labels)
            emit("#%d=" % n)
        if t is Vector:
            emit("#(")
            push(_CLOSE)
            depth += 1
            for i in range(len(x) - 1, -1, -1):
                push(x[i])
                if i:
                    push(_SPACE)
            continue
        # a pair: the abbreviations 'x `x ,x ,@x for two-element quote forms
        head = x.car
        rest = x.cdr
        if (
            ABBREVIATE_QUOTES
            and type(head) is Symbol
            and type(rest) is Pair
            and rest.cdr is NIL
            and head.name in _ABBREVIATIONS
            and (not targets or id(rest) not in targets)
        ):
            emit(_ABBREVIATIONS[head.name])
            push(rest.car)
            continue
        items = [head]
        p = rest
        if targets:
            while type(p) is Pair and id(p) not in targets:
                items.append(p.car)
                p = p.cdr
        else:
            while type(p) is Pair:
                items.append(p.car)
                p = p.cdr
                if budget is not None:
                    budget -= 1
                    if budget < 0:
                        raise _TooLarge
        emit("(")
        push(_CLOSE)
        depth += 1
        if p is not NIL:
            push(p)
            push(_DOT)
        for i in range(len(items) - 1, 0, -1):
            push(items[i])
            push(_SPACE)
        push(items[0])
    return "".join(out)


def _print(x, write):
    t = type(x)
    if t is not Pair and t is not Vector:
        return _atom(x, write)
    try:
        # Optimistic pass: most data are small and acyclic, so skip cycle detection
        # unless the structure turns out large (or infinite).
        return _render(x, write, None, _OPTIMISTIC_BUDGET)
    except _TooLarge:
        shared = set()
        targets = _find_cycle_targets(x, shared)
        shared -= targets
        if shared and _expansion(x, targets, _EXPANSION_LIMIT) > _EXPANSION_LIMIT:
            targets |= shared
        return _render(x, write, targets, None)


def write_string(x):
    """The R7RS `write` text of x: strings and chars escaped, odd symbols in |bars|."""
    return _print(x, True)


def write_shared_string(x):
    """The R7RS `write-shared` text of x: as `write`, but every pair or vector met more
    than once (shared or in a cycle) gets a datum label, `(#0=(a) #0#)`, numbered in
    the order the labels are written."""
    t = type(x)
    if t is not Pair and t is not Vector:
        return _atom(x, True)
    shared = set()
    targets = _find_cycle_targets(x, shared)
    return _render(x, True, targets | shared, None)


def display_string(x):
    """The R7RS `display` text of x: strings, chars and symbols as their raw characters."""
    return _print(x, False)
