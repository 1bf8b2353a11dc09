"""RetryPolicy: how often, and how far apart, a failing request handler is tried.

    RetryPolicy(max_attempts=5, initial=1.0, backoff=2.0, max_interval=60.0)

The n-th failure (n = 1, 2, ...) waits min(initial * backoff ** (n - 1),
max_interval) seconds before the next try; after max_attempts failures the flow
gets a condition at its request instead (catchable with `guard`).
"""

from typing import NamedTuple


class RetryPolicy(NamedTuple):
    max_attempts: int = 5
    initial: float = 1.0  # seconds before the second attempt
    backoff: float = 2.0  # each wait this many times the one before
    max_interval: float = 60.0  # seconds: no wait is longer

    def delay(self, failures):
        """Seconds to wait after the failures-th failure."""
        return min(self.initial * self.backoff ** (failures - 1), self.max_interval)

    def check(self):
        if type(self.max_attempts) is not int or self.max_attempts < 1:
            raise ValueError(f"RetryPolicy: max_attempts must be a whole number >= 1, not {self.max_attempts!r}")
        for name in ("initial", "backoff", "max_interval"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v != v or v < 0:
                raise ValueError(f"RetryPolicy: {name} must be a number >= 0, not {v!r}")
        if self.initial > self.max_interval:
            raise ValueError(f"RetryPolicy: initial ({self.initial}) is longer than max_interval "
                             f"({self.max_interval}): every wait would be max_interval")
        return self
