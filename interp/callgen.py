"""Writes the application closures in calls.py from one template: `python -m interp.callgen [--check]`.

An application node `(f x0 ... xn-1)` compiles to a closure made by one of
calls.py's `build_app_<n>_<call|tail>_<global|expr>` functions: one per argument
count (0 to MAX_ARGS), tail or non-tail position, and operator a global variable
or any expression. They are spelled out, one each, because a per-call loop over
the arguments or `*args` costs measurably on every Scheme call. This module
holds their single template; their code is checked in (between the markers in
calls.py), runs in calls.py's namespace with the names it imports, and is
regenerated here after a change to the template. tests/interp/test_callgen.py
checks the checked-in code is what this template writes.
"""

import argparse
import pathlib
import sys

MAX_ARGS = 4
CALLS = pathlib.Path(__file__).with_name("calls.py")
BEGIN = "# BEGIN GENERATED APPLICATION CLOSURES (python -m interp.callgen; do not edit by hand)\n"
END = "# END GENERATED APPLICATION CLOSURES\n"


def builder_name(n, tail, global_fn):
    return f"build_app_{n}_{'tail' if tail else 'call'}_{'global' if global_fn else 'expr'}"


def builder_source(n, tail, global_fn):
    """The source of the closure builder for an application with n arguments."""
    xs = [f"x{i}" for i in range(n)]
    params = ", ".join(["node", "cell" if global_fn else "cf"] + [f"c{i}" for i in range(n)])
    lines = [f"def {builder_name(n, tail, global_fn)}({params}):"]
    if tail:  # the node a tail call reports errors at (none in library code)
        lines += ["    tnode = None if internal(node.pos) else node", ""]
    lines.append("    def run(env):")
    if not tail:
        lines.append("        global _depth, _fuel")
    lines += ["        step = 0", "        try:"]
    if global_fn:
        lines += [
            "            try:",
            "                f = cell.value",
            "            except AttributeError:",
            "                raise unbound_error(cell.name.name, node.pos) from None",
        ]
    else:
        lines.append("            f = cf(env)")
    lines.append("            step = 1")
    for i in range(n):
        lines.append(f"            x{i} = c{i}(env)")
        lines.append(f"            step = {i + 2}")
    arglist = ", ".join(xs)
    lines.append("            if type(f) is Primitive:")
    lines.append(f"                return f.fn({arglist})")
    if tail:
        lines.append(f"            return TailCall(f, [{arglist}], tnode)")
    else:
        # a closure with exactly n parameters is entered right here (one Python
        # frame less per Scheme call than going through call()); when it raises,
        # _depth stays counted: the driver resets it when the exception gets there
        lines += [
            "            if type(f) is Closure:",
            "                lam = f.lam",
            f"                if lam.fast == {n}:",
            "                    if _depth > _limit:",
            f"                        raise spill(f, [{arglist}])",
            "                    _depth += 1",
            "                    _fuel -= 1",
            f"                    r = lam.body([{arglist}{', ' if n else ''}f.env])",
            "                    _depth -= 1",
            "                    if type(r) is TailCall:",
            "                        return call(r.f, r.args, r.node)",
            "                    return r",
            f"            return call(f, [{arglist}])",
        ]
    lines.append("        except Capture as cap:")
    lines.append(f"            if step <= {n}:")
    saved = ["()", "(f,)"] + [f"(f, {', '.join(xs[:k])},)" for k in range(1, n)]
    for k, s in enumerate(saved[: n + 1]):
        kw = "if" if k == 0 else "elif"
        lines.append(f"                {kw} step == {k}:")
        lines.append(f"                    data = {s}")
    lines.append("                cap.frames.append(Frame(node, env, data))")
    lines.append("            raise")
    lines.append("        except SchemeError as e:")
    lines.append(f"            if step <= {n}:")
    lines.append("                raise")
    lines.append("            return raise_scheme_error(e, node.pos, node.owner)")
    lines.append("        except Exception as e:")
    lines.append(f"            if step <= {n}:")
    lines.append("                raise convert_exception(e, None, 0) from e")
    lines.append(f"            return raise_scheme_error(convert_exception(e, f, {n}), node.pos, node.owner)")
    lines.append("")
    lines.append("    return run")
    return "\n".join(lines) + "\n"


def variants():
    return [(n, tail, g) for n in range(MAX_ARGS + 1) for tail in (False, True) for g in (False, True)]


def render():
    """The generated section of calls.py, markers included."""
    parts = [BEGIN]
    for n, tail, g in variants():
        parts.append("\n\n" + builder_source(n, tail, g))
    parts.append("\n\n# (argument count, tail position, operator is a global variable) -> builder\n")
    parts.append("APP_BUILDERS = {\n")
    for n, tail, g in variants():
        parts.append(f"    ({n}, {tail}, {g}): {builder_name(n, tail, g)},\n")
    parts.append("}\n")
    parts.append(END)
    return "".join(parts)


def split(text):
    """calls.py's text as (before the section, the section, after it)."""
    start = text.index(BEGIN)
    end = text.index(END, start) + len(END)
    return text[:start], text[start:end], text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m interp.callgen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if calls.py is not what the template writes")
    args = parser.parse_args(argv)
    text = CALLS.read_text()
    before, section, after = split(text)
    wanted = render()
    if section == wanted:
        return 0
    if args.check:
        print(f"{CALLS}: the generated application closures differ from interp/callgen.py's template", file=sys.stderr)
        return 1
    CALLS.write_text(before + wanted + after)
    print(f"{CALLS}: application closures rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
