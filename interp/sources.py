"""Source files: reading them (errors are Scheme file errors) and resolving a path
relative to the file a form came from (for include)."""

import os

from .errors import ErrorObject, SchemeError


def read_source(path):
    """The text of a source file, or a file error naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise SchemeError(
            ErrorObject(f"cannot read {path}: {e.strerror or e}", (), kind="file")
        ) from None
    except UnicodeDecodeError as e:
        raise SchemeError(
            ErrorObject(f"cannot read {path}: not UTF-8 text ({e.reason})", (), kind="file")
        ) from None
    except ValueError as e:  # e.g. an embedded NUL in the path
        raise SchemeError(ErrorObject(f"cannot read {path!r}: {e}", (), kind="file")) from None


def resolve_relative(path, pos):
    """`path` relative to the directory of the file that position `pos` is in."""
    if os.path.isabs(path):
        return path
    base = getattr(pos, "file", None)
    if base and not (base.startswith("<") and base.endswith(">")):
        return os.path.join(os.path.dirname(base), path)
    return path
