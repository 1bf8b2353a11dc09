"""What FlowRuntime's calls return: a flow's state after a transition
(Suspended, Sleeping, Done, Failed, NotWaiting), and Upgrade reports; plus
StepStopped, the outcome of a step stopped from outside (a limit, a cancel)."""

from typing import Any, NamedTuple, Optional


class Suspended(NamedTuple):
    flow_id: str
    kind: str
    payload: Any
    key: str


class Done(NamedTuple):
    flow_id: str
    value: Any


class FlowFailure(NamedTuple):
    message: str
    position: Optional[str]
    backtrace: list


class Failed(NamedTuple):
    flow_id: str
    error: FlowFailure


class Sleeping(NamedTuple):
    """The flow sleeps (sleep / sleep-until) until `until` (epoch seconds)."""

    flow_id: str
    until: float


class NotWaiting(NamedTuple):
    """resume() found the flow not waiting (on that kind): nothing was changed."""

    flow_id: str
    status: str
    waiting_on: Optional[str]

    def __bool__(self):
        return False


class StepStopped(NamedTuple):
    """A step's outcome when it was stopped from outside: over a limit ("fuel",
    "time", "memory") or cancelled ("cancel"). Nothing of the step is committed."""

    reason: str
    message: str


class Abandoned(Exception):
    """Raised inside a transition whose step was stopped (carries the StepStopped)."""

    def __init__(self, stopped):
        super().__init__(stopped.message)
        self.stopped = stopped


class Upgrade(NamedTuple):
    """What FlowRuntime.upgrade did (or, dry, would do) to one flow."""

    flow_id: str
    outcome: str  # "current", "upgraded", "would upgrade", "diverges", "not waiting"
    detail: str
