"""Recorded procedures: the clock and random reads a durable host records.

Inside a run whose policy says `record` (a flow step: machine.run(record=True))
and that may suspend, `current-second`, `current-jiffy`, `current-time` and
`random` do not read the clock or the generator themselves: they suspend with
the request `(%recorded NAME ARGS)`, which the host answers on the spot (from
its own clock, say) and keeps in its journal — so that re-running the same code
against the journal gives the same values. Elsewhere they behave as usual.
"""

from .capabilities import POLICY
from .machine import D, Capture
from .values import list_to_pairs, sym

RECORDED = ("current-second", "current-jiffy", "current-time", "random")
RECORDED_KIND = sym("%recorded")


def record_reads(prim):
    """Make primitive prim suspend to be recorded where the run says so (idempotent)."""
    fn = prim.fn
    if getattr(fn, "__recorded__", False):
        return prim
    name = sym(prim.name)

    def recorded(*args):
        if POLICY.record and D.may_suspend:
            fn(*args)  # its argument checks (an error here is the caller's, catchable)
            raise Capture("suspend", (RECORDED_KIND, list_to_pairs([name, list_to_pairs(list(args))])))
        return fn(*args)

    recorded.__recorded__ = True
    recorded.__wrapped__ = fn
    prim.fn = recorded
    return prim


def record_environment(genv):
    """Make the recorded procedures bound in a global environment record."""
    from .primitives import Primitive

    for name in RECORDED:
        try:
            value = genv.lookup(name)
        except KeyError:
            continue
        if isinstance(value, Primitive):
            record_reads(value)
