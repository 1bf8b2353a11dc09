"""Shared helpers for the tests that call primitives directly (no evaluator)."""

import pytest

from interp.errors import SchemeError
from interp.primitives import PRIMITIVES, load_all
from interp.values import list_to_pairs, pairs_to_list

load_all()


def p(name, *args):
    """Call primitive `name` with Python-side arguments."""
    return PRIMITIVES[name].fn(*args)


def err(name, *args):
    """The message of the SchemeError primitive `name` raises for these arguments."""
    with pytest.raises(SchemeError) as info:
        p(name, *args)
    return info.value.message


def L(*xs):
    """A Scheme list of xs."""
    return list_to_pairs(list(xs))


def py(x):
    """A Scheme list as a Python list."""
    return pairs_to_list(x)
