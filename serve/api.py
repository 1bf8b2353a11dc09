"""The JSON API routes: orders, the payment webhook, flows, health, metrics (the change feed's /events is the dashboard's).

Every handler runs the Service's blocking calls in a worker thread
(run_in_threadpool); every error answers {"error": message}. Mutating routes
other than the webhook need the admin token (serve.auth).
"""

import hashlib
import json
import time
import uuid
from datetime import datetime
from typing import Any, Optional

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from . import webhooks
from .metrics import CONTENT_TYPE
from .service import MAX_PAGE, BadRequest

MAX_BODY = 1 << 20  # bytes of a request body


class JSON(JSONResponse):
    """JSON as ASCII: a Scheme string may hold a lone surrogate, which has no UTF-8 form
    but a \\uD800 escape."""

    def render(self, content):
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class Error(BaseModel):
    error: str


class CartLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: StrictStr = Field(min_length=1, max_length=100, examples=["tea"])
    qty: StrictInt = Field(default=1, ge=1, le=1_000_000)


class BeginOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Optional[StrictStr] = Field(default=None, min_length=1, max_length=200,
                                    description="The order id; without one it is derived from the "
                                                "Idempotency-Key header (or made up, without that)")
    cart: list[CartLine] = Field(min_length=1, max_length=100)


class StartFlow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StrictStr = Field(min_length=1, max_length=200, description="The flow id (starting an existing id "
                                                                    "answers its state)")
    args: list[Any] = Field(default_factory=list, max_length=100)


class ResumeFlow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: StrictStr = Field(min_length=1, max_length=400, description="The request key the flow waits on")
    value: Any = Field(default=None, description="The answer (JSON: see flow.convert)")


class Payment(BaseModel):
    order: StrictStr
    payment_ref: StrictStr
    amount: StrictInt


class JournalItem(BaseModel):
    """(documentation only: the response is not checked against it)"""
    model_config = ConfigDict(extra="allow")
    step: int
    key: str = Field(description="The request's key (flow id:step)")
    request: str = Field(description="The request as Scheme text: (kind payload)")
    answer: str = Field(description="The answer as Scheme text")
    raised: Optional[bool] = Field(default=None, description="True when the answer was raised at the "
                                                             "request (a handler's attempts spent)")
    asked: Optional[datetime] = Field(description="When the flow made the request: ISO 8601 UTC "
                                                  "(2027-01-15T08:00:00.000Z); null for entries written "
                                                  "before the journal kept times")
    answered: Optional[datetime] = Field(description="When the request was answered: ISO 8601 UTC; for an "
                                                     "old entry without times, the time of the ledger record "
                                                     "under its key (order flows), else null")
    waited: Optional[float] = Field(description="Seconds from asked to answered (null unless both are known)")


class FlowDetail(BaseModel):
    """(documentation only)"""
    model_config = ConfigDict(extra="allow")
    id: str
    name: Optional[str]
    status: str
    step: Optional[int]
    journal: list[JournalItem] = Field(description="The requests answered so far, oldest first")
    waiting_since: Optional[datetime] = Field(description="When the flow suspended at the request it waits "
                                                          "on (or fell asleep): ISO 8601 UTC; null when it "
                                                          "does not wait or the time was not kept")
    waiting: Optional[dict[str, Any]] = Field(description="{kind, key, payload, payload_text} of the request "
                                                          "it waits on, or null")


ERRORS = {code: {"model": Error} for code in (400, 401, 403, 404, 409, 413, 422)}
ADMIN = "Authorization: Bearer <admin token> (FLOWSCHEME_ADMIN_TOKEN or --admin-token-file)"


def error(status, message, headers=None):
    return JSON({"error": message}, status_code=status, headers=headers)


def make_router(service, admin, webhook_secret, clock=time.time):
    """The API's routes over `service`; admin: serve.auth.AdminToken; webhook_secret: bytes or None."""
    router = APIRouter()
    metrics = service.metrics

    def require_admin(request: Request):
        """(a dependency: checked before the body is, so a refused request learns nothing of it)"""
        admin.check(request.headers.get("authorization"))

    needs_admin = [Depends(require_admin)]

    async def call(fn, *args, **kw):
        return await run_in_threadpool(fn, *args, **kw)

    # ------------------------------------------------------------ health, metrics, events

    @router.get("/healthz", summary="Liveness: the service answers and its worker runs")
    async def healthz():
        return service.health()

    @router.get("/metrics", summary="Prometheus metrics (text exposition format)",
                response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def get_metrics():
        return Response(await call(metrics.render), media_type=CONTENT_TYPE)

    @router.get("/summary", summary="Flows and orders counted by status, and the change counter")
    async def summary():
        return await call(service.counts)

    @router.get("/stock", summary="Stock on hand by sku (from the ledger)")
    async def stock():
        return await call(service.stock)

    # ------------------------------------------------------------ orders

    @router.post("/orders", dependencies=needs_admin, status_code=201, responses=ERRORS,
                 summary="Begin an order (created, stock reserved, waiting for payment)",
                 description=f"Needs {ADMIN}. With an `Idempotency-Key` header and no id, the order id is "
                             "derived from the key, so a retried request answers the same order and records "
                             "nothing twice; the same key with another cart is refused (409).")
    async def begin_order(request: Request, body: BeginOrder,
                          idempotency_key: Optional[str] = Header(default=None, max_length=200)):
        order_id = body.id
        if order_id is None:
            if idempotency_key is not None:
                if not idempotency_key.strip():
                    raise BadRequest("Idempotency-Key must not be empty")
                digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogateescape")).hexdigest()
                order_id = f"o-{digest[:24]}"
            else:
                order_id = f"o-{uuid.uuid4().hex[:24]}"
        out = await call(service.begin_order, order_id, [[line.sku, line.qty] for line in body.cart])
        metrics.transitions.labels("api", "begin").inc()
        return JSON(out, status_code=201, headers={"Location": f"/orders/{order_id}"})

    @router.get("/orders", responses=ERRORS, summary="Orders (paged), in ledger order")
    async def list_orders(status: Optional[str] = Query(default=None, max_length=100),
                          offset: int = Query(default=0, ge=0), limit: int = Query(default=50, ge=1, le=MAX_PAGE)):
        rows, total = await call(service.orders_page, status, offset, limit)
        return {"orders": rows, "total": total, "offset": offset, "limit": limit}

    @router.get("/orders/{order_id}", responses=ERRORS, summary="One order: status, cart, ledger, stock, flow")
    async def get_order(order_id: str):
        return await call(service.order_detail, order_id)

    @router.post("/orders/{order_id}/cancel", dependencies=needs_admin, responses=ERRORS, summary="Cancel an order (its stock released)",
                 description=f"Needs {ADMIN}. A fulfilled order is refused (409).")
    async def cancel_order(request: Request, order_id: str):
        out = await call(service.cancel_order, order_id)
        metrics.transitions.labels("api", "cancel").inc()
        return out

    # ------------------------------------------------------------ the payment webhook

    @router.post("/webhooks/payment", responses=ERRORS,
                 summary="A payment provider's delivery (signed; replays are harmless)",
                 description="Headers: `X-Flowscheme-Timestamp: <unix seconds>` and `X-Flowscheme-Signature: "
                             "v1=<hex HMAC-SHA256 of \"<timestamp>.<raw body>\" under the webhook secret>`. "
                             "A missing or wrong signature, or a timestamp more than 5 minutes off, is refused "
                             "(401) and nothing is recorded. Answers the settle outcome: settled, "
                             "already-settled (a replay), duplicate-payment, expired, cancelled, out-of-stock "
                             "(the last four record refund-due).",
                 openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                     "schema": Payment.model_json_schema()}}}})
    async def payment_webhook(request: Request):
        body = await request.body()
        started = time.perf_counter()
        try:
            if len(body) > MAX_BODY:
                raise webhooks.WebhookRefused(413, "too-large", f"the body is over {MAX_BODY} bytes")
            webhooks.verify(webhook_secret, request.headers.get(webhooks.TIMESTAMP_HEADER),
                            request.headers.get(webhooks.SIGNATURE_HEADER), body, clock())
            order_id, payment_ref, amount = webhooks.payment(body)
        except webhooks.WebhookRefused as e:
            metrics.webhooks.labels(e.outcome).inc()
            return error(e.status, e.message)
        try:
            out = await call(service.settle_payment, order_id, payment_ref, amount)
        except Exception as e:
            metrics.webhooks.labels(f"error-{getattr(e, 'status', 500)}").inc()
            raise
        metrics.webhooks.labels(out["outcome"]).inc()
        metrics.request_seconds.labels("webhook-settle").observe(time.perf_counter() - started)
        return out

    # ------------------------------------------------------------ flows

    @router.get("/flows", responses=ERRORS, summary="Flows (paged, metadata only), sorted by id")
    async def list_flows(status: Optional[str] = Query(default=None, max_length=100),
                         name: Optional[str] = Query(default=None, max_length=200),
                         kind: Optional[str] = Query(default=None, max_length=200),
                         q: Optional[str] = Query(default=None, max_length=200),
                         offset: int = Query(default=0, ge=0), limit: int = Query(default=50, ge=1, le=MAX_PAGE)):
        rows, total = await call(service.flows_page, status, name, kind, q, offset, limit)
        return {"flows": rows, "total": total, "offset": offset, "limit": limit}

    @router.get("/flows/{flow_id}", responses={200: {"model": FlowDetail}, **ERRORS},
                summary="One flow: where it waits (source position and text), locals, journal, timers")
    async def get_flow(flow_id: str):
        return await call(service.flow_detail, flow_id)

    @router.post("/flows/{name}", dependencies=needs_admin, status_code=201, responses=ERRORS, summary="Start flow `name` under an id",
                 description=f"Needs {ADMIN}. Starting an id that exists answers its state (200).")
    async def start_flow(request: Request, name: str, body: StartFlow):
        out = await call(service.start_flow, name, body.id, body.args)
        metrics.transitions.labels("api", "start").inc()
        return JSON(out, status_code=201 if out.pop("created") else 200,
                            headers={"Location": f"/flows/{body.id}"})

    @router.post("/flows/{flow_id}/resume", dependencies=needs_admin, responses=ERRORS, summary="Answer the request a flow waits on",
                 description=f"Needs {ADMIN}. Only the request with that key is answered: another key "
                             "(a replay) is refused with 409 and nothing changes.")
    async def resume_flow(request: Request, flow_id: str, body: ResumeFlow):
        out = await call(service.resume_flow, flow_id, body.key, body.value)
        metrics.transitions.labels("api", "resume").inc()
        return out

    @router.post("/flows/{flow_id}/cancel", dependencies=needs_admin, responses=ERRORS, summary="Cancel a waiting flow",
                 description=f"Needs {ADMIN}. Order flows are cancelled through /orders/{{id}}/cancel.")
    async def cancel_flow(request: Request, flow_id: str):
        out = await call(service.cancel_flow, flow_id)
        metrics.transitions.labels("api", "cancel-flow").inc()
        return out

    return router

