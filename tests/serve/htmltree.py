"""A page's HTML as a tree, for the dashboard's tests: parse (stdlib html.parser,
refusing mis-nested or unclosed elements), then find elements by tag and
attributes and read their text.

    doc = parse(response.text)
    [a.attrs["href"] for a in doc.find_all("a")]
    doc.find("mark", id="wait-line").text
"""

from html.parser import HTMLParser

BLOCKS = {"p", "div", "li", "dt", "dd", "tr", "th", "td", "h1", "h2", "h3", "section", "option", "caption",
          "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "nav", "form", "fieldset", "legend", "label"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    def __init__(self, tag, attrs, parent=None, line=None):
        self.tag = tag
        self.attrs = dict(attrs)
        self.children = []  # Elements and str
        self.parent = parent
        self.line = line

    @property
    def text(self):
        """All the text inside, whitespace collapsed (blocks and cells apart)."""
        parts = []

        def walk(e):
            for c in e.children:
                if isinstance(c, str):
                    parts.append(c)
                else:
                    apart = c.tag in BLOCKS
                    parts.append(" " if apart else "")
                    walk(c)
                    parts.append(" " if apart else "")

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self):
        for c in self.children:
            if isinstance(c, Element):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, **attrs):
        """Descendants with that tag (None: any) whose attributes equal the given ones
        (class_ for class; True: present; a callable: a test of the value)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        out = []
        for e in self.iter():
            if tag is not None and e.tag != tag:
                continue
            ok = True
            for k, v in want.items():
                have = e.attrs.get(k)
                if v is True:
                    ok = k in e.attrs
                elif callable(v):
                    ok = have is not None and v(have)
                else:
                    ok = have == v
                if not ok:
                    break
            if ok:
                out.append(e)
        return out

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def by_id(self, ident):
        return self.find(id=ident)

    def ancestors(self):
        e = self.parent
        while e is not None:
            yield e
            e = e.parent

    def __repr__(self):
        return f"<{self.tag} {self.attrs}>"


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.errors = []

    def handle_starttag(self, tag, attrs):
        e = Element(tag, [(k, "" if v is None else v) for k, v in attrs], self.stack[-1], self.getpos()[0])
        self.stack[-1].children.append(e)
        if tag not in VOID:
            self.stack.append(e)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.errors.append(f"line {self.getpos()[0]}: </{tag}> closes <{self.stack[-1].tag}> "
                               f"(opened line {self.stack[-1].line})")
            while len(self.stack) > 1 and self.stack[-1].tag != tag:
                self.stack.pop()
        if len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(text, strict=True):
    """The document tree; with strict, an AssertionError for mis-nested or unclosed elements."""
    b = _Builder()
    b.feed(text)
    b.close()
    if len(b.stack) > 1:
        b.errors.append("unclosed at the end: " + ", ".join(f"<{e.tag}> (line {e.line})" for e in b.stack[1:]))
    if strict and b.errors:
        raise AssertionError("malformed HTML: " + "; ".join(b.errors[:5]))
    return b.root
