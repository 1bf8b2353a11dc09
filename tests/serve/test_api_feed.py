"""The change feed behind /events (serve.events.ChangeFeed): every publish
numbered, handed to each subscriber from any thread, a subscriber that falls
behind gets one resync instead of an unbounded queue, close() ends them all."""

import asyncio
import threading

from serve.events import ChangeFeed


def test_events_from_threads_reach_every_subscriber_in_order():
    feed = ChangeFeed()

    async def main():
        a, b = feed.subscribe(), feed.subscribe()
        first = asyncio.ensure_future(a.__anext__())  # (subscribed once it starts waiting)
        second = asyncio.ensure_future(b.__anext__())
        while feed.subscribers() < 2:
            await asyncio.sleep(0.01)
        threads = [threading.Thread(target=feed.publish, args=({"type": "t", "n": i},)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got_a = [(await first)["seq"]] + [(await a.__anext__())["seq"] for _ in range(4)]
        got_b = [(await second)["seq"]] + [(await b.__anext__())["seq"] for _ in range(4)]
        feed.close()
        assert [e async for e in a] == [] and [e async for e in b] == []
        return got_a, got_b

    got_a, got_b = asyncio.run(main())
    assert got_a == got_b == [1, 2, 3, 4, 5]
    assert feed.seq == 5


def test_a_lagging_subscriber_gets_one_resync():
    feed = ChangeFeed(backlog=3)

    async def main():
        sub = feed.subscribe()
        waiting = asyncio.ensure_future(sub.__anext__())
        while feed.subscribers() < 1:
            await asyncio.sleep(0.01)
        for i in range(10):
            feed.publish({"type": "t", "n": i})
        await asyncio.sleep(0.05)
        first = await waiting
        rest = []
        feed.publish({"type": "t", "n": "after"})
        while True:
            e = await sub.__anext__()
            rest.append(e)
            if e.get("n") == "after":
                break
        feed.close()
        return first, rest

    first, rest = asyncio.run(main())
    kinds = [first["type"]] + [e["type"] for e in rest]
    assert kinds.count("resync") == 1
    assert rest[-1]["n"] == "after"
    assert len(kinds) <= 3 + 2


def test_heartbeats_when_quiet_and_nothing_after_close():
    feed = ChangeFeed()

    async def main():
        sub = feed.subscribe(heartbeat=0.01)
        beat = await sub.__anext__()
        feed.close()
        return beat, [e async for e in sub]

    beat, after = asyncio.run(main())
    assert beat is None and after == []

    async def late():
        return [e async for e in feed.subscribe()]

    assert asyncio.run(late()) == []
