"""Limits on a computation: fuel (procedure calls), running time and memory.

    budget = Budget(Limits(fuel=10_000_000, seconds=5, memory=256 << 20))
    value = interp.call_suspendable(proc, args, check=budget.check)

A Budget is spent across the slices of one step (a flow step may give way to
other threads and come back: see machine.acquire_turn). While a run with a
budget is going, a watchdog thread pokes it every few milliseconds
(machine.interrupt), and the run's CHECK hook — `budget.check` — compares what
was spent with the limits: the run is then stopped with machine.Interrupted
naming the limit, asked to give way when another thread waits for its turn, or
left alone. A limit is checked every few milliseconds, so a run overshoots it
by at most that much work; one primitive's own work is bounded by the size
checks of the primitives, not here.

Memory is the growth of the process's resident set since the step began: the
only figure that counts every allocation (and for a step alone only while one
step runs at a time, which the machine's lock ensures).
"""

import os
import threading
import time
from typing import NamedTuple, Optional

from . import machine

POLL = 0.005  # seconds between the watchdog's pokes


class Limits(NamedTuple):
    """Per-step limits; None switches one off."""

    fuel: Optional[int] = 100_000_000  # procedure calls (a loop iteration is one)
    seconds: Optional[float] = 30.0  # running time
    memory: Optional[int] = 1 << 30  # growth of resident memory, bytes

    def describe(self, reason):
        if reason == "fuel":
            return f"fuel limit exceeded: more than {self.fuel:,} procedure calls in one step"
        if reason == "time":
            return f"time limit exceeded: a step ran for more than {self.seconds:g} s"
        if reason == "memory":
            return f"memory limit exceeded: a step grew memory by more than {self.memory // (1 << 20):,} MiB"
        return f"step stopped ({reason})"


NO_LIMITS = Limits(None, None, None)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_statm = [None, None]  # [pid, fd] of /proc/self/statm, opened once per process (a step reads it)


def resident_bytes():
    """The process's resident memory (0 where it cannot be read). The file stays
    open and is read again in place (one system call; reopened after a fork,
    where /proc/self named the parent)."""
    try:
        pid = os.getpid()
        if _statm[0] != pid:
            _statm[1] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
            _statm[0] = pid
        return int(os.pread(_statm[1], 256, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


class Budget:
    """What one step may still spend; `check` is its machine.CHECK hook."""

    __slots__ = ("limits", "fuel", "seconds", "memory_base", "stop", "_started")

    def __init__(self, limits=Limits()):
        self.limits = limits
        self.fuel = limits.fuel if limits.fuel is not None else 1 << 62
        self.seconds = limits.seconds  # running time left (None: no limit)
        self.memory_base = resident_bytes() if limits.memory is not None else 0
        self.stop = None  # a reason set from outside (a cancel): the step stops at its next check
        self._started = None

    def run(self, fn):
        """Call fn() — one slice of the step, a machine.run with check=self.check —
        spending this budget's fuel and time."""
        old = machine.set_fuel(self.fuel)
        self._started = time.monotonic()
        _watch(1)
        try:
            return fn()
        finally:
            _watch(-1)
            self.fuel = machine.set_fuel(old)
            if self.seconds is not None:
                self.seconds -= time.monotonic() - self._started
            self._started = None

    def check(self):
        """The CHECK hook: None (carry on), machine.PREEMPT or the limit's reason."""
        if self.stop is not None:
            return self.stop
        if machine.fuel() < 0:
            return "fuel"
        lim = self.limits
        if self.seconds is not None and self._started is not None:
            if time.monotonic() - self._started > self.seconds:
                return "time"
        if lim.memory is not None and resident_bytes() - self.memory_base > lim.memory:
            return "memory"
        if machine.turn_wanted():
            return machine.PREEMPT
        return None

    def request_stop(self, reason):
        """Stop the step at its next check (from any thread)."""
        self.stop = reason
        machine.interrupt()


# ------------------------------------------------------------------ the watchdog

_active = threading.Event()
_running = [0]  # slices with a budget going on
_count_lock = threading.Lock()
_thread = [None]


def _watch(delta):
    with _count_lock:
        _running[0] += delta
        if _running[0] > 0:
            t = _thread[0]
            if t is None or not t.is_alive():
                t = _thread[0] = threading.Thread(target=_watchdog, name="flowscheme-limits", daemon=True)
                t.start()
            _active.set()


def _watchdog():
    while True:
        _active.wait()
        time.sleep(POLL)
        with _count_lock:
            if _running[0] <= 0:
                _active.clear()
                continue
        machine.interrupt()
