"""The reader's fast path: a hand-written scanner for the common syntax (lists, brackets,
vectors, dotted lists, quote marks, #; comments, atoms, strings, |symbols|, characters).

`read_common(text, filename)` gives exactly what the Lark reader gives (the same datums,
every pair at the same position, through the same token callbacks), or None when the
text uses anything else (block comments, #! directives, datum labels, bytevectors) or is
malformed in any way; reader.read_all then reads it with Lark, which also makes every
error message. So a program that reads cleanly never imports Lark.
"""

import re

from .reader import _ABBREVIATION_SYMBOLS, _NUMBER_START, _ctx, _DatumBuilder, chain_at
from .values import NIL, Pair, SourcePos, Vector, sym

# The terminals of interp/scheme.lark that the fast path reads, as one regular
# expression; each alternative is the grammar's own pattern. Where two terminals
# could start at the same place the grammar's priority decides, so the higher
# priority ones come first (DOT before an ATOM `.`, CHAR before an ATOM `#\`).
# UNSUPPORTED: the terminals left to Lark (#| #! #0= #0# #u8( and a stray |#).
_DELIM = r"""[\s()\[\]";|'`,]"""
_NONDELIM = r"""[^\s()\[\]";|'`,]"""
_TOKEN = re.compile(
    "|".join(
        (
            r"(?P<ws>(?:\s+|;[^\n]*)+)",
            r"(?P<open>[(\[])",
            r"(?P<close>[)\]])",
            r"(?P<vec>#\()",
            rf"(?P<dot>\.(?={_DELIM}|$))",
            r"(?P<mark>,@|[',`])",
            r"(?P<dcomment>#;)",
            rf"(?P<char>#\\.{_NONDELIM}*)",
            r'(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")',
            r"(?P<barsym>\|[^|\\]*(?:\\.[^|\\]*)*\|)",
            r"(?P<unsupported>#[|!0-9]|#u8\(|\|)",
            rf"(?P<atom>{_NONDELIM}+)",
        )
    ),
    re.S,
)
_MARK_TYPES = {"'": "QUOTE", "`": "QUASIQUOTE", ",": "UNQUOTE", ",@": "UNQUOTE_SPLICING"}
_SKIP = object()  # a pending #; (it drops the next datum)


class _Token:
    """What the reader's token callbacks look at: the text and where it starts."""

    __slots__ = ("value", "line", "column")

    def __init__(self, value, line, column):
        self.value = value
        self.line = line
        self.column = column


class _Unsupported(Exception):
    """The text needs the Lark reader (syntax not handled here, or an error)."""


_BUILD = _DatumBuilder()


def read_common(text, filename):
    """The datums of text as ((datum, line, col), ...) entries, or None (see the module doc)."""
    _ctx.filename = filename  # what the callbacks look at (no #!fold-case here)
    _ctx.fold_case = False
    try:
        return _read(text, filename)
    except Exception:  # _Unsupported, a SchemeSyntaxError from a callback, or worse
        return None


def _read(text, filename):
    match = _TOKEN.match
    n = len(text)
    pos = 0
    line = 1
    line_start = 0  # index of the first character of the current line
    # One frame per open list: [items, pending prefixes, opener, line, col, the items
    # before the dot (then `items` are those after it) or None]
    top = [[], [], None, 0, 0, None]
    stack = [top]
    frame = top
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise _Unsupported
        kind = m.lastgroup
        end = m.end()
        col = pos - line_start + 1
        if kind == "ws" or kind == "string" or kind == "barsym" or kind == "char":
            nl = text.count("\n", pos, end)
            if nl:
                tok_line = line
                line += nl
                line_start = text.rindex("\n", pos, end) + 1
            else:
                tok_line = line
            if kind == "ws":
                pos = end
                continue
            tok = _Token(m.group(), tok_line, col)
            if kind == "string":
                datum = _BUILD.STRING(tok)
            elif kind == "barsym":
                datum = _BUILD.BARSYM(tok)
            else:
                datum = _BUILD.CHAR(tok)
        elif kind == "atom":
            value = m.group()
            c = value[0]
            if c != "#" and c not in _NUMBER_START and not _ctx.fold_case:
                datum = (sym(value), line, col)
            else:
                datum = _BUILD.ATOM(_Token(value, line, col))
        elif kind == "open" or kind == "vec":
            frame = [[], [], text[pos], line, col, None]
            stack.append(frame)
            pos = end
            continue
        elif kind == "close":
            if frame is top or frame[1]:
                raise _Unsupported  # nothing open, or a quote mark / #; waiting for its datum
            closer = text[pos]
            opener = frame[2]
            if (closer == "]") != (opener == "["):
                raise _Unsupported
            items = frame[0]
            before = frame[5]
            if opener == "#":
                datum = (Vector([e[0] for e in items]), frame[3], frame[4])
            elif before is not None:  # dotted: items are the data after the dot
                if len(items) != 1:
                    raise _Unsupported
                datum = chain_at(before, items[0][0], filename, frame[3], frame[4])
            elif items:
                datum = chain_at(items, NIL, filename, frame[3], frame[4])
            else:
                datum = (NIL, frame[3], frame[4])
            stack.pop()
            frame = stack[-1]
        elif kind == "mark":
            frame[1].append((_ABBREVIATION_SYMBOLS[_MARK_TYPES[m.group()]], line, col))
            pos = end
            continue
        elif kind == "dcomment":
            frame[1].append(_SKIP)
            pos = end
            continue
        elif kind == "dot":
            if frame is top or frame[2] == "#" or frame[5] is not None or frame[1] or not frame[0]:
                raise _Unsupported
            frame[5] = frame[0]
            frame[0] = []
            pos = end
            continue
        else:  # unsupported
            raise _Unsupported
        pos = end
        # a datum is complete: the prefixes waiting in this frame apply, innermost first
        pending = frame[1]
        while pending:
            p = pending.pop()
            if p is _SKIP:
                datum = None
                break
            inner = Pair(datum[0], NIL)
            inner.pos = SourcePos(filename, datum[1], datum[2])
            outer = Pair(p[0], inner)
            outer.pos = SourcePos(filename, p[1], p[2])
            datum = (outer, p[1], p[2])
        if datum is not None:
            frame[0].append(datum)
    if frame is not top or top[1]:
        raise _Unsupported  # unclosed list, or a prefix at the very end
    return top[0]
