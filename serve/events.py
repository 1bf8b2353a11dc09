"""The change feed: a thread-safe `publish(event)` and an async `subscribe()` (for server-sent events), with a change counter.

    feed = ChangeFeed()
    feed.publish({"type": "order", "id": "o-1", "status": "settled"})   # any thread
    async for event in feed.subscribe():   # in the event loop: each event after subscribing
        ...                                # {"seq": n, "time": t, "type": ..., ...}

Every event gets the next sequence number (`feed.seq`: the change counter, how
many changes this process has seen) and the wall-clock time. A subscriber that
falls more than `backlog` events behind gets one {"type": "resync"} in place of
what it missed (read the views again), never an unbounded queue.
"""

import asyncio
import threading
import time


class ChangeFeed:
    def __init__(self, backlog=1000):
        self.backlog = backlog
        self.seq = 0
        self._lock = threading.Lock()
        self._subscribers = []  # [_Subscriber]
        self._closed = False

    def publish(self, event):
        """Record one change (a dict: type, id, ...) and hand it to every subscriber; returns it with seq and time."""
        with self._lock:  # (offered under the lock: every subscriber sees the events in seq order)
            self.seq += 1
            event = dict(event, seq=self.seq, time=time.time())
            for s in self._subscribers:
                s.offer(event)
        return event

    def close(self):
        """End every subscription (shutdown): their iterators stop."""
        with self._lock:
            self._closed = True
            subscribers, self._subscribers = self._subscribers, []
        for s in subscribers:
            s.offer(None)

    async def subscribe(self, heartbeat=None):
        """Yield each event published after this call (in the running event loop), until close();
        with heartbeat (seconds), None whenever that long passes without one."""
        s = _Subscriber(asyncio.get_running_loop(), self.backlog)
        with self._lock:
            if self._closed:
                return
            self._subscribers.append(s)
        try:
            while True:
                try:
                    event = await asyncio.wait_for(s.queue.get(), heartbeat)
                except asyncio.TimeoutError:
                    yield None
                    continue
                if event is None:
                    return
                yield event
        finally:
            with self._lock:
                if s in self._subscribers:
                    self._subscribers.remove(s)

    def subscribers(self):
        with self._lock:
            return len(self._subscribers)


class _Subscriber:
    def __init__(self, loop, backlog):
        self.loop = loop
        self.queue = asyncio.Queue()
        self.backlog = backlog
        self.lagging = False

    def offer(self, event):
        try:
            self.loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # its loop is closed: nobody is listening any more
            pass

    def _put(self, event):
        if event is None:
            self.queue.put_nowait(None)
            return
        if self.queue.qsize() >= self.backlog:
            if not self.lagging:  # drop what is queued; one resync stands for it
                self.lagging = True
                while not self.queue.empty():
                    self.queue.get_nowait()
                self.queue.put_nowait({"type": "resync", "seq": event["seq"], "time": event["time"]})
            return
        self.lagging = False
        self.queue.put_nowait(event)
