"""The web dashboard: server-rendered pages over a Service, and the server-sent
events that refresh them live.

    app.include_router(dashboard_router(service))

    GET /                 counts, flows (filter: status, name, kind; search: q; paged), orders
    GET /flows/{id}       where a flow waits: source, locals, journal, timers; resume / cancel forms
    GET /orders/{id}      cart, total, ledger records, stock effects, the flow's state
    GET /events           text/event-stream of the service's change feed
    GET /static/{file}    the stylesheet and the live-refresh script

Pages are whole documents that read without JavaScript; live.js listens to
/events and re-fetches the page's [data-live] regions when something changes.
Each page carries the change counter it was rendered at (data-seq), and the
stream opens with the counter now, so a change between the two is not missed.
"""

import asyncio
import collections
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from flow.convert import to_python

from .pages.layout import error_page, not_found
from .pages.flow_page import flow_page
from .pages.order_page import order_page
from .pages.overview import overview
from .service import jsonable

STATIC = Path(__file__).with_name("static")
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
KEEPALIVE = 15.0  # seconds between comments on a quiet event stream
STREAM_MAX_AGE = 300.0  # seconds one event stream lasts; the browser reconnects
BACKLOG = 1000  # changes queued for one slow client before they collapse into one resync
HTML_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; "
                                           "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"}


class BadQuery(ValueError):
    """A query parameter the page cannot use (shown as a 400 page)."""


def _int_param(params, name, default, low, high):
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise BadQuery(f"{name} must be from {low} to {high}, got {value}")
    return value


def _text_param(params, name):
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > 200:
        raise BadQuery(f"{name} is longer than 200 characters")
    return raw.strip()


def _html(body, status=200):
    return HTMLResponse(str(body), status_code=status, headers=HTML_HEADERS)


def _service_error_status(error):
    """The HTTP status a service error stands for (serve.service.ServiceError.status), or None."""
    status = getattr(error, "status", None)
    return status if isinstance(status, int) and 400 <= status < 600 else None


def overview_view(service, params):
    """The data of the overview page, from the service's views (blocking)."""
    status, name, kind, q = (_text_param(params, k) for k in ("status", "name", "kind", "q"))
    offset = _int_param(params, "offset", 0, 0, 10**9)
    limit = _int_param(params, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    order_status = _text_param(params, "order_status")
    orders_offset = _int_param(params, "orders_offset", 0, 0, 10**9)
    view = service.listing_view()  # one pass, read at a change counter: a change after it shows as a newer seq
    seq = view.seq
    rows, total = service.flows_page(status=status, name=name, kind=kind, q=q, offset=offset, limit=limit,
                                     view=view)
    orders, orders_total = service.orders_page(status=order_status, offset=orders_offset, limit=limit, view=view)
    return {
        "seq": seq,
        "counts": service.counts(view),
        "names": service.flow_names(),
        "filters": {"status": status, "name": name, "kind": kind, "q": q, "limit": limit},
        "flows": {"rows": rows, "total": total, "offset": offset, "limit": limit},
        "orders": {"rows": orders, "total": orders_total, "offset": orders_offset, "limit": limit,
                   "status": order_status},
    }


def readable_journal(service, flow_id, journal):
    """The journal with answers that `write` shows opaquely (`#<hash-table>`) as JSON
    text instead, read from the flow's journal (service.rt.journal); unchanged
    when that cannot be read."""
    if not any("#<" in str(e.get("answer")) for e in journal):
        return journal
    try:
        entries = service.rt.journal(flow_id)
        out = []
        for shown, entry in zip(journal, entries):
            if "#<" in str(shown.get("answer")):
                text = json.dumps(jsonable(to_python(entry.answer)), ensure_ascii=False, separators=(", ", ": "))
                shown = dict(shown, answer=text)
            out.append(shown)
        return out + journal[len(out):]
    except Exception:  # (data needing code that is not loaded: leave the write forms)
        return journal


def sse_message(event):
    """One server-sent `change` event: its id is the change counter, its data the event as JSON."""
    data = json.dumps(event, separators=(",", ":"), default=str)
    seq = event.get("seq")
    head = f"id: {seq}\n" if type(seq) is int else ""
    return f"{head}event: change\ndata: {data}\n\n"


async def event_stream(service, keepalive=KEEPALIVE, max_age=STREAM_MAX_AGE, backlog=BACKLOG):
    """The change feed as server-sent events: first a `hello` carrying the change
    counter, then each change, a comment every `keepalive` seconds of quiet; it
    ends after `max_age` seconds (the browser reconnects) or when the feed
    closes. A client more than `backlog` changes behind gets one `resync` change
    in their place."""
    feed = service.feed
    buffer = collections.deque()
    ready = asyncio.Event()
    ended = False

    async def pump():  # the one owner of the subscription: cancelling it unsubscribes
        nonlocal ended
        try:
            async for event in feed.subscribe():
                if len(buffer) >= backlog:
                    buffer.clear()
                    event = {"type": "resync", "seq": event.get("seq"), "time": event.get("time")}
                buffer.append(event)
                ready.set()
        finally:
            ended = True
            ready.set()

    task = asyncio.ensure_future(pump())
    try:
        await asyncio.sleep(0)  # let it subscribe: every change after the hello's counter reaches us
        loop = asyncio.get_running_loop()
        ends = loop.time() + max_age
        yield f"retry: 2000\nid: {feed.seq}\nevent: hello\ndata: {json.dumps({'seq': feed.seq})}\n\n"
        while not ended or buffer:
            left = ends - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(ready.wait(), timeout=min(keepalive, left))
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            ready.clear()
            while buffer:
                yield sse_message(buffer.popleft())
    finally:
        task.cancel()


def dashboard_router(service):
    """The dashboard's routes over `service` (a serve.service.Service)."""
    router = APIRouter(include_in_schema=False)

    async def render(make, what, ident=None):
        try:
            return _html(await run_in_threadpool(make))
        except BadQuery as e:
            return _html(error_page(400, "Bad request", str(e)), 400)
        except Exception as e:
            status = _service_error_status(e)
            if status == 404:
                return _html(not_found(what, ident), 404)
            if status is not None:
                return _html(error_page(status, "Cannot show this", getattr(e, "message", str(e))), status)
            raise

    @router.get("/", response_class=HTMLResponse)
    async def overview_route(request: Request):
        params = request.query_params

        def make():
            return overview(overview_view(service, params))

        return await render(make, "page")

    @router.get("/flows/{flow_id}", response_class=HTMLResponse)
    async def flow_route(flow_id: str, request: Request):
        base_url = str(request.base_url).rstrip("/")

        def make():
            seq = service.feed.seq  # before reading: a change after this shows as a newer seq
            detail = service.flow_detail(flow_id)
            return flow_page(dict(detail, seq=seq, base_url=base_url,
                                  journal=readable_journal(service, flow_id, detail["journal"])))

        return await render(make, "flow", flow_id)

    @router.get("/orders/{order_id}", response_class=HTMLResponse)
    async def order_route(order_id: str):
        def make():
            seq = service.feed.seq
            return order_page(dict(service.order_detail(order_id), seq=seq))

        return await render(make, "order", order_id)

    @router.get("/events")
    async def events_route():
        return StreamingResponse(event_stream(service), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/static/{name}")
    async def static_route(name: str):
        path = STATIC / name
        media = STATIC_TYPES.get(path.suffix)
        if media is None or path.parent != STATIC or not path.is_file():
            return _html(not_found("file", name), 404)
        return Response(path.read_bytes(), media_type=media,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    return router


__all__ = ["dashboard_router", "overview_view", "event_stream", "sse_message"]
