"""The frame every dashboard page shares (head, navigation, live-refresh hook),
the not-found page, and how values read: times, money, statuses."""

import time

from .markup import Html, attrs, h, tag

CSS = "/static/dashboard.css"
JS = "/static/live.js"


def page(title, body, live=True, seq=None, watch=None):
    """A whole HTML document. live: the page refreshes its [data-live] regions
    when the server reports a change (it reads fine without JavaScript); seq:
    the change counter its data was read at (a newer one on /events refreshes it);
    watch: the flow or order id whose changes concern it (None: every change)."""
    script = tag("script", src=JS, defer=True) if live else Html("")
    return Html(
        "<!doctype html>\n"
        '<html lang="en">'
        "<head>"
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{h(title)} · flowscheme</title>"
        f'<link rel="stylesheet" href="{CSS}">'
        f"{script}"
        "</head>"
        + (f'<body data-events="/events"{attrs(data_seq=seq, data_watch=watch)}>' if live else "<body>")
        + '<a class="skip" href="#main">Skip to content</a>'
        '<header class="top"><nav aria-label="Site">'
        '<a class="brand" href="/">flowscheme</a>'
        '<a href="/#flows">Flows</a><a href="/#orders">Orders</a>'
        "</nav>"
        '<p class="live-state" id="live-state" role="status" aria-live="polite"></p>'
        "</header>"
        f'<main id="main">{h(body)}</main>'
        "</body></html>\n"
    )


def not_found(what, ident):
    """The 404 page: what was asked for, and the way back."""
    body = Html(
        f"<h1>Not found</h1><p>There is no {h(what)} with the id "
        f"<code>{h(ident)}</code>.</p>"
        '<p><a href="/">Back to the overview</a></p>'
    )
    return page("Not found", body, live=False)


def error_page(status, heading, message):
    """A page for a request that cannot be answered (bad query, conflict...)."""
    body = Html(f"<h1>{h(heading)}</h1><p>{h(message)}</p><p>(HTTP {int(status)})</p>"
                '<p><a href="/">Back to the overview</a></p>')
    return page(heading, body, live=False)


def when(epoch):
    """Epoch seconds as `2026-12-03 10:30:00Z`, or '' for None."""
    if epoch is None:
        return ""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(epoch))) + "Z"
    except (TypeError, ValueError, OverflowError, OSError):
        return str(epoch)


def when_tag(epoch):
    """A <time> element for an epoch, or an em dash for None."""
    if epoch is None:
        return Html('<span class="none">—</span>')
    text = when(epoch)
    return tag("time", text, datetime=text.replace(" ", "T"))


def iso_tag(text):
    """A <time> element for ISO 8601 UTC text (`2027-01-15T08:00:00.000Z`, as the API
    gives times), shown as `2027-01-15 08:00:00Z`; an em dash for None."""
    if not text:
        return Html('<span class="none">—</span>')
    shown = str(text).replace("T", " ", 1)
    if "." in shown:
        shown = shown.split(".", 1)[0] + "Z"
    return tag("time", shown, datetime=text)


def duration(seconds):
    """Seconds as `0.2 s`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 days 4 h` ('' for None)."""
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return ""
    n = max(0.0, float(seconds))
    if n < 10:
        return f"{n:.1f} s"
    n = round(n)
    if n < 120:
        return f"{n} s"
    if n < 3600:
        return f"{n // 60} min {n % 60} s"
    if n < 48 * 3600:
        return f"{n // 3600} h {n % 3600 // 60} min"
    return f"{n // 86400} days {n % 86400 // 3600} h"


def money(minor):
    """An amount in minor units as `21.00` ('' for None)."""
    if minor is None:
        return ""
    if isinstance(minor, bool) or not isinstance(minor, int):
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def status_badge(status):
    """A status as a badge; its class comes from a fixed list, never from the value."""
    known = {"suspended", "sleeping", "done", "failed", "cancelled", "running", "awaiting-payment",
             "fulfilled", "expired", "out-of-stock", "reserving", "fulfilling", "releasing", "created"}
    text = "" if status is None else str(status)
    css = text if text in known else "other"
    return tag("span", text, class_=f"badge s-{css}")


def none_dash(value):
    return Html('<span class="none">—</span>') if value is None or value == "" else h(value)


def dl(pairs):
    """A definition list of (term, Html or text) pairs, leaving out None values."""
    items = [Html(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>") for k, v in pairs if v is not None]
    return tag("dl", Html("".join(items)), class_="facts")
