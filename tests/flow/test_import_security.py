"""A flow store is data: import accepts only continuations the loaded code could
have made, names only procedures that code could reach, is bounded in size,
memory and time, authenticates with a store key, and a refused import changes
nothing (not even the symbol table). Legitimate continuations of every shape
still round-trip."""

import gc
import os
import random
import subprocess
import sys
import time
import zlib
from fractions import Fraction

import msgpack
import pytest

import interp.values
from flow import FlowError, FlowRuntime, StoreAuthenticationError, StoreFormatError, codec
from flow.transfer import MAC_SIZE, STORE_MAGIC, STORE_VERSION, STORE_VERSION_MAC, read_store
from interp import frames as interp_frames
from interp import nodes as interp_nodes

from flowhelp import runtime

VICTIM = """
(define (shout s) (string-append s "!"))
(defflow victim (lambda (path) (let ((p path)) (list 1 (request 'x p) p))))
(defflow mentions-delete (lambda (path) (if (request 'never-true #f) (delete-file path) (list 2 (request 'y path)))))
(define counter (make-parameter 0))
(defflow param-flow (lambda () (parameterize ((counter 5)) (list (counter) (request 'p 0)))))
(defflow callcc-flow (lambda () (+ 1 (call/cc (lambda (k) (request 'k k))))))
"""


# ---------------------------------------------------------------------- crafting stores


def _ext(c, d):
    return msgpack.ExtType(c, d)


def ref(i):
    return msgpack.ExtType(codec.EXT_REF, i.to_bytes(4, "big"))


def prim(name):
    return msgpack.ExtType(codec.EXT_PRIM, name.encode())


def glob(name):
    return msgpack.ExtType(codec.EXT_GLOBAL, name.encode())


class Store:
    """An exported store taken apart down to one flow's continuation graph."""

    def __init__(self, data, flow_id):
        assert data[: len(STORE_MAGIC)] == STORE_MAGIC
        self.body = msgpack.unpackb(data[len(STORE_MAGIC) + 6 :], raw=False)
        self.entry = next(e for e in self.body["flows"] if e[0] == flow_id)
        self.meta = msgpack.unpackb(self.entry[1], raw=False)
        self.units, self.objects, self.root = msgpack.unpackb(self.meta["k"], raw=False, ext_hook=_ext)

    def frames(self):
        return [i for i, o in enumerate(self.objects) if o[0] == codec.T_FRAME]

    def add(self, entry):
        self.objects.append(entry)
        return ref(len(self.objects) - 1)

    def pack(self, key=None, graph=True):
        if graph:
            self.meta["k"] = msgpack.packb([self.units, self.objects, self.root], use_bin_type=True)
        self.entry[1] = msgpack.packb(self.meta, use_bin_type=True)
        version = STORE_VERSION if key is None else STORE_VERSION_MAC
        self.body["version"] = version
        raw = msgpack.packb(self.body, use_bin_type=True)
        head = STORE_MAGIC + version.to_bytes(2, "big") + zlib.crc32(raw).to_bytes(4, "big")
        if key is not None:
            import hashlib
            import hmac

            h = hmac.new(key, STORE_MAGIC + version.to_bytes(2, "big") + raw, hashlib.sha256)
            head += h.digest()
        return head + raw


def victim_store(tmp_path, flow="victim"):
    src = runtime(VICTIM)
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    src.start(flow, str(target), flow_id="v")
    return Store(src.export_store(), "v"), target


def refused(rt, data, match=None, **kw):
    """Import must fail with a StoreFormatError and change nothing at all."""
    before_ids = rt.ids()
    before = {i: rt.store.get(i).snapshot for i in before_ids}
    symbols = len(interp.values._symbols)
    with pytest.raises(StoreFormatError) as e:
        rt.import_store(data, **kw)
    if match is not None:
        assert match in str(e.value), str(e.value)
    assert rt.ids() == before_ids
    assert {i: rt.store.get(i).snapshot for i in before_ids} == before
    assert len(interp.values._symbols) == symbols
    return str(e.value)


@pytest.fixture
def target():
    rt = runtime(VICTIM)
    rt.start("victim", "mine", flow_id="mine")
    return rt


# ---------------------------------------------------------------------- the apply-frame attack


def _apply_frame(store, path):
    """Replace the flow's innermost code frame with an "apply" frame calling delete-file."""
    args = store.add([codec.T_TUPLE, path])
    data = store.add([codec.T_TUPLE, prim("delete-file"), args])
    i = store.frames()[0]
    store.objects[i][1] = "apply"
    store.objects[i][2] = None
    store.objects[i][3] = data


def test_the_apply_frame_attack_is_refused(tmp_path, target):
    store, victim_file = victim_store(tmp_path)
    _apply_frame(store, str(victim_file))
    msg = refused(target, store.pack())
    assert "apply" in msg
    assert victim_file.exists()
    # and with a store key: an attacker without it cannot even get past the MAC ...
    os.environ["FLOWSCHEME_STORE_KEY"] = "s3cret"
    try:
        with pytest.raises(StoreAuthenticationError):
            target.import_store(store.pack())
        # ... and one with it (a leaked key) is still refused by validation
        refused(target, store.pack(key=b"s3cret"), "apply")
    finally:
        del os.environ["FLOWSCHEME_STORE_KEY"]
    assert victim_file.exists()
    assert target.ids() == ["mine"]


def test_a_restricted_primitive_in_a_legit_looking_frame_is_refused(tmp_path, target):
    # the call frame (list 1 <request>) with its operator replaced by delete-file:
    # a layout the code makes, but a procedure flow code is not granted
    store, victim_file = victim_store(tmp_path)
    i = store.frames()[0]
    data = store.objects[i][3]
    store.objects[data.data[3]] = [codec.T_TUPLE, prim("delete-file"), 1]
    refused(target, store.pack(), "delete-file")
    assert victim_file.exists()


def test_a_restricted_primitive_is_refused_even_where_the_code_mentions_it(tmp_path):
    rt = runtime(VICTIM)  # VICTIM refers to delete-file (mentions-delete), never granted
    store, victim_file = victim_store(tmp_path, "victim")
    i = store.frames()[0]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("delete-file"), 1]
    refused(rt, store.pack(), "host-only procedure")
    assert victim_file.exists()


def test_a_restricted_primitive_the_runtime_grants_is_accepted(tmp_path):
    """With allow=["file"] and code that refers to delete-file, flow code could
    call it itself: a store naming it gives nothing more (the name is accepted)."""
    try:
        rt = FlowRuntime(allow=["file"])
    except TypeError:
        pytest.skip("no capability grants in this runtime")
    rt.load(VICTIM, "flows.scm")
    store, victim_file = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("delete-file"), 1]
    assert rt.import_store(store.pack()) == 1
    assert victim_file.exists()


@pytest.mark.parametrize("step, data", [
    ("call-with-values", lambda s: prim("delete-file")),
    ("map1", lambda s: s.add([codec.T_TUPLE, prim("delete-file"), s.add([codec.T_PAIR, "/x", _nil()]), s.add([codec.T_TUPLE])])),
    ("for-each", lambda s: s.add([codec.T_TUPLE, prim("open-output-file"), s.add([codec.T_TUPLE, "/x"])])),
    ("wind-step", lambda s: s.add([codec.T_TUPLE, _nil(), prim("exit"), 0])),
])
def test_resumer_frames_cannot_call_restricted_procedures(tmp_path, target, step, data):
    store, victim_file = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][1] = step
    store.objects[i][2] = None
    store.objects[i][3] = data(store)
    refused(target, store.pack())
    assert victim_file.exists()


def _nil():
    return msgpack.ExtType(codec.EXT_CONST, b"\x00")


def test_toplevel_frames_are_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][1] = "toplevel"
    store.objects[i][2] = None
    store.objects[i][3] = store.add([codec.T_TUPLE, "somekey.1", 0])
    refused(target, store.pack(), "toplevel")


def test_a_self_looping_frame_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][4] = ref(i)
    refused(target, store.pack(), "loop")


def test_a_longer_frame_cycle_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    copy = list(store.objects[i])
    j = len(store.objects)
    copy[4] = ref(i)
    store.objects.append(copy)
    store.objects[i][4] = ref(j)
    refused(target, store.pack(), "loop")


def _nodes(store):
    rt = runtime(VICTIM)
    return rt.interp.units[store.units[0][0]].nodes


def test_a_frame_naming_a_node_of_the_wrong_kind_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    nodes = _nodes(store)
    i = store.frames()[0]
    const = next(n.nid for n in nodes if type(n) is interp_nodes.Const)
    store.objects[i][1] = [0, const]
    refused(target, store.pack(), "never pushes one")
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    an_if = next(n.nid for n in nodes if type(n) is interp_nodes.If)
    store.objects[i][1] = [0, an_if]  # an if frame holds no data; this one holds (list 1)
    refused(target, store.pack(), "if frame")


def test_a_frame_in_top_level_code_is_refused(tmp_path, target):
    """(define promise? (...)) in the prelude: a define frame there would redefine a
    global that every flow uses; top-level code never runs inside a flow."""
    store, _ = victim_store(tmp_path)
    prelude = next(u for u in target.interp.units.values() if u.filename == "<prelude>")
    node = next(n for n in prelude.nodes if type(n) is interp_nodes.GlobalDefine
                and type(n.expr) is interp_nodes.App)
    store.units.append([prelude.hash, "<prelude>"])
    i = store.frames()[0]
    store.objects[i][1] = [1, node.nid]
    store.objects[i][2] = None
    store.objects[i][3] = None
    refused(target, store.pack(), "top-level code of <prelude>")


@pytest.mark.parametrize("data, match", [
    (lambda s: s.add([codec.T_TUPLE, prim("list"), 1, 2, 3, 4]), "values for a call"),
    (lambda s: s.add([codec.T_TUPLE]), "never captures"),  # waiting on `list`, a global
    (lambda s: 7, "expected a tuple"),
    (lambda s: s.add([codec.T_TUPLE, prim("list"), s.add([codec.T_TUPLE, 1])]), "not a Scheme value"),
])
def test_a_frame_with_a_wrong_data_layout_is_refused(tmp_path, target, data, match):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][3] = data(store)
    refused(target, store.pack(), match)


def test_an_environment_of_the_wrong_shape_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    env = next(o for o in store.objects if o[0] == codec.T_ENV)
    env.insert(1, "extra slot")
    refused(target, store.pack(), "slots")
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][2] = None  # the frame's code runs inside the lambda: it has an environment
    refused(target, store.pack(), "expected an environment frame")
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][2] = store.add([codec.T_PAIR, 1, 2])  # a pair is no environment
    refused(target, store.pack(), "environment")


def test_an_environment_frame_cannot_be_a_value(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    env = store.objects[i][2]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), env]
    refused(target, store.pack(), "environment frame where")


def test_a_primitive_no_loaded_code_refers_to_is_refused(tmp_path, target):
    from interp.capabilities import is_restricted

    names = set()
    for u in target.interp.units.values():
        names |= interp_frames.global_names(u)
    unused = sorted(n for n in target.interp.genv.primitives if n not in names and not is_restricted(n))
    assert unused
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim(unused[0]), 1]
    refused(target, store.pack(), "not used by any loaded code")


@pytest.mark.parametrize("name, match", [
    ("delete-file", "host-only"),  # referenced by VICTIM, but restricted
    ("open-output-file", "host-only"),  # referenced by the prelude, restricted
    ("flow-reset!", "not used by any loaded code"),
    ("car", "not a parameter or port"),
    ("no-such-global", "not used by any loaded code"),
    ("counter", None),  # a parameter VICTIM defines: fine
])
def test_global_references_are_checked(tmp_path, target, name, match):
    store, _ = victim_store(tmp_path)
    if match is None:
        i = store.frames()[0]
        store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), glob(name)]
        target.import_store(store.pack())
        return
    i = store.frames()[0]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), glob(name)]
    refused(target, store.pack(), match)


def test_a_crafted_call_cc_continuation_is_refused(tmp_path, target):
    src = runtime(VICTIM)
    src.start("callcc-flow", flow_id="c")
    for edit, match in [
        (lambda o: o.__setitem__(2, 5), "winders"),  # winders: not a list
        (lambda o: o.__setitem__(3, "handlers"), "handlers"),
        (lambda o: o.__setitem__(1, 12), "no frame"),
        (lambda o: o.__setitem__(4, "level"), "malformed continuation"),
        (lambda o: o.__setitem__(4, 0), "malformed continuation"),  # below every driver: a raw Throw
    ]:
        store = Store(src.export_store(), "c")
        cont = next(o for o in store.objects if o[0] == codec.T_CONT)
        edit(cont)
        refused(target, store.pack(), match)
    # the same continuation, untouched, round-trips and works
    fresh = runtime(VICTIM)
    fresh.import_store(src.export_store())
    assert fresh.resume("c", 41).value == 41 + 1


def test_a_crafted_winder_is_refused(tmp_path, target):
    src = runtime(VICTIM + "(defflow dw (lambda () (dynamic-wind (lambda () 1) (lambda () (request 'in 0)) (lambda () 2))))")
    rt = runtime(VICTIM + "(defflow dw (lambda () (dynamic-wind (lambda () 1) (lambda () (request 'in 0)) (lambda () 2))))")
    src.start("dw", flow_id="d")
    store = Store(src.export_store(), "d")
    w = next(o for o in store.objects if o[0] == codec.T_WINDER)
    w[2] = 17  # its after thunk: not a procedure
    refused(rt, store.pack(), "dynamic-wind")
    store = Store(src.export_store(), "d")
    root = store.objects[int.from_bytes(store.root.data, "big")]  # (k, winders, handlers, payload, params)
    root[2] = store.add([codec.T_PAIR, 5, _nil()])  # a winders list holding a number
    refused(rt, store.pack(), "winders")


def test_an_unknown_node_id_or_unit_index_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[i][1] = [0, 10**6]
    refused(target, store.pack(), "does not exist")
    store, _ = victim_store(tmp_path)
    store.objects[store.frames()[0]][1] = [5, 0]
    refused(target, store.pack(), "unit list")
    store, _ = victim_store(tmp_path)
    store.units[0][0] = 12345  # an int where a unit hash belongs
    refused(target, store.pack(), "malformed")


# ---------------------------------------------------------------------- every legitimate shape still works

SHAPES = r"""
(defflow wind-leave (lambda ()
  (let ((k (call/cc (lambda (k) k))))
    (if (procedure? k)
        (dynamic-wind (lambda () #f)
                      (lambda () (dynamic-wind (lambda () #f) (lambda () (k 'out)) (lambda () (request 'inner 1))))
                      (lambda () (request 'outer 2)))
        (list 'done k)))))
(defflow wind-enter (lambda ()
  (let ((log '()) (k #f))
    (dynamic-wind (lambda () (set! log (cons (request 'before 0) log)))
                  (lambda () (call/cc (lambda (c) (set! k c))))
                  (lambda () #f))
    (if (< (length log) 2) (k 'again) log))))
(defflow mapping (lambda (xs) (map (lambda (x) (request 'm x)) xs)))
(defflow mapping2 (lambda (xs) (map (lambda (x y) (request 'm (+ x y))) xs xs)))
(defflow each (lambda (xs) (for-each (lambda (x) (request 'e x)) xs) 'ok))
(defflow cwv (lambda () (call-with-values (lambda () (request 'p 1)) list)))
(define p (make-parameter 1))
(defflow param (lambda () (parameterize ((p 2)) (list (p) (request 'q 0) (p)))))
(define (deep n) (if (= n 0) (request 'bottom n) (+ 1 (deep (- n 1)))))
(defflow deep-flow (lambda (n) (deep n)))
(defflow cased (lambda (x) (case x ((1) => (request 'recv 0)) (else 'no))))
(defflow conded (lambda (x) (cond ((assv x '((1 . a))) => (request 'recv 0)) (else 'no))))
(defflow letrecs (lambda () (letrec ((a (request 'a 0)) (b (lambda () a))) (b))))
(defflow named (lambda (n) (let loop ((i 0) (acc '())) (if (= i n) acc (loop (+ i 1) (cons (request 'i i) acc))))))
(defflow guarded (lambda () (guard (e (#t (list 'caught (request 'g 0)))) (raise 'boom))))
(defflow handler (lambda () (with-exception-handler (lambda (e) (request 'h e)) (lambda () (+ 1 (raise-continuable 'c))))))
(defflow holdk (lambda () (let ((k (call/cc (lambda (k) k)))) (if (procedure? k) (begin (request 'k 0) (k 5)) (list 'got k)))))
(defflow ands (lambda () (and (request 'a 1) (or #f (request 'b 2)) (request 'c 3))))
(define-record-type point (make-point x y) point? (x point-x) (y point-y set-point-y!))
(defflow rec (lambda () (let ((pt (make-point 1 2))) (request 'r pt) (set-point-y! pt 5) (list (point-x pt) (point-y pt) (procedure? point-x)))))
(defflow table (lambda () (let ((h (make-hash-table))) (hash-table-set! h '(1 2) 'v) (request 't h) (hash-table-ref/default h '(1 2) #f))))
(defflow lets (lambda () (let ((a 1) (b (request 'b 0)) (c 3)) (define z 9) (list a b c z))))
(defflow setter (lambda () (define v 0) (set! v (request 's 0)) v))
(defflow numbers (lambda () (let ((big (expt 3 20000)) (r (/ (expt 3 1001) (expt 2 1000)))) (request 'n 0) (list (= big (expt 3 20000)) (= r (/ (expt 3 1001) (expt 2 1000)))))))
"""


@pytest.mark.parametrize("name, args, answers, expected", [
    ("wind-leave", [], [0, 0], ["done", "out"]),
    ("wind-enter", [], [1, 2], [2, 1]),
    ("mapping", [[1, 2, 3]], [10, 20, 30], [10, 20, 30]),
    ("mapping2", [[1, 2]], [10, 20], [10, 20]),
    ("each", [[1, 2]], [10, 20], "ok"),
    ("cwv", [], [7], [7]),
    ("param", [], [7], [2, 7, 2]),
    ("deep-flow", [3000], [1], 3001),
    ("letrecs", [], [4], 4),
    ("named", [3], [1, 2, 3], [3, 2, 1]),
    ("guarded", [], [1], ["caught", 1]),
    ("handler", [], [1], 2),
    ("holdk", [], [1], ["got", 5]),
    ("ands", [], [1, 2, 3], 3),
    ("rec", [], [1], [1, 5, True]),
    ("table", [], [1], "v"),
    ("lets", [], [1], [1, 1, 3, 9]),
    ("setter", [], [1], 1),
    ("numbers", [], [0], [True, True]),
])
def test_legitimate_continuations_round_trip(name, args, answers, expected):
    rt = runtime(SHAPES)
    r = rt.start(name, *args, flow_id="f")
    for a in answers:
        fresh = runtime(SHAPES)
        symbols = len(interp.values._symbols)
        fresh.import_store(rt.export_store())
        assert len(interp.values._symbols) == symbols  # an import interns nothing
        rt = fresh
        r = rt.resume("f", a)
    assert r.value == expected


@pytest.mark.parametrize("name", ["cased", "conded"])
def test_arrow_clause_frames_round_trip(name):
    rt = runtime(SHAPES)
    rt.start(name, 1, flow_id="f")
    fresh = runtime(SHAPES)
    fresh.import_store(rt.export_store())
    proc = fresh.interp.eval("(lambda (x) (list 'got x))")
    from flow import SchemeObject

    r = fresh.resume("f", SchemeObject(proc))
    assert r.value == ["got", 1] if name == "cased" else ["got", [1, "a"]]


def test_wind_step_frames_are_saved_and_checked():
    """A request inside an after thunk run by a continuation jump leaves the rest
    of the jump (wind-step, set-dynamic frames) in the continuation."""
    from interp.machine import continuation_frames

    rt = runtime(SHAPES)
    rt.start("wind-leave", flow_id="w")
    steps = [getattr(f.node, "name", None) for f in continuation_frames(rt.flow("w").decode_continuation(rt.cenv).k)]
    assert "wind-step" in steps and "set-dynamic" in steps
    store = Store(rt.export_store(), "w")
    ws = next(i for i in store.frames() if store.objects[i][1] == "wind-step")
    data = store.objects[int.from_bytes(store.objects[ws][3].data, "big")]
    data[2] = 42  # its thunk: not a procedure
    refused(runtime(SHAPES), store.pack(), "wind-step frame")


def test_every_node_kind_that_pushes_frames_is_described():
    """interp.frames knows every node class that has a resume point (so a new one
    is not silently refused on import, or accepted unchecked)."""
    import inspect

    for name, cls in vars(interp_nodes).items():
        if inspect.isclass(cls) and issubclass(cls, interp_nodes.Node) and cls is not interp_nodes.Node:
            if "resume" in vars(cls) and cls.__name__ != "_Assign":
                assert cls in interp_frames.FRAMES, name
            if "resume" not in vars(cls) and not any("resume" in vars(b) for b in cls.__mro__[1:-2]):
                assert cls not in interp_frames.FRAMES, name
    from interp.machine import RESUMERS

    assert set(RESUMERS) - set(interp_frames.RESUMER_FRAMES) == {"apply", "toplevel"}


# ---------------------------------------------------------------------- store keys (HMAC)


def test_a_keyed_export_imports_with_the_key():
    src = runtime(VICTIM)
    src.start("victim", "p", flow_id="v")
    data = src.export_store(key=b"k1")
    assert int.from_bytes(data[len(STORE_MAGIC) : len(STORE_MAGIC) + 2], "big") == STORE_VERSION_MAC
    dst = runtime(VICTIM)
    assert dst.import_store(data, key=b"k1") == 1
    assert dst.resume("v", 5).value == [1, 5, "p"]
    # without a key configured the MAC cannot be checked: the store is accepted
    assert runtime(VICTIM).import_store(data) == 1


def test_tampered_unauthenticated_or_wrongly_keyed_stores_are_refused(target):
    src = runtime(VICTIM)
    src.start("victim", "p", flow_id="v")
    data = bytearray(src.export_store(key="k1"))
    refused(target, bytes(data), "authentication failed", key="k2")
    tampered = bytearray(data)
    tampered[-3] ^= 1
    msg = refused(target, bytes(tampered), "authentication failed", key="k1")
    assert "tampered" in msg
    mac = len(STORE_MAGIC) + 6
    tampered = bytearray(data)
    tampered[mac] ^= 0x80  # the MAC itself
    refused(target, bytes(tampered), "authentication failed", key="k1")
    refused(target, src.export_store(), "not authenticated", key="k1")  # no MAC, key required
    refused(target, bytes(data[: mac + MAC_SIZE - 1]), "truncated", key="k1")
    with pytest.raises(StoreAuthenticationError):
        target.import_store(src.export_store(), key="k1")


def test_the_store_key_can_come_from_the_environment(monkeypatch):
    src = runtime(VICTIM)
    src.start("victim", "p", flow_id="v")
    monkeypatch.setenv("FLOWSCHEME_STORE_KEY", "from-env")
    data = src.export_store()
    assert int.from_bytes(data[len(STORE_MAGIC) : len(STORE_MAGIC) + 2], "big") == STORE_VERSION_MAC
    assert runtime(VICTIM).import_store(data) == 1
    monkeypatch.setenv("FLOWSCHEME_STORE_KEY", "another")
    with pytest.raises(StoreAuthenticationError):
        runtime(VICTIM).import_store(data)


def test_the_cli_signs_and_checks_with_a_key_file(tmp_path, new_store_location):
    src = runtime(VICTIM)
    src.start("victim", "p", flow_id="v")
    key = tmp_path / "key"
    key.write_text("cli-key\n")
    other = tmp_path / "other"
    other.write_text("other-key")
    scm = tmp_path / "victim.scm"
    scm.write_text(VICTIM)
    good = tmp_path / "good.flows"
    good.write_bytes(src.export_store(key=b"cli-key"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSCHEME_")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "interp.cli", "flows", *args], capture_output=True,
                              text=True, timeout=60, env=env)

    if cli("--help").returncode != 0:
        pytest.skip("no flowscheme command line entry point here")
    s1, s2, s3 = new_store_location(), new_store_location(), new_store_location()
    r = cli("import", str(good), "--store", s1, "--key-file", str(other), "--load", str(scm))
    assert r.returncode == 1 and "authentication failed" in r.stderr, r.stderr
    r = cli("import", str(good), "--store", s1, "--load", str(scm))
    assert r.returncode == 0, r.stderr  # no key configured: accepted (the MAC cannot be checked)
    r = cli("import", str(good), "--store", s2, "--key-file", str(key), "--load", str(scm))
    assert r.returncode == 0, r.stderr
    r = cli("export", str(tmp_path / "again.flows"), "--store", s2, "--key-file", str(key))
    assert r.returncode == 0, r.stderr
    again = (tmp_path / "again.flows").read_bytes()
    assert int.from_bytes(again[len(STORE_MAGIC) : len(STORE_MAGIC) + 2], "big") == STORE_VERSION_MAC
    r = cli("import", "-", "--store", s3, "--key-file", str(other), "--load", str(scm))
    assert r.returncode != 0


# ---------------------------------------------------------------------- bounds


def test_a_store_of_big_rationals_imports_quickly():
    rng = random.Random(7)
    xs = []
    while len(xs) < 200:  # ~1.6 MB of rationals of 4,000-byte numerators and denominators
        num = rng.getrandbits(4000 * 8) | 1
        den = rng.getrandbits(4000 * 8) | (1 << (4000 * 8 - 1))
        xs.append(Fraction(num, den))
    code = "(defflow hold (lambda (xs) (request 'hold (length xs))))"
    src = runtime(code)
    src.start("hold", xs, flow_id="r")
    data = src.export_store()
    assert 1_400_000 < len(data) < 2_000_000
    dst = runtime(code)
    spent = []
    for _ in range(2):  # the better of two, in CPU time: the machine may be busy
        t = time.process_time()
        dst.import_store(data)
        spent.append(time.process_time() - t)
    assert min(spent) < 1.0, spent
    assert dst.result("r").payload == len(xs)


@pytest.mark.parametrize("blob, match", [
    (msgpack.ExtType(codec.EXT_BIGINT, b"\x01" * (codec.MAX_INT_BYTES + 1)), "more than"),
    (msgpack.ExtType(codec.EXT_FRACTION, (codec.MAX_INT_BYTES + 1).to_bytes(4, "big") + b"\x01" * (codec.MAX_INT_BYTES + 2)), "rational"),
    (msgpack.ExtType(codec.EXT_FRACTION, (1).to_bytes(4, "big") + b"\x02\x04"), "lowest terms"),
    (msgpack.ExtType(codec.EXT_FRACTION, (1).to_bytes(4, "big") + b"\x02\x01"), "bad rational"),
    (msgpack.ExtType(codec.EXT_COMPLEX, b"\x00" * 15), "bad complex"),
    (msgpack.ExtType(codec.EXT_COMPLEX, b"\x00" * 17), "bad complex"),
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01"), "bad exact complex"),
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x01\x00"),
     "bad exact complex"),  # an exact zero imaginary part
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01\x02\x00\x00\x00\x01\x01"),
     "bad exact complex"),  # an unknown part kind
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x02\x01"),
     "bad exact complex"),  # a part longer than the data
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x01\x01\x00"),
     "bad exact complex"),  # trailing bytes
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00\x00\x00\x00\x01\x01\x01\x00\x00\x00\x06"
                     + (1).to_bytes(4, "big") + b"\x02\x04"), "lowest terms"),
    (msgpack.ExtType(codec.EXT_EXACT_COMPLEX, b"\x00" + (codec.MAX_INT_BYTES + 1).to_bytes(4, "big")
                     + b"\x01" * (codec.MAX_INT_BYTES + 1) + b"\x00\x00\x00\x00\x01\x01"), "more than"),
])
def test_oversized_or_malformed_numbers_are_refused(tmp_path, target, blob, match):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), blob]
    refused(target, store.pack(), match)


def test_numbers_too_big_to_save_are_refused_on_export_not_import():
    with pytest.raises(codec.CodecError, match="more than"):
        codec.encode(2 ** (codec.MAX_INT_BYTES * 8 + 10), codec.Env(FlowRuntime().interp))


def test_dev_zero_is_refused_quickly_with_bounded_memory():
    with open("/dev/zero", "rb") as f:
        t = time.perf_counter()
        with pytest.raises(StoreFormatError, match="bad magic"):
            read_store(f)
        assert time.perf_counter() - t < 1.0
    with open("/dev/zero", "rb") as f:
        with pytest.raises(StoreFormatError, match="bad magic"):
            FlowRuntime().import_store(f)


def test_an_endless_store_is_refused_at_the_limit():
    class Endless:
        def __init__(self):
            self.head = STORE_MAGIC + STORE_VERSION.to_bytes(2, "big")
            self.served = 0

        def read(self, n):
            self.served += n
            if self.head:
                out, self.head = self.head[:n], self.head[n:]
                return out
            return b"\x00" * n

    src = Endless()
    with pytest.raises(StoreFormatError, match="too large"):
        read_store(src, max_bytes=5 << 20)
    assert src.served <= (5 << 20) + (2 << 20)


def test_the_cli_refuses_dev_zero(store_location):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSCHEME_")}
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "interp.cli", "flows", "import", "/dev/zero", "--store",
                        store_location], capture_output=True, text=True, timeout=60, env=env)
    if "No such command" in r.stderr or "Usage" in r.stderr and "flows" not in r.stderr:
        pytest.skip("no flows command line here")
    assert r.returncode == 1
    assert "bad magic" in r.stderr and "Traceback" not in r.stderr
    assert time.perf_counter() - t < 30


def _expensive_store(tmp_path, n=100_000):
    """A store of objects that take much memory for few bytes (hash tables, error
    objects, frame data, fresh symbols), the last one malformed."""
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    items = []
    for k in range(n):
        kind = k % 4
        if kind == 0:
            items.append(store.add([codec.T_HASHTABLE, "eqv"]))
        elif kind == 1:
            items.append(store.add([codec.T_ERROR, "", [], ""]))
        elif kind == 2:
            items.append(store.add([codec.T_MULTI]))
        else:
            items.append(msgpack.ExtType(codec.EXT_SYM, b"s%d" % k))
    vec = store.add([codec.T_VECTOR] + items)
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), vec]
    store.objects[i][4] = ref(i)  # and refused in the end
    return store.pack()


def test_decoded_memory_is_bounded_by_the_input_size(tmp_path, target):
    import tracemalloc

    data = _expensive_store(tmp_path)
    tracemalloc.start()
    try:
        refused(target, data, "loop")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < (codec.BUDGET_PER_BYTE + 8) * len(data) + (32 << 20), (peak, len(data))


def test_the_memory_budget_refuses_what_would_exceed_it(tmp_path, target, monkeypatch):
    data = _expensive_store(tmp_path, 20_000)
    monkeypatch.setattr(codec, "BUDGET_PER_BYTE", 4)
    monkeypatch.setattr(codec, "BUDGET_BASE", 0)
    refused(target, data, "too large for its size")


def test_a_big_legitimate_store_decodes_within_the_budget():
    code = "(defflow big (lambda (n) (let ((l (iota n)) (v (make-vector n \"ab\"))) (request 'hold 0) (length l))))"
    src = runtime(code)
    src.start("big", 200_000, flow_id="b")
    dst = runtime(code)
    dst.import_store(src.export_store())
    assert dst.resume("b", 0).value == 200_000


def test_hash_table_keys_cannot_make_import_quadratic(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    lst = _nil()
    for k in range(20_000):
        lst = store.add([codec.T_PAIR, k, lst])
    keys = [store.add([codec.T_PAIR, k, lst]) for k in range(20_000)]  # each key walks the whole list
    flat = []
    for k in keys:
        flat += [k, 1]
    table = store.add([codec.T_HASHTABLE, "equal"] + flat)
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), table]
    t = time.perf_counter()
    refused(target, store.pack(), "keys too large")
    assert time.perf_counter() - t < 5


def test_deeply_nested_frame_data_is_refused(tmp_path, target):
    store, _ = victim_store(tmp_path)
    i = store.frames()[0]
    inner = store.add([codec.T_TUPLE, 1])
    for _ in range(100_000):
        inner = store.add([codec.T_TUPLE, inner])
    store.objects[i][3] = inner
    refused(target, store.pack())


# ---------------------------------------------------------------------- a refused import changes nothing


def test_a_refused_import_interns_no_symbol_and_keeps_the_flows(tmp_path, target):
    store, _ = victim_store(tmp_path)
    fresh = [msgpack.ExtType(codec.EXT_SYM, f"never-seen-symbol-{k}-{random.random()}".encode()) for k in range(50)]
    vec = store.add([codec.T_VECTOR] + fresh)
    i = store.frames()[0]
    store.objects[i][4] = ref(i)  # and then something wrong
    store.objects[store.objects[i][3].data[3]] = [codec.T_TUPLE, prim("list"), vec]
    gc.collect()
    refused(target, store.pack())
    # (refused() compares the symbol table's size and every flow's snapshot)
    assert target.resume("mine", 3).value == [1, 3, "mine"]


def test_an_accepted_import_interns_nothing_until_the_flow_is_used(tmp_path):
    name = f"fresh-kind-{random.random()}"
    code = f"(defflow fk (lambda () (request (string->symbol \"{name}\") 0)))"
    src = runtime(code)
    src.start("fk", flow_id="f")
    data = src.export_store()
    del interp.values._symbols[name]  # as if this process never saw it
    dst = runtime(code)
    before = len(interp.values._symbols)
    dst.import_store(data)
    assert len(interp.values._symbols) == before
    assert name not in interp.values._symbols
    assert dst.result("f").kind == name


def test_a_refused_import_into_a_durable_store_writes_nothing(tmp_path, store_location, store_kind):
    from flowhelp import stored_state

    def committed():
        log = os.path.join(store_location, "flows.log")
        return stored_state(store_location), (open(log, "rb").read() if store_kind == "file" else None)

    rt = runtime(VICTIM, store=store_location)
    rt.start("victim", "mine", flow_id="mine")
    before = committed()
    store, _ = victim_store(tmp_path)
    _apply_frame(store, "/nonexistent")
    refused(rt, store.pack())
    assert committed() == before
    rt.close()


def test_only_store_format_errors_escape_for_typed_junk_in_snapshots(target):
    src = runtime(VICTIM)
    src.start("victim", "p", flow_id="v")
    for field, junk in [("def", [1, 2]), ("def", 5), ("units", [[1, 2]]), ("units", 7), ("step", "x"),
                        ("step", 2**64 - 1),  # accepted once, it overflowed msgpack on the next commit
                        ("id", 5), ("kind", 5), ("key", 5), ("k", 5), ("data", 5), ("error", "x")]:
        store = Store(src.export_store(), "v")
        store.meta[field] = junk
        with pytest.raises(StoreFormatError):
            target.import_store(store.pack(graph=False))
        assert target.ids() == ["mine"]


def test_a_store_key_given_to_the_runtime_signs_and_checks(monkeypatch):
    from flow import StoreAuthenticationError

    monkeypatch.delenv("FLOWSCHEME_STORE_KEY", raising=False)
    rt = FlowRuntime(store_key=b"k1")
    rt.load("(defflow f (lambda () (request 'a 1)))", "f.scm")
    rt.start("f", flow_id="x")
    signed = rt.export_store()
    same = FlowRuntime(store_key=b"k1")
    same.load("(defflow f (lambda () (request 'a 1)))", "f.scm")
    assert same.import_store(signed) == 1
    other = FlowRuntime(store_key=b"k2")
    other.load("(defflow f (lambda () (request 'a 1)))", "f.scm")
    with pytest.raises(StoreAuthenticationError):
        other.import_store(signed)
    with pytest.raises(StoreAuthenticationError):
        same.import_store(FlowRuntime().export_store())  # unsigned, but a key is required
