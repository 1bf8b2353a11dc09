"""import_store refuses bad input with a StoreFormatError naming the problem,
runs nothing, never unpickles, and leaves the runtime exactly as it was."""

import os
import pickle
import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flow import FlowError, FlowRuntime, StoreFormatError
from flow.runtime import STORE_MAGIC, STORE_VERSION
from flow.transfer import STORE_VERSION_MAC

from flowhelp import ORDER, runtime

CODE = ORDER + """
(define (deep n) (if (= n 0) (request 'bottom n) (+ 1 (deep (- n 1)))))
(defflow deep-flow (lambda (n) (deep n)))
(defflow holder (lambda (x) (let ((v (vector x x 1/3 #\\a (expt 2 80)))) (request 'hold v) v)))
"""


def _source():
    rt = runtime(CODE)
    rt.start("order-lifecycle", "o-1", flow_id="o-1")
    rt.resume("o-1", "r")
    rt.start("deep-flow", 50, flow_id="deep")
    rt.start("holder", "x", flow_id="h")
    rt.start("order-lifecycle", "o-2", flow_id="o-2")
    for _ in range(3):
        rt.resume("o-2", "a")
    return rt.export_store()


GOOD = _source()
TARGET = runtime(CODE)
TARGET.start("order-lifecycle", "mine", flow_id="mine")
TARGET.resume("mine", 1)


def craft(body, version=STORE_VERSION):
    raw = msgpack.packb(body, use_bin_type=True)
    return STORE_MAGIC + version.to_bytes(2, "big") + zlib.crc32(raw).to_bytes(4, "big") + raw


def body_of(data):
    return msgpack.unpackb(data[len(STORE_MAGIC) + 6 :], raw=False)


def rejected(data, match=None, rt=TARGET, **kw):
    """Import data into rt: it must fail with a StoreFormatError and change nothing."""
    before = rt.export_store()
    with pytest.raises(StoreFormatError) as e:
        rt.import_store(data, **kw)
    assert isinstance(e.value, FlowError)
    if match is not None:
        assert match in str(e.value), str(e.value)
    assert rt.export_store() == before
    return str(e.value)


def test_the_good_store_imports():
    rt = runtime(CODE)
    assert rt.import_store(GOOD) == 4
    assert rt.resume("deep", 1).value == 51


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(GOOD) - 1))
def test_truncated_stores_are_refused(n):
    msg = rejected(GOOD[:n])
    assert "truncated" in msg or "bad magic" in msg or n == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(GOOD) * 8 - 1), min_size=1, max_size=4, unique=True))
def test_bit_flips_are_refused(bits):
    data = bytearray(GOOD)
    for b in bits:
        data[b // 8] ^= 1 << (b % 8)
    rejected(bytes(data))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused(data):
    rejected(data)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_random_bytes_after_a_good_header_are_refused(junk):
    rejected(STORE_MAGIC + STORE_VERSION.to_bytes(2, "big") + zlib.crc32(junk).to_bytes(4, "big") + junk)


def test_empty_and_non_bytes_input():
    rejected(b"", "bad magic")
    rejected("FLOWSCHEME-STORE as text", "must be bytes, not str")
    rejected(None, "must be bytes, not NoneType")
    rejected(STORE_MAGIC[:5], "truncated")
    rejected(STORE_MAGIC + b"\x00", "truncated")


def test_oversized_input_is_refused_before_parsing():
    rejected(GOOD, f"too large ({len(GOOD)} bytes; the limit is 100)", max_bytes=100)
    assert runtime(CODE).import_store(GOOD, max_bytes=len(GOOD)) == 4


def test_wrong_magic():
    rejected(b"NOT-A-FLOW-STORE" + GOOD[16:], "not a flowscheme flow store (bad magic)")
    rejected(msgpack.packb({"version": STORE_VERSION, "flows": []}), "bad magic")


@pytest.mark.parametrize("version", [0, 1, STORE_VERSION_MAC + 1, 65535])
def test_wrong_version(version):
    data = GOOD[: len(STORE_MAGIC)] + version.to_bytes(2, "big") + GOOD[len(STORE_MAGIC) + 2 :]
    rejected(data, f"version {version} is not supported (this flowscheme reads versions "
                   f"{STORE_VERSION} and {STORE_VERSION_MAC})")


def test_a_checksum_mismatch_is_named():
    data = bytearray(GOOD)
    data[-1] ^= 0x10
    rejected(bytes(data), "checksum mismatch")


def _with_snapshot(edit):
    body = body_of(GOOD)
    for entry in body["flows"]:
        if entry[0] == "o-1":
            meta = msgpack.unpackb(entry[1], raw=False)
            edit(meta)
            entry[1] = msgpack.packb(meta, use_bin_type=True)
    return craft(body)


@pytest.mark.parametrize("version", [None, 0, 1, 3, 99])
def test_a_snapshot_of_another_version(version):
    from flow.model import SNAPSHOT_VERSION

    assert version != SNAPSHOT_VERSION
    rejected(_with_snapshot(lambda m: m.update(v=version)),
             f"flow snapshot version {version} is not supported (this flowscheme reads version {SNAPSHOT_VERSION})")


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(status="exploded"), "unknown status 'exploded'"),
    (lambda m: m.update(id="someone-else"), "snapshot names another flow"),
    (lambda m: m.pop("step"), "malformed flow snapshot"),
    (lambda m: m.update(kind=None), "without its request kind"),
    (lambda m: m.update(error=[1, 2]), "malformed error"),
    (lambda m: m.update(data=b"\xc1garbage"), "malformed flow data"),
    (lambda m: m.update(k=msgpack.packb([[], [[99]], 0])), "unknown tag 99"),
    (lambda m: m.update(k=msgpack.packb([[], [], msgpack.ExtType(0, b"\x00\x00\x00\x05")])), "out of range"),
    (lambda m: m.update(k=msgpack.packb([[], [[7, msgpack.ExtType(0, b"\x00\x00\x00\x00")]], msgpack.ExtType(0, b"\x00\x00\x00\x00")])), "contains itself"),
    (lambda m: m.update(k=msgpack.packb([[], [[4, 10**9]], 0])), "malformed bytevector"),
    (lambda m: m.update(k=msgpack.packb([[], [], msgpack.ExtType(5, b"\x00\x00\x00\x01\x01\x00")])), "bad rational"),
    (lambda m: m.update(k=msgpack.packb([[], [], msgpack.ExtType(6, b"no-such-primitive")])), "unknown primitive"),
    (lambda m: m.update(k=msgpack.packb([[], [], 5])), "malformed continuation"),
])
def test_malformed_snapshots(edit, match):
    rejected(_with_snapshot(edit), match)


@pytest.mark.parametrize("body, match", [
    ([1, 2, 3], "malformed"),
    ({"version": STORE_VERSION}, "malformed ('flows')"),
    ({"version": 7, "flows": []}, "version mismatch"),
    ({"version": STORE_VERSION, "flows": [[1, b"", []]]}, "bad flow entry"),
    ({"version": STORE_VERSION, "flows": [["a", b"", [1]]]}, "bad journal"),
    ({"version": STORE_VERSION, "flows": [["a", b"", []], ["a", b"", []]]}, "appears twice"),
    ({"version": STORE_VERSION, "flows": [["a", b"", []]]}, "malformed flow snapshot"),
    ({"version": STORE_VERSION, "flows": [["a"]]}, "malformed"),
])
def test_malformed_bodies(body, match):
    rejected(craft(body), match)


def test_a_malformed_journal_entry():
    body = body_of(GOOD)
    for entry in body["flows"]:
        if entry[0] == "o-1":
            entry[2] = [b"\x93\x01\x02"]
    rejected(craft(body), "malformed journal entry")


class Boom:
    def __reduce__(self):
        return (open, ("/tmp/flowscheme-pickle-ran", "w"))


def test_never_unpickles(monkeypatch, tmp_path):
    import os

    if os.path.exists("/tmp/flowscheme-pickle-ran"):
        os.remove("/tmp/flowscheme-pickle-ran")

    def no_pickle(*a, **k):
        raise AssertionError("pickle used on import")

    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "Unpickler", no_pickle)
    payload = pickle.dumps(Boom())
    rejected(payload)
    rejected(STORE_MAGIC + STORE_VERSION.to_bytes(2, "big") + zlib.crc32(payload).to_bytes(4, "big") + payload)
    rejected(_with_snapshot(lambda m: m.update(data=payload)))
    assert not os.path.exists("/tmp/flowscheme-pickle-ran")
    # and a good import still works without pickle
    assert runtime(CODE).import_store(GOOD) == 4


def test_import_runs_no_flow_code():
    code = "(defflow noisy (lambda () (effect 'before) (request 'a 1) (effect 'after) 'done))"
    src = FlowRuntime()
    calls = []
    src.interp.define("effect", lambda x: calls.append(x.name))
    src.load(code, "noisy.scm")
    src.start("noisy", flow_id="n")
    assert calls == ["before"]
    dst = FlowRuntime()
    dst_calls = []
    dst.interp.define("effect", lambda x: dst_calls.append(x.name))
    dst.load(code, "noisy.scm")
    dst.import_store(src.export_store())
    dst.status("n"), dst.pending(), dst.result("n")
    assert dst_calls == []
    dst.resume("n", 0)
    assert dst_calls == ["after"]


def test_a_rejected_import_into_a_durable_runtime_changes_nothing(store_location, store_kind):
    from flowhelp import stored_state

    def committed():
        log = os.path.join(store_location, "flows.log")
        return stored_state(store_location), (open(log, "rb").read() if store_kind == "file" else None)

    rt = runtime(CODE, store=store_location)
    rt.start("order-lifecycle", "d", flow_id="d")
    before = committed()
    rejected(GOOD[:-3], rt=rt)
    rejected(_with_snapshot(lambda m: m.update(v=1)), rt=rt)
    assert committed() == before
    rt.close()
    again = runtime(CODE, store=store_location)
    assert again.ids() == ["d"]
    again.close()
