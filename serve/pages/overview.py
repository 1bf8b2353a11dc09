"""The overview page (`/`): flow counts by status, the flow table (filtered,
searched, paged) and the order table, from plain dicts.

    overview({"counts": {"suspended": 3, ...},
              "flows": {"rows": [flow row...], "total": 3, "offset": 0, "limit": 50},
              "filters": {"status": None, "name": None, "kind": None, "q": None},
              "orders": {"rows": [{"id", "status", "total"}...], "total": 1, "offset": 0,
                         "limit": 50, "status": None}})

A flow row is a dict as Service.flows_page makes: id, name, status, step, kind
(the request it waits on; or waiting_on, its Scheme text), wake, timer, attempts;
an order row as Service.orders_page makes: id, status, total.
"""

from .layout import money, none_dash, page, status_badge, when_tag
from .markup import Html, attrs, h, path_part, query, tag

PAGE_SIZE = 50  # rows of a page unless the query says limit=
FLOW_STATUSES = ("suspended", "sleeping", "done", "failed", "cancelled")
ORDER_STATUSES = ("created", "reserving", "awaiting-payment", "fulfilling", "releasing", "fulfilled",
                  "expired", "cancelled", "out-of-stock", "failed")


def overview(view):
    filters = view.get("filters") or {}
    flows = view.get("flows") or {}
    orders = view.get("orders") or {}
    body = [
        Html("<h1>Flows and orders</h1>"),
        counts_section(view.get("counts") or {}, {**filters, "order_status": orders.get("status")}),
        flows_section(flows, filters, orders, view.get("names") or []),
        orders_section(orders, filters, flows),
    ]
    return page("Overview", Html("".join(body)), seq=view.get("seq"))


def counts_section(counts, filters):
    """Flows and orders by status, each count a link to the table filtered by it."""
    groups = []
    for what, param, current in (("flows", "status", filters.get("status")),
                                 ("orders", "order_status", filters.get("order_status"))):
        by_status = counts.get(what) or {}
        total = counts.get(f"{what}_total", sum(v for v in by_status.values() if isinstance(v, int)))
        items = []
        for status, n in sorted(by_status.items(), key=lambda kv: str(kv[0])):
            link = "/" + query(**{param: status}) + f"#{what}"
            inner = Html(tag("span", f"{n:,}" if isinstance(n, int) else n, class_="count-num")
                         + tag("span", status, class_="count-label"))
            items.append(tag("li", tag("a", inner, href=link, aria_current="true" if current == status else None),
                             class_="count"))
        if not items:
            items.append(tag("li", f"No {what} yet", class_="count none"))
        groups.append(Html(tag("h3", f"{what.capitalize()}: {total:,}" if isinstance(total, int) else what)
                           + tag("ul", Html("".join(items)), class_="counts", aria_label=f"{what} by status")))
    return tag("section", Html('<h2 id="counts-h" class="visually-hidden">Counts</h2>') + Html("".join(groups)),
               aria_labelledby="counts-h", id="counts", data_live=True, class_="count-groups")


def _select(name, label, options, current, any_text):
    opts = [tag("option", any_text, value="")]
    for o in options:
        opts.append(tag("option", o, value=o, selected=(current == o)))
    if current and current not in options:  # a value typed into the URL: shown, still escaped
        opts.append(tag("option", current, value=current, selected=True))
    ident = f"f-{name}"
    return Html(tag("label", label, for_=ident) + tag("select", Html("".join(opts)), name=name, id=ident))


def _text(name, label, current, hint=None, kind="text"):
    ident = f"f-{name}"
    described = f"{ident}-hint" if hint else None
    out = tag("label", label, for_=ident) + tag("input", type=kind, name=name, id=ident, value=current or "",
                                                 aria_describedby=described, autocomplete="off")
    if hint:
        out += tag("small", hint, id=described, class_="hint")
    return Html(out)


def _limit(filters):
    """The page size to carry in links: None for the default."""
    limit = filters.get("limit")
    return None if limit in (None, PAGE_SIZE) else limit


def _keep(filters, orders, flows, side):
    """Hidden inputs that carry the other table's state (and the page size) through a form."""
    if side == "flows":
        keep = {"order_status": orders.get("status"),
                "orders_offset": orders.get("offset") or None}
    else:
        keep = {k: filters.get(k) for k in ("status", "name", "kind", "q")}
        keep["offset"] = flows.get("offset") or None
    keep["limit"] = _limit(filters)
    return Html("".join(tag("input", type="hidden", name=k, value=v) for k, v in keep.items()
                        if v not in (None, "")))


def flows_section(flows, filters, orders, names):
    form = tag(
        "form",
        Html('<fieldset><legend>Filter flows</legend><div class="fields">')
        + Html(tag("div", _select("status", "Status", FLOW_STATUSES, filters.get("status"), "any status")))
        + Html(tag("div", _select("name", "Flow name", list(names), filters.get("name"), "any name") if names
                   else _text("name", "Flow name", filters.get("name"), "e.g. shop-order")))
        + Html(tag("div", _text("kind", "Waiting on (request kind)", filters.get("kind"), "e.g. payment")))
        + Html(tag("div", _text("q", "Search by id", filters.get("q"), "part of a flow id", kind="search")))
        + _keep(filters, orders, flows, "flows")
        + Html('<div class="buttons"><button type="submit">Apply</button>'
               '<a class="button-link" href="/#flows">Clear</a></div></div></fieldset>'),
        method="get", action="/#flows", class_="filters", role="search", aria_label="Filter flows",
    )
    rows = flows.get("rows") or []
    table = flows_table(rows)
    pager = pager_nav("flows", flows, {**{k: filters.get(k) for k in ("status", "name", "kind", "q")},
                                       "limit": _limit(filters),
                                       "order_status": orders.get("status"),
                                       "orders_offset": orders.get("offset") or None}, "offset", "#flows")
    region = tag("div", Html(table + pager), id="flows-region", data_live=True)
    return tag("section", Html('<h2 id="flows-h">Flows</h2>') + form + region,
               id="flows", aria_labelledby="flows-h")


def flows_table(rows):
    if not rows:
        return Html('<p class="empty">No flows match.</p>')
    head = Html("<thead><tr>" + "".join(
        f'<th scope="col"{attrs(class_="num" if c in ("Step", "Attempts") else None)}>{c}</th>'
        for c in ("ID", "Name", "Status", "Step", "Waiting on", "Timer", "Attempts")) + "</tr></thead>")
    body = []
    for r in rows:
        timer = r.get("timer")
        timer_cell = Html(f'{h(timer)} {when_tag(r.get("wake"))}') if timer else none_dash(None)
        body.append(Html(
            "<tr>"
            f'<th scope="row"><a href="/flows/{h(path_part(r.get("id")))}">{h(r.get("id"))}</a></th>'
            f"<td>{h(r.get('name'))}</td>"
            f"<td>{status_badge(r.get('status'))}</td>"
            f'<td class="num">{h(r.get("step"))}</td>'
            f'<td>{_waiting(r)}</td>'
            f"<td>{timer_cell}</td>"
            f'<td class="num">{h(r.get("attempts") or 0)}</td>'
            "</tr>"
        ))
    return Html(f'<table class="grid" aria-labelledby="flows-h">{head}<tbody>{"".join(body)}</tbody></table>')


def _waiting(row):
    text = row.get("waiting_on") or row.get("kind")
    return tag("code", text) if text else none_dash(None)


def pager_nav(what, part, params, offset_name, anchor):
    """Showing a–b of n, with Previous / Next links that keep the other parameters."""
    total = part.get("total") or 0
    offset = part.get("offset") or 0
    limit = part.get("limit") or PAGE_SIZE
    shown = len(part.get("rows") or [])
    if shown == 0 and offset == 0:
        return Html("")  # (the table's place already says none match)
    if shown == 0:
        summary = f"No {what} past {offset:,} (of {total:,})"
    else:
        summary = f"{what.capitalize()} {offset + 1:,}–{offset + shown:,} of {total:,}"
    links = []
    if offset > 0:
        prev = {**params, offset_name: max(min(offset - limit, total - limit), 0) or None}
        links.append(tag("a", "← Previous", href="/" + query(**prev) + anchor, rel="prev"))
    if offset + shown < total:
        nxt = {**params, offset_name: offset + limit}
        links.append(tag("a", "Next →", href="/" + query(**nxt) + anchor, rel="next"))
    return tag("nav", Html(tag("p", summary, class_="summary") + Html("".join(links))),
               class_="pager", aria_label=f"{what.capitalize()} pages")


def orders_section(orders, filters, flows):
    form = tag(
        "form",
        Html('<fieldset><legend>Filter orders</legend><div class="fields">')
        + Html(tag("div", _select("order_status", "Order status", ORDER_STATUSES, orders.get("status"),
                                  "any status")))
        + _keep(filters, orders, flows, "orders")
        + Html('<div class="buttons"><button type="submit">Apply</button></div></div></fieldset>'),
        method="get", action="/#orders", class_="filters", aria_label="Filter orders",
    )
    rows = orders.get("rows") or []
    if rows:
        body = "".join(
            "<tr>"
            f'<th scope="row"><a href="/orders/{h(path_part(o.get("id")))}">{h(o.get("id"))}</a></th>'
            f'<td data-status="{h(o.get("status"))}">{status_badge(o.get("status"))}</td>'
            f'<td class="num">{none_dash(money(o.get("total")))}</td>'
            "</tr>"
            for o in rows
        )
        table = Html('<table class="grid" aria-labelledby="orders-h"><thead><tr><th scope="col">Order</th>'
                     '<th scope="col">Status</th><th scope="col" class="num">Total</th></tr></thead>'
                     f"<tbody>{body}</tbody></table>")
    else:
        table = Html('<p class="empty">No orders match.</p>')
    params = {**{k: filters.get(k) for k in ("status", "name", "kind", "q")}, "limit": _limit(filters),
              "offset": flows.get("offset") or None, "order_status": orders.get("status")}
    pager = pager_nav("orders", orders, params, "orders_offset", "#orders")
    region = tag("div", Html(table + pager), id="orders-region", data_live=True)
    return tag("section", Html('<h2 id="orders-h">Orders</h2>') + form + region,
               id="orders", aria_labelledby="orders-h")
