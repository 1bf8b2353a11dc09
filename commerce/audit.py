"""Cross-check a Shop's ledger against its order flows, and repair what the flows' journals can re-derive.

    report = verify(shop)    # AuditReport: the ledger file's own check + every gap, by order and key
    result = repair(shop)    # RepairReport: records re-appended under their keys, and what could not be

The flows say what the ledger must hold. Every order flow's journal lists the
requests it was answered, each under its request key: reserve -> a 'reserved'
(or, its answer says, 'out-of-stock') record, payment -> 'paid' (when the answer
is a payment: not for a timeout or a cancellation), fulfil -> 'fulfilled', under
that same key; release -> 'released' under '<order>:released'; and an order that
has a flow has its '<order>:created' record. Beyond the journal, each order's
lifecycle must be settled once its flow is finished: a reservation is released
or fulfilled (a flow cancelled by the runtime or failed while holding one is a
gap), and every payment is either the one its order was fulfilled for or
'refund-due' ('<order>:refund:<ref>'). A gap is one of those records missing, a
record under a flow's key that disagrees with it (other order, other kind,
other payment), a record no flow explains, or work a crash left half-done (a
recorded payment not yet resumed, a payment or reservation of a finished order
not yet settled: `Shop.recover()` finishes it).

Repair re-serves what was lost: it re-appends the missing record under the same
idempotency key, from the journal's answer (the reserve answer carries the cart,
lines and total of the created record and the stock it took; the payment answer
the reference and amount; the release answer the stock given back), marked
`rederived_from: journal`. It never runs a flow, only appends (idempotent by
key, so running it twice is safe), keeps each order's records in lifecycle
order (a record whose predecessor cannot be re-derived is left out, and named),
and names everything it cannot re-derive. Uses flow's public API only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flow import FlowError, SchemeObject, to_python

from .ledger import KINDS, STOCK, LedgerError, LedgerRecord, VerifyReport
from .orders import FLOW, LEDGER_KIND, LEGACY_FLOW, ORDER_FLOWS

__all__ = ["AuditReport", "Gap", "RepairReport", "MANUAL", "RECOVER", "REPAIR", "repair", "verify"]

#: Remedies: what fixes a gap.
REPAIR = "repair"    # `ledger repair` re-appends the record from the flow's journal
RECOVER = "recover"  # half-done work that `Shop.recover()` (`order recover`) finishes
MANUAL = "manual"    # cannot be re-derived from the flows: a person has to look

_REMEDY_TEXT = {
    REPAIR: "re-derivable: `ledger repair` re-appends it from the flow's journal",
    RECOVER: "half-done: `order recover` finishes it",
    MANUAL: "cannot be re-derived from the flows",
}
#: The requests an order-lifecycle flow makes, in order.
REQUESTS = ("reserve", "payment", "fulfil")
#: The journal each order-lifecycle flow state implies (kinds answered so far).
_ANSWERED_BY = {"reserve": (), "payment": ("reserve",), "fulfil": ("reserve", "payment")}
#: The requests a shop-order flow may make after each one (None: its first).
_SHOP_NEXT = {None: ("reserve",), "reserve": ("payment",), "payment": ("fulfil", "release"),
              "fulfil": ("release",), "release": ()}
#: Lifecycle order, for repair: what an order's record needs before it.
_NEEDS = {"reserved": "created", "out-of-stock": "created", "paid": "reserved", "fulfilled": "paid",
          "released": "reserved"}
_RANK = {"created": 0, "reserved": 1, "out-of-stock": 1, "paid": 2, "fulfilled": 3, "released": 3}


@dataclass(frozen=True)
class Gap:
    """One disagreement between the ledger and an order's flow."""

    order: str
    key: str | None  # the idempotency key concerned, when there is one
    missing: str     # what is missing or wrong, in a few words ("record 'fulfilled'")
    message: str
    remedy: str      # REPAIR, RECOVER or MANUAL
    #: for REPAIR: the arguments of the Ledger.append that re-derives the record
    record: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def kind(self) -> str | None:
        """The ledger kind of the record concerned (for REPAIR gaps), else None."""
        return None if self.record is None else self.record["kind"]

    def __str__(self) -> str:
        where = f"order {self.order}" + (f", key {self.key}" if self.key else "")
        return f"{where}: {self.message} [{_REMEDY_TEXT[self.remedy]}]"

    def as_json(self) -> dict[str, Any]:
        return {"order": self.order, "key": self.key, "missing": self.missing,
                "message": self.message, "remedy": self.remedy}


@dataclass(frozen=True)
class AuditReport:
    """What `verify` found: the ledger file's own check, and every gap between it and the flows."""

    ledger: VerifyReport
    orders: int  # orders checked (in the ledger, or with an order flow)
    gaps: tuple[Gap, ...]

    @property
    def ok(self) -> bool:
        return self.ledger.ok and not self.gaps

    def summary(self) -> str:
        head = f"cross-check of {self.orders} order(s) against their flows: "
        if not self.gaps:
            return head + "no gaps"
        return "\n".join([head + f"{len(self.gaps)} gap(s)"] + [f"  {g}" for g in self.gaps])

    def __str__(self) -> str:
        return self.summary() + "\n" + str(self.ledger)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "orders": self.orders, "gaps": [g.as_json() for g in self.gaps]}


@dataclass(frozen=True)
class RepairReport:
    """What `repair` did: records re-appended, gaps left (each with why), and a fresh audit."""

    appended: tuple[LedgerRecord, ...]
    left: tuple[tuple[Gap, str], ...]  # (gap, why it was not repaired)
    after: AuditReport

    @property
    def ok(self) -> bool:
        return self.after.ok

    def __str__(self) -> str:
        lines = []
        for r in self.appended:
            lines.append(f"re-appended {r.kind!r} for order {r.order} under key {r.key} "
                         f"(seq {r.seq}, from the flow's journal)")
        if not self.appended:
            lines.append("nothing to re-append")
        for gap, why in self.left:
            lines.append(f"not repaired: {gap} — {why}")
        lines.append(str(self.after))
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "appended": [{"seq": r.seq, "order": r.order, "kind": r.kind, "key": r.key} for r in self.appended],
            "left": [dict(g.as_json(), why=why) for g, why in self.left],
            "after": dict(self.after.as_json(), ledger_ok=self.after.ledger.ok),
        }


# --------------------------------------------------------------------------- verify


def verify(shop) -> AuditReport:
    """Cross-check every order in `shop`'s ledger and every flow in its store.
    Reads only (flow metadata and journals, ledger records): nothing runs."""
    ledger_report = shop.ledger.verify()
    records = shop.ledger.records()
    by_order: dict[str, list[LedgerRecord]] = {}
    by_key: dict[str, LedgerRecord] = {}
    for r in records:
        by_order.setdefault(r.order, []).append(r)
        by_key.setdefault(r.key, r)
    flow_ids = set(shop.flows.ids())
    by_order.pop(STOCK, None)
    orders = list(by_order) + sorted(flow_ids - set(by_order))
    gaps: list[Gap] = []
    for order in orders:
        gaps += _OrderCheck(shop, order, by_order.get(order, []), by_key, order in flow_ids).run()
    for sku, units in sorted(shop.ledger.stock().items()):
        if units < 0:
            gaps.append(Gap(STOCK, None, "stock", f"the stock of {sku} is {units}: more was reserved than "
                                                   f"was received", MANUAL))
    return AuditReport(ledger_report, len(orders), tuple(gaps))


class _OrderCheck:
    """The gaps of one order: its ledger records against its flow's state and journal."""

    def __init__(self, shop, order: str, records: list[LedgerRecord], by_key: dict[str, LedgerRecord],
                 has_flow: bool):
        self.shop, self.order, self.records, self.by_key, self.has_flow = shop, order, records, by_key, has_flow
        self.gaps: list[Gap] = []
        self.explained: set[str] = set()  # keys of the order's records the flow accounts for
        self.meta = None
        self.fulfil_answered = False  # its flow was answered at fulfil (fulfilled, not cancelled)

    def gap(self, key, missing, message, remedy, record=None) -> None:
        self.gaps.append(Gap(self.order, key, missing, message, remedy, record))

    def run(self) -> list[Gap]:
        if not self.has_flow:
            self.no_flow()
            return self.gaps
        try:
            meta = self.shop.flows.flow(self.order, data=False)
        except FlowError as exc:
            self.gap(None, "flow", f"its flow cannot be read ({exc})", MANUAL)
            return self.gaps
        if meta.name not in ORDER_FLOWS:
            self.gap(None, "order flow",
                     f"its flow is named {meta.name!r}, not {FLOW!r}: not an order this shop can "
                     f"check or drive", MANUAL)
            return self.gaps
        self.meta = meta
        try:
            journal = self.shop.flows.journal(self.order)
        except FlowError as exc:
            self.gap(None, "journal", f"its flow's journal cannot be read ({exc})", MANUAL)
            return self.gaps
        answered = self.answered(journal, meta.name)
        if answered is None:
            return self.gaps
        self.check_state(meta, answered)
        self.check_created(meta, answered)
        for kind, key, answer in answered:
            self.check_answered(kind, key, answer)
        self.check_pending(meta)
        self.check_settled(meta)
        self.check_unexplained()
        return self.gaps

    # ------------------------------------------------------------ the parts

    def no_flow(self) -> None:
        kinds = [r.kind for r in self.records]
        if kinds == ["created"]:
            self.gap(None, "flow", "the ledger created this order but its flow never started", RECOVER)
        elif kinds[:1] == ["created"] and all(r.key == f"{self.order}:1" for r in self.records[1:]) \
                and len(kinds) == 2:
            self.gap(None, "flow",
                     f"the ledger records {kinds[1]!r} for this order, but its flow never committed its start "
                     f"(a crash): started again, it asks for its reserve under the same key", RECOVER)
        elif self.records:
            self.gap(None, "flow",
                     f"the ledger records {', '.join(repr(k) for k in kinds)} for this order but the "
                     f"flow store has no flow for it", MANUAL)

    def answered(self, journal, name) -> list[tuple[str, str, Any]] | None:
        """[(request kind, key, answer)] from the journal; None (with a gap) if it is not an order's."""
        out = []
        previous = None
        for i, entry in enumerate(journal):
            kind = getattr(entry.kind, "name", str(entry.kind))
            key = entry.key
            if name == LEGACY_FLOW:
                fits, asks = i < len(REQUESTS) and kind == REQUESTS[i], " -> ".join(REQUESTS)
            else:
                fits, asks = kind in _SHOP_NEXT[previous], "reserve -> payment -> fulfil or release"
            if not fits:
                self.gap(key if isinstance(key, str) else None, "journal",
                         f"its flow's journal entry {i + 1} answers {kind!r}, where an order flow asks "
                         f"{asks}: not checked further", MANUAL)
                return None
            if not (isinstance(key, str) and re.fullmatch(re.escape(self.order) + r":[1-9][0-9]*", key)):
                self.gap(None, "journal",
                         f"its flow's journal answers {kind!r} under key {key!r}, which is not one of "
                         f"this order's request keys: not checked further", MANUAL)
                return None
            try:
                answer = to_python(entry.answer)
            except Exception:  # noqa: BLE001 - anything odd in a journal is just not re-derivable
                answer = None
            if entry.raised:  # its handler failed: a condition, no record
                answer = _RAISED
            elif isinstance(answer, SchemeObject) and self.is_timeout(entry.answer):
                answer = _TIMEOUT
            out.append((kind, key, answer))
            previous = kind
        return out

    def is_timeout(self, value) -> bool:
        interp = self.shop.flows.interp
        try:
            return interp.call(interp.lookup("timeout?"), value) is True
        except Exception:  # noqa: BLE001
            return False

    def check_state(self, meta, answered) -> None:
        kinds = tuple(kind for kind, _, _ in answered)
        if meta.name == LEGACY_FLOW:
            if meta.status == "done":
                expect = REQUESTS
            elif meta.status == "suspended":
                expect = _ANSWERED_BY.get(meta.kind.name)
            else:  # failed or cancelled: any prefix
                return
            if expect is not None and kinds != expect:
                state = "done" if meta.status == "done" else f"waiting on {meta.kind.name!r}"
                self.gap(None, "journal",
                         f"its flow is {state} but its journal answers {list(kinds)} (expected {list(expect)})",
                         MANUAL)
            return
        if meta.status == "suspended":
            waits = meta.kind.name
            if waits not in _SHOP_NEXT[kinds[-1] if kinds else None]:
                self.gap(None, "journal", f"its flow waits on {waits!r} but its journal answers {list(kinds)}",
                         MANUAL)
        elif meta.status == "done":
            value = self.shop._outcome(self.order, meta)
            last = answered[-1] if answered else None
            fine = {"fulfilled": last is not None and last[0] == "fulfil",
                    "expired": last is not None and last[0] == "release",
                    "cancelled": last is not None and last[0] == "release",
                    "out-of-stock": kinds == ("reserve",)}.get(value, False)
            if not fine:
                self.gap(None, "journal", f"its flow ended {value!r} but its journal answers {list(kinds)}",
                         MANUAL)

    def check_created(self, meta, answered) -> None:
        key = f"{self.order}:created"
        record = self.by_key.get(key)
        self.explained.add(key)
        if record is not None:
            if record.order != self.order or record.kind != "created":
                self.gap(key, "record 'created'",
                         f"the ledger holds a {record.kind!r} record of order {record.order!r} under "
                         f"this order's created key", MANUAL)
            return
        reserve = next((answer for kind, _, answer in answered if kind == "reserve"), None)
        derived = _created_from(reserve)
        if derived is not None:
            self.gap(key, "record 'created'",
                     "no 'created' record, though the order has a flow (the flow's reserve answer "
                     "carries the cart and total)", REPAIR,
                     dict(order=self.order, kind="created", key=key, amount=derived[0], details=derived[1]))
        else:
            why = ("the flow's reserve answer does not carry the cart and total" if answered
                   else "the flow has answered no request yet")
            self.gap(key, "record 'created'", f"no 'created' record, though the order has a flow; {why}",
                     MANUAL)

    def check_answered(self, kind: str, key: str, answer) -> None:
        """The record the journal's answer to `kind` under `key` implies."""
        want = LEDGER_KIND[kind]
        record_key = key
        if answer is _RAISED:
            self.explained.add(key)  # answered by a condition (its handler's attempts spent): nothing recorded
            return
        if kind == "reserve" and isinstance(answer, dict) and answer.get("record") == "out-of-stock":
            want = "out-of-stock"
        elif kind == "payment" and self.meta.name == FLOW and (answer is _TIMEOUT or _is_cancel(answer)):
            self.explained.add(key)  # a paid record here lost its race (check_settled: refund-due)
            return
        elif kind == "fulfil" and _is_cancel(answer):
            self.explained.add(key)  # cancelled where it waited to be fulfilled: nothing recorded
            return
        elif kind == "release":
            record_key = f"{self.order}:released"
        elif kind == "fulfil":
            self.fulfil_answered = True
        self.explained.add(record_key)
        record = self.by_key.get(record_key)
        if record is not None:
            if record.order != self.order or record.kind != want:
                self.gap(record_key, f"record {want!r}",
                         f"the flow's journal answered {kind!r} under key {key}, but the ledger holds a "
                         f"{record.kind!r} record of order {record.order!r} under {record_key}", MANUAL)
            elif want == "paid" and isinstance(answer, dict):
                ref, amount = answer.get("payment_ref"), answer.get("amount")
                recorded = ((record.details or {}).get("payment_ref"), record.amount)
                if (ref, amount) != recorded and ref is not None:
                    self.gap(key, "record 'paid'",
                             f"the flow was paid {amount!r} under reference {ref!r}, the ledger records "
                             f"{recorded[1]!r} under {recorded[0]!r}", MANUAL)
            return
        message = f"no {want!r} record, though the flow's journal answered {kind!r} under this key"
        details: dict[str, Any] = {}
        amount = None
        if want == "paid":
            derived = _paid_from(answer)
            if derived is None:
                self.gap(key, "record 'paid'",
                         message + "; its answer does not carry the payment reference and amount", MANUAL)
                return
            amount, details = derived
        elif want == "reserved" and isinstance(answer, dict) and _is_stock(answer.get("stock")):
            details = {"stock": answer["stock"]}
        elif want == "out-of-stock" and isinstance(answer, dict) and isinstance(answer.get("short"), dict):
            details = {"short": answer["short"]}
        elif want == "released":
            message = (f"no 'released' record under {record_key}, though the flow's journal answered "
                       f"'release' under key {key}")
            if isinstance(answer, dict):
                details = {"reason": answer.get("reason")}
                if _is_stock(answer.get("stock")):
                    details["stock"] = answer["stock"]
        details = dict(details, rederived_from="journal")
        self.gap(record_key, f"record {want!r}", message, REPAIR,
                 dict(order=self.order, kind=want, key=record_key, amount=amount, details=details))

    def check_pending(self, meta) -> None:
        if meta.status != "suspended":
            record = self.by_key.get(meta.key) if isinstance(meta.key, str) else None
            if record is not None and record.order == self.order:  # e.g. paid, then the flow cancelled
                self.explained.add(meta.key)
                if record.kind == "paid" and meta.status in ("cancelled", "failed"):
                    return  # check_settled: its payment must become refund-due
                self.gap(meta.key, "answer",
                         f"the ledger records {record.kind!r} under this key, the request its flow was "
                         f"waiting on when it became {meta.status}", MANUAL)
            return
        kind, key = meta.kind.name, meta.key
        self.explained.add(key)
        want = LEDGER_KIND.get(kind)
        if kind == "release":
            key = f"{self.order}:released"
            self.explained.add(key)
        record = self.by_key.get(key)
        if want is None:
            self.gap(key, "request", f"its flow waits on {kind!r}, which no order flow asks for", MANUAL)
        elif record is not None and (record.order != self.order
                                     or record.kind not in (want, "out-of-stock" if kind == "reserve" else want)):
            self.gap(key, f"record {want!r}",
                     f"its flow waits on {kind!r} under this key, but the ledger holds a {record.kind!r} "
                     f"record of order {record.order!r} there", MANUAL)
        elif kind != "payment":
            self.gap(key, f"answer to {kind!r}",
                     f"its flow waits on {kind!r}, a step the shop serves on the spot (a crash or a failed "
                     f"handler stopped it)", RECOVER)
        elif record is not None:
            self.gap(key, "answer to 'payment'",
                     "the ledger records the payment but the flow still waits for it", RECOVER)

    def check_settled(self, meta) -> None:
        """A finished order: its reservation given back or fulfilled, every payment
        fulfilled-for or refund-due; every refund-due record one of its payments."""
        kinds = {r.kind for r in self.records}
        refunds = {r.key: r for r in self.records if r.kind == "refund-due"}
        for key, r in refunds.items():
            ref = (r.details or {}).get("payment_ref")
            if key == f"{self.order}:refund:{ref}":
                self.explained.add(key)
        if meta.waiting:
            return
        released = self.by_key.get(f"{self.order}:released")
        if meta.status in ("cancelled", "failed") and released is not None and released.order == self.order:
            self.explained.add(released.key)  # the shop released it for the flow that could not
        if "reserved" in kinds and not kinds & {"released", "fulfilled"}:
            if meta.status == "cancelled":
                self.gap(f"{self.order}:released", "record 'released'",
                         "its flow was cancelled (by the runtime) while the order held its reservation: "
                         "nothing released it", RECOVER)
            elif meta.status == "failed":
                self.gap(f"{self.order}:released", "record 'released'",
                         "its flow failed while the order held its reservation: retry the flow "
                         "(`flowscheme flows retry`), or `order cancel` releases it", MANUAL)
        if "fulfilled" in kinds or self.fulfil_answered:
            return  # its payment is the one it was fulfilled for (check_answered)
        for r in self.records:
            if r.kind != "paid":
                continue
            ref = (r.details or {}).get("payment_ref")
            if f"{self.order}:refund:{ref}" not in refunds:
                self.gap(f"{self.order}:refund:{ref}", "record 'refund-due'",
                         f"the ledger records payment {ref!r} (key {r.key}) but the order was not fulfilled "
                         f"({meta.status}) and the payment is not refund-due",
                         MANUAL if meta.status == "failed" else RECOVER)

    def check_unexplained(self) -> None:
        meta = self.meta
        cut_short = set()
        if meta is not None and meta.status == "suspended" and meta.name in ORDER_FLOWS:
            # a step served on the spot after the flow's last commit, cut short by a crash:
            # the flow asks for it again under the same key once it is moved on
            cut_short = {f"{self.order}:{meta.step + 1}", f"{self.order}:released"}
        for record in self.records:
            if record.key in self.explained:
                continue
            if record.key in cut_short:
                self.gap(record.key, "answer",
                         f"the ledger records {record.kind!r} (seq {record.seq}), a step after the one its flow "
                         f"waits on ({meta.kind.name!r}): a crash cut that step short before the flow's commit",
                         RECOVER)
            else:
                self.gap(record.key, "request",
                         f"the ledger records {record.kind!r} (seq {record.seq}) under a key the order's "
                         f"flow never asked under", MANUAL)


#: A payment request's answer when its deadline passed first (a timeout record).
_TIMEOUT = object()
#: A request answered by a condition raised at it (its handler's attempts spent).
_RAISED = object()


def _is_cancel(answer) -> bool:
    return isinstance(answer, dict) and answer.get("record") == "cancel"


def _is_stock(change) -> bool:
    return isinstance(change, dict) and all(isinstance(k, str) and type(v) is int for k, v in change.items())


def _created_from(answer) -> tuple[int, dict] | None:
    """(total, details) of the created record, from a reserve answer that carries them."""
    if not isinstance(answer, dict):
        return None
    total, cart, lines = answer.get("total"), answer.get("cart"), answer.get("lines")
    if type(total) is not int or not isinstance(cart, list) or not isinstance(lines, list):
        return None
    return total, {"cart": cart, "lines": lines, "rederived_from": "journal"}


def _paid_from(answer) -> tuple[int, dict] | None:
    """(amount, details) of the paid record, from a payment answer that carries them."""
    if not isinstance(answer, dict):
        return None
    ref, amount = answer.get("payment_ref"), answer.get("amount")
    if not isinstance(ref, str) or not ref or type(amount) is not int:
        return None
    return amount, {"payment_ref": ref}


# --------------------------------------------------------------------------- repair


def repair(shop) -> RepairReport:
    """Re-append every record `verify` finds re-derivable, under its own key, in
    each order's lifecycle order; name every gap left. Idempotent: a second run
    finds nothing to re-append. Never runs a flow."""
    before = verify(shop)
    appended: list[LedgerRecord] = []
    left: list[tuple[Gap, str]] = []
    by_order: dict[str, list[Gap]] = {}
    for gap in before.gaps:
        by_order.setdefault(gap.order, []).append(gap)
    for order, gaps in by_order.items():
        present = {r.kind for r in shop.ledger.records(order)}
        fixable = sorted((g for g in gaps if g.remedy == REPAIR), key=lambda g: _RANK[g.kind])
        for gap in gaps:
            if gap.remedy == RECOVER:
                left.append((gap, "not a lost record: `flowscheme order recover` finishes it"))
            elif gap.remedy == MANUAL:
                left.append((gap, "the flows do not say what the ledger should hold here"))
        for gap in fixable:
            lacking = [k for k in _chain(gap.kind) if k not in present]
            if lacking:
                left.append((gap, f"not re-appended: the order has no {lacking[0]!r} record, and the ledger "
                                  f"records an order's effects only in lifecycle order "
                                  f"({' -> '.join(KINDS)}, or created -> reserved -> released)"))
                continue
            try:
                record, new = shop.ledger.append(**gap.record)
            except LedgerError as exc:
                left.append((gap, f"the journal's values are not a valid record: {exc}"))
                continue
            present.add(gap.kind)
            if new:
                appended.append(record)
    return RepairReport(tuple(appended), tuple(left), verify(shop))


def _chain(kind: str) -> list[str]:
    """The kinds an order's `kind` record needs before it, nearest last."""
    out = []
    while kind in _NEEDS:
        kind = _NEEDS[kind]
        out.insert(0, kind)
    return out
