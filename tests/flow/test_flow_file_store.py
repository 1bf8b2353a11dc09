"""The durable store, FlowRuntime(store=DIR): flows.log survives restarts, torn
tails are cut off with a warning, corruption in the middle is an error."""

import os
import struct
import warnings

import pytest

from flow import Done, FlowRuntime, StoreFormatError, Suspended
from flow.store import FRAME, HEADER, MAGIC

from flowhelp import ORDER, runtime


def frames(path):
    """[(offset, length)] of the frames in a log."""
    data = open(path, "rb").read()
    out, pos = [], HEADER.size
    while pos < len(data):
        length, _ = FRAME.unpack_from(data, pos)
        out.append((pos, FRAME.size + length))
        pos += FRAME.size + length
    return out


def populated(d):
    rt = runtime(ORDER, store=d)
    rt.start("order-lifecycle", "a", flow_id="a")
    rt.start("order-lifecycle", "b", flow_id="b")
    rt.resume("b", "reserved")
    rt.start("order-lifecycle", "c", flow_id="c")
    for x in ("r", "p", "f"):
        rt.resume("c", x)
    rt.start("order-lifecycle", "d", flow_id="d")
    rt.cancel("d")
    rt.start("order-lifecycle", "\u03bb-\U0001d11e", flow_id="\u03bb-\U0001d11e")
    rt.close()
    return os.path.join(d, "flows.log")


def check_state(rt, more=()):
    assert sorted(rt.ids()) == sorted(["a", "b", "c", "d", "\u03bb-\U0001d11e", *more])
    assert rt.result("a") == Suspended("a", "reserve", "a", "a:1")
    assert rt.result("b") == Suspended("b", "payment", "b", "b:2")
    assert rt.result("c") == Done("c", "f")
    assert rt.status("d") == "cancelled"
    assert [len(rt.journal(i)) for i in "abcd"] == [0, 1, 3, 0]


def test_a_new_runtime_finds_every_flow_where_it_was(tmp_path):
    populated(tmp_path)
    rt = runtime(ORDER, store=tmp_path)
    check_state(rt)
    assert rt.resume("b", "paid", kind="payment") == Suspended("b", "fulfil", "b", "b:3")
    rt.close()
    again = runtime(ORDER, store=tmp_path)
    assert again.resume("b", "shipped") == Done("b", "shipped")
    assert [e.key for e in again.journal("b")] == ["b:1", "b:2", "b:3"]
    again.close()


def test_an_empty_directory_is_an_empty_store(tmp_path):
    rt = FlowRuntime(store=tmp_path / "new" / "dir")
    assert rt.ids() == [] and rt.pending() == []
    rt.close()
    assert (tmp_path / "new" / "dir" / "flows.log").read_bytes() == HEADER.pack(MAGIC, 1)


@pytest.mark.parametrize("cut", [1, 5, 8, 9, 20, -1])
def test_a_torn_tail_is_cut_off_with_a_warning(tmp_path, cut):
    log = populated(tmp_path)
    last_off, last_len = frames(log)[-1]
    data = open(log, "rb").read()
    keep = last_off + (cut if cut > 0 else last_len + cut)
    open(log, "wb").write(data[:keep])
    with pytest.warns(UserWarning, match=f"dropped {keep - last_off} bytes .* at offset {last_off}"):
        rt = runtime(ORDER, store=tmp_path)
    assert os.path.getsize(log) == last_off
    # the last commit (the start of the unicode-named flow) is lost, everything before is there
    assert "\u03bb-\U0001d11e" not in rt.ids() and rt.result("b").kind == "payment"
    rt.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runtime(ORDER, store=tmp_path).close()  # repaired for good


def test_a_zero_filled_tail_is_a_torn_tail(tmp_path):
    log = populated(tmp_path)
    size = os.path.getsize(log)
    with open(log, "ab") as f:
        f.write(b"\x00" * 4096)
    with pytest.warns(UserWarning, match="dropped 4096 bytes"):
        rt = runtime(ORDER, store=tmp_path)
    check_state(rt)
    assert os.path.getsize(log) == size
    rt.close()


def test_a_torn_tail_left_by_a_crashed_writer_is_cut_before_the_next_append(tmp_path):
    log = populated(tmp_path)
    rt = runtime(ORDER, store=tmp_path)
    with open(log, "ab") as f:  # another process died half way through a frame
        f.write(FRAME.pack(500, 0) + b"partial")
    with pytest.warns(UserWarning, match="dropped 15 bytes of a partial frame"):
        rt.resume("a", "r")  # appends after cutting the torn frame (it holds the log exclusively)
    rt.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = runtime(ORDER, store=tmp_path)
    assert again.result("a").kind == "payment"
    again.close()


@pytest.mark.parametrize("where", ["body", "crc", "length-smaller", "length-larger", "length-huge"])
def test_corruption_in_the_middle_is_an_error_naming_the_offset(tmp_path, where):
    log = populated(tmp_path)
    off, length = frames(log)[2]
    data = bytearray(open(log, "rb").read())
    if where == "body":
        data[off + FRAME.size + length // 2] ^= 0x01
    elif where == "crc":
        data[off + 5] ^= 0x80
    else:
        body_len = length - FRAME.size
        new = {"length-smaller": body_len - 3, "length-larger": body_len + 10**6, "length-huge": 2**32 - 1}[where]
        struct.pack_into(">I", data, off, new)
    open(log, "wb").write(bytes(data))
    before = bytes(data)
    with pytest.raises(StoreFormatError, match=f"flows.log: corrupt frame at offset {off}"):
        runtime(ORDER, store=tmp_path)
    assert open(log, "rb").read() == before  # never "repaired" by dropping good frames


@pytest.mark.parametrize("header, match", [
    (b"NOTFLOWS\x00\x01", "bad magic"),
    (MAGIC + b"\x00\x02", "version 2 is not supported"),
    (MAGIC + b"\x00\x00", "version 0 is not supported"),
    (MAGIC[:5], "truncated header"),
])
def test_wrong_header(tmp_path, header, match):
    log = populated(tmp_path)
    data = open(log, "rb").read()
    open(log, "wb").write(header + data[HEADER.size:] if len(header) == HEADER.size else header)
    with pytest.raises(StoreFormatError, match=match):
        FlowRuntime(store=tmp_path)
    assert open(log, "rb").read()[: len(header)] == header


def test_a_failed_open_leaves_no_lock_behind(tmp_path):
    log = populated(tmp_path)
    data = open(log, "rb").read()
    open(log, "wb").write(b"NOTFLOWS\x00\x01" + data[HEADER.size:])
    for _ in range(3):
        with pytest.raises(StoreFormatError):
            FlowRuntime(store=tmp_path)
    open(log, "wb").write(data)
    rt = runtime(ORDER, store=tmp_path)
    check_state(rt)
    rt.close()


def test_two_runtimes_in_one_process_share_the_store(tmp_path):
    a = runtime(ORDER, store=tmp_path)
    b = runtime(ORDER, store=tmp_path)
    a.start("order-lifecycle", 1, flow_id="x")
    assert b.status("x") == "suspended"
    assert b.resume("x", "r", kind="reserve").kind == "payment"
    assert a.resume("x", "r", kind="reserve").waiting_on == "payment"  # b already answered it
    assert a.result("x").kind == "payment" and len(a.journal("x")) == 1
    a.close()
    assert b.resume("x", "p").kind == "fulfil"  # closing one leaves the other working
    b.close()


def test_import_replaces_the_durable_flows_and_other_runtimes_follow(tmp_path):
    a = runtime(ORDER, store=tmp_path)
    b = runtime(ORDER, store=tmp_path)
    a.start("order-lifecycle", 1, flow_id="old")
    assert b.ids() == ["old"]
    src = runtime(ORDER)
    src.start("order-lifecycle", 2, flow_id="new")
    a.import_store(src.export_store())
    assert b.ids() == ["new"] and b.resume("new", 0).kind == "payment"
    assert a.result("new").kind == "payment"
    a.close(), b.close()
    c = runtime(ORDER, store=tmp_path)
    assert c.ids() == ["new"] and len(c.journal("new")) == 1
    c.close()


def test_a_replaced_log_with_another_hard_link_is_still_noticed(tmp_path):
    """A log kept under a second name (a hard link, say a backup) is not unlinked
    when an import renames the new log over it: the other runtime still notices."""
    a = runtime(ORDER, store=tmp_path)
    b = runtime(ORDER, store=tmp_path)
    a.start("order-lifecycle", 1, flow_id="old")
    assert b.ids() == ["old"]
    os.link(tmp_path / "flows.log", tmp_path / "backup.log")
    src = runtime(ORDER)
    src.start("order-lifecycle", 2, flow_id="new")
    a.import_store(src.export_store())
    assert b.ids() == ["new"] and b.result("new").kind == "reserve"
    a.close(), b.close()


def test_commits_queued_during_an_fsync_share_the_next_one(tmp_path, monkeypatch):
    """Group commit: flows committed by threads while one commit is being fsync'd
    are written together and made durable by one more fsync."""
    import threading
    import time

    rt = runtime(ORDER, store=tmp_path)
    store = rt.store
    real_fsync = os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 1:  # hold the first until seven more commits queue behind it
            deadline = time.monotonic() + 10
            while len(store._log.queue) < 8 and time.monotonic() < deadline:
                time.sleep(0.001)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    first = threading.Thread(target=store.commit, args=("f0", b"s0", [b"j0"]))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=store.commit, args=(f"f{i}", f"s{i}".encode(), [])) for i in range(1, 8)]
    for t in others:
        t.start()
    for t in [first] + others:
        t.join()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert len(calls) == 2
    rt.close()
    again = runtime(ORDER, store=tmp_path)
    assert sorted(again.store.ids()) == [f"f{i}" for i in range(8)]
    assert again.store.get("f3").snapshot == b"s3" and again.store.get("f0").journal == [b"j0"]
    again.close()


def test_compaction_keeps_every_flow(tmp_path):
    populated(tmp_path)
    rt = runtime(ORDER, store=tmp_path)
    for i in range(50):
        rt.start("order-lifecycle", i, flow_id=f"n{i}")
        rt.resume(f"n{i}", 0)
    before = rt.export_store()
    size = rt.store.size_bytes()
    rt.store.compact()
    assert rt.store.size_bytes() < size
    assert rt.export_store() == before
    rt.close()
    again = runtime(ORDER, store=tmp_path)
    assert again.export_store() == before
    check_state(again, more=[f"n{i}" for i in range(50)])
    again.close()


def test_reset_is_durable(tmp_path):
    populated(tmp_path)
    rt = runtime(ORDER, store=tmp_path)
    rt.eval("(flow-reset!)")
    rt.close()
    assert FlowRuntime(store=tmp_path).ids() == []


def test_a_commit_too_large_for_a_frame_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    from flow import UnsaveableFlow, filestore

    monkeypatch.setattr(filestore, "MAX_FRAME", 4096)
    rt = runtime(ORDER, "(defflow big (lambda (n) (request 'hold (make-bytevector n 7)) 'ok))", store=tmp_path)
    rt.start("order-lifecycle", 1, flow_id="small")
    size = os.path.getsize(tmp_path / "flows.log")
    with pytest.raises(UnsaveableFlow, match="over the store's limit of 4096 bytes"):
        rt.start("big", 10000, flow_id="big")
    assert os.path.getsize(tmp_path / "flows.log") == size
    assert rt.ids() == ["small"]
    rt.close()
    assert runtime(ORDER, store=tmp_path).ids() == ["small"]


def test_a_journal_longer_than_a_frame_survives_import_and_compaction(tmp_path, monkeypatch):
    from flow import filestore

    monkeypatch.setattr(filestore, "MAX_FRAME", 8192)
    loop = "(defflow loop (lambda () (let lp ((i 0)) (request 'next i) (lp (+ i 1)))))"
    src = runtime(loop)
    src.start("loop", flow_id="l")
    for i in range(400):
        src.resume("l", i)
    rt = runtime(loop, store=tmp_path)
    rt.import_store(src.export_store())
    rt.store.compact()
    rt.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = runtime(loop, store=tmp_path)
    assert len(frames(tmp_path / "flows.log")) > 1
    assert [e.answer for e in again.journal("l")] == list(range(400))
    assert again.resume("l", 0).payload == 401
    again.close()


def _log_states(d):
    """The log of a store with a little history, and each prefix's flows."""
    log = populated(d)
    data = open(log, "rb").read()
    from flow.store import FileStore

    states = []
    for off, length in frames(log) + [(len(data), 0)]:
        sub = os.path.join(d, f"prefix-{off}")
        os.makedirs(sub)
        open(os.path.join(sub, "flows.log"), "wb").write(data[:off])
        s = FileStore(sub)
        states.append({k: (v.snapshot, list(v.journal)) for k, v in s.flows.items()})
        s.close()
    return data, states


_LOG_DIR = None


def _shared_log(tmp_path_factory):
    global _LOG_DIR
    if _LOG_DIR is None:
        _LOG_DIR = tmp_path_factory.mktemp("log")
        _LOG_DIR = (_LOG_DIR, *_log_states(str(_LOG_DIR)))
    return _LOG_DIR


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bit_flips_in_the_log_are_an_error_or_a_warned_truncation(tmp_path_factory, data):
    from flow.store import FileStore

    d, log, states = _shared_log(tmp_path_factory)
    bits = data.draw(st.lists(st.integers(HEADER.size * 8, len(log) * 8 - 1), min_size=1, max_size=3))
    flipped = bytearray(log)
    for b in bits:
        flipped[b // 8] ^= 1 << (b % 8)
    case = tmp_path_factory.mktemp("flip")
    open(case / "flows.log", "wb").write(bytes(flipped))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            s = FileStore(case)
        except StoreFormatError as e:
            assert "corrupt frame at offset" in str(e) or "malformed frame" in str(e)
            return
    got = {k: (v.snapshot, list(v.journal)) for k, v in s.flows.items()}
    s.close()
    # never a state that was not committed: either everything, or a prefix with a warning
    if w:
        assert "dropped" in str(w[0].message)
        assert got in states[:-1]
    else:
        assert got == states[-1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_log_cut_anywhere_opens_at_the_last_whole_commit(tmp_path_factory, data):
    from flow.store import FileStore

    d, log, states = _shared_log(tmp_path_factory)
    cut = data.draw(st.integers(HEADER.size, len(log)))
    case = tmp_path_factory.mktemp("cut")
    open(case / "flows.log", "wb").write(log[:cut])
    boundaries = [off for off, _ in frames(os.path.join(d, "flows.log"))] + [len(log)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = FileStore(case)
    got = {k: (v.snapshot, list(v.journal)) for k, v in s.flows.items()}
    s.close()
    whole = max(i for i, b in enumerate(boundaries) if b <= cut)
    assert got == states[whole]
    assert bool(w) == (cut not in boundaries)
    assert os.path.getsize(case / "flows.log") == boundaries[whole]


def _log_bytes_of_the_first_format(records):
    """flows.log as flowscheme wrote it before the log engine (flow.applog): the
    header b"FSFLOWS\\0" + u16 1, then per record (u32 length, u32 CRC32 of the
    body, msgpack body). Built here by hand, not with the store's code."""
    import msgpack
    import zlib

    out = b"FSFLOWS\x00" + struct.pack(">H", 1)
    for rec in records:
        body = msgpack.packb(rec, use_bin_type=True)
        out += struct.pack(">II", len(body), zlib.crc32(body)) + body
    return out


def test_a_log_written_in_the_first_format_opens_and_takes_new_commits(tmp_path):
    from flow.store import FileStore

    records = [
        {"id": "gone", "op": "put", "snapshot": b"g", "journal": []},
        {"id": "", "op": "reset"},
        {"id": "a", "op": "put", "snapshot": b"a1", "journal": [b"ja1"], "ix": ["payment", None]},
        {"id": "b", "op": "put", "snapshot": b"b1", "journal": [], "ix": [None, 12.5]},
        {"id": "a", "op": "put", "snapshot": b"a2", "journal": [b"ja2", b"ja3"], "ix": ["fulfil", None]},
        {"id": "c", "op": "put", "full": True, "snapshot": b"c1", "journal": [b"jc1"]},
    ]
    data = _log_bytes_of_the_first_format(records)
    (tmp_path / "flows.log").write_bytes(data + _log_bytes_of_the_first_format([records[3]])[HEADER.size:][:20])
    with pytest.warns(UserWarning, match=f"dropped 20 bytes of a partial frame at offset {len(data)}"):
        s = FileStore(tmp_path)
    assert sorted(s.ids()) == ["a", "b", "c"]
    assert (s.get("a").snapshot, s.get("a").journal) == (b"a2", [b"ja1", b"ja2", b"ja3"])
    assert (s.get("c").snapshot, s.get("c").journal) == (b"c1", [b"jc1"])
    assert s.waiting_on("fulfil") == ["a"] and s.due(20.0) == [(12.5, "b")]
    s.commit("b", b"b2", [b"jb1"])
    s.close()
    again = FileStore(tmp_path)
    assert (again.get("b").snapshot, again.get("b").journal) == (b"b2", [b"jb1"])
    again.close()
    assert open(tmp_path / "flows.log", "rb").read().startswith(data)  # appended to, never rewritten
