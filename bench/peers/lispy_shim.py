"""Run a Scheme program on Peter Norvig's lispy.py, for the benchmark table.

lispy.py (norvig/pytudes, py/lispy.py) is not part of this project: its path
is given on the command line and it is imported from there, unchanged. This
shim only fills the gaps the benchmark programs need: a reader fix (lispy
reads the identifier `i` as the complex number 1i), a few primitives
(quotient, remainder, modulo, strings, vectors, newline, ...) added to lispy's
global environment, and the derived forms lispy lacks (named let, let*, cond,
or, when, unless, do) added to lispy's own macro table as source rewrites.

    python lispy_shim.py --lispy /tmp/peers/lispy.py PROGRAM.scm
    python lispy_shim.py --lispy /tmp/peers/lispy.py -e EXPR

A Scheme error (including Python's RecursionError, which lispy hits on deep
non-tail recursion) is reported on stderr with exit status 1; the recursion
limit is left at Python's default, so lispy is measured as it is.
"""

import argparse
import importlib.util
import io
import math
import sys


def load_lispy(path):
    spec = importlib.util.spec_from_file_location("lispy", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"lispy_shim: cannot import lispy from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Vector:
    """A Scheme vector; distinct from lispy's lists, which are Python lists."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __repr__(self):
        return "#(" + " ".join(str(x) for x in self.items) + ")"


def _quotient(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _remainder(a, b):
    return a - b * _quotient(a, b)


def _number_to_string(x):
    if isinstance(x, bool):
        raise TypeError("number->string: not a number")
    if isinstance(x, float) and x == math.floor(x) and not math.isinf(x):
        return repr(x)
    return str(x)


def add_primitives(lispy):
    """Add the primitives the benchmark programs use and lispy lacks."""

    def display(x, port=None):
        out = port or sys.stdout
        if isinstance(x, lispy.Symbol) or isinstance(x, str):
            out.write(x)
        elif isinstance(x, Vector):
            out.write(repr(x))
        else:
            out.write(lispy.to_string(x))

    def make_vector(n, fill=0):
        return Vector([fill] * n)

    def vector_set(v, i, x):
        v.items[i] = x

    def lispy_map(f, *lists):
        return [f(*xs) for xs in zip(*lists)]

    def for_each(f, *lists):
        for xs in zip(*lists):
            f(*xs)

    lispy.global_env.update({
        "quotient": _quotient,
        "remainder": _remainder,
        "modulo": lambda a, b: a % b,
        "zero?": lambda x: x == 0,
        "even?": lambda x: x % 2 == 0,
        "odd?": lambda x: x % 2 == 1,
        "eqv?": lambda a, b: a is b or (type(a) is type(b) and a == b),
        "string-append": lambda *xs: "".join(xs),
        "number->string": _number_to_string,
        "string->number": lambda s: lispy.atom(s),
        "string-length": len,
        "string-ref": lambda s, i: s[i],
        "substring": lambda s, a, b=None: s[a:b],
        "string=?": lambda a, b: a == b,
        "string?": lambda x: isinstance(x, str) and not isinstance(x, lispy.Symbol),
        "number?": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
        "procedure?": callable,
        "make-vector": make_vector,
        "vector": lambda *xs: Vector(list(xs)),
        "vector-ref": lambda v, i: v.items[i],
        "vector-set!": vector_set,
        "vector-length": lambda v: len(v.items),
        "vector?": lambda x: isinstance(x, Vector),
        "vector->list": lambda v: list(v.items),
        "list->vector": lambda l: Vector(list(l)),
        "reverse": lambda l: l[::-1],
        "cadr": lambda x: x[1],
        "cddr": lambda x: x[2:],
        "caar": lambda x: x[0][0],
        "map": lispy_map,
        "for-each": for_each,
        "newline": lambda port=None: (port or sys.stdout).write("\n"),
        "display": display,
    })


def fix_reader(lispy):
    """Read identifiers such as `i`, `inf` or `nan` as symbols.

    lispy's atom() tries int, float, then complex on every token, so the
    identifier `i` reads as the complex number 1i and `inf` as a float. Only a
    token that starts like a number (a digit, or a sign or dot then a digit)
    is handed to lispy's own atom(); anything else stays a symbol.
    """
    original_atom = lispy.atom

    def atom(token):
        head = token.lstrip("+-")
        if token in ("#t", "#f") or token[0] == '"' or (head[:1].isdigit()) \
                or (head[:1] == "." and head[1:2].isdigit()):
            return original_atom(token)
        return lispy.Sym(token)

    lispy.atom = atom


def add_derived_forms(lispy):
    """Rewrite named let, let*, cond, or, when, unless and do into lispy's core."""
    S = lispy.Sym
    _lambda, _if, _begin, _define = S("lambda"), S("if"), S("begin"), S("define")
    _let, _else = S("let"), S("else")
    plain_let = lispy.macro_table[_let]
    counter = [0]

    def fresh(stem):
        counter[0] += 1
        return S(f" {stem}{counter[0]}")  # a space: no program can spell it

    def body_of(forms):
        return forms[0] if len(forms) == 1 else [_begin] + list(forms)

    def let(*args):
        if args and args[0] == []:
            return [[_lambda, []] + list(args[1:])]
        if args and isinstance(args[0], lispy.Symbol):
            # (let name ((v e) ...) body...) =>
            # (((lambda () (define name (lambda (v ...) body...)) name)) e ...)
            name, bindings, body = args[0], args[1], list(args[2:])
            names = [b[0] for b in bindings]
            inits = [b[1] for b in bindings]
            proc = [_lambda, [], [_define, name, [_lambda, names] + body], name]
            return [[proc]] + inits
        return plain_let(*args)

    def let_star(bindings, *body):
        if not bindings:
            return [[_lambda, []] + list(body)]
        if len(bindings) == 1:
            return [_let, bindings] + list(body)
        return [_let, [bindings[0]], [S("let*"), bindings[1:]] + list(body)]

    def cond(*clauses):
        if not clauses:
            return None
        clause, rest = clauses[0], clauses[1:]
        test, exprs = clause[0], clause[1:]
        if test is _else:
            return body_of(exprs)
        if not exprs:
            return [S("or"), test, [S("cond")] + list(rest)]
        return [_if, test, body_of(exprs), [S("cond")] + list(rest)] if rest \
            else [_if, test, body_of(exprs)]

    def or_(*args):
        if not args:
            return False
        if len(args) == 1:
            return args[0]
        t = fresh("or")
        return [[_lambda, [t], [_if, t, t, [S("or")] + list(args[1:])]], args[0]]

    def when(test, *body):
        return [_if, test, body_of(body)]

    def unless(test, *body):
        return [_if, test, None, body_of(body)]

    def do(specs, end, *body):
        # (do ((var init step) ...) (test res ...) body ...)
        loop = fresh("do")
        names = [s[0] for s in specs]
        inits = [s[1] for s in specs]
        steps = [s[2] if len(s) > 2 else s[0] for s in specs]
        test, results = end[0], list(end[1:])
        again = list(body) + [[loop] + steps]
        return [_let, loop, [[n, i] for n, i in zip(names, inits)],
                [_if, test, body_of(results) if results else None, body_of(again)]]

    lispy.macro_table.update({
        _let: let,
        S("let*"): let_star,
        S("cond"): cond,
        S("or"): or_,
        S("when"): when,
        S("unless"): unless,
        S("do"): do,
    })


def run(lispy, inport):
    """Read, expand and evaluate every form; return the last value."""
    value = None
    while True:
        form = lispy.parse(inport)
        if form is lispy.eof_object:
            return value
        value = lispy.eval(form)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lispy", required=True, help="path to lispy.py")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("-e", "--eval", metavar="EXPR",
                      help="evaluate EXPR and print its value")
    what.add_argument("program", nargs="?", help="Scheme program file to run")
    args = ap.parse_args(argv)

    lispy = load_lispy(args.lispy)
    fix_reader(lispy)
    add_primitives(lispy)
    add_derived_forms(lispy)
    try:
        if args.eval is not None:
            value = run(lispy, lispy.InPort(io.StringIO(args.eval)))
            if value is not None:
                print(lispy.to_string(value))
        else:
            with open(args.program) as f:
                run(lispy, lispy.InPort(f))
        sys.stdout.flush()
    except RecursionError:
        sys.stdout.flush()
        print("lispy_shim: RecursionError (Python stack exhausted)", file=sys.stderr)
        return 1
    except Exception as e:  # lispy signals Scheme errors as plain Python exceptions
        sys.stdout.flush()
        print(f"lispy_shim: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
