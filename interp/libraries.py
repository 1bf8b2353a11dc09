"""The libraries `import` accepts, what each exports, and the features `cond-expand` knows.

The standard libraries ((scheme base), (scheme char), ...) export the names R7RS
lists for them, bound to the interpreter's builtins as they were when it started
(GlobalEnv.builtin_cell); (srfi N) and (flowscheme) export every builtin. A
`define-library` makes a Library: its own environment and the bindings it exports
(the very cells of its variables, so that importers share its state). An
Environment is what `environment`, `scheme-report-environment` and friends return.
"""

SCHEME_LIBRARY_NAMES = {
    "base": """
        * + - ... / < <= = => > >= _ abs and append apply assoc assq assv begin
        binary-port? boolean=? boolean? bytevector bytevector-append bytevector-copy
        bytevector-copy! bytevector-length bytevector-u8-ref bytevector-u8-set!
        bytevector? caar cadr call-with-current-continuation call-with-port
        call-with-values call/cc car case cdar cddr cdr ceiling char->integer
        char-ready? char<=? char<? char=? char>=? char>? char? close-input-port
        close-output-port close-port complex? cond cond-expand cons current-error-port
        current-input-port current-output-port define define-record-type define-syntax
        define-values denominator do dynamic-wind else eof-object eof-object? eq?
        equal? eqv? error error-object-irritants error-object-message error-object?
        even? exact exact-integer-sqrt exact-integer? exact? expt features file-error?
        floor floor-quotient floor-remainder floor/ flush-output-port for-each gcd
        get-output-bytevector get-output-string guard if import include include-ci
        inexact inexact? input-port-open? input-port? integer->char integer? lambda
        lcm length let let* let*-values let-syntax let-values letrec letrec*
        letrec-syntax list list->string list->vector list-copy list-ref list-set!
        list-tail list? make-bytevector make-list make-parameter make-string
        make-vector map max member memq memv min modulo negative? newline not null?
        number->string number? numerator odd? open-input-bytevector
        open-input-string open-output-bytevector open-output-string or
        output-port-open? output-port? pair? parameterize peek-char peek-u8 positive?
        procedure? quasiquote quote quotient raise raise-continuable rational?
        rationalize read-bytevector read-bytevector! read-char read-error? read-line
        read-string read-u8 real? remainder reverse round set! set-car! set-cdr!
        square string string->list string->number string->symbol string->utf8
        string->vector string-append string-copy string-copy! string-fill!
        string-for-each string-length string-map string-ref string-set! string<=?
        string<? string=? string>=? string>? string? substring symbol->string
        symbol=? symbol? syntax-error syntax-rules textual-port? truncate
        truncate-quotient truncate-remainder truncate/ u8-ready? unless unquote
        unquote-splicing utf8->string values vector vector->list vector->string
        vector-append vector-copy vector-copy! vector-fill! vector-for-each
        vector-length vector-map vector-ref vector-set! vector? when
        with-exception-handler write-bytevector write-char write-string write-u8
        zero?""",
    "case-lambda": "case-lambda",
    "char": """
        char-alphabetic? char-ci<=? char-ci<? char-ci=? char-ci>=? char-ci>?
        char-downcase char-foldcase char-lower-case? char-numeric? char-upcase
        char-upper-case? char-whitespace? digit-value string-ci<=? string-ci<?
        string-ci=? string-ci>=? string-ci>? string-downcase string-foldcase
        string-upcase""",
    "complex": "angle imag-part magnitude make-polar make-rectangular real-part",
    "cxr": """
        caaar caadr cadar caddr cdaar cdadr cddar cdddr caaaar caaadr caadar caaddr
        cadaar cadadr caddar cadddr cdaaar cdaadr cdadar cdaddr cddaar cddadr cdddar
        cddddr""",
    "eval": "environment eval",
    "file": """
        call-with-input-file call-with-output-file delete-file file-exists?
        open-binary-input-file open-binary-output-file open-input-file
        open-output-file with-input-from-file with-output-to-file""",
    "inexact": "acos asin atan cos exp finite? infinite? log nan? sin sqrt tan",
    "lazy": "delay delay-force force make-promise promise?",
    "load": "load",
    "process-context": """
        command-line emergency-exit exit get-environment-variable
        get-environment-variables""",
    "read": "read",
    "repl": "interaction-environment",
    "time": "current-jiffy current-second jiffies-per-second",
    "write": "display write write-shared write-simple",
    "r5rs": """
        * + - / < <= = > >= abs acos and angle append apply asin assoc assq assv atan
        begin boolean? caaaar caaadr caaar caadar caaddr caadr caar cadaar cadadr
        cadar caddar cadddr caddr cadr call-with-current-continuation
        call-with-input-file call-with-output-file call-with-values car case cdaaar
        cdaadr cdaar cdadar cdaddr cdadr cdar cddaar cddadr cddar cdddar cddddr cdddr
        cddr cdr ceiling char->integer char-alphabetic? char-ci<=? char-ci<?
        char-ci=? char-ci>=? char-ci>? char-downcase char-lower-case? char-numeric?
        char-ready? char-upcase char-upper-case? char-whitespace? char<=? char<?
        char=? char>=? char>? char? close-input-port close-output-port complex? cond
        cons cos current-input-port current-output-port define define-syntax delay
        denominator display do dynamic-wind else => eof-object? eq? equal? eqv? eval
        even? exact->inexact exact? exp expt floor for-each force gcd if imag-part
        inexact->exact inexact? input-port? integer->char integer?
        interaction-environment lambda lcm length let let* let-syntax letrec
        letrec-syntax list list->string list->vector list-ref list-tail list? load
        log magnitude make-polar make-rectangular make-string make-vector map max
        member memq memv min modulo negative? newline not null-environment null?
        number->string number? numerator odd? open-input-file open-output-file or
        output-port? pair? peek-char positive? procedure? quasiquote quote quotient
        rational? rationalize read read-char real-part real? remainder reverse round
        scheme-report-environment set! set-car! set-cdr! sin sqrt string
        string->list string->number string->symbol string-append string-ci<=?
        string-ci<? string-ci=? string-ci>=? string-ci>? string-copy string-fill!
        string-length string-ref string-set! string<=? string<? string=? string>=?
        string>? string? substring symbol->string symbol? syntax-rules tan truncate
        unquote unquote-splicing values vector vector->list vector-fill!
        vector-length vector-ref vector-set! vector? with-input-from-file
        with-output-to-file write write-char zero?""",
}

SCHEME_LIBRARIES = frozenset(SCHEME_LIBRARY_NAMES)

# SRFI numbers whose procedures (or the useful part of them) the environment provides
SRFIS = frozenset((1, 2, 6, 8, 9, 11, 13, 16, 23, 28, 39, 69, 95, 125, 132))

FEATURES = ("r7rs", "exact-closed", "exact-complex", "ratios", "full-unicode", "flowscheme") + tuple(
    f"srfi-{n}" for n in sorted(SRFIS)
)


def library_known(parts, genv=None):
    """Is the library named by `parts` (Python str/int list) provided (a standard
    one, or one defined in genv's interpreter)?"""
    if genv is not None and tuple(parts) in genv.libraries:
        return True
    return standard_library(parts) is not None


def standard_library(parts):
    """"scheme:<name>", "all" (every builtin) or None for a library name."""
    if len(parts) == 2 and parts[0] == "scheme" and parts[1] in SCHEME_LIBRARIES:
        return "scheme:" + parts[1]
    if len(parts) >= 2 and parts[0] == "srfi" and type(parts[1]) is int and parts[1] in SRFIS:
        return "all"  # (srfi 1), and (srfi 1 lists) style long names
    if list(parts) == ["flowscheme"]:
        return "all"
    return None


def library_text(parts):
    return "(" + " ".join(str(p) for p in parts) + ")"


class Library:
    """A library a define-library made: its environment and its exports
    (external Symbol -> binding, see Binding kinds in exports_of)."""

    __slots__ = ("name", "genv", "exports", "pos")
    type_name = "library"

    def __init__(self, name, genv, exports, pos):
        self.name = name
        self.genv = genv
        self.exports = exports
        self.pos = pos


class Environment:
    """A first-class environment for eval: a GlobalEnv."""

    __slots__ = ("genv",)
    type_name = "environment"

    def __init__(self, genv):
        self.genv = genv

    def __repr__(self):
        return f"#<environment {self.genv.name}>"


def exports_of(genv, parts):
    """What the library `parts` exports, as {Symbol: binding}, or None if there is
    no such library. A binding is ("var", cell), ("macro", macro), ("special",
    Symbol) for a special form, or ("aux", None) for a name with no binding here
    (auxiliary syntax like `else`, or a procedure flowscheme does not have)."""
    lib = genv.libraries.get(tuple(parts))
    if lib is not None:
        return lib.exports
    kind = standard_library(parts)
    if kind is None:
        return None
    from .analyzer import SPECIAL_FORMS
    from .values import sym

    if kind == "all":
        names = set(genv.builtins) | set(genv.builtin_macros) | set(SPECIAL_FORMS)
    else:
        names = {sym(n) for n in SCHEME_LIBRARY_NAMES[kind[7:]].split()}
    out = {}
    for s in names:
        if s in SPECIAL_FORMS:
            out[s] = ("special", s)
        elif s in genv.builtin_macros:
            out[s] = ("macro", genv.builtin_macros[s])
        elif s in genv.builtins:
            out[s] = ("var", genv.builtin_cell(s))
        else:
            out[s] = ("aux", None)
    return out


def bind_import(genv, name, binding):
    """Make `name` in genv mean `binding` (see exports_of)."""
    from .analyzer import SPECIAL_FORMS

    kind, what = binding
    genv.import_bindings[name] = binding
    if kind == "var":
        genv.macros.pop(name, None)
        if name in SPECIAL_FORMS:
            genv.shadowed.add(name)
        genv.cells[name] = what
        genv.imported.add(name)
    elif kind == "macro":
        genv.macros[name] = what
        genv.shadowed.discard(name)
    elif kind == "special":
        if what is name:
            genv.macros.pop(name, None)
            genv.shadowed.discard(name)
        else:
            genv.macros[name] = SPECIAL_FORMS[what]
            genv.shadowed.discard(name)
