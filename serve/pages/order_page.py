"""The order page (`/orders/{id}`): status, cart and total, ledger records,
stock effects and the flow's state — from the dict Service.order_detail makes:

    {"id", "status", "total", "cart": [[sku, qty]...],
     "records": [{"seq", "kind", "key", "amount", "time", "details"}...],
     "stock": [{"key", "kind", "time", "changes": {sku: units}}...],
     "flow": {"name", "status", "step", "waiting_on", "key", "deadline", "retry_at", "attempts",
              "error", "value"?, "waiting_since": ISO 8601 UTC text | None} or None}
"""

import json

from .layout import dl, iso_tag, money, none_dash, page, status_badge, when_tag
from .markup import Html, h, path_part, tag


def order_page(order):
    oid = order.get("id")
    title = Html(f'<h1>Order <code>{h(oid)}</code> <span id="order-status" data-status="{h(order.get("status"))}">'
                 f'{status_badge(order.get("status"))}</span></h1>')
    summary = dl([
        ("Status", order.get("status")),
        ("Total", money(order.get("total")) if order.get("total") is not None else "not recorded"),
        ("Records", len(order.get("records") or [])),
    ])
    parts = [
        title,
        tag("section", Html('<h2 id="summary-h" class="visually-hidden">Summary</h2>') + summary,
            aria_labelledby="summary-h", id="summary", data_live=True),
        tag("section", _cart(order), aria_labelledby="cart-h", id="cart"),
        tag("section", _flow(order), aria_labelledby="flow-h", id="flow", data_live=True),
        tag("section", _records(order.get("records") or []), aria_labelledby="records-h", id="records",
            data_live=True),
        tag("section", _stock(order.get("stock") or []), aria_labelledby="stock-h", id="stock", data_live=True),
    ]
    return page(f"Order {oid}", Html("".join(parts)), seq=order.get("seq"), watch=oid)


def _priced_lines(order):
    """[(sku, qty, unit, line total)] from the created record (None prices when unknown)."""
    for r in order.get("records") or []:
        details = r.get("details") if isinstance(r.get("details"), dict) else {}
        if r.get("kind") == "created" and isinstance(details.get("lines"), list):
            out = []
            for line in details["lines"]:
                if isinstance(line, list) and len(line) == 4:
                    out.append(tuple(line))
            if out:
                return out
    return [(line[0], line[1], None, None) for line in order.get("cart") or []
            if isinstance(line, (list, tuple)) and len(line) == 2]


def _cart(order):
    head = Html('<h2 id="cart-h">Cart</h2>')
    lines = _priced_lines(order)
    if not lines:
        return head + Html('<p class="empty">No cart recorded.</p>')
    body = "".join(f'<tr><th scope="row">{h(sku)}</th><td class="num">{h(qty)}</td>'
                   f'<td class="num">{none_dash(money(unit))}</td><td class="num">{none_dash(money(total))}</td></tr>'
                   for sku, qty, unit, total in lines)
    foot = (f'<tfoot><tr><th scope="row" colspan="3">Total</th><td class="num">'
            f'{none_dash(money(order.get("total")))}</td></tr></tfoot>')
    return head + Html('<table class="grid"><thead><tr><th scope="col">Item</th><th scope="col" class="num">'
                       'Quantity</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">'
                       f'Line total</th></tr></thead><tbody>{body}</tbody>{foot}</table>')


def _flow(order):
    head = Html('<h2 id="flow-h">Its flow</h2>')
    f = order.get("flow")
    if not f:
        return head + Html('<p class="empty">No flow: the order was created but its flow has not started.</p>')
    oid = order.get("id")
    return head + dl([
        ("Flow", Html(tag("a", f"{f.get('name')} {oid}", href=f"/flows/{path_part(oid)}"))),
        ("Flow status", f.get("status")),
        ("Step", f.get("step")),
        ("Waits on", tag("code", f["waiting_on"]) if f.get("waiting_on") else None),
        ("Request key", tag("code", f["key"]) if f.get("waiting_on") and f.get("key") else None),
        ("Waiting since", iso_tag(f["waiting_since"]) if f.get("waiting_on") and f.get("waiting_since") else None),
        ("Payment deadline", when_tag(f["deadline"]) if f.get("deadline") is not None else None),
        ("Retry at", when_tag(f["retry_at"]) if f.get("retry_at") is not None else None),
        ("Failed attempts", f.get("attempts") or None),
        ("Ended as", tag("code", f["value"]) if f.get("value") is not None else None),
        ("Error", tag("code", f["error"]) if f.get("error") else None),
    ])


def _details_text(details):
    if details is None:
        return ""
    if isinstance(details, dict):
        return "; ".join(f"{k}: {json.dumps(v, ensure_ascii=False, separators=(', ', ': '))}"
                         for k, v in details.items())
    return json.dumps(details, ensure_ascii=False)


def _records(records):
    head = Html('<h2 id="records-h">Ledger records</h2>')
    if not records:
        return head + Html('<p class="empty">No ledger records.</p>')
    body = "".join(
        f'<tr data-kind="{h(r.get("kind"))}"><td class="num">{h(r.get("seq"))}</td>'
        f'<th scope="row">{h(r.get("kind"))}</th><td><code class="key">{h(r.get("key"))}</code></td>'
        f'<td class="num">{none_dash(money(r.get("amount")))}</td><td class="nowrap">{when_tag(r.get("time"))}</td>'
        f'<td class="details"><code>{none_dash(_details_text(r.get("details")))}</code></td></tr>'
        for r in records)
    return head + Html('<table class="grid"><thead><tr><th scope="col" class="num">#</th><th scope="col">Record'
                       '</th><th scope="col">Key</th><th scope="col" class="num">Amount</th><th scope="col">Time'
                       f'</th><th scope="col">Details</th></tr></thead><tbody>{body}</tbody></table>')


def _stock(effects):
    head = Html('<h2 id="stock-h">Stock effects</h2>')
    if not effects:
        return head + Html('<p class="empty">No stock taken or given back.</p>')
    rows = []
    for e in effects:
        changes = e.get("changes") or {}
        for sku, units in sorted(changes.items(), key=lambda kv: str(kv[0])):
            sign = "+" if isinstance(units, int) and units > 0 else ""
            rows.append(f'<tr><th scope="row">{h(e.get("kind"))}</th><td>{h(sku)}</td>'
                        f'<td class="num">{h(sign)}{h(units)}</td><td><code class="key">{h(e.get("key"))}</code></td>'
                        f"<td>{when_tag(e.get('time'))}</td></tr>")
    return head + Html('<table class="grid"><thead><tr><th scope="col">Record</th><th scope="col">Item</th>'
                       '<th scope="col" class="num">Units</th><th scope="col">Key</th><th scope="col">Time</th>'
                       f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')
