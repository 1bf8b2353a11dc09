"""syntax-rules macros: pattern matching and hygienic template expansion.

Symbols a template introduces are renamed to fresh Aliases (one per symbol per
expansion) that remember the macro's definition scope; the analyser resolves an
alias there unless a binding form of the same expansion bound it. Literals match
by binding (free-identifier=?), not by name.
"""

from .errors import SchemeSyntaxError
from .scopes import ELLIPSIS as S_ELLIPSIS
from .scopes import UNDERSCORE as S_UNDERSCORE
from .scopes import Alias, base_symbol, is_ident, lookup, plist, same_binding, strip
from .values import NIL, Pair, Vector, equal, list_to_pairs


class Macro:
    type_name = "macro"

    def __init__(self, name, literals, rules, ellipsis, scope, unit):
        self.name = name
        self.literals = literals
        self.rules = rules  # [(pattern, template)]
        self.ellipsis = ellipsis
        self.scope = scope  # definition scope (a TopScope at top level)
        self.unit = unit
        self.unit_hash = True
        self.free_cache = {}

    def __repr__(self):
        return f"#<macro {self.name}>"

    def expand(self, form, use_scope, pos):
        for pattern, template in self.rules:
            binds = {}
            # the keyword position is ignored
            if self._match(pattern.cdr if type(pattern) is Pair else NIL, form.cdr, binds, use_scope):
                renames = {}
                out = self._expand(template, binds, renames, pos)
                return out
        raise SchemeSyntaxError(
            f"{self.name}: no syntax rule matches {_show(form)}", getattr(form, "pos", None) or pos
        )

    # ---------------------------------------------------------------- matching

    def _is_ellipsis(self, x):
        """A literal is never the ellipsis (R7RS 4.3.2), nor is a `...` that is
        bound as a variable where the macro is defined."""
        if not is_ident(x) or x in self.literals:
            return False
        if self.ellipsis is not S_ELLIPSIS:
            return x is self.ellipsis  # (syntax-rules ellipsis (literal ...) rule ...)
        return base_symbol(x) is S_ELLIPSIS and self._free(x)

    def _is_underscore(self, x):
        return base_symbol(x) is S_UNDERSCORE and x not in self.literals and self._free(x)

    def _free(self, x):
        """Is identifier x unbound (or bound only as a macro) where the macro is defined?"""
        cache = self.free_cache
        r = cache.get(x)
        if r is None:
            r = cache[x] = lookup(x, self.scope)[0] != "local"
        return r

    def _match(self, pat, form, binds, use_scope):
        if is_ident(pat):
            if pat in self.literals:
                return is_ident(form) and same_binding(form, use_scope, pat, self.scope)
            if self._is_underscore(pat):
                return True
            binds[pat] = form
            return True
        if type(pat) is Pair:
            if type(pat.cdr) is Pair and self._is_ellipsis(pat.cdr.car):
                after = pat.cdr.cdr
                min_after = 0
                p = after
                while type(p) is Pair:
                    min_after += 1
                    p = p.cdr
                items = []
                f = form
                while type(f) is Pair:
                    items.append(f)
                    f = f.cdr
                n = len(items) - min_after
                if n < 0:
                    return False
                seqs = []
                for cell in items[:n]:
                    b = {}
                    if not self._match(pat.car, cell.car, b, use_scope):
                        return False
                    seqs.append(b)
                for v in _pattern_vars(pat.car, self):
                    binds[v] = EllipsisMatch([b.get(v) for b in seqs])
                rest = items[n] if n < len(items) else f
                return self._match(after, rest, binds, use_scope)
            if type(form) is not Pair:
                return False
            return self._match(pat.car, form.car, binds, use_scope) and self._match(
                pat.cdr, form.cdr, binds, use_scope
            )
        if pat is NIL:
            return form is NIL
        if type(pat) is Vector:
            if type(form) is not Vector:
                return False
            return self._match(list_to_pairs(list(pat)), list_to_pairs(list(form)), binds, use_scope)
        return equal(strip(pat), strip(form))

    # ---------------------------------------------------------------- expansion

    def _expand(self, t, binds, renames, pos):
        if is_ident(t):
            if t in binds:
                v = binds[t]
                if type(v) is EllipsisMatch:
                    raise SchemeSyntaxError(
                        f"{self.name}: pattern variable {base_symbol(t).name} used without ellipsis", pos
                    )
                return v
            a = renames.get(t)
            if a is None:
                a = renames[t] = Alias(t, self.scope)
            return a
        if type(t) is Pair:
            if self._is_ellipsis(t.car) and type(t.cdr) is Pair:
                # (... template): the ellipsis is literal inside
                return _literal_ellipsis(self, t.cdr.car, binds, renames, pos)
            if type(t.cdr) is Pair and self._is_ellipsis(t.cdr.car):
                sub = t.car
                rest = t.cdr.cdr
                depth = 1
                while type(rest) is Pair and self._is_ellipsis(rest.car):
                    depth += 1
                    rest = rest.cdr
                results = self._expand_ellipsis(sub, binds, renames, pos, depth)
                tail = self._expand(rest, binds, renames, pos)
                return list_to_pairs(results, tail)
            out = Pair(self._expand(t.car, binds, renames, pos), self._expand(t.cdr, binds, renames, pos))
            out.pos = pos  # what the template builds is located at the macro's use
            return out
        if type(t) is Vector:
            return Vector(_to_py(self._expand(list_to_pairs(list(t)), binds, renames, pos)))
        return t

    def _expand_ellipsis(self, sub, binds, renames, pos, depth):
        vars_ = [v for v in _template_vars(sub, self) if type(binds.get(v)) is EllipsisMatch]
        if not vars_:
            raise SchemeSyntaxError(f"{self.name}: no pattern variable before ellipsis in template", pos)
        lengths = {len(binds[v].items) for v in vars_}
        if len(lengths) != 1:
            raise SchemeSyntaxError(f"{self.name}: ellipsis variables matched different lengths", pos)
        n = lengths.pop()
        results = []
        for i in range(n):
            b = dict(binds)
            for v in vars_:
                b[v] = binds[v].items[i]
            if depth > 1:
                results.extend(self._expand_ellipsis(sub, b, renames, pos, depth - 1))
            else:
                results.append(self._expand(sub, b, renames, pos))
        return results


class EllipsisMatch:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items


def _literal_ellipsis(macro, t, binds, renames, pos):
    saved = macro.ellipsis
    macro.ellipsis = object()  # nothing is an ellipsis inside (... ...)
    try:
        return macro._expand(t, binds, renames, pos)
    finally:
        macro.ellipsis = saved


def _pattern_vars(pat, macro):
    out = []
    if is_ident(pat):
        if pat not in macro.literals and not macro._is_ellipsis(pat) and not macro._is_underscore(pat):
            out.append(pat)
    elif type(pat) is Pair:
        out += _pattern_vars(pat.car, macro)
        out += _pattern_vars(pat.cdr, macro)
    elif type(pat) is Vector:
        for x in pat:
            out += _pattern_vars(x, macro)
    return out


def _template_vars(t, macro):
    out = []
    if is_ident(t):
        out.append(t)
    elif type(t) is Pair:
        out += _template_vars(t.car, macro)
        out += _template_vars(t.cdr, macro)
    elif type(t) is Vector:
        for x in t:
            out += _template_vars(x, macro)
    return out


def _to_py(lst):
    out = []
    while type(lst) is Pair:
        out.append(lst.car)
        lst = lst.cdr
    return out


def _show(form):
    from .printer import write_string

    try:
        return write_string(strip(form))
    except Exception:  # pragma: no cover - printing must never mask the real error
        return "<form>"


def make_transformer(analyzer, spec, scope, pos, name):
    """A Macro from `(syntax-rules [ellipsis] (literal ...) (pattern template) ...)`."""
    if type(spec) is not Pair or not is_ident(spec.car):
        raise SchemeSyntaxError(f"{name}: expected a syntax-rules transformer", pos)
    head = spec.car
    if base_symbol(head).name != "syntax-rules":
        raise SchemeSyntaxError(f"{name}: only syntax-rules transformers are supported", pos)
    items = plist(spec, "syntax-rules", pos)
    if len(items) < 2:
        raise SchemeSyntaxError("syntax-rules: expected literals and rules", pos)
    ellipsis = S_ELLIPSIS
    rest = items[1:]
    if is_ident(rest[0]):
        ellipsis = rest[0]
        rest = rest[1:]
        if not rest:
            raise SchemeSyntaxError("syntax-rules: expected literals after the ellipsis", pos)
    literals = plist(rest[0], "syntax-rules literals", pos)
    for lit in literals:
        if not is_ident(lit):
            raise SchemeSyntaxError("syntax-rules: literals must be identifiers", pos)
    rules = []
    for r in rest[1:]:
        parts = plist(r, "syntax rule", getattr(r, "pos", None) or pos) if type(r) is Pair else None
        if not parts or len(parts) != 2:
            raise SchemeSyntaxError(f"syntax-rules: bad rule {_show(r)}", getattr(r, "pos", None) or pos)
        rules.append((parts[0], parts[1]))
    if scope is None:
        scope = analyzer.genv.top_scope  # its free names are this environment's
    return Macro(name, set(literals), rules, ellipsis, scope, analyzer.unit)
