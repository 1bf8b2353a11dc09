"""Durable flows: Scheme procedures that suspend at (request kind payload), are
saved as plain data, and resume — after an export/import, a restart or a crash."""

from .clock import ManualClock, SystemClock
from .convert import SchemeObject, to_python, to_scheme
from .errors import (
    CodeNotLoaded,
    FlowError,
    FlowNotFound,
    NondeterminismError,
    StoreAuthenticationError,
    StoreFormatError,
    StorePathError,
    StoreWriteError,
    UnknownFlow,
    UnsaveableFlow,
)
from .retry import RetryPolicy
from .runtime import Done, Failed, FlowFailure, FlowRuntime, NotWaiting, Sleeping, Suspended, Upgrade
from .worker import Transition, Worker

__all__ = [
    "FlowRuntime", "Suspended", "Done", "Failed", "FlowFailure", "NotWaiting", "Sleeping", "Upgrade",
    "Worker", "Transition", "RetryPolicy", "ManualClock", "SystemClock", "StorePathError", "StoreWriteError",
    "FlowError", "FlowNotFound", "UnknownFlow", "StoreFormatError", "StoreAuthenticationError", "CodeNotLoaded",
    "NondeterminismError", "UnsaveableFlow", "SchemeObject", "to_python", "to_scheme",
]
