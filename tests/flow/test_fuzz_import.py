"""Fuzzing import_store with mutated real exports.

Mutations: byte flips, truncations and insertions (with and without the
checksum fixed up), and msgpack-level edits of the flows' snapshots, data,
journals and continuation graphs (tags swapped, ints for strings, lists for
ints, references duplicated, pointed at themselves or out of range, node ids
and unit indexes rewritten, builtin steps renamed, primitives and globals
renamed). Each mutated store is imported; when it is accepted, its flows are
read and resumed. Only the project's errors (FlowError: StoreFormatError,
CodeNotLoaded, ...) may escape; a refused import changes nothing (flow ids,
every flow's snapshot bytes, the symbol table); every case takes under 1 s.

Cases per test: $FLOWSCHEME_FUZZ_EXAMPLES (default 200; the file then takes
well under a minute). The counts are printed at the end of the module (pytest
-s) and written as JSON to $FLOWSCHEME_FUZZ_REPORT when that is set.
"""

import json
import os
import re
import sys
import time
import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import interp.values
from flow import FlowError, FlowRuntime, codec
from flow.transfer import STORE_MAGIC

EXAMPLES = int(os.environ.get("FLOWSCHEME_FUZZ_EXAMPLES", "200"))
DERANDOMIZE = "FLOWSCHEME_FUZZ_EXAMPLES" not in os.environ  # CI tries the same cases each run
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=DERANDOMIZE,
                    suppress_health_check=list(HealthCheck))

CODE = r"""
(define p (make-parameter 1))
(define-record-type point (make-point x y) point? (x point-x) (y point-y set-point-y!))
(define (deep n) (if (= n 0) (request 'bottom n) (+ 1 (deep (- n 1)))))
(defflow order (lambda (oid) (request 'reserve oid) (request 'payment oid) (list 'done oid)))
(defflow deep-flow (lambda (n) (deep n)))
(defflow holder (lambda (x) (let ((v (vector x x 1/3 #\a (expt 2 80) "str" 'sym 2.5)))
                              (request 'hold v) (vector-ref v 0))))
(defflow callcc (lambda () (+ 1 (call/cc (lambda (k) (request 'k k))))))
(defflow wind (lambda () (dynamic-wind (lambda () 1) (lambda () (request 'in 0)) (lambda () 2))))
(defflow mapping (lambda (xs) (map (lambda (x) (request 'm x)) xs)))
(defflow param (lambda () (parameterize ((p 2)) (list (p) (request 'q 0) (p)))))
(defflow rec (lambda () (let ((pt (make-point 1 2))) (request 'r pt) (set-point-y! pt 5) (point-y pt))))
(defflow table (lambda () (let ((h (make-hash-table))) (hash-table-set! h '(1 2) 'v) (request 't h)
                            (hash-table-ref/default h '(1 2) #f))))
(defflow named (lambda (n) (let loop ((i 0) (acc '())) (if (= i n) acc (loop (+ i 1) (cons (request 'i i) acc))))))
(defflow guarded (lambda () (guard (e (#t (list 'caught (request 'g e)))) (raise 'boom))))
(defflow closure (lambda (n) (let ((add (lambda (x) (+ x n)))) (add (request 'c add)))))
"""


def _runtime():
    try:
        from interp.limits import Limits

        rt = FlowRuntime(limits=Limits(fuel=200_000, seconds=0.5, memory=None))
    except (ImportError, TypeError):
        rt = FlowRuntime()
    rt.load(CODE, "fuzz.scm")
    return rt


def _sources():
    rt = _runtime()
    rt.start("order", "o-1", flow_id="o-1")
    rt.resume("o-1", "r")
    rt.start("deep-flow", 30, flow_id="deep")
    rt.start("holder", "x", flow_id="h")
    rt.start("callcc", flow_id="k")
    rt.start("wind", flow_id="w")
    rt.start("mapping", [1, 2], flow_id="m")
    rt.resume("m", 10)
    rt.start("param", flow_id="p")
    rt.start("rec", flow_id="r")
    rt.start("table", flow_id="t")
    rt.start("named", 3, flow_id="n")
    rt.start("guarded", flow_id="g")
    rt.start("closure", 5, flow_id="c")
    rt.start("order", "o-2", flow_id="o-2")
    for _ in range(3):
        rt.resume("o-2", "a")
    return rt.export_store()


SOURCE = _sources()
TARGET = _runtime()
TARGET.start("order", "mine", flow_id="mine")
BASELINE = TARGET.export_store()
PRIMITIVES = sorted(TARGET.interp.genv.primitives)
RESUMER_NAMES = ["apply", "toplevel", "wind-step", "set-dynamic", "call-with-values", "map1", "map-n",
                 "for-each", "nope"]
UNIT_HASHES = sorted(TARGET.interp.units)
COUNTS = {"cases": 0, "refused": 0, "accepted": 0, "resumed": 0, "max_seconds": 0.0, "errors": {}}


def teardown_module():
    summary = (f"fuzz import: {COUNTS['cases']} cases, {COUNTS['refused']} refused, {COUNTS['accepted']} accepted "
               f"({COUNTS['resumed']} flows resumed), slowest {COUNTS['max_seconds']:.3f} s")
    print("\n" + summary, file=sys.stderr)
    COUNTS["synthesized_refusals"] = SYNTH_REFUSALS
    path = os.environ.get("FLOWSCHEME_FUZZ_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(COUNTS, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------------- the property


def state(rt):
    ids = rt.ids()
    return ids, {i: (rt.store.get(i).snapshot, tuple(rt.store.get(i).journal)) for i in ids}


BASE_STATE = state(TARGET)


def check_import(data):
    """Import data into TARGET: only FlowErrors escape, a refusal changes nothing;
    an accepted store's flows are read and resumed (then TARGET is restored).
    A case must take under 1 s of CPU (measured again once if it did not: a
    garbage collection of the whole test process may fall into any case)."""
    COUNTS["cases"] += 1
    spent = _case(data, count=True)
    if spent >= 1.0:
        spent = min(spent, _case(data, count=False))
    COUNTS["max_seconds"] = max(COUNTS["max_seconds"], spent)
    assert spent < 1.0, f"a case took {spent:.2f} s of CPU"


def _case(data, count):
    symbols = len(interp.values._symbols)
    t = time.thread_time()
    try:
        TARGET.import_store(data)
    except FlowError as e:
        spent = time.thread_time() - t
        if count:
            COUNTS["refused"] += 1
            kind = type(e).__name__
            COUNTS["errors"][kind] = COUNTS["errors"].get(kind, 0) + 1
        assert state(TARGET) == BASE_STATE
        assert len(interp.values._symbols) == symbols
        return spent
    if count:
        COUNTS["accepted"] += 1
    try:
        for flow_id in TARGET.ids():
            for read in (TARGET.status, TARGET.result, TARGET.journal, lambda _: TARGET.pending()):
                try:
                    read(flow_id)
                except FlowError:
                    pass
            try:
                if TARGET.status(flow_id) == "suspended":
                    if count:
                        COUNTS["resumed"] += 1
                    TARGET.resume(flow_id, 1)
            except FlowError:
                pass
        return time.thread_time() - t
    finally:
        TARGET.import_store(BASELINE)
        assert state(TARGET) == BASE_STATE


# ---------------------------------------------------------------------- taking a store apart


def _ext(c, d):
    return msgpack.ExtType(c, d)


def body_of(data):
    return msgpack.unpackb(data[len(STORE_MAGIC) + 6 :], raw=False)


def pack_store(body, version=2):
    raw = msgpack.packb(body, use_bin_type=True)
    return STORE_MAGIC + version.to_bytes(2, "big") + zlib.crc32(raw).to_bytes(4, "big") + raw


def fix_crc(data):
    head = len(STORE_MAGIC) + 6
    if len(data) < head:
        return data
    body = data[head:]
    return data[: head - 4] + zlib.crc32(body).to_bytes(4, "big") + body


# ---------------------------------------------------------------------- mutations


def mutate_value(draw, x, depth=0):
    """A msgpack-level mutation of x (a decoded value with ExtTypes kept)."""
    choice = draw(st.integers(0, 13))
    if choice == 0:
        return draw(st.integers(-(2**63), 2**64 - 1))
    if choice == 1:
        return draw(st.text(max_size=8))
    if choice == 2:
        return [x] if depth < 3 else None
    if choice == 3:
        return None
    if choice == 4:
        return draw(st.binary(max_size=8))
    if choice == 5:  # a reference to some object (itself, a neighbour, out of range)
        return msgpack.ExtType(codec.EXT_REF, draw(st.integers(0, 70)).to_bytes(4, "big"))
    if choice == 6:
        return msgpack.ExtType(codec.EXT_PRIM, draw(st.sampled_from(PRIMITIVES)).encode())
    if choice == 7:
        return msgpack.ExtType(draw(st.integers(0, 9)), draw(st.binary(max_size=10)))
    if choice == 8:
        return msgpack.ExtType(codec.EXT_GLOBAL, draw(st.sampled_from(["p", "current-output-port", "car",
                                                                       "delete-file", "nope"])).encode())
    if choice == 9 and isinstance(x, int) and not isinstance(x, bool):
        return x + draw(st.integers(-3, 3))
    if choice == 10:
        return draw(st.sampled_from(RESUMER_NAMES))
    if choice == 11:
        return draw(st.booleans())
    if choice == 12:
        return {"k": x} if depth < 3 else 1.5
    if isinstance(x, list) and x:
        y = list(x)
        i = draw(st.integers(0, len(y) - 1))
        y[i] = mutate_value(draw, y[i], depth + 1)
        return y
    return draw(st.floats(allow_nan=True))


def mutate_graph(draw, blob):
    """Structural mutations of an encoded object graph [units, objects, root]."""
    try:
        graph = msgpack.unpackb(blob, raw=False, ext_hook=_ext, strict_map_key=False)
    except Exception:
        return blob
    if not (isinstance(graph, list) and len(graph) == 3 and isinstance(graph[1], list)):
        return blob
    units, objects, root = graph
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.integers(0, 12))
        if what == 0 and objects:  # an object's tag
            i = draw(st.integers(0, len(objects) - 1))
            if isinstance(objects[i], list) and objects[i]:
                objects[i][0] = draw(st.integers(0, 18))
        elif what == 1 and objects:  # a field
            i = draw(st.integers(0, len(objects) - 1))
            if isinstance(objects[i], list) and len(objects[i]) > 1:
                j = draw(st.integers(1, len(objects[i]) - 1))
                objects[i][j] = mutate_value(draw, objects[i][j])
        elif what == 2 and objects:  # a frame's or closure's node id
            frames = [o for o in objects if isinstance(o, list) and o and o[0] in (codec.T_FRAME, codec.T_CLOSURE)]
            if frames:
                o = draw(st.sampled_from(frames))
                if o[0] == codec.T_CLOSURE and len(o) > 2:
                    o[2] = draw(st.integers(0, 2000))
                elif len(o) > 1 and isinstance(o[1], list) and len(o[1]) == 2:
                    o[1][1] = draw(st.integers(0, 2000))
                elif len(o) > 1:
                    o[1] = draw(st.sampled_from(RESUMER_NAMES))
        elif what == 3 and objects:  # a reference duplicated / made to point at itself
            i = draw(st.integers(0, len(objects) - 1))
            o = objects[i]
            if isinstance(o, list) and len(o) > 1:
                j = draw(st.integers(1, len(o) - 1))
                target = draw(st.sampled_from([i, max(0, i - 1), min(len(objects) - 1, i + 1), 0]))
                o[j] = msgpack.ExtType(codec.EXT_REF, target.to_bytes(4, "big"))
        elif what == 4 and objects:  # an element dropped or added
            i = draw(st.integers(0, len(objects) - 1))
            o = objects[i]
            if isinstance(o, list) and len(o) > 1:
                if draw(st.booleans()):
                    del o[draw(st.integers(1, len(o) - 1))]
                else:
                    o.append(mutate_value(draw, None))
        elif what == 5:  # the units: another loaded unit (the prelude), junk
            if units and isinstance(units[0], list) and len(units[0]) == 2:
                units[0][0] = draw(st.sampled_from(UNIT_HASHES + ["0" * 32, 7]))
        elif what == 6:
            root = mutate_value(draw, root)
        elif what == 7 and objects:  # a whole object replaced
            i = draw(st.integers(0, len(objects) - 1))
            objects[i] = mutate_value(draw, objects[i])
        elif what == 8 and objects:  # objects swapped (references now point elsewhere)
            i = draw(st.integers(0, len(objects) - 1))
            j = draw(st.integers(0, len(objects) - 1))
            objects[i], objects[j] = objects[j], objects[i]
        elif what == 9 and objects:  # an object duplicated at the end
            objects.append(objects[draw(st.integers(0, len(objects) - 1))])
        elif what == 10 and objects:  # a frame moved to another node of the same kind
            frames = [o for o in objects if isinstance(o, list) and len(o) == 5 and o[0] == codec.T_FRAME
                      and isinstance(o[1], list) and len(o[1]) == 2]
            if frames and units:
                o = draw(st.sampled_from(frames))
                unit = TARGET.interp.units.get(units[0][0]) if isinstance(units[0], list) else None
                if unit is not None and isinstance(o[1][1], int) and 0 <= o[1][1] < len(unit.nodes):
                    kind = type(unit.nodes[o[1][1]])
                    same = [n.nid for n in unit.nodes if type(n) is kind]
                    o[1][1] = draw(st.sampled_from(same))
        elif what == 11 and objects:  # two references to objects of the same kind swapped
            tag = draw(st.sampled_from([codec.T_ENV, codec.T_TUPLE, codec.T_FRAME, codec.T_PAIR, codec.T_CLOSURE]))
            same = [i for i, o in enumerate(objects) if isinstance(o, list) and o and o[0] == tag]
            holders = [o for o in objects if isinstance(o, list) and any(
                isinstance(x, msgpack.ExtType) and x.code == codec.EXT_REF and int.from_bytes(x.data, "big") in same
                for x in o[1:])]
            if len(same) > 1 and holders:
                o = draw(st.sampled_from(holders))
                js = [j for j, x in enumerate(o) if j and isinstance(x, msgpack.ExtType) and x.code == codec.EXT_REF
                      and int.from_bytes(x.data, "big") in same]
                o[draw(st.sampled_from(js))] = msgpack.ExtType(codec.EXT_REF, draw(st.sampled_from(same)).to_bytes(4, "big"))
        elif what == 12 and objects:  # an environment frame grown or shrunk
            envs = [o for o in objects if isinstance(o, list) and o and o[0] == codec.T_ENV]
            if envs:
                o = draw(st.sampled_from(envs))
                if draw(st.booleans()) or len(o) < 3:
                    o.insert(1, mutate_value(draw, 0))
                else:
                    del o[1]
    return msgpack.packb([units, objects, root], use_bin_type=True)


def mutate_bytes(draw, data):
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        what = draw(st.integers(0, 2))
        i = draw(st.integers(0, len(data) - 1))
        if what == 0:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif what == 1:
            del data[i:]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=6))
    return bytes(data)


def mutate_store(draw):
    body = body_of(SOURCE)
    flows = body["flows"]
    entry = draw(st.sampled_from(flows))
    level = draw(st.sampled_from(["k", "k", "k", "data", "journal", "meta", "snapshot-bytes", "body"]))
    if level == "body":
        what = draw(st.integers(0, 3))
        if what == 0:
            flows.append(list(draw(st.sampled_from(flows))))  # a flow twice
        elif what == 1:
            entry[0] = mutate_value(draw, entry[0])
        elif what == 2:
            entry[2] = mutate_value(draw, entry[2])
        else:
            body["version"] = mutate_value(draw, body["version"])
        return pack_store(body)
    if level == "snapshot-bytes":
        entry[1] = mutate_bytes(draw, entry[1])
        return pack_store(body)
    meta = msgpack.unpackb(entry[1], raw=False)
    if level == "meta":
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = mutate_value(draw, meta[key])
    elif level == "journal":
        if not entry[2]:
            return pack_store(body)
        i = draw(st.integers(0, len(entry[2]) - 1))
        j = msgpack.unpackb(entry[2][i], raw=False)
        if draw(st.booleans()):
            j["data"] = mutate_graph(draw, j["data"])
        else:
            key = draw(st.sampled_from(sorted(j)))
            j[key] = mutate_value(draw, j[key])
        entry[2][i] = msgpack.packb(j, use_bin_type=True)
    elif level == "data":
        meta["data"] = mutate_graph(draw, meta["data"])
    else:
        if meta.get("k") is None:
            return pack_store(body)
        if draw(st.integers(0, 4)) == 0:
            meta["k"] = mutate_bytes(draw, meta["k"])
        else:
            meta["k"] = mutate_graph(draw, meta["k"])
    entry[1] = msgpack.packb(meta, use_bin_type=True)
    return pack_store(body)


# ---------------------------------------------------------------------- the tests


def test_the_source_store_imports_and_resumes():
    check_import(SOURCE)
    rt = _runtime()
    rt.import_store(SOURCE)
    assert rt.resume("deep", 1).value == 31


@SETTINGS
@given(st.data())
def test_structurally_mutated_stores(data):
    check_import(mutate_store(data.draw))


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_byte_mutated_stores(data):
    mutated = mutate_bytes(data.draw, SOURCE)
    check_import(mutated)
    check_import(fix_crc(mutated))


# ---------------------------------------------------------------------- continuations made to fit

from interp import frames as interp_frames  # noqa: E402
from interp.machine import Closure, Frame  # noqa: E402
from interp.nodes import Lambda as LambdaNode  # noqa: E402
from interp.values import NIL, Pair, Vector, sym  # noqa: E402
from flow.model import pack_graph  # noqa: E402
from flow.packing import packb  # noqa: E402

SYNTH = {"rt": None, "uses": 0}
SYNTH_REFUSALS = {}  # why synthesized continuations were refused (for a look: see teardown_module)


def synth_runtime():
    """A runtime for synthesized continuations (they may set globals: renewed often)."""
    if SYNTH["rt"] is None or SYNTH["uses"] >= 40:
        SYNTH["rt"] = _runtime()
        SYNTH["rt"].start("order", "base", flow_id="base")
        SYNTH["uses"] = 0
    SYNTH["uses"] += 1
    return SYNTH["rt"]


def synth_value(draw, rt, depth=0):
    choice = draw(st.integers(0, 9 if depth < 2 else 5))
    if choice == 0:
        return draw(st.integers(-5, 5))
    if choice == 1:
        return draw(st.text(max_size=4))
    if choice == 2:
        return sym(draw(st.sampled_from(["a", "reserve", "x"])))
    if choice == 3:
        return NIL
    if choice == 4:
        return draw(st.booleans())
    if choice == 5:
        return draw(st.floats(allow_nan=False, allow_infinity=False, width=32))
    if choice == 6:
        return Pair(synth_value(draw, rt, depth + 1), synth_value(draw, rt, depth + 1))
    if choice == 7:
        return Vector([synth_value(draw, rt, depth + 1) for _ in range(draw(st.integers(0, 3)))])
    if choice == 8:
        names = sorted(n for n in ("car", "cdr", "+", "list", "vector-ref", "length", "apply", "map", "request",
                                   "call/cc", "values", "raise", "error", "not")
                       if n in rt.interp.genv.primitives or n in ("raise",))
        try:
            return rt.interp.lookup(draw(st.sampled_from(names)))
        except KeyError:
            return 0
    return synth_closure(draw, rt, depth + 1)


def synth_env(draw, rt, scope, depth):
    if scope is None:
        return None
    env = [synth_value(draw, rt, depth + 1) for _ in range(scope.size())]
    env.append(synth_env(draw, rt, scope.parent, depth))
    return env


def _units(rt, keep):
    """The loaded units with a node `keep` accepts: [(unit, [node])], in a fixed order."""
    out = []
    for u in sorted(rt.interp.units.values(), key=lambda u: u.hash):
        nodes = [n for n in u.nodes if keep(n)]
        if nodes:
            out.append((u, nodes))
    return out


def synth_closure(draw, rt, depth):
    _, lams = draw(st.sampled_from(_units(rt, lambda n: type(n) is LambdaNode)))
    lam = draw(st.sampled_from(lams))
    if lam.info is None:
        lam.compile()
    return Closure(lam.info, synth_env(draw, rt, lam.scope.parent, depth))


def _waits_on(node):
    """The positions a frame of node can wait at (sub-expressions that can capture)."""
    t = type(node).__name__
    subs = {"App": lambda: [node.fn] + list(node.args), "Let": lambda: node.inits,
            "Letrec": lambda: node.inits, "Seq": lambda: node.body[:-1], "Or": lambda: node.exprs[:-1],
            "And": lambda: node.exprs[:-1]}.get(t)
    if subs is None:
        return [None]
    return [i for i, c in enumerate(subs()) if not isinstance(c, interp_frames.SIMPLE)]


def synth_frame(draw, rt, nxt):
    _, nodes = draw(st.sampled_from(_units(rt, lambda n: type(n) in interp_frames.FRAMES
                                           and interp_frames.scope_of(n) is not None and _waits_on(n))))
    node = draw(st.sampled_from(nodes))
    node.compile()
    kind = interp_frames.FRAMES[type(node)]
    val = lambda: synth_value(draw, rt, 1)  # noqa: E731
    t = type(node).__name__
    at = draw(st.sampled_from(_waits_on(node)))
    if t == "App":
        data = tuple(val() for _ in range(at))
        if at and type(node.fn) is LambdaNode:
            node.fn.compile()
            data = (Closure(node.fn.info, synth_env(draw, rt, node.fn.scope.parent, 1)),) + data[1:]
    elif t == "Let":
        data = tuple(val() for _ in range(at))
    elif t in ("Seq", "Or", "And", "Letrec"):
        data = at
    elif t == "Case" and draw(st.booleans()):
        data = ("arrow", val())
    elif t == "CondArrow" and draw(st.booleans()):
        data = ("receiver", val())
    else:
        data = None
    scope = node.scope if kind.env == "own" else interp_frames.scope_of(node)
    return Frame(node, synth_env(draw, rt, scope, 1), data, nxt)


def test_base_snapshot_for_synthesized_continuations():
    rt = synth_runtime()
    assert rt.status("base") == "suspended"


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, database=None, derandomize=DERANDOMIZE,
          suppress_health_check=list(HealthCheck))
@given(st.data())
def test_synthesized_continuations(data):
    """Continuations assembled from random frames of the loaded code (random data
    of each node's layout, random values in environments of each scope's shape):
    import accepts or refuses them, and resuming an accepted one raises nothing
    but FlowErrors (a Scheme error fails the flow)."""
    draw = data.draw
    rt = synth_runtime()
    k = None
    for _ in range(draw(st.integers(1, 4))):
        k = synth_frame(draw, rt, k)
    try:
        blob, _, units = pack_graph((k, NIL, NIL, (sym("reserve"), "base"), ()), rt.cenv)
    except codec.CodecError:
        return  # a value that cannot be saved (a host object)
    meta = msgpack.unpackb(rt.store.get("base").snapshot, raw=False)
    meta["k"] = blob
    meta["units"] = [list(u) for u in units]
    body = body_of(rt.export_store())
    for entry in body["flows"]:
        if entry[0] == "base":
            entry[1] = packb(meta)
    store = pack_store(body)
    COUNTS["cases"] += 1
    t = time.thread_time()
    try:
        rt.import_store(store)
    except FlowError as e:
        COUNTS["refused"] += 1
        reason = re.sub(r"[0-9]+|'[^']*'| at .*", "", str(e))[:90]
        SYNTH_REFUSALS[reason] = SYNTH_REFUSALS.get(reason, 0) + 1
        return
    COUNTS["accepted"] += 1
    COUNTS["resumed"] += 1
    try:
        rt.resume("base", 1)
    except FlowError:
        pass
    finally:
        spent = time.thread_time() - t
        COUNTS["max_seconds"] = max(COUNTS["max_seconds"], spent)
        SYNTH["rt"] = None if spent > 0.5 else SYNTH["rt"]
