"""Capabilities: which host procedures code may call, decided per run.

Some procedures reach outside the computation: files, the process, `eval` and
`load`, environment variables (and, registered by the flow layer, the
procedures that act on other flows). They are listed here by category. A run
may carry a grant (a frozenset of procedure names; None grants everything):
the restricted procedures check it when called and refuse with a message
naming themselves, so flow code runs without them unless its host grants them
(`FlowRuntime(allow=[...])`), while the REPL and plain `Interpreter.eval` keep
the full environment.
"""

from .errors import scheme_error

# name -> category
RESTRICTED = {}

CATEGORIES = {
    "file": (
        "open-input-file", "open-output-file", "open-binary-input-file", "open-binary-output-file",
        "call-with-input-file", "call-with-output-file", "with-input-from-file", "with-output-to-file",
        "file-exists?", "delete-file",
    ),
    "process": ("exit", "emergency-exit", "command-line"),
    "eval": (
        "eval", "load", "environment", "interaction-environment", "system-global-environment",
        "scheme-report-environment", "null-environment",
    ),
    "environment-variables": ("get-environment-variable", "get-environment-variables"),
}


def restrict(category, names):
    """Add names to the restricted procedures under category."""
    for name in names:
        RESTRICTED[name] = category


for _category, _names in CATEGORIES.items():
    restrict(_category, _names)


def is_restricted(name):
    return name in RESTRICTED


def grant(allow):
    """The grant for an allow list: None grants nothing, "all" everything; otherwise
    each item is a procedure name or a category name ("file", "process", "eval",
    "environment-variables", "flows"). Unknown names are an error (a typo must not pass
    silently as a grant of nothing)."""
    if allow is None:
        return frozenset()
    if allow == "all":
        return None
    if isinstance(allow, str):
        allow = [allow]
    names = set()
    for item in allow:
        item = str(item)
        if item in RESTRICTED:
            names.add(item)
            continue
        members = [n for n, c in RESTRICTED.items() if c == item]
        if not members:
            known = ", ".join(sorted(set(RESTRICTED.values())))
            raise ValueError(f"allow: {item!r} is neither a restricted procedure nor a category ({known})")
        names.update(members)
    return frozenset(names)


class _Policy:
    granted = None  # the running computation's grant (see machine.run)
    record = False  # do clock and random reads suspend to be recorded? (interp.recording)


POLICY = _Policy


def guard(prim):
    """Make primitive prim check the running computation's grant (idempotent)."""
    fn = prim.fn
    if getattr(fn, "__capability__", None) is not None:
        return prim
    name = prim.name
    category = RESTRICTED[name]

    def guarded(*args):
        granted = POLICY.granted
        if granted is not None and name not in granted:
            raise scheme_error(
                f"{name}: not granted to this code (flows run without {category} procedures "
                f"unless the host grants them, e.g. FlowRuntime(allow=[{name!r}]))"
            )
        return fn(*args)

    guarded.__capability__ = name
    guarded.__wrapped__ = fn
    prim.fn = guarded
    return prim


def guard_environment(genv):
    """Guard every restricted primitive bound in a global environment."""
    from .primitives import Primitive

    for name in RESTRICTED:
        try:
            value = genv.lookup(name)
        except KeyError:
            continue
        if isinstance(value, Primitive):
            guard(value)
