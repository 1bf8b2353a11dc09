"""Pretty-printing: a value's `write` text laid out over lines of a given width,
the way Scheme code is indented (the REPL's ,pp and ,expand use it).

A list that fits on the rest of its line is written flat. One that does not is
broken: forms that take a head and a body (define, lambda, let, ...) indent
their body by two columns; any other list aligns its elements under its second
one when the first is short, or under the first otherwise. Vectors break like
lists. Structure with cycles is written flat (datum labels make no sense to
break). Never recurses on the Python stack.
"""

from .printer import write_string
from .values import NIL, Pair, Symbol, Vector

WIDTH = 79

# how many leading elements stay on the head's line before the body is indented
_BODY_FORMS = {
    "define": 1, "define-syntax": 1, "define-record-type": 2, "define-values": 1, "defflow": 1,
    "lambda": 1, "named-lambda": 1, "let": 1, "let*": 1, "letrec": 1, "letrec*": 1,
    "let-values": 1, "let*-values": 1, "let-syntax": 1, "letrec-syntax": 1, "syntax-rules": 1,
    "when": 1, "unless": 1, "do": 2, "case": 1, "guard": 1, "parameterize": 1,
    "dynamic-wind": 0, "begin": 0, "cond": 0, "case-lambda": 0, "fresh": 1, "conde": 0,
}


def pretty_string(value, width=WIDTH):
    """`value` written as `write` does, laid out to fit `width` columns where it can."""
    flat = write_string(value)
    if len(flat) <= width or "#0=" in flat or not isinstance(value, (Pair, Vector)):
        return flat
    out = []
    # work stack: ("value", x, column, closers) to lay x out starting at column and
    # then write `closers`; ("text", s) to write s as it is
    stack = [("value", value, 0, "")]
    column = 0
    while stack:
        item = stack.pop()
        if item[0] == "text":
            out.append(item[1])
            column = _column_after(item[1], column)
            continue
        _, x, indent, closers = item
        text = write_string(x)
        if len(text) + len(closers) <= width - indent or not _breakable(x):
            out.append(text + closers)
            column = indent + len(text) + len(closers)
            continue
        opener, items, tail = _parts(x)
        if not any(_breakable(i) for i in items) and not (items and isinstance(items[0], Symbol)):
            filled = _fill(opener, items, tail, indent, width) + closers  # data: fill the lines
            out.append(filled)
            column = _column_after(filled, indent)
            continue
        head_text = opener
        body_indent = indent + len(opener)
        first = 0
        if items and isinstance(items[0], Symbol):
            name = items[0].name
            keep = _BODY_FORMS.get(name)
            if keep is not None:
                body_indent = indent + len(opener) + 1
                head_items = items[: 1 + keep]
                head_text = opener + " ".join(write_string(i) for i in head_items)
                first = len(head_items)
            elif len(name) <= 12 and len(items) > 1:
                body_indent = indent + len(opener) + len(name) + 1
                head_text = opener + name + " "
                first = 1
        # lay the rest out one per line, the first of them on the head's line
        todo = []
        rest = items[first:]
        for i, element in enumerate(rest):
            last = i == len(rest) - 1
            close = (" . " + write_string(tail) + ")" if tail is not None else ")") + closers if last else ""
            if i == 0 and first == 0:
                todo.append(("value", element, body_indent, close))
            elif i == 0 and head_text.endswith(" "):
                todo.append(("value", element, body_indent, close))
            else:
                todo.append(("text", "\n" + " " * body_indent))
                todo.append(("value", element, body_indent, close))
        if not rest:
            todo.append(("text", (" . " + write_string(tail) + ")" if tail is not None else ")") + closers))
        out.append(head_text)
        column = indent + len(head_text)
        stack.extend(reversed(todo))
    return "".join(out)


def _fill(opener, items, tail, indent, width):
    """Atoms written as many to a line as fit, continuation lines under the first."""
    words = [write_string(i) for i in items]
    if tail is not None:
        words += [".", write_string(tail)]
    lines, line = [], opener
    start = indent + len(opener)
    for w in words:
        if line not in (opener, "") and start + len(line) - (len(opener) if not lines else 0) + 1 + len(w) > width:
            lines.append(line)
            line = ""
        line = w if line == "" else (line + w if line == opener else line + " " + w)
    lines.append(line + ")")
    return ("\n" + " " * start).join(lines)


def _column_after(text, column):
    newline = text.rfind("\n")
    return column + len(text) if newline < 0 else len(text) - newline - 1


def _breakable(x):
    return (type(x) is Pair and x.cdr is not NIL) or (type(x) is Pair and type(x.car) in (Pair, Vector)) \
        or (type(x) is Vector and len(x) > 1)


def _parts(x):
    """(opener, elements, improper tail or None) of a list or vector."""
    if type(x) is Vector:
        return "#(", list(x), None
    items = []
    while type(x) is Pair:
        items.append(x.car)
        x = x.cdr
    return "(", items, (None if x is NIL else x)
