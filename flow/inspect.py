"""A flow made readable: the rows of a flow listing, and one flow described —
where it stopped (file:line:col of the request), its local variables by name,
its journal. Shared by the REPL's ,flows / ,show and the `flowscheme flows` command.

Everything here only reads: a flow's continuation is decoded (never run) to find
the code node it stopped in; interp.graph describes its frames (what each waits
in, its local variables by name: the compile-time scopes of that code name the
slots of the environment frames it holds).
"""

import time

from interp.graph import (
    NOT_CONSTANT,
    constant_value,
    describe_frame,
    frames_of,
    global_call,
    is_code_frame,
    lambda_of,
    own_body,
    parameter_names,
    subtree,
    waiting_in,
)
from interp.printer import write_string
from interp.values import list_to_pairs, sym

from . import codec
from .errors import FlowError

MAX_TEXT = 120  # characters of a value shown in text output


def clip(text, limit=MAX_TEXT):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def request_text(kind, payload):
    """`(payment "o-1")`: a pending request as Scheme text (`(sleep 60)` for a
    sleep: the runtime's own kinds are written as the procedure that made them)."""
    if kind is not None and kind.name.startswith("%"):
        kind = sym(kind.name[1:])
    return write_string(list_to_pairs([kind, payload]))


def _safe_flow(rt, flow_id):
    """rt.flow(flow_id), with data that needs unloaded code reported as a FlowError."""
    try:
        return rt.flow(flow_id)
    except codec.MissingUnit as e:
        raise FlowError(f"flow {flow_id!r} holds data made by code that is not loaded ({e})") from None


def flow_rows(rt, status=None, name=None):
    """One dict per flow (those with that status / name, when given): id, name,
    status, step, waiting_on (Scheme text or None), wake (epoch seconds when its
    timer, deadline or retry fires, or None), timer, attempts."""
    rows = []
    for flow_id in sorted(rt.ids()):
        try:
            f = rt.flow(flow_id)
        except codec.MissingUnit:
            meta = rt.flow(flow_id, data=False)
            if (status is None or meta.status == status) and (name is None or meta.name == name):
                rows.append({"id": flow_id, "name": meta.name, "status": str(meta.status), "step": meta.step,
                             "waiting_on": None, "wake": meta.wake, "timer": _str(meta.timer),
                             "attempts": meta.attempts, "note": "its data needs code that is not loaded"})
            continue
        if (status is not None and f.status != status) or (name is not None and f.name != name):
            continue
        rows.append({
            "id": f.id,
            "name": f.name,
            "status": str(f.status),
            "step": f.step,
            "waiting_on": request_text(f.kind, f.payload) if f.waiting else None,
            "wake": f.wake,
            "timer": _str(f.timer),
            "attempts": f.attempts,
        })
    return rows


def _str(x):
    return None if x is None else str(x)


def when_text(row):
    """`deadline 2026-12-03 10:30:00Z`, `retry 2 at ...`, `sleep until ...` or None."""
    if row.get("wake") is None:
        return None
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["wake"])) + "Z"
    timer = row.get("timer")
    if timer == "retry":
        return f"retry {row.get('attempts', 0) + 1} at {at}"
    if timer == "sleep":
        return f"wakes {at}"
    return f"{timer} {at}"


def format_table(rows, columns):
    """A plain text table: columns is [(key, heading)]; None shows as '-'."""
    cells = [[h for _, h in columns]]
    for r in rows:
        cells.append([clip("-" if r.get(k) is None else str(r.get(k)), 60) for k, _ in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(columns))).rstrip() for c in cells]
    return "\n".join(lines)


def flows_table(rows):
    if not rows:
        return "no flows"
    rows = [dict(r, when=when_text(r)) for r in rows]
    columns = [("id", "ID"), ("name", "NAME"), ("status", "STATUS"), ("waiting_on", "WAITING ON")]
    if any(r["when"] for r in rows):  # a timer, deadline or retry somewhere
        columns.append(("when", "WHEN"))
    return format_table(rows, columns)


# the procedures a flow suspends at: those whose first argument is the request
# kind, and the timers, whose kind is their own
_REQUESTS = ("request", "request/timeout")
_TIMERS = {"sleep": "%sleep", "sleep-until": "%sleep-until"}


def _is_request(node, kind=None, timed=None, loose=False):
    """Is node a call that suspends the flow (on request kind `kind`, if given;
    with a deadline or not, if `timed` is given)? loose: a kind computed at run
    time (a variable, not a quoted symbol) may be `kind`."""
    call = global_call(node)
    if call is None:
        return False
    name, args = call
    if name in _TIMERS:
        return kind is None or kind.name == _TIMERS[name]
    if name not in _REQUESTS or (timed is not None and (name == "request/timeout") != timed):
        return False
    if kind is None:
        return True
    if not args:
        return False
    first = constant_value(args[0])
    return loose if first is NOT_CONSTANT else first is kind


def _request_site(frames, kind, def_unit, timed=None, elsewhere=frozenset()):
    """(node where it stopped, the innermost frame in flow code or None).
    timed: whether the request has a deadline (request/timeout), when known;
    elsewhere: nodes that belong to other flows' procedures."""
    code = [fr for fr in frames if is_code_frame(fr)]
    if code:
        fr = code[0]
        p = waiting_in(fr)
        if p is not None and _is_request(p):
            return p, fr
        for loose in (False, True):  # a quoted kind first, then one the code computes
            within = [n for n in subtree(p) if _is_request(n, kind, timed, loose)] if p is not None else []
            if len(within) == 1:
                return within[0], fr
        unit_sites = [n for n in fr.node.unit.nodes if _is_request(n, kind)]
        if len(unit_sites) == 1:
            return unit_sites[0], fr
        return (p or fr.node), fr
    # no frame in flow code: the request was a tail call (of the flow's procedure,
    # or of a helper it tail-called); the one call site it can be, if only one,
    # leaving out the bodies of the unit's other defflows
    if def_unit is not None:
        candidates = [n for n in def_unit.nodes if n not in elsewhere]
        for loose in (False, True):
            sites = [n for n in candidates if _is_request(n, kind, timed, loose)]
            if len(sites) == 1:
                return sites[0], None
    return None, None


def _is_repl_unit(filename):
    return not filename or filename.startswith("<")


def code_hint(filename, flow_name):
    if _is_repl_unit(filename):
        return f"its defflow was typed at a REPL ({filename or '<string>'}); evaluate the defflow of {flow_name} again"
    return f"load {filename} (,load in the REPL, --load on the command line)"


def describe(rt, flow_id):
    """Everything worth knowing about one flow, as plain data (JSON-ready)."""
    f = _safe_flow(rt, flow_id)
    info = {
        "id": f.id,
        "name": f.name,
        "status": f.status,
        "step": f.step,
        "args": [write_string(a) for a in f.args],
        "waiting_on": None,
        "request_key": None,
        "code": None,
        "where": None,
        "in": None,
        "locals": [],
        "locals_in": None,
        "called_from": [],
        "journal": [],
        "result": None,
        "error": None,
        "note": None,
    }
    if f.def_unit:
        h, fn = f.def_unit
        d = rt.defs.get(f.name)
        pinned = (f.name, h) in rt.versions  # its own version is loaded: it resumes on that
        info["code"] = {
            "unit": h,
            "file": fn,
            "loaded": rt.interp.units.get(h) is not None,
            "defflow_loaded": d is not None,
            "changed": d is not None and not pinned,
        }
    try:
        for i, e in enumerate(rt.journal(f.id)):
            info["journal"].append({
                "step": i + 1,
                "key": e.key,
                "request": request_text(e.kind, e.payload),
                "answer": write_string(e.answer),
                "asked": e.asked,
                "answered": e.at,
            })
    except (codec.MissingUnit, FlowError) as e:
        info["note"] = f"journal unreadable: {e}"
    if f.status == "done":
        info["result"] = write_string(f.result)
    elif f.status == "failed":
        info["error"] = f.error
    if f.status not in ("suspended", "sleeping"):
        return info
    info["waiting_on"] = request_text(f.kind, f.payload)
    info["request_key"] = f.key
    info["waiting_since"] = f.since
    missing = [(h, fn) for h, fn in f.k_units if rt.interp.units.get(h) is None]
    if f.name not in rt.defs:
        missing = missing or [f.def_unit or ("?", "<unknown>")]
    changed = info["code"] and info["code"]["changed"]
    if changed:
        d = rt.defs[f.name]
        info["note"] = (
            f"the defflow of {f.name} changed since this flow stopped (now unit {d.unit_hash[:12]} from "
            f"{d.filename}): resuming replays its journal on the new code, and where it stopped in the old "
            f"code cannot be shown"
        )
        return info
    if missing:
        h, fn = missing[0]
        info["note"] = (
            f"code not loaded: {code_hint(fn, f.name)} to see where it stopped and its "
            f"local variables, and to resume it"
        )
        return info
    try:
        susp = f.decode_continuation(rt.cenv)
    except codec.MissingUnit as e:
        info["note"] = f"code not loaded ({e})"
        return info
    except codec.CodecError as e:
        info["note"] = f"continuation unreadable: {e}"
        return info
    frames = frames_of(susp.k)
    d = rt.versions.get((f.name, f.def_unit[0])) if f.def_unit else None
    def_unit = rt.interp.units.get(f.def_unit[0]) if f.def_unit else None
    flow_lambda = lambda_of(d.proc) if d is not None and not (info["code"] or {}).get("changed") else None
    others = set()
    for other in rt.defs.values():
        if other.name != f.name and f.def_unit and other.unit_hash == f.def_unit[0]:
            others.update(subtree(lambda_of(other.proc)))
    site, frame = _request_site(frames, f.kind, def_unit, timed=str(f.timer) == "deadline" if f.timer else False,
                                elsewhere=others)

    def owner_of(node):
        if node.owner == "anonymous procedure" and flow_lambda is not None and node in own_body(flow_lambda):
            return f"flow {f.name}"
        return node.owner

    if site is not None and site.pos is not None:
        info["where"] = str(site.pos)
        info["in"] = owner_of(site)
    if frame is not None:
        described = describe_frame(frame)
        info["locals"] = [{"name": n, "value": write_string(v)} for n, v in described.locals]
        via = described.waiting_in or frame.node
        if via is not site and via.pos is not None:
            info["locals_in"] = {"in": owner_of(via), "at": str(via.pos)}
    called = []
    for fr in frames[1:] if frame is not None else frames:
        node = fr.node
        if is_code_frame(fr) and node.is_call and node.pos is not None:
            entry = {"in": owner_of(node), "at": str(node.pos)}
            if called and called[-1]["in"] == entry["in"] and called[-1]["at"] == entry["at"]:
                called[-1]["times"] += 1
            else:
                called.append(dict(entry, times=1))
    info["called_from"] = called
    if frame is None and flow_lambda is not None and site is not None and site in own_body(flow_lambda):
        # a request in tail position: the flow's frame is gone, but its arguments are known
        info["locals"] = [
            {"name": name, "value": write_string(a)} for name, a in zip(parameter_names(flow_lambda), f.args)
        ]
    return info


def format_description(info):
    """The text `,show ID` and `flowscheme flows show ID` print."""
    lines = [f"flow {info['id']} ({info['name']}): {info['status']}, step {info['step']}"]
    if info["args"]:
        lines.append(f"  started with: {clip(' '.join(info['args']))}")
    if info["code"]:
        c = info["code"]
        state = "loaded" if c["loaded"] else "not loaded"
        lines.append(f"  code: {c['file']} (unit {c['unit'][:12]}, {state})")
    if info["waiting_on"]:
        lines.append(f"  waits on: {clip(info['waiting_on'])}   key {info['request_key']}")
    if info["where"]:
        lines.append(f"  stopped at: {info['where']} in {info['in']}")
    if info["locals"]:
        li = info["locals_in"]
        lines.append(f"  locals (of {li['in']}, stopped in the call at {li['at']}):" if li else "  locals:")
        width = max(len(v["name"]) for v in info["locals"])
        for v in info["locals"]:
            lines.append(f"    {v['name'].ljust(width)} = {clip(v['value'])}")
    elif info["status"] == "suspended" and info["where"]:
        lines.append("  locals: (none)")
    for c in info["called_from"][:5]:
        times = f" (x{c['times']})" if c["times"] > 1 else ""
        lines.append(f"  called from: {c['in']} at {c['at']}{times}")
    if len(info["called_from"]) > 5:
        lines.append(f"  ... {len(info['called_from']) - 5} more callers")
    if info["result"] is not None:
        lines.append(f"  result: {clip(info['result'])}")
    if info["error"]:
        e = info["error"]
        where = f"{e.get('position')}: " if e.get("position") else ""
        lines.append(f"  error: {where}{e.get('message')}")
        for name, pos in (e.get("backtrace") or [])[:5]:
            lines.append(f"    {name}" + (f" at {pos}" if pos else ""))
    if info["journal"]:
        lines.append("  journal:")
        for j in info["journal"]:
            lines.append(f"    {j['step']:>3}  {j['request']} -> {clip(j['answer'], 60)}   key {j['key']}")
    else:
        lines.append("  journal: (empty)")
    if info["note"]:
        lines.append(f"  note: {info['note']}")
    return "\n".join(lines)


def outcome_text(f):
    """One line for a flow after a transition: `flow o-1 waits on (payment "o-1")`."""
    if f.status == "suspended":
        return f"flow {f.id} waits on {clip(request_text(f.kind, f.payload))}"
    if f.status == "done":
        return f"flow {f.id} done: {clip(write_string(f.result))}"
    if f.status == "failed":
        e = f.error or {}
        where = f"{e.get('position')}: " if e.get("position") else ""
        return f"flow {f.id} failed: {where}{e.get('message')}"
    return f"flow {f.id} is {f.status}"


__all__ = ["flow_rows", "flows_table", "describe", "format_description", "outcome_text",
           "request_text", "format_table", "clip"]
