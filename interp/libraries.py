"""The libraries `import` accepts and the features `cond-expand` knows.

flowscheme has one global environment holding all of R7RS-small it implements
plus the SRFIs below, so importing one of these libraries changes nothing; any
other library name is an error that names it.
"""

SCHEME_LIBRARIES = frozenset(
    (
        "base",
        "case-lambda",
        "char",
        "complex",
        "cxr",
        "eval",
        "file",
        "inexact",
        "lazy",
        "load",
        "process-context",
        "read",
        "repl",
        "time",
        "write",
        "r5rs",
    )
)

# SRFI numbers whose procedures (or the useful part of them) the environment provides
SRFIS = frozenset((1, 2, 6, 8, 9, 11, 13, 16, 23, 28, 39, 69, 95, 125, 132))

FEATURES = ("r7rs", "exact-closed", "ratios", "full-unicode", "flowscheme") + tuple(
    f"srfi-{n}" for n in sorted(SRFIS)
)


def library_known(parts):
    """Is the library named by `parts` (Python str/int list) provided?"""
    if len(parts) == 2 and parts[0] == "scheme" and parts[1] in SCHEME_LIBRARIES:
        return True
    if len(parts) >= 2 and parts[0] == "srfi" and type(parts[1]) is int and parts[1] in SRFIS:
        return True  # (srfi 1), and (srfi 1 lists) style long names
    if parts == ["flowscheme"]:
        return True
    return False


def library_text(parts):
    return "(" + " ".join(str(p) for p in parts) + ")"
