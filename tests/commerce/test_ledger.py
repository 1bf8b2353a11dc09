"""The order ledger as its users see it: appends, idempotency, crash repair, damage, concurrency."""

import multiprocessing
import os
import queue
import tempfile
import threading
import time
import traceback
import warnings

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commerce.ledger import (
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    FRAME_HEADER_SIZE,
    KINDS,
    MAX_FRAME_SIZE,
    Ledger,
    LedgerCorruptError,
    LedgerError,
    LedgerInputError,
    LedgerRecord,
    LedgerVersionError,
    LedgerWarning,
    VerifyReport,
    encode_file_header,
    encode_frame,
)


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "orders.ledger")


def open_quietly(path):
    """Open a ledger, failing the test if opening warns about anything."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Ledger(path)


def lifecycle(ledger, order, kinds=KINDS, amount=1000):
    return [ledger.append(order, kind, f"{order}/{kind}", amount=amount)[0] for kind in kinds]


def three_records(path):
    """A closed ledger of three records; returns their offsets and the file size."""
    with Ledger(path) as ledger:
        records = lifecycle(ledger, "A", KINDS[:3])
    return [r.offset for r in records], os.path.getsize(path)


def body(seq, order, kind, key=None, amount=None, time=1.0, details=None):
    return {"seq": seq, "order": order, "kind": kind, "key": key or f"{order}/{kind}/{seq}",
            "amount": amount, "time": time, "details": details or {}}


def write_raw(path, *frames, header=None):
    with open(path, "wb") as f:
        f.write(encode_file_header() if header is None else header)
        for frame in frames:
            f.write(frame if isinstance(frame, bytes) else encode_frame(frame))


def snapshot(path):
    st_ = os.stat(path)
    with open(path, "rb") as f:
        return f.read(), st_.st_size, st_.st_mtime_ns


def flip(path, offset, mask=0x01):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ mask]))


# ----------------------------------------------------------------------------- appending and reading


def test_append_returns_the_committed_record(path):
    with open_quietly(path) as ledger:
        record, created = ledger.append("A", "created", "A/created", amount=2500,
                                        details={"sku": "tea", "qty": 2}, time=1700000000.5)
    assert created is True
    assert isinstance(record, LedgerRecord)
    assert (record.seq, record.order, record.kind, record.key) == (1, "A", "created", "A/created")
    assert (record.amount, record.time, record.details) == (2500, 1700000000.5, {"sku": "tea", "qty": 2})
    assert record.offset == FILE_HEADER_SIZE


def test_records_read_back_in_ledger_order_and_filter_by_order(path):
    with open_quietly(path) as ledger:
        ledger.append("A", "created", "A1")
        ledger.append("B", "created", "B1")
        ledger.append("A", "reserved", "A2", amount=10)
        ledger.append("C", "created", "C1")
        ledger.append("B", "reserved", "B2")
        assert [r.key for r in ledger.records()] == ["A1", "B1", "A2", "C1", "B2"]
        assert [r.seq for r in ledger.records()] == [1, 2, 3, 4, 5]
        assert [r.key for r in ledger.records("A")] == ["A1", "A2"]
        assert [r.key for r in ledger.records(order="B")] == ["B1", "B2"]
        assert ledger.records("nobody") == []
        assert ledger.orders() == ["A", "B", "C"]


def test_new_ledger_is_empty_and_has_a_header(path):
    with open_quietly(path) as ledger:
        assert ledger.records() == [] and ledger.orders() == []
        assert ledger.verify().ok
    with open(path, "rb") as f:
        assert f.read() == encode_file_header()


def test_default_time_is_now(path):
    before = time.time()
    with open_quietly(path) as ledger:
        record, _ = ledger.append("A", "created", "k")
    assert before <= record.time <= time.time()
    assert isinstance(record.time, float)


def test_has_key_and_get(path):
    with open_quietly(path) as ledger:
        record, _ = ledger.append("A", "created", "pay-ref-77", amount=5)
        assert ledger.has_key("pay-ref-77") and not ledger.has_key("pay-ref-78")
        assert ledger.get("pay-ref-77") == record
        assert ledger.get("pay-ref-78") is None


def test_returned_details_are_a_copy_the_ledger_does_not_share(path):
    details = {"lines": [{"sku": "tea"}]}
    with open_quietly(path) as ledger:
        record, _ = ledger.append("A", "created", "k", details=details)
        details["lines"].append("added later")
        record.details["lines"].append("mutated")
        assert ledger.get("k").details == {"lines": [{"sku": "tea"}]}


def test_tuples_in_details_come_back_as_lists_everywhere(path):
    with open_quietly(path) as ledger:
        record, _ = ledger.append("A", "created", "k", details={"pair": (1, 2)})
        assert record.details == {"pair": [1, 2]} == ledger.get("k").details


def test_record_is_frozen_and_hashable(path):
    with open_quietly(path) as ledger:
        record, _ = ledger.append("A", "created", "k", details={"x": 1})
    with pytest.raises(AttributeError):
        record.seq = 9
    assert hash(record) == hash(ledger_copy(record))


def ledger_copy(record):
    return LedgerRecord(**{name: getattr(record, name) for name in LedgerRecord.__dataclass_fields__})


# ----------------------------------------------------------------------------- idempotency


def test_a_repeated_key_writes_nothing_and_returns_the_original(path):
    with open_quietly(path) as ledger:
        first, created = ledger.append("A", "paid", "psp-123", amount=700)
        size = os.path.getsize(path)
        again, created_again = ledger.append("A", "paid", "psp-123", amount=700)
        assert created and not created_again
        assert again == first
        assert os.path.getsize(path) == size
        assert len(ledger.records()) == 1


def test_a_repeated_key_with_other_fields_still_returns_the_original(path):
    with open_quietly(path) as ledger:
        first, _ = ledger.append("A", "created", "k", amount=1, details={"v": 1})
        again, created = ledger.append("B", "paid", "k", amount=999, details={"v": 2})
        assert not created and again == first
        assert ledger.orders() == ["A"]


def test_keys_stay_idempotent_after_reopening(path):
    with open_quietly(path) as ledger:
        first, _ = ledger.append("A", "created", "k")
    with open_quietly(path) as ledger:
        again, created = ledger.append("A", "created", "k")
        assert not created and again == first
        assert ledger.append("A", "reserved", "k2")[0].seq == 2


# ----------------------------------------------------------------------------- restart


def test_reopening_keeps_every_record_and_continues_the_sequence(path):
    with open_quietly(path) as ledger:
        for order in "ABC":
            lifecycle(ledger, order)
        before = ledger.records()
    with open_quietly(path) as ledger:
        assert ledger.records() == before
        assert ledger.orders() == ["A", "B", "C"]
        record, created = ledger.append("D", "created", "D/created")
        assert created and record.seq == 13
        assert ledger.verify().ok


def test_a_second_handle_sees_what_the_first_appended(path):
    with open_quietly(path) as writer, open_quietly(path) as reader:
        writer.append("A", "created", "k1")
        assert reader.has_key("k1")
        assert reader.orders() == ["A"]
        # and the reader's own append is idempotent against the writer's record
        record, created = reader.append("A", "created", "k1")
        assert not created and record.seq == 1
        assert reader.append("A", "reserved", "k2")[0].seq == 2
        assert [r.key for r in writer.records()] == ["k1", "k2"]


# ----------------------------------------------------------------------------- torn tails


def cut_points():
    """Lengths to keep of the last frame (a 'created' record with key 'A/paid' is ~90 bytes)."""
    return [0, 1, 3, FRAME_HEADER_SIZE - 1, FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + 1, -1]


@pytest.mark.parametrize("keep", cut_points())
def test_a_torn_last_frame_is_truncated_with_a_warning(path, keep):
    offsets, size = three_records(path)
    last = offsets[-1]
    cut = size - 1 if keep == -1 else last + keep
    with open(path, "r+b") as f:
        f.truncate(cut)
    if cut == last:  # nothing of the last frame is left: a clean file
        ledger = open_quietly(path)
    else:
        with pytest.warns(LedgerWarning, match=rf"{cut - last} bytes at offset {last}\b"):
            ledger = Ledger(path)
    with ledger:
        assert [r.kind for r in ledger.records()] == ["created", "reserved"]
        assert os.path.getsize(path) == last
        record, created = ledger.append("A", "paid", "A/paid")
        assert created and record.seq == 3 and record.offset == last
        assert ledger.verify().ok


def test_a_last_frame_with_a_bad_checksum_is_corruption_not_a_torn_tail(path):
    """A complete, fsync'd last frame whose checksum fails was committed: it is
    damage, reported, and never cut off as if it were an interrupted write.
    (Until this change it was truncated with a warning, losing the record.)"""
    offsets, size = three_records(path)
    flip(path, size - 1)
    before = snapshot(path)
    with pytest.raises(LedgerCorruptError, match=rf"offset {offsets[-1]}: frame body checksum") as info:
        Ledger(path)
    assert info.value.offset == offsets[-1]
    assert snapshot(path) == before


@pytest.mark.parametrize("garbage", [
    b"\x00",
    b"\x00" * 4096,                      # what a crash can leave on some filesystems
    b"FSL",                              # a header prefix
    encode_frame(body(9, "Z", "created"))[:-3],
], ids=["one-zero", "zero-page", "header-prefix", "partial-frame"])
def test_a_torn_tail_is_truncated_with_a_warning(path, garbage):
    _, size = three_records(path)
    with open(path, "ab") as f:
        f.write(garbage)
    with pytest.warns(LedgerWarning, match=rf"{len(garbage)} bytes at offset {size}\b"):
        ledger = Ledger(path)
    with ledger:
        assert len(ledger.records()) == 3
        assert ledger.verify().ok
        assert [(r.offset, r.size) for r in ledger.repaired] == [(size, len(garbage))]
    assert os.path.getsize(path) == size


@pytest.mark.parametrize("garbage", [
    b"junk!",
    os.urandom(300).replace(b"\x00", b"\x01"),
    b"FSLR" + os.urandom(40),            # a frame magic with nothing sound behind it
    encode_frame(body(9, "Z", "created"))[:-3] + b"xyz",  # complete, but its checksum fails
], ids=["text", "random", "magic-then-junk", "complete-bad-frame"])
def test_a_garbage_tail_that_no_interrupted_write_leaves_is_damage(path, garbage):
    """Bytes at the end that are neither a frame cut short by the end of the file
    nor zeros were not left by an interrupted write: damage, nothing cut.
    (Until this change they were truncated as a torn tail.)"""
    _, size = three_records(path)
    with open(path, "ab") as f:
        f.write(garbage)
    before = snapshot(path)
    with pytest.raises(LedgerCorruptError) as info:
        Ledger(path)
    assert info.value.offset == size
    assert snapshot(path) == before


def test_the_only_frame_torn_leaves_an_empty_ledger(path):
    with Ledger(path) as ledger:
        ledger.append("A", "created", "k")
    with open(path, "r+b") as f:
        f.truncate(FILE_HEADER_SIZE + 10)
    with pytest.warns(LedgerWarning):
        ledger = Ledger(path)
    with ledger:
        assert ledger.records() == []
        assert ledger.append("A", "created", "k")[0].seq == 1


def test_a_torn_tail_left_by_another_process_is_repaired_before_appending(path):
    with open_quietly(path) as ledger:
        ledger.append("A", "created", "k1")
        end = os.path.getsize(path)
        with open(path, "ab") as f:  # another writer died half-way through its frame
            f.write(encode_frame(body(2, "A", "reserved"))[:30])
        assert ledger.records()[-1].key == "k1"  # readers ignore it, and do not repair
        with pytest.warns(LedgerWarning, match=rf"30 bytes at offset {end}\b"):
            record, created = ledger.append("A", "reserved", "k2")
        assert created and record.offset == end and record.seq == 2
    with open_quietly(path) as ledger:
        assert [r.key for r in ledger.records()] == ["k1", "k2"]
        assert ledger.verify().ok


@pytest.mark.parametrize("prefix", [b"F", b"FSLEDG", b"FSLEDGER\x00"])
def test_a_file_header_torn_at_creation_is_rewritten(path, prefix):
    with open(path, "wb") as f:
        f.write(prefix)
    with pytest.warns(LedgerWarning, match="incomplete"):
        ledger = Ledger(path)
    with ledger:
        assert ledger.append("A", "created", "k")[1]
    with open_quietly(path) as ledger:
        assert len(ledger.records()) == 1


def test_an_empty_file_becomes_a_ledger_without_warning(path):
    open(path, "wb").close()
    with open_quietly(path) as ledger:
        ledger.append("A", "created", "k")
    assert open_quietly(path).records()[0].key == "k"


def test_more_unreadable_tail_than_one_frame_is_damage_not_a_torn_write(path):
    _, size = three_records(path)
    with open(path, "ab") as f:
        f.write(b"\x00" * (MAX_FRAME_SIZE + 1))
    before = snapshot(path)
    with pytest.raises(LedgerCorruptError) as info:
        Ledger(path)
    assert info.value.offset == size
    assert snapshot(path) == before


# ----------------------------------------------------------------------------- damage in the middle


def damage_body(path, offset):
    flip(path, offset + FRAME_HEADER_SIZE + 5)


def damage_magic(path, offset):
    flip(path, offset, 0xFF)


def damage_length(path, offset):
    flip(path, offset + 8 + 2, 0x40)  # body length grows past the end of the file


def damage_header_checksum(path, offset):
    flip(path, offset + FRAME_HEADER_SIZE - 1)


@pytest.mark.parametrize("damage", [damage_body, damage_magic, damage_length, damage_header_checksum])
@pytest.mark.parametrize("victim", [0, 1])
def test_a_damaged_middle_frame_is_an_error_naming_file_and_offset(path, damage, victim):
    offsets, _ = three_records(path)
    damage(path, offsets[victim])
    before = snapshot(path)
    with pytest.raises(LedgerCorruptError) as info:
        Ledger(path)
    error = info.value
    assert isinstance(error, LedgerError)
    assert error.offset == offsets[victim]
    assert path in str(error) and f"offset {offsets[victim]}" in str(error)
    assert snapshot(path) == before


def test_damage_to_the_file_header_is_an_error(path):
    three_records(path)
    flip(path, 10)  # the flags field, covered by the header checksum
    before = snapshot(path)
    with pytest.raises(LedgerCorruptError) as info:
        Ledger(path)
    assert info.value.offset == 0
    assert snapshot(path) == before


def test_damage_to_frames_another_process_appended_stops_the_next_append(path):
    with open_quietly(path) as mine, open_quietly(path) as theirs:
        mine.append("A", "created", "k1")
        first_of_theirs = theirs.append("A", "reserved", "k2")[0].offset
        theirs.append("A", "paid", "k3")
        damage_body(path, first_of_theirs)
        size = os.path.getsize(path)
        with pytest.raises(LedgerCorruptError) as info:
            mine.append("A", "fulfilled", "k4")
        assert info.value.offset == first_of_theirs
        assert os.path.getsize(path) == size


def test_damage_after_opening_is_found_by_reading_and_by_verify(path):
    offsets, _ = three_records(path)
    with open_quietly(path) as ledger:
        damage_body(path, offsets[1])
        with pytest.raises(LedgerCorruptError) as info:
            ledger.records()
        assert info.value.offset == offsets[1]
        with pytest.raises(LedgerCorruptError):
            ledger.get("A/reserved")
        report = ledger.verify()
        assert not report.ok
        assert report.problems[0].offset == offsets[1]
        assert "checksum" in report.problems[0].message
        # the frames after it are still checked; the lost 'reserved' shows in the lifecycle
        assert [(p.offset, "before 'reserved'" in p.message) for p in report.problems[1:]] == \
            [(offsets[2], True)]
        assert report.records == 2


def test_a_sound_frame_that_is_not_a_record_is_an_error(path):
    write_raw(path, body(1, "A", "created"), encode_frame([1, 2, 3]), body(3, "A", "reserved"))
    with pytest.raises(LedgerCorruptError, match="not a ledger record") as info:
        Ledger(path)
    assert info.value.offset == FILE_HEADER_SIZE + len(encode_frame(body(1, "A", "created")))


# ----------------------------------------------------------------------------- versions and foreign files


def test_a_file_from_a_newer_format_is_refused_untouched(path):
    write_raw(path, header=encode_file_header(version=FORMAT_VERSION + 1))
    before = snapshot(path)
    with pytest.raises(LedgerVersionError) as info:
        Ledger(path)
    message = str(info.value)
    assert f"version {FORMAT_VERSION + 1}" in message and f"version {FORMAT_VERSION}" in message
    assert (info.value.found, info.value.supported) == (FORMAT_VERSION + 1, FORMAT_VERSION)
    assert snapshot(path) == before


def test_a_frame_from_a_newer_format_is_refused_untouched(path):
    write_raw(path, body(1, "A", "created"), encode_frame(body(2, "A", "reserved"), version=FORMAT_VERSION + 1))
    before = snapshot(path)
    with pytest.raises(LedgerVersionError, match=f"version {FORMAT_VERSION + 1}"):
        Ledger(path)
    assert snapshot(path) == before


@pytest.mark.parametrize("content", [
    b"order_id,amount\nA,100\n" * 10,
    b"hi",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
])
def test_a_file_that_is_not_a_ledger_is_refused_untouched(path, content):
    with open(path, "wb") as f:
        f.write(content)
    before = snapshot(path)
    with pytest.raises(LedgerError, match="not a flowscheme ledger") as info:
        Ledger(path)
    assert not isinstance(info.value, (LedgerCorruptError, LedgerVersionError))
    assert snapshot(path) == before


def test_opening_a_directory_or_a_missing_folder_fails(tmp_path):
    with pytest.raises(OSError):
        Ledger(tmp_path)
    with pytest.raises(FileNotFoundError):
        Ledger(tmp_path / "missing" / "x.ledger")


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, kwargs, mentions", [
    (("", "created", "k"), {}, "order"),
    ((None, "created", "k"), {}, "order"),
    ((7, "created", "k"), {}, "order"),
    (("A", "shipped", "k"), {}, "kind"),
    (("A", "Created", "k"), {}, "kind"),
    (("A", None, "k"), {}, "kind"),
    (("A", ["created"], "k"), {}, "kind"),
    (("A", "created", ""), {}, "key"),
    (("A", "created", None), {}, "key"),
    (("A", "created", 42), {}, "key"),
    (("A", "created", b"k"), {}, "key"),
    (("A", "created", "bad\ud800"), {}, "key"),
    (("A", "created", "k"), {"amount": 1.5}, "amount"),
    (("A", "created", "k"), {"amount": 10.0}, "amount"),
    (("A", "created", "k"), {"amount": True}, "amount"),
    (("A", "created", "k"), {"amount": "100"}, "amount"),
    (("A", "created", "k"), {"amount": 2**70}, "amount"),
    (("A", "created", "k"), {"details": ["not", "a", "dict"]}, "details"),
    (("A", "created", "k"), {"details": {"when": object()}}, "details"),
    (("A", "created", "k"), {"details": {"tags": {"a", "b"}}}, "details"),
    (("A", "created", "k"), {"details": {1: "int key"}}, "details"),
    (("A", "created", "k"), {"details": {"deep": {2: "int key"}}}, "details"),
    (("A", "created", "k"), {"details": {"big": 2**70}}, "details"),
    (("A", "created", "k"), {"time": "now"}, "time"),
    (("A", "created", "k"), {"time": float("nan")}, "time"),
    (("A", "created", "k"), {"time": float("inf")}, "time"),
    (("A", "created", "k"), {"time": True}, "time"),
    (("A", "created", "k"), {"time": 10**400}, "time"),
])
def test_invalid_input_is_refused_and_nothing_is_written(path, args, kwargs, mentions):
    with open_quietly(path) as ledger:
        ledger.append("X", "created", "existing")
        size = os.path.getsize(path)
        with pytest.raises(LedgerInputError, match=mentions) as info:
            ledger.append(*args, **kwargs)
        assert isinstance(info.value, ValueError) and isinstance(info.value, LedgerError)
        assert os.path.getsize(path) == size
        assert [r.key for r in ledger.records()] == ["existing"]
        assert ledger.append("X", "reserved", "next")[0].seq == 2  # still usable


def test_a_record_too_large_for_one_frame_is_refused(path):
    with open_quietly(path) as ledger:
        with pytest.raises(LedgerInputError, match="at most"):
            ledger.append("A", "created", "k", details={"blob": b"x" * MAX_FRAME_SIZE})
        assert ledger.records() == []


def test_a_closed_ledger_refuses_to_work(path):
    ledger = open_quietly(path)
    ledger.close()
    ledger.close()  # twice is fine
    for call in (lambda: ledger.append("A", "created", "k"), ledger.records, ledger.orders,
                 ledger.verify, lambda: ledger.has_key("k")):
        with pytest.raises(LedgerError, match="closed"):
            call()


# ----------------------------------------------------------------------------- verify


def test_verify_passes_a_sound_ledger(path):
    with open_quietly(path) as ledger:
        lifecycle(ledger, "A")
        lifecycle(ledger, "B", KINDS[:2])
        report = ledger.verify()
    assert isinstance(report, VerifyReport)
    assert report.ok and report.problems == () and report.records == 6
    assert "no problems" in str(report)


def test_verify_reports_lifecycle_violations_with_offsets(path):
    frames = [
        body(1, "A", "created"),
        body(2, "A", "paid"),          # before reserved
        body(3, "A", "reserved"),
        body(4, "B", "reserved"),      # B was never created
        body(5, "A", "paid", key="A/paid/again"),  # paid twice
        body(7, "C", "created"),       # seq gap
        body(7, "C", "reserved", key="C/created/7"),  # seq repeated, key reused
        body(8, "C", "refunded"),      # unknown kind
        body(9, "A", "fulfilled", amount=1.5),  # amount of the wrong type
    ]
    write_raw(path, *frames)
    offsets, at = [], FILE_HEADER_SIZE
    for frame in frames:
        offsets.append(at)
        at += len(encode_frame(frame))
    with open_quietly(path) as ledger:  # opening does not judge the lifecycle
        report = ledger.verify()
    found = {(p.offset, word) for p in report.problems
             for word in ("'paid' recorded before 'reserved'", "'reserved' recorded before 'created'",
                          "'paid' recorded twice", "seq 7 where 6", "seq 7 where 8",
                          "recorded again", "unknown kind", "amount")
             if word in p.message}
    assert found == {
        (offsets[1], "'paid' recorded before 'reserved'"),
        (offsets[3], "'reserved' recorded before 'created'"),
        (offsets[4], "'paid' recorded twice"),
        (offsets[5], "seq 7 where 6"),
        (offsets[6], "seq 7 where 8"),
        (offsets[6], "recorded again"),
        (offsets[7], "unknown kind"),
        (offsets[8], "amount"),
    }
    assert len(report.problems) == 8 and not report.ok
    assert str(offsets[1]) in str(report)


def test_verify_reports_a_torn_tail_without_repairing_it(path):
    with open_quietly(path) as ledger:
        ledger.append("A", "created", "k")
        end = os.path.getsize(path)
        with open(path, "ab") as f:
            f.write(b"\x00" * 7)
        report = ledger.verify()
        assert [p.offset for p in report.problems] == [end]
        assert "interrupted write" in report.problems[0].message
        assert os.path.getsize(path) == end + 7


# ----------------------------------------------------------------------------- concurrency


def _append_everything(path, worker, barrier, results):
    """One of several processes appending the same 200 keys (50 orders x 4 kinds)."""
    try:
        ledger = Ledger(path)
        barrier.wait(timeout=30)
        seen = []
        for j in range(50):
            order = f"order-{(j + 7 * worker) % 50}"
            for kind in KINDS:
                record, created = ledger.append(order, kind, f"{order}/{kind}", amount=j)
                seen.append((record.key, record.seq, created))
        ledger.close()
        results.put((worker, seen))
    except BaseException:
        results.put((worker, traceback.format_exc()))


def test_processes_appending_the_same_keys_record_each_exactly_once(path):
    open_quietly(path).close()
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_append_everything, args=(path, w, barrier, results)) for w in range(8)]
    for process in workers:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in workers)
    for process in workers:
        process.join(timeout=30)
        assert process.exitcode == 0
    for worker, seen in outcomes.items():
        assert isinstance(seen, list), f"worker {worker} failed:\n{seen}"

    created = [key for seen in outcomes.values() for key, _, was_created in seen if was_created]
    assert len(created) == 200 and len(set(created)) == 200
    seq_of = {}
    for seen in outcomes.values():  # every process saw the same seq for each key
        for key, seq, _ in seen:
            assert seq_of.setdefault(key, seq) == seq

    with open_quietly(path) as ledger:
        records = ledger.records()
        assert len(records) == 200
        assert [r.seq for r in records] == list(range(1, 201))
        assert {r.key: r.seq for r in records} == seq_of
        report = ledger.verify()
        assert report.ok, str(report)
        assert report.records == 200


def test_threads_sharing_one_ledger_record_each_key_once(path):
    ledger = open_quietly(path)
    outcomes, errors = [], []

    def run(worker):
        try:
            for j in range(40):
                order = f"o{(j + worker) % 10}"
                for kind in KINDS:
                    outcomes.append(ledger.append(order, kind, f"{order}/{kind}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    created = [record.key for record, was_created in outcomes if was_created]
    assert sorted(created) == sorted(f"o{i}/{kind}" for i in range(10) for kind in KINDS)
    records = ledger.records()
    assert [r.seq for r in records] == list(range(1, 41))
    assert ledger.verify().ok
    ledger.close()


def _append_with_inherited_ledger(ledger, results):
    try:
        ledger.append("A", "reserved", "child")
        results.put("appended")
    except LedgerError as exc:
        results.put(str(exc))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_ledger_inherited_across_fork_refuses_to_append(path):
    ledger = open_quietly(path)
    ledger.append("A", "created", "parent")
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_append_with_inherited_ledger, args=(ledger, results))
    child.start()
    message = results.get(timeout=30)
    child.join(timeout=30)
    assert "open a new Ledger" in message
    assert [r.key for r in ledger.records()] == ["parent"]
    ledger.close()


# ----------------------------------------------------------------------------- properties

texts = st.text(min_size=1, max_size=30)
detail_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20)
    | st.floats(allow_nan=False) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
details = st.dictionaries(st.text(max_size=10), detail_values, max_size=5)
amounts = st.none() | st.integers(-(2**63), 2**63 - 1)
times = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(order=texts, kind=st.sampled_from(KINDS), key=texts, amount=amounts, details=details, when=times)
def test_any_valid_record_reads_back_exactly(order, kind, key, amount, details, when):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "l")
        with Ledger(path) as ledger:
            record, created = ledger.append(order, kind, key, amount=amount, details=details, time=when)
            assert created
            assert (record.order, record.kind, record.key, record.amount, record.time) == \
                (order, kind, key, amount, when)
            assert record.details == msgpack.unpackb(msgpack.packb(details), raw=False)
            assert ledger.get(key) == record
        with open_quietly(path) as ledger:
            assert ledger.records() == [record]


operations = st.lists(
    st.tuples(st.sampled_from(["o1", "o2", "o3"]), st.sampled_from(KINDS),
              st.sampled_from([f"k{i}" for i in range(12)]), amounts),
    max_size=25,
)


@fast
@given(ops=operations)
def test_the_ledger_behaves_like_a_first_write_wins_dict(ops):
    model = {}  # key -> (order, kind, amount), in first-write order
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "l")
        with Ledger(path) as ledger:
            for order, kind, key, amount in ops:
                record, created = ledger.append(order, kind, key, amount=amount)
                assert created == (key not in model)
                model.setdefault(key, (order, kind, amount))
                assert (record.order, record.kind, record.amount) == model[key]
        with open_quietly(path) as ledger:
            records = ledger.records()
            assert [(r.key, (r.order, r.kind, r.amount)) for r in records] == list(model.items())
            assert [r.seq for r in records] == list(range(1, len(model) + 1))
            assert ledger.orders() == list(dict.fromkeys(order for order, _, _ in model.values()))
            for order in ("o1", "o2", "o3"):
                assert ledger.records(order) == [r for r in records if r.order == order]


def _appends_queued_behind_a_held_fsync(ledger, monkeypatch, waiting, second_fsync):
    """Start one append whose fsync is held until `waiting` more appends (other
    threads) have queued behind it; their group commit's fsync is `second_fsync`.
    Returns (outcomes by thread, fsync calls)."""
    real_fsync = os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 1:
            deadline = time.monotonic() + 10
            while len(ledger._log.queue) < 1 + waiting and time.monotonic() < deadline:
                time.sleep(0.001)
            return real_fsync(fd)
        if len(calls) == 2:
            return second_fsync(fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outcomes = {}

    def run(i):
        try:
            outcomes[i] = ledger.append(f"o{i}", "created", f"o{i}:created", amount=100 + i)
        except BaseException as exc:
            outcomes[i] = exc

    first = threading.Thread(target=run, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=run, args=(i,)) for i in range(1, 1 + waiting)]
    for t in others:
        t.start()
    for t in [first] + others:
        t.join()
    monkeypatch.setattr(os, "fsync", real_fsync)
    return outcomes, calls


def test_appends_queued_during_a_commit_share_the_next_fsync(path, monkeypatch):
    """Group commit: appends arriving while one is being fsync'd are written and
    fsync'd together, each returning only after that fsync."""
    ledger = open_quietly(path)
    outcomes, calls = _appends_queued_behind_a_held_fsync(ledger, monkeypatch, 7, os.fsync)
    assert len(calls) == 2  # one for the first append, one for the seven behind it
    assert all(outcomes[i][1] is True and outcomes[i][0].amount == 100 + i for i in range(8))
    assert sorted(r.key for r in ledger.records()) == sorted(f"o{i}:created" for i in range(8))
    assert ledger.verify().ok
    ledger.close()


def test_a_failed_group_fsync_fails_every_append_in_it_and_records_none(path, monkeypatch):
    """The fsync shared by a batch fails: every append of the batch raises, none of
    them is in the ledger (nor on disk), and the ledger takes appends again."""
    ledger = open_quietly(path)

    def broken(fd):
        raise OSError(5, "Input/output error")

    outcomes, calls = _appends_queued_behind_a_held_fsync(ledger, monkeypatch, 5, broken)
    assert outcomes[0][1] is True
    for i in range(1, 6):
        assert isinstance(outcomes[i], LedgerError), outcomes[i]
        assert "nothing was committed" in str(outcomes[i])
        assert ledger.get(f"o{i}:created") is None
    assert ledger.append("o9", "created", "o9:created", amount=1)[1] is True
    ledger.close()
    with Ledger(path) as again:
        assert [r.key for r in again.records()] == ["o0:created", "o9:created"]
        assert again.verify().ok


def test_records_read_from_memory_and_from_the_file_agree(path, monkeypatch):
    """get() serves the latest appends from memory and older ones from the file:
    both give the same, fresh (unshared) records, and a new Ledger agrees."""
    import commerce.ledger as ledger_module

    monkeypatch.setattr(ledger_module, "_RECENT_BODIES", 3)
    with open_quietly(path) as ledger:
        for i in range(10):
            ledger.append(f"o{i}", "created", f"o{i}:created", amount=i, details={"cart": [["tea", i]]})
        assert len(ledger._recent) == 3
        first, last = ledger.get("o0:created"), ledger.get("o9:created")
        assert (first.amount, first.details, last.amount, last.details) == (0, {"cart": [["tea", 0]]},
                                                                          9, {"cart": [["tea", 9]]})
        last.details["cart"].append("changed by a caller")
        assert ledger.get("o9:created").details == {"cart": [["tea", 9]]}
        mine = [ledger.get(f"o{i}:created") for i in range(10)]
    with Ledger(path) as again:
        assert [again.get(f"o{i}:created") for i in range(10)] == mine
