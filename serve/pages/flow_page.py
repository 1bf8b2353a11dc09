"""The flow page (`/flows/{id}`): where the flow waits (its source, that line
marked), its locals there, its journal as a timeline, its timer and retries,
and the resume / cancel forms — from the dict Service.flow_detail makes:

    {"id", "name", "status", "step", "args", "result", "error", "note", "order": bool,
     "waiting": {"kind", "key", "payload_text"} | None, "position": {"file", "line", "column"} | None,
     "in", "source": {"file", "first_line", "line", "lines"} | None, "locals": [{"name", "value"}],
     "locals_in", "called_from": [{"in", "at", "times"}], "journal": [{"step", "key", "request",
     "answer", "asked", "answered", "waited"}] (times: ISO 8601 UTC text or None),
     "waiting_since": ISO text | None, "timer": {"kind", "wake", "due_in"} | None,
     "retries": {...} | None, "code"}
    (+ "seq": the change counter it was read at, "base_url": for the shell commands shown without JS)
"""

import json
import shlex

from .layout import dl, duration, iso_tag, page, status_badge, when_tag
from .markup import Html, h, path_part, tag


def flow_page(info):
    fid = info.get("id")
    waiting = info.get("waiting") or {}
    pos = info.get("position") or {}
    where = f'{pos.get("file")}:{pos.get("line")}:{pos.get("column")}' if pos else None
    order = fid if info.get("order") is True else info.get("order") or None
    title = Html(f'<h1>Flow <code>{h(fid)}</code> <span id="flow-status">{status_badge(info.get("status"))}'
                 "</span></h1>")
    facts = dl([
        ("Flow name", info.get("name")),
        ("Status", info.get("status")),
        ("Step", info.get("step")),
        ("Started with", tag("code", " ".join(info.get("args") or [])) if info.get("args") else None),
        ("Waits on", tag("code", waiting["payload_text"]) if waiting.get("payload_text") else None),
        ("Request key", tag("code", waiting["key"]) if waiting.get("key") else None),
        ("Waiting since", iso_tag(info["waiting_since"]) if info.get("waiting_since") else None),
        ("Stopped at", tag("code", where) + (f" in {info['in']}" if info.get("in") else "")
         if where else None),
        ("Result", tag("code", info["result"]) if info.get("result") is not None else None),
        ("Order", tag("a", order, href=f"/orders/{path_part(order)}") if order else None),
        ("Code", _code_text(info.get("code"))),
    ])
    parts = [
        title,
        tag("section", Html('<h2 id="facts-h" class="visually-hidden">Summary</h2>') + facts
            + _note(info) + _error(info.get("error")), aria_labelledby="facts-h", id="facts", data_live=True),
        tag("section", _timer(info.get("timer"), info.get("retries")), aria_labelledby="timer-h", id="timer",
            data_live=True),
        tag("section", _source(info.get("source"), info), aria_labelledby="source-h", id="source",
            data_live=True),
        tag("section", _locals(info, where), aria_labelledby="locals-h", id="locals", data_live=True),
        tag("section", _journal(info.get("journal") or []), aria_labelledby="journal-h", id="journal",
            data_live=True),
        tag("section", _actions(info, order), aria_labelledby="actions-h", id="actions"),
    ]
    return page(f"Flow {fid}", Html("".join(parts)), seq=info.get("seq"), watch=fid)


def _code_text(code):
    if not code:
        return None
    state = "loaded" if code.get("loaded") else "not loaded"
    changed = ", changed since it stopped" if code.get("changed") else ""
    return Html(f'<code>{h(code.get("file"))}</code> (unit <code>{h(str(code.get("unit") or "")[:12])}</code>, '
                f"{h(state)}{h(changed)})")


def _note(info):
    return tag("p", info["note"], class_="note") if info.get("note") else Html("")


def _error(error):
    if not error:
        return Html("")
    where = f'{error.get("position")}: ' if error.get("position") else ""
    trace = "".join(f"<li><code>{h(name)}</code>{' at ' + str(h(pos)) if pos else ''}</li>"
                    for name, pos in (error.get("backtrace") or [])[:10])
    return Html(f'<div class="error" role="note"><p><strong>Error:</strong> <code>{h(where)}'
                f'{h(error.get("message"))}</code></p>' + (f"<ol>{trace}</ol>" if trace else "") + "</div>")


def _timer(timer, retries):
    head = Html('<h2 id="timer-h">Timers and retries</h2>')
    timer, retries = timer or {}, retries or {}
    if not timer and not retries:
        return head + Html('<p class="empty">No timer, deadline or retry pending.</p>')
    kind = timer.get("kind")
    attempts = retries.get("attempts") or 0
    what = {"deadline": "Deadline of the request it waits on", "sleep": "Sleeps until",
            "retry": f"Retry {attempts + 1} of its request at"}.get(kind, f"{kind or 'Timer'} at")
    return head + dl([
        (what, Html(when_tag(timer.get("wake")) + _due_in(timer.get("due_in"))) if timer else None),
        ("Failed handler attempts", attempts if retries else None),
        ("Last failure", tag("code", retries["last_error"]) if retries.get("last_error") else None),
    ])


def _due_in(seconds):
    """` (in 59 min)` / ` (3 s overdue)` from seconds until due, or ''."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return Html("")
    n = abs(seconds)
    if n < 120:
        text = f"{n:.0f} s"
    elif n < 120 * 60:
        text = f"{n / 60:.0f} min"
    elif n < 48 * 3600:
        text = f"{n / 3600:.1f} h"
    else:
        text = f"{n / 86400:.1f} days"
    return h(f" (in {text})" if seconds >= 0 else f" ({text} overdue)")


def _source(source, info):
    head = Html('<h2 id="source-h">Where it waits</h2>')
    if not source or not source.get("lines"):
        why = info.get("note") or ("It does not wait: it has ended." if info.get("status") not in
                                   ("suspended", "sleeping") else "Its source is not available.")
        return head + tag("p", why, class_="empty")
    first = source.get("first_line") or 1
    wait = source.get("line")
    calls = _call_lines(info, source)
    out = []
    for i, text in enumerate(source["lines"], start=first):
        number = Html(f'<span class="ln" aria-hidden="true">{i}</span>')
        if i == wait:
            out.append(Html(f'<mark class="line wait" id="wait-line">{number}{h(text)}'
                            '<span class="tag"> ◀ waits here</span></mark>'))
        elif i in calls:
            out.append(Html(f'<span class="line call">{number}{h(text)}'
                            f'<span class="tag"> ◀ in {h(calls[i])}</span></span>'))
        else:
            out.append(Html(f'<span class="line">{number}{h(text)}</span>'))
    caption = tag("p", Html(f'<code>{h(source.get("file"))}</code>, lines {first}–{first + len(source["lines"]) - 1}'
                            + (f", waiting at line {wait}" if wait else "")), class_="caption")
    return head + caption + Html(f'<pre class="source" tabindex="0" aria-label="Source of the flow">'
                                 f'<code>{"".join(out)}</code></pre>')


def _call_lines(info, source):
    """{line: procedure} of the calls the flow is inside that lie in the source shown."""
    out = {}
    frames = list(info.get("called_from") or [])
    if info.get("locals_in"):
        frames.insert(0, info["locals_in"])
    for c in frames:
        parts = str(c.get("at") or "").rsplit(":", 2)
        if len(parts) == 3 and parts[0] == source.get("file") and parts[1].isdigit():
            out.setdefault(int(parts[1]), c.get("in"))
    return out


def _locals(info, where):
    head = Html('<h2 id="locals-h">Local variables</h2>')
    rows = info.get("locals") or []
    if not rows:
        if info.get("status") not in ("suspended", "sleeping"):
            text = f"None: the flow is {info.get('status')}."
        elif where:
            text = "None where it stopped."
        else:
            text = "Not available: where it stopped is not known (see the note above)."
        return head + tag("p", text, class_="empty")
    li = info.get("locals_in")
    caption = (f"Locals of {li.get('in')}, stopped in the call at {li.get('at')}" if li
               else f"Locals of {info.get('in') or 'the flow'} where it waits")
    body = "".join(f'<tr><th scope="row"><code>{h(v.get("name"))}</code></th><td><code>{h(v.get("value"))}'
                   "</code></td></tr>" for v in rows)
    table = Html(f'<table class="grid locals"><caption>{h(caption)}</caption><thead><tr><th scope="col">Name'
                 f'</th><th scope="col">Value</th></tr></thead><tbody>{body}</tbody></table>')
    called = info.get("called_from") or []
    if called:
        items = "".join(f"<li>{h(c.get('in'))} at <code>{h(c.get('at'))}</code>"
                        + (f" (×{h(c.get('times'))})" if (c.get("times") or 1) > 1 else "") + "</li>"
                        for c in called[:10])
        table += Html(f'<h3>Called from</h3><ol class="calls">{items}</ol>')
    return head + table


def _journal(entries):
    head = Html('<h2 id="journal-h">Journal</h2>')
    if not entries:
        return head + Html('<p class="empty">No request answered yet.</p>')
    items = []
    unknown = Html('<span class="none">time not recorded</span>')
    for e in entries:
        asked = iso_tag(e["asked"]) if e.get("asked") else unknown
        answered = iso_tag(e["answered"]) if e.get("answered") else unknown
        waited = duration(e.get("waited"))
        waited = Html(f' <span class="waited">(waited {h(waited)})</span>') if waited else Html("")
        raised = Html(' <span class="badge s-failed">raised</span>') if e.get("raised") else Html("")
        items.append(Html(
            '<li class="entry">'
            f'<p class="when">Step {h(e.get("step"))} · <span class="asked">asked {asked}</span> · '
            f'<span class="answered">answered {answered}</span>{waited}</p>'
            f'<dl class="exchange"><dt>Request</dt><dd><code>{h(e.get("request"))}</code></dd>'
            f'<dt>Answer{raised}</dt><dd><code>{h(e.get("answer"))}</code></dd>'
            f'<dt>Key</dt><dd><code>{h(e.get("key"))}</code></dd></dl></li>'
        ))
    return head + Html(f'<ol class="timeline">{"".join(items)}</ol>')


def _actions(info, order):
    fid = info.get("id")
    base = f"/flows/{path_part(fid)}"
    head = Html('<h2 id="actions-h">Resume or cancel</h2>')
    waiting = info.get("status") in ("suspended", "sleeping")
    if waiting and order:
        return head + Html(f'<p class="empty">This flow is order <a href="/orders/{h(path_part(order))}">'
                           f"{h(order)}</a>: it moves with its payment webhook, and is cancelled as an order "
                           "(so the ledger records it).</p>")
    if not waiting:
        return head + tag("p", f"The flow is {info.get('status')}: there is nothing to resume or cancel.",
                          class_="empty")
    key = (info.get("waiting") or {}).get("key")
    resume = Html("") if not key else tag(
        "form",
        Html('<fieldset><legend>Resume</legend>')
        + _token_field("resume")
        + Html('<div class="field"><label for="resume-answer">Answer (JSON)</label>'
               '<textarea id="resume-answer" name="answer" rows="2" aria-describedby="resume-answer-hint">'
               '</textarea><small class="hint" id="resume-answer-hint">The value the request returns, as JSON; '
               'empty for null.</small></div>')
        + tag("input", type="hidden", name="key", value=key)
        + Html('<button type="submit">Resume</button></fieldset>'),
        method="post", action=f"{base}/resume", class_="action", data_action="resume",
    )
    cancel = tag(
        "form",
        Html('<fieldset><legend>Cancel</legend>')
        + _token_field("cancel")
        + Html('<button type="submit" class="danger">Cancel flow</button></fieldset>'),
        method="post", action=f"{base}/cancel", class_="action", data_action="cancel",
    )
    result = Html('<p class="action-result" id="action-result" role="status" aria-live="polite"></p>')
    url = (info.get("base_url") or "").rstrip("/") + base
    commands = []
    if key:
        body = json.dumps({"key": key, "value": "the answer, as JSON"})
        commands.append(f"curl -X POST {shlex.quote(url + '/resume')} -H \"Authorization: Bearer $TOKEN\" "
                        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
    commands.append(f"curl -X POST {shlex.quote(url + '/cancel')} -H \"Authorization: Bearer $TOKEN\"")
    without = Html("<noscript><p>Resuming and cancelling need JavaScript here: the admin token travels in an "
                   "<code>Authorization: Bearer</code> header, which a plain form cannot send. From a shell:</p>"
                   + "".join(f"<pre><code>{h(c)}</code></pre>" for c in commands) + "</noscript>")
    return head + without + Html(
        '<div class="actions" id="action-forms" hidden><p class="hint">Each needs the admin token; it is sent as '
        f'<code>Authorization: Bearer</code> and never stored.</p><div class="forms">{resume}{cancel}</div></div>'
    ) + result


def _token_field(action):
    ident = f"{action}-token"
    return Html(f'<div class="field"><label for="{ident}">Admin token</label>'
                f'<input type="password" id="{ident}" name="token" required autocomplete="off"></div>')

