"""HTML built safely from Python values: text is escaped unless it is already Html.

    h("<b>")                         # Html('&lt;b&gt;')
    tag("td", row["id"], class_="id")   # every child and attribute value escaped
    Html("<br>")                     # trusted markup: only for literals written here

A page is assembled from Html pieces, so a value from a flow, an order or a URL
cannot reach the output unescaped: the one way in is `h`, which escapes.
"""

import html
from urllib.parse import quote, urlencode


class Html(str):
    """Markup that is already safe to emit as it is."""

    __slots__ = ()

    def __html__(self):
        return self

    def __add__(self, other):  # Html + text: the text escaped
        return Html(str.__add__(self, h(other)))

    def __radd__(self, other):  # text + Html: the text escaped
        return Html(str.__add__(h(other), self))


def h(value):
    """`value` as safe markup: Html as it is, None as '', anything else escaped text."""
    if isinstance(value, Html):
        return value
    if value is None:
        return Html("")
    if isinstance(value, (list, tuple)):
        return Html("".join(h(v) for v in value))
    return Html(html.escape(str(value), quote=True))


def attrs(**named):
    """` name="value"` pairs: `class_` is `class`, `data_x` is `data-x`; True is a
    bare attribute, None and False are left out."""
    out = []
    for name, value in named.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{html.escape(str(value), quote=True)}"')
    return Html("".join(out))


VOID = frozenset(("br", "hr", "img", "input", "link", "meta"))


def tag(element, /, *children, **named):
    """<element attrs>children</element>, each child escaped unless Html."""
    if element in VOID:
        return Html(f"<{element}{attrs(**named)}>")
    return Html(f"<{element}{attrs(**named)}>{h(list(children))}</{element}>")


def join(pieces, sep=""):
    return Html(h(sep).join(h(p) for p in pieces))


def path_part(text):
    """One URL path segment: every reserved character percent-encoded."""
    return quote(str(text), safe="")


def query(**params):
    """`?a=1&b=2` of the parameters that are not None or ''; '' when none are."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return "?" + urlencode(kept) if kept else ""
