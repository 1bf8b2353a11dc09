"""The reader: Scheme source text to datums (pairs, symbols, numbers, ...) with source positions.

The grammar is interp/scheme.lark (Lark, LALR, contextual lexer). Callbacks run during
the parse and build the datums directly (no parse tree, no Python recursion), so very
long lists and very deep nesting read fine. read_all first tries interp/reader_fast.py, a
hand-written scanner for the common syntax that gives the same datums through the same
callbacks (so start-up need not import Lark), and uses Lark for anything else and for
every error. Every pair gets a `pos` (SourcePos): the
first pair of a list the position of its `(` (or of the quote mark of 'x), later pairs
the position of their own element. Malformed text raises SchemeSyntaxError with a
specific message and position; nothing else escapes.

Public API: read_all, read_datum, is_complete, parse_number (and NumberTooLarge).
"""

import json
import os
import re
import sys
import threading

from .errors import SchemeSyntaxError
from .numsyntax import NumberTooLarge, decimal_int as _decimal_int, parse_number
from .sha import sha256
from .values import EOF_OBJECT, MAX_INTEGER_BITS, NIL, Pair, SourcePos, Vector, char, sym

__all__ = ["read_all", "read_datum", "is_complete", "parse_number", "NumberTooLarge"]

# ---------------------------------------------------------------- numbers
# Number syntax lives in interp/numsyntax.py (shared with the printer and
# string->number); the reader re-exports parse_number and NumberTooLarge.


# ---------------------------------------------------------------- characters and strings

CHAR_NAMES = {
    "alarm": 7,
    "backspace": 8,
    "delete": 127,
    "escape": 27,
    "newline": 10,
    "null": 0,
    "nul": 0,
    "return": 13,
    "space": 32,
    "tab": 9,
    "linefeed": 10,
    "page": 12,
    "vtab": 11,
    "altmode": 27,
    "esc": 27,
    "rubout": 127,
}

_HEX_CHAR = re.compile(r"x([0-9a-fA-F]+)\Z")

_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]*)(;?)|[ \t]*(?:\r\n|\n|\r)[ \t]*|(.)|\Z)", re.S)
_MNEMONIC = {
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "r": "\r",
    "v": "\v",  # \v and \f: Guile's, not R7RS
    "f": "\f",
    '"': '"',
    "\\": "\\",
    "|": "|",
}


class _BadEscape(Exception):
    def __init__(self, offset, text):
        self.offset = offset
        self.text = text


def _unescape_match(m):
    hexdigits = m.group(1)
    if hexdigits is not None:
        if not hexdigits or not m.group(2):
            raise _BadEscape(m.start(), "\\x" + hexdigits + m.group(2) + " (expected \\xHH;)")
        code = int(hexdigits, 16)
        if code > 0x10FFFF:
            raise _BadEscape(m.start(), "\\x" + hexdigits + "; (not a character)")
        return chr(code)
    c = m.group(3)
    if c is None:
        if m.end() == m.start() + 1:  # a lone backslash at the very end
            raise _BadEscape(m.start(), "\\")
        return ""  # \<newline>: line continuation
    r = _MNEMONIC.get(c)
    if r is None:
        raise _BadEscape(m.start(), "\\" + c)
    return r


def _chain(items, tail, lpar):
    """The list of items ((datum, line, col) each) ending in tail, as read at lpar."""
    return chain_at(items, tail, _ctx.filename, lpar.line, lpar.column)


def chain_at(items, tail, filename, line, col):
    """The list of items ((datum, line, col) each) ending in tail, opened at
    line:col: the first pair gets the opener's position, each later pair its own
    element's."""
    result = tail
    for i in range(len(items) - 1, 0, -1):
        e = items[i]
        result = Pair(e[0], result)
        result.pos = SourcePos(filename, e[1], e[2])
    result = Pair(items[0][0], result)
    result.pos = SourcePos(filename, line, col)
    return (result, line, col)


def _offset_pos(tok, offset):
    """(line, col) of character `offset` inside token `tok`."""
    text = tok.value
    nl = text.rfind("\n", 0, offset)
    if nl < 0:
        return tok.line, tok.column + offset
    return tok.line + text.count("\n", 0, offset), offset - nl


def _unescape(tok, what):
    body = tok.value[1:-1]
    if "\\" not in body:
        return body
    try:
        return _ESCAPE.sub(_unescape_match, body)
    except _BadEscape as e:
        line, col = _offset_pos(tok, e.offset + 1)
        raise _error(f"bad escape {e.text} in {what}", line, col) from None


# ---------------------------------------------------------------- building datums

_ctx = threading.local()  # per read: filename, datum labels, #!fold-case in force


def _error(message, line, col, incomplete=False):
    err = SchemeSyntaxError(message, SourcePos(getattr(_ctx, "filename", None), line, col))
    err.incomplete = incomplete  # True: more input could make the text valid (REPL)
    return err


_BOOLEANS = {"#t": True, "#f": False, "#true": True, "#false": False}
_NUMBER_START = frozenset("0123456789+-.")
_ABBREVIATION_SYMBOLS = {
    "QUOTE": sym("quote"),
    "QUASIQUOTE": sym("quasiquote"),
    "UNQUOTE": sym("unquote"),
    "UNQUOTE_SPLICING": sym("unquote-splicing"),
}


def _number(tok):
    """parse_number of the token, a syntax error if it is too large."""
    try:
        return parse_number(tok.value, strict=True)
    except NumberTooLarge:
        raise _error(
            f"number {tok.value[:40]}{'...' if len(tok.value) > 40 else ''} is too large "
            f"(the limit is {MAX_INTEGER_BITS} bits)",
            tok.line,
            tok.column,
        ) from None


def _hash_atom(tok):
    text = tok.value
    b = _BOOLEANS.get(text.lower())
    if b is not None:
        return b
    if text[1:2].lower() in ("x", "b", "o", "d", "e", "i"):
        n = _number(tok)
        if n is None:
            raise _error(f"bad number syntax {text}", tok.line, tok.column)
        return n
    if text.startswith("#\\"):  # '#\' at the very end of the input
        raise _error(f"bad character name {text}", tok.line, tok.column)
    raise _error(f"unknown # syntax {text}", tok.line, tok.column)


def _label_number(tok):
    """The n of a `#n=` or `#n#` token (any number of digits)."""
    return _decimal_int(tok.value[1:-1])


class _Placeholder:
    """Stands for a datum label's value while that datum is still being read; `value`
    is that datum once read (the placeholders are replaced at the end of the read)."""

    __slots__ = ("label", "used", "value")

    def __init__(self, label):
        self.label = label
        self.used = False
        self.value = self


def _resolve(x):
    """The value a placeholder stands for (x itself if it is not one)."""
    while type(x) is _Placeholder and x.value is not x:
        x = x.value
    return x


def _patch(roots):
    """Replace every placeholder in the data `roots` by its datum, in one pass over
    all of them at the end of the read (iterative, cycle-safe): patching each label's
    datum as it ends would walk nested labelled data again and again."""
    seen = set()
    todo = list(roots)
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if type(x) is Pair:
            a = x.car
            if type(a) is _Placeholder:
                x.car = _resolve(a)
            elif type(a) is Pair or type(a) is Vector:
                todo.append(a)
            d = x.cdr
            if type(d) is _Placeholder:
                x.cdr = _resolve(d)
            elif type(d) is Pair or type(d) is Vector:
                todo.append(d)
        elif type(x) is Vector:
            for i, e in enumerate(x):
                if type(e) is _Placeholder:
                    x[i] = _resolve(e)
                elif type(e) is Pair or type(e) is Vector:
                    todo.append(e)


class _DatumBuilder:
    """Lark callbacks (inline transformer): each datum becomes (value, line, col)."""

    # ---- terminals (called when the parser shifts the token)

    def ATOM(self, tok):
        text = tok.value
        c = text[0]
        if c == "#":
            return (_hash_atom(tok), tok.line, tok.column)
        if c in _NUMBER_START:
            if text.isdigit() and text.isascii() and len(text) < 4000:
                return (int(text), tok.line, tok.column)
            n = _number(tok)
            if n is not None:
                return (n, tok.line, tok.column)
            if text == ".":
                raise _error("unexpected .", tok.line, tok.column)
        if _ctx.fold_case:
            text = text.casefold()
        return (sym(text), tok.line, tok.column)

    def STRING(self, tok):
        return (_unescape(tok, "string"), tok.line, tok.column)

    def BARSYM(self, tok):
        return (sym(_unescape(tok, "|symbol|")), tok.line, tok.column)

    def CHAR(self, tok):
        name = tok.value[2:]
        if len(name) == 1:
            return (char(name), tok.line, tok.column)
        if _ctx.fold_case:  # character names fold (#\SPACE), characters never (#\A)
            name = name.casefold()
        code = CHAR_NAMES.get(name)
        if code is None:
            m = _HEX_CHAR.match(name)
            if m is not None and len(m.group(1)) <= 8:
                code = int(m.group(1), 16)
            if code is None or code > 0x10FFFF:
                raise _error(f"bad character name {tok.value}", tok.line, tok.column)
        return (char(chr(code)), tok.line, tok.column)

    def LABEL_DEF(self, tok):
        labels = getattr(_ctx, "labels", None)
        if labels is None:
            labels = _ctx.labels = {}
        n = _label_number(tok)
        if type(labels.get(n)) is _Placeholder:  # its datum is being read
            raise _error(f"datum label #{n}= defined again inside its own datum", tok.line, tok.column)
        labels[n] = _Placeholder(n)
        return tok

    def LABEL_REF(self, tok):
        labels = getattr(_ctx, "labels", None) or {}
        n = _label_number(tok)
        if n not in labels:
            raise _error(f"undefined datum label {tok.value}", tok.line, tok.column)
        v = labels[n]
        if type(v) is _Placeholder:
            v.used = True
        return (v, tok.line, tok.column)

    # ---- rules

    def seq(self, c):
        if not c:
            return []
        s = c[0]
        x = c[1]
        if x is not None:  # None: a datum comment
            s.append(x)
        return s

    def start(self, c):
        positions = getattr(_ctx, "positions", None)
        if positions is not None:
            fname = _ctx.filename
            positions.extend(SourcePos(fname, e[1], e[2]) for e in c[0])
        data = [e[0] for e in c[0]]
        if getattr(_ctx, "patch", False):
            _ctx.patch = False
            data = [_resolve(d) for d in data]
            _patch(data)
        return data

    def skip(self, c):
        return None

    def list(self, c):
        lpar = c[0]
        items = c[1]
        if not items:
            return (NIL, lpar.line, lpar.column)
        return _chain(items, NIL, lpar)

    def dotted(self, c):
        lpar, items, dot, after, rpar = c
        if not items:  # ( . x)
            raise _error("unexpected .", dot.line, dot.column)
        if not after:
            raise _error("missing datum after .", rpar.line, rpar.column)
        if len(after) > 1:
            e = after[1]
            raise _error("more than one datum after . in a dotted list", e[1], e[2])
        return _chain(items, after[0][0], lpar)

    def vector(self, c):
        return (Vector([e[0] for e in c[1]]), c[0].line, c[0].column)

    def bytevector(self, c):
        out = bytearray()
        for e in c[1]:
            v = e[0]
            if type(v) is not int or not 0 <= v <= 255:
                from .printer import write_string

                what = f"#{v.label}#" if type(v) is _Placeholder else write_string(v)
                raise _error(
                    f"bad bytevector element {what} (expected an integer 0 to 255)",
                    e[1],
                    e[2],
                )
            out.append(v)
        return (out, c[0].line, c[0].column)

    def abbrev(self, c):
        mark = c[0]
        datum = c[-1]
        fname = _ctx.filename
        inner = Pair(datum[0], NIL)
        inner.pos = SourcePos(fname, datum[1], datum[2])
        outer = Pair(_ABBREVIATION_SYMBOLS[mark.type], inner)
        outer.pos = SourcePos(fname, mark.line, mark.column)
        return (outer, mark.line, mark.column)

    def labeled(self, c):
        label_tok = c[0]
        datum = c[-1]
        n = _label_number(label_tok)
        labels = _ctx.labels
        ph = labels.get(n)
        value = datum[0]
        if value is ph:
            raise _error(
                f"datum label #{n}= refers only to itself",
                label_tok.line,
                label_tok.column,
            )
        if type(ph) is _Placeholder and ph.used:
            ph.value = value
            _ctx.patch = True  # the placeholders go at the end of the read (start)
        labels[n] = value
        return (value, label_tok.line, label_tok.column)


# ---------------------------------------------------------------- the parser (built once)

_GRAMMAR_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scheme.lark")
_LARK_OPTIONS = dict(parser="lalr", lexer="contextual", maybe_placeholders=False)


def _directive(tok):
    """Lexer callback for #!fold-case / #!no-fold-case (tokens the parser ignores). The
    lexer makes each token only when the parser has taken the one before (and the
    datum callbacks run as a token is taken), so this applies from the next token on."""
    _ctx.fold_case = tok.value == "#!fold-case"
    return tok


_LEXER_CALLBACKS = {"DIRECTIVE": _directive}
_parser = None
_parser_lock = threading.Lock()


def _encode(x):
    """Lark's serialized parser as JSON-safe data (dicts may have int/tuple keys)."""
    t = type(x)
    if t is dict:
        return {"d": [[_encode(k), _encode(v)] for k, v in x.items()]}
    if t is tuple:
        return {"t": [_encode(v) for v in x]}
    if t is list:
        return [_encode(v) for v in x]
    if x is None or t is str or t is int or t is bool:
        return x
    raise TypeError(f"cannot cache {t.__name__}")


def _decode_object(o):
    if "d" in o:
        return {(tuple(k) if type(k) is list else k): v for k, v in o["d"]}
    return tuple(o["t"])


def _cache_paths(key):
    name = f"scheme.lark.{key}.json"
    paths = []
    if not sys.dont_write_bytecode:
        paths.append(os.path.join(os.path.dirname(_GRAMMAR_FILE), "__pycache__", name))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    paths.append(os.path.join(base, "flowscheme", name))
    return paths


def _build_parser():
    """The Lark parser, loaded from a JSON cache of the analysed grammar when possible.

    Analysing the grammar takes ~0.2 s; loading the cache a few ms. The cache is plain
    JSON (never pickle), keyed by a hash of the grammar, the options and the Lark and
    Python versions, kept in interp/__pycache__ (else ~/.cache/flowscheme)."""
    import lark
    from lark import Lark

    with open(_GRAMMAR_FILE, encoding="utf-8") as f:
        grammar = f.read()
    key = sha256(
        (grammar + repr(sorted(_LARK_OPTIONS.items())) + lark.__version__ + sys.version[:8]).encode()
    ).hexdigest()[:20]
    builder = _DatumBuilder()
    paths = _cache_paths(key)
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f, object_hook=_decode_object)
            return Lark._load_from_dict(d["data"], d["memo"], transformer=builder, lexer_callbacks=_LEXER_CALLBACKS)
        except Exception:  # missing, unreadable, stale or corrupt: build afresh
            pass
    parser = Lark(grammar, transformer=builder, lexer_callbacks=_LEXER_CALLBACKS, **_LARK_OPTIONS)
    try:
        from lark.grammar import Rule
        from lark.lexer import TerminalDef

        data, memo = parser.memo_serialize([TerminalDef, Rule])
        data["options"] = {
            k: v for k, v in data["options"].items() if k not in ("transformer", "lexer_callbacks")
        }
        text = json.dumps(_encode({"data": data, "memo": memo}))
    except Exception:
        return parser
    for path in paths:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
            break
        except OSError:
            continue
    return parser


def _get_parser():
    global _parser
    p = _parser
    if p is None:
        with _parser_lock:
            if _parser is None:
                _parser = _build_parser()
            p = _parser
    return p


# ---------------------------------------------------------------- errors

_OPENERS = {"LPAR": "(", "LBRACK": "[", "VLPAR": "#(", "BVLPAR": "#u8("}
_CLOSERS = {"RPAR": ")", "RBRACK": "]"}
_PREFIXES = {
    "QUOTE": "'",
    "QUASIQUOTE": "`",
    "UNQUOTE": ",",
    "UNQUOTE_SPLICING": ",@",
    "DATUM_COMMENT": "#;",
    "DOT": ".",
}
_MAX_BLOCK_COMMENT_DEPTH = 16


def _block_comment_end(text, pos):
    """Index just past the block comment opening at `pos`, and its nesting depth; -1 if unclosed."""
    depth = 0
    deepest = 0
    i = pos
    while True:
        j = text.find("#|", i)
        k = text.find("|#", i)
        if k < 0:
            return -1, deepest
        if 0 <= j < k:
            depth += 1
            deepest = max(deepest, depth)
            i = j + 2
        else:
            depth -= 1
            i = k + 2
            if depth == 0:
                return i, deepest


def _lexer_error(text, e):
    """A SchemeSyntaxError for text that no token matches at e.pos_in_stream."""
    pos = e.pos_in_stream
    line, col = e.line, e.column
    if text.startswith('"', pos):
        # A bad escape already typed makes the text wrong however it goes on.
        for m in _ESCAPE.finditer(text, pos + 1):
            if m.end() < len(text) or m.group(3) is not None:
                try:
                    _unescape_match(m)
                except _BadEscape as bad:
                    bline = text.count("\n", 0, m.start()) + 1
                    bcol = m.start() - text.rfind("\n", 0, m.start())
                    return _error(f"bad escape {bad.text} in string", bline, bcol)
        return _error("unterminated string", line, col, incomplete=True)
    if text.startswith("#|", pos):
        end, depth = _block_comment_end(text, pos)
        if end < 0:
            return _error(
                f"unterminated block comment opened at {line}:{col}", line, col, incomplete=True
            )
        return _error(
            f"block comments nested more than {_MAX_BLOCK_COMMENT_DEPTH} deep are not supported",
            line,
            col,
        )
    if text.startswith("|#", pos):
        return _error("unexpected |# (no block comment is open)", line, col)
    if text.startswith("|", pos):
        return _error("unterminated |symbol|", line, col, incomplete=True)
    return _error(f"unexpected character {text[pos:pos + 1]!r}", line, col)


def _describe(tok):
    if tok.type in _OPENERS:
        return _OPENERS[tok.type]
    if tok.type in _CLOSERS:
        return _CLOSERS[tok.type]
    return tok.value


def _token_error(e):
    """A SchemeSyntaxError for a token the grammar does not allow where it is."""
    from lark import Token

    tok = e.token
    stack = e.state.value_stack if e.state is not None else []
    if tok.type == "$END":
        seen_datum = False
        for v in reversed(stack):
            if isinstance(v, Token):
                if v.type in _OPENERS:
                    return _error(
                        f"unclosed {_OPENERS[v.type]} opened at {v.line}:{v.column}",
                        v.line,
                        v.column,
                        incomplete=True,
                    )
                if not seen_datum and (v.type in _PREFIXES or v.type == "LABEL_DEF"):
                    return _error(
                        f"unexpected end of input after {v.value}", v.line, v.column, incomplete=True
                    )
            elif type(v) is list:
                seen_datum = seen_datum or bool(v)
            elif v is not None and (
                not hasattr(v, "children") or any(x is not None for x in v.children)
            ):
                seen_datum = True
        return _error("unexpected end of input", tok.line, tok.column, incomplete=True)
    top = stack[-1] if stack else None
    what = _describe(tok)
    if isinstance(top, Token) and (top.type in _PREFIXES or top.type == "LABEL_DEF"):
        return _error(f"unexpected {what} after {top.value}", tok.line, tok.column)
    if tok.type == "DOT":
        return _error("unexpected .", tok.line, tok.column)
    if tok.type in _CLOSERS:
        for v in reversed(stack):  # the innermost open list: closed by the other kind?
            if isinstance(v, Token) and v.type in _OPENERS:
                want = "]" if v.type == "LBRACK" else ")"
                return _error(
                    f"unexpected {what}: the {_OPENERS[v.type]} opened at {v.line}:{v.column} "
                    f"is closed by {want}",
                    tok.line,
                    tok.column,
                )
        return _error(f"unexpected {what}", tok.line, tok.column)
    return _error(f"unexpected {what}", tok.line, tok.column)


def _convert_error(text, e):
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(e, SchemeSyntaxError):
        return e
    if isinstance(e, UnexpectedCharacters):
        return _lexer_error(text, e)
    if isinstance(e, UnexpectedToken):
        return _token_error(e)
    if isinstance(e, RecursionError):
        return _error("datum nested too deeply", 1, 1)
    return _error(f"cannot read: {type(e).__name__}: {e}", 1, 1)


# ---------------------------------------------------------------- public API


def read_all(text, filename=None, positions=None):
    """Every datum in `text`, as a Python list (SchemeSyntaxError if malformed).
    A list passed as `positions` gets each datum's SourcePos (a symbol or number
    cannot carry one itself, as a pair does)."""
    if not isinstance(text, str):
        raise SchemeSyntaxError(f"cannot read: expected a string, got {type(text).__name__}")
    from .reader_fast import read_common

    entries = read_common(text, filename)
    if entries is not None:  # the common syntax, read without Lark
        if positions is not None:
            positions.extend(SourcePos(filename, e[1], e[2]) for e in entries)
        return [e[0] for e in entries]
    return read_all_lark(text, filename, positions)


def read_all_lark(text, filename=None, positions=None):
    """read_all by the Lark parser alone (read_all's fallback; the reference the fast
    path is tested against)."""
    parser = _get_parser()
    _ctx.filename = filename
    _ctx.labels = None
    _ctx.patch = False
    _ctx.positions = positions
    _ctx.fold_case = False
    try:
        return parser.parse(text)
    except Exception as e:
        raise _convert_error(text, e) from None
    finally:
        _ctx.labels = None
        _ctx.positions = None


_ATOM_TOKENS = frozenset(("ATOM", "STRING", "CHAR", "BARSYM", "LABEL_REF"))
_WRAPPERS = frozenset(("QUOTE", "QUASIQUOTE", "UNQUOTE", "UNQUOTE_SPLICING", "LABEL_DEF"))


def _line_counter(text, start):
    """A Lark LineCounter standing at index `start` of text. Reading on through the same
    text (a port) counts only the lines since the previous read_datum's start, not all
    of them again: reading a long text datum by datum stays linear."""
    from lark.lexer import LineCounter

    pos, line, line_start = 0, 1, 0
    last = getattr(_ctx, "last_start", None)
    if last is not None and last[0] is text and last[1] <= start:
        pos, line, line_start = last[1], last[2], last[3]
    n = text.count("\n", pos, start)
    if n:
        line += n
        line_start = text.rindex("\n", pos, start) + 1
    _ctx.last_start = (text, start, line, line_start)
    counter = LineCounter("\n")
    counter.char_pos = start
    counter.line = line
    counter.line_start_pos = line_start
    counter.column = start - line_start + 1
    return counter


def read_datum(text, start=0, filename=None, fold_state=None):
    """Read one datum from `text` beginning at index `start`.

    Returns (datum, end) where `end` is the index just past the datum; the datum is
    EOF_OBJECT (and `end` is len(text)) when only whitespace and comments remain.
    Positions are those within the whole `text`. Nothing after the datum is examined.
    `fold_state` (a port): an object whose `fold_case` attribute (False when absent)
    says whether #!fold-case is in force, and is set to what it is after the datum.
    """
    from lark.lexer import LexerState
    from lark.utils import TextSlice

    if not isinstance(text, str):
        raise SchemeSyntaxError(f"cannot read: expected a string, got {type(text).__name__}")
    if type(start) is not int or start < 0:
        raise SchemeSyntaxError(f"read_datum: expected a start index of 0 or more, got {start!r}")
    if start >= len(text):
        return EOF_OBJECT, len(text)
    parser = _get_parser()
    _ctx.filename = filename
    _ctx.labels = None
    _ctx.patch = False
    _ctx.fold_case = bool(getattr(fold_state, "fold_case", False))
    try:
        ip = parser.parse_interactive(None)
        ip.lexer_thread.state = LexerState(TextSlice(text, start, len(text)), _line_counter(text, start))
        state = ip.parser_state
        depth = 0
        pending = []  # prefixes at depth 0 waiting for their datum: True = #; (drops it)
        last = None
        for tok in ip.lexer_thread.lex(state):
            state.feed_token(tok)
            last = tok
            typ = tok.type
            if typ in _OPENERS:
                depth += 1
                continue
            if typ in _CLOSERS:
                depth -= 1
                if depth:
                    continue
            elif depth:
                continue
            elif typ in _WRAPPERS:
                pending.append(False)
                continue
            elif typ == "DATUM_COMMENT":
                pending.append(True)
                continue
            elif typ not in _ATOM_TOKENS:
                continue
            # a datum just ended at depth 0
            while pending and not pending[-1]:
                pending.pop()
            if pending:
                pending.pop()  # the datum was commented out by #;
                continue
            datums = ip.feed_eof(tok)
            if fold_state is not None:
                fold_state.fold_case = _ctx.fold_case
            return datums[0], tok.end_pos
        datums = ip.feed_eof(last)
        if fold_state is not None:
            fold_state.fold_case = _ctx.fold_case
        if datums:  # cannot happen: a complete datum returns above
            return datums[0], len(text)
        return EOF_OBJECT, len(text)
    except Exception as e:
        raise _convert_error(text, e) from None
    finally:
        _ctx.labels = None


def is_complete(text):
    """False when `text` is the beginning of valid input that needs more (an open paren,
    string, |symbol| or block comment, a trailing quote); True when it is complete or
    definitely wrong (so that a REPL reports the error instead of waiting)."""
    try:
        read_all(text)
    except SchemeSyntaxError as e:
        return not getattr(e, "incomplete", False)
    return True
