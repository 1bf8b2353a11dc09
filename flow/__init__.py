"""Durable flows: Scheme procedures that suspend at (request kind payload), are
saved as plain data, and resume — after an export/import, a restart or a crash."""

from .convert import SchemeObject, to_python, to_scheme
from .errors import (
    CodeNotLoaded,
    FlowError,
    FlowNotFound,
    NondeterminismError,
    StoreFormatError,
    UnknownFlow,
    UnsaveableFlow,
)
from .runtime import Done, Failed, FlowFailure, FlowRuntime, NotWaiting, Suspended

__all__ = [
    "FlowRuntime", "Suspended", "Done", "Failed", "FlowFailure", "NotWaiting",
    "FlowError", "FlowNotFound", "UnknownFlow", "StoreFormatError", "CodeNotLoaded",
    "NondeterminismError", "UnsaveableFlow", "SchemeObject", "to_python", "to_scheme",
]
