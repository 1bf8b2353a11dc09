"""The ASGI application: the JSON API and the dashboard on one FastAPI app, with request logging, metrics, error bodies and the worker's life.

    app = create_app(service, admin=AdminToken(b"..."), webhook_secret=b"...")

GET /flows/{id} and GET /orders/{id} are both a JSON resource (the API) and a
page (the dashboard): a request whose Accept header asks for text/html (a
browser) gets the page, any other the JSON. Every error answers
{"error": message}; a bad request is a 4xx, never a 500. The app's lifespan
starts the service's worker thread and, at shutdown (after in-flight requests
finished), stops it after its current step and closes the shop.
"""

import logging
import re
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .api import JSON, MAX_BODY, make_router
from .auth import AdminToken, AuthError
from .service import ServiceError

log = logging.getLogger("flowscheme.serve")
access = logging.getLogger("flowscheme.serve.access")

PAGE_PATH = re.compile(r"/(flows|orders)/[^/]+\Z")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_PATHS = ("/webhooks/payment",)  # the one mutation without the admin token: it is signed instead
HTML_PREFIX = "/_html"  # where the dashboard's pages that share the API's paths are mounted


def wants_html(headers):
    accept = headers.get("accept", "")
    return "text/html" in accept


def is_form(headers):
    """Is the request a plain HTML form's submission (what a browser posts without JavaScript)?"""
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


def _error(status, message, headers=None):
    return JSON({"error": message}, status_code=status, headers=headers)


def _validation_message(exc):
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg')}")
    return "invalid request: " + "; ".join(parts)


async def _bounded_body(receive, send):
    """A body sent without Content-Length (chunked) read here, at most MAX_BODY bytes ->
    a receive that replays it; None when it was over (413 sent) or the client went."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY:
            access.info('- "chunked body over %d bytes" 413', MAX_BODY)
            await _error(413, f"the body is over {MAX_BODY} bytes")({"type": "http"}, receive, send)
            return None
        if not message.get("more_body", False):
            break
    replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replayed():
        return replay.pop() if replay else await receive()

    return replayed


def create_app(service, admin=None, webhook_secret=None, clock=time.time, dashboard=True, manage=True):
    """The app over `service`. admin: an AdminToken (default: none configured:
    mutations refused); webhook_secret: bytes or None; dashboard: include
    serve.dashboard's pages when that module is there; manage: the lifespan
    starts and stops the service."""
    admin = admin if admin is not None else AdminToken(None)

    @asynccontextmanager
    async def lifespan(app):
        if manage:
            service.start()
        try:
            yield
        finally:
            if manage:
                await run_in_threadpool(service.stop)

    app = FastAPI(title="flowscheme", version="0.1.0", lifespan=lifespan,
                  description="Orders, payment webhooks and durable flows over HTTP (`flowscheme serve`).",
                  docs_url="/docs", redoc_url=None, default_response_class=JSON)
    app.state.service = service
    app.include_router(make_router(service, admin, webhook_secret, clock))
    if dashboard:
        try:
            from .dashboard import dashboard_router
        except ImportError as e:  # (the dashboard is optional to the API)
            log.warning("no dashboard: %s", e)
        else:
            pages = dashboard_router(service)
            app.include_router(pages)
            app.include_router(pages, prefix=HTML_PREFIX)  # (reached by content negotiation only)

    @app.exception_handler(ServiceError)
    async def service_error(request, exc):
        return _error(exc.status, exc.message)

    @app.exception_handler(AuthError)
    async def auth_error(request, exc):
        message = exc.message
        if exc.status == 401 and is_form(request.headers):
            message = f"{message}: an HTML form cannot send it (the dashboard's forms need JavaScript; " \
                      "without it, the flow's page shows the curl commands to run instead)"
        return _error(exc.status, message, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc):
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such resource: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request, exc):
        log.exception("internal error in %s %s", request.method, request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); see the server's log")

    metrics = service.metrics

    @app.middleware("http")
    async def log_and_count(request: Request, call_next):
        started = time.perf_counter()
        length = request.headers.get("content-length")
        refused = None
        if request.method not in SAFE_METHODS and request.url.path not in OPEN_PATHS:
            try:  # (before the body is read: a refused request learns nothing of how it would be taken)
                admin.check(request.headers.get("authorization"))
            except AuthError as e:
                refused = await auth_error(request, e)
        if refused is not None:
            response = refused
        elif length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            response = _error(413, f"the body is over {MAX_BODY} bytes")
        else:
            metrics.in_flight.inc()
            try:
                response = await call_next(request)
            finally:
                metrics.in_flight.dec()
        took = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.request_seconds.labels(template).observe(took)
        client = request.client.host if request.client else "-"
        path = request.scope.get("flowscheme_path") or request.url.path
        access.info('%s "%s %s" %d %.1fms', client, request.method, path, response.status_code,
                    took * 1000)
        return response

    inner = app.build_middleware_stack

    def negotiated():
        """Route browsers' GETs of the shared paths to the dashboard's pages."""
        stack = inner()

        async def asgi(scope, receive, send):
            if scope["type"] == "http":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                if (dashboard and scope["method"] in ("GET", "HEAD") and PAGE_PATH.match(scope["path"])
                        and wants_html(headers)):
                    scope = dict(scope, path=HTML_PREFIX + scope["path"], flowscheme_path=scope["path"])
                elif scope["method"] not in SAFE_METHODS and "content-length" not in headers:
                    receive = await _bounded_body(receive, send)
                    if receive is None:
                        return
            await stack(scope, receive, send)

        return asgi

    app.build_middleware_stack = negotiated
    return app
