"""The flow runtime's clock: what "now" is for timers, deadlines, retries and
the time a flow reads.

    SystemClock()          real time (the default)
    ManualClock(start)     time that moves only when told: .advance(seconds), .set(t)

Time is epoch seconds (a float). Tests — the project's and its users' — skip
days with a ManualClock in-process, without waiting and without a server.
"""

import threading
import time


class SystemClock:
    """Real time."""

    def now(self):
        return time.time()

    def sleep(self, seconds, stop=None):
        """Wait up to `seconds` (or until the threading.Event `stop` is set)."""
        if stop is not None:
            stop.wait(max(0.0, seconds))
        else:
            time.sleep(max(0.0, seconds))

    def __repr__(self):
        return "SystemClock()"


class ManualClock:
    """A clock that stands still until advanced; sleeping on it returns at once
    once the clock has been advanced past the wake-up time, and otherwise waits
    (in real time, at most the given seconds) for an advance."""

    def __init__(self, start=0.0):
        self._now = float(start)
        self._moved = threading.Condition()

    def now(self):
        return self._now

    def advance(self, seconds):
        """Move time forward by seconds (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward (advance by {seconds})")
        return self.set(self._now + seconds)

    def set(self, t):
        """Move time forward to t; returns it."""
        t = float(t)
        if t < self._now:
            raise ValueError(f"a clock only moves forward ({t} is before {self._now})")
        with self._moved:
            self._now = t
            self._moved.notify_all()
        return t

    def sleep(self, seconds, stop=None):
        """Return when the clock reaches now + seconds, `stop` is set, or a short
        real-time wait passes without an advance (so a worker loop stays live)."""
        until = self._now + max(0.0, seconds)
        with self._moved:
            if self._now < until and not (stop is not None and stop.is_set()):
                self._moved.wait(0.05)

    def __repr__(self):
        return f"ManualClock({self._now!r})"
