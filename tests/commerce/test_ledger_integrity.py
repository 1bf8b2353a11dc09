"""Ledger integrity: damage at the end of the file is told apart from an interrupted
write (only a frame cut short by the end of the file, or zeros, is a torn tail),
both are said loudly, a damaged end is set aside only on request and kept; files
are private (0600 / 0700) and never opened through a symlink; a failed fsync
leaves memory and disk agreeing."""

import os
import stat
import warnings

import pytest

from commerce import Shop
from commerce.ledger import (
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    Ledger,
    LedgerCorruptError,
    LedgerError,
    LedgerRepair,
    LedgerWarning,
    encode_frame,
    set_aside_damaged_tail,
    verify_file,
)

KINDS = ["created", "reserved", "paid", "fulfilled"]


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "ledger.log")


def write_records(path, n=3):
    """A closed ledger of n records; returns their offsets and the file size."""
    with Ledger(path) as ledger:
        offsets = [ledger.append("A", KINDS[i % 4], f"A:{i}", amount=100 * i,
                                 details={"note": "x" * i})[0].offset for i in range(n)]
    return offsets, os.path.getsize(path)


def raw(path):
    with open(path, "rb") as f:
        return f.read()


def flip(path, offset, mask):
    data = bytearray(raw(path))
    data[offset] ^= mask
    with open(path, "wb") as f:
        f.write(data)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask():
    """umask(value) for the rest of the test (restored after)."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


# ----------------------------------------------------------------------------- a bit flipped at the end


def test_every_flipped_bit_in_the_last_fsynced_record_is_corruption_not_a_torn_tail(path):
    """A complete, committed last frame with one bit flipped — anywhere: magic,
    version, length, checksums, body — is reported as damage naming path and
    offset; the file is left as it was and nothing is dropped."""
    offsets, size = write_records(path)
    last = offsets[-1]
    original = raw(path)
    for offset in range(last, size):
        for mask in (0x01, 0x80):
            flip(path, offset, mask)
            damaged = raw(path)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # and no "torn tail" warning either
                with pytest.raises(LedgerCorruptError) as info:
                    Ledger(path)
            error = info.value
            assert (error.path, error.offset) == (path, last), (offset, mask, str(error))
            assert path in str(error) and f"offset {last}" in str(error)
            assert raw(path) == damaged, (offset, mask)
            report = verify_file(path)
            assert not report.ok and report.damaged and report.problems[0].offset == last
            assert "damage to committed data, not an interrupted write" in report.problems[0].message
            flip(path, offset, mask)
    assert raw(path) == original
    with Ledger(path) as ledger:
        assert len(ledger.records()) == 3 and ledger.repaired == []


def test_a_damaged_last_record_is_also_refused_by_appends_of_a_ledger_already_open(path):
    offsets, size = write_records(path)
    with Ledger(path) as ledger, Ledger(path) as other:
        other.append("B", "created", "B:0")
        flip(path, os.path.getsize(path) - 1, 0x01)  # the record the other handle just committed
        with pytest.raises(LedgerCorruptError) as info:
            ledger.append("C", "created", "C:0")
        assert info.value.offset == size
    assert os.path.getsize(path) > size  # nothing cut


# ----------------------------------------------------------------------------- torn tails, loudly


@pytest.mark.parametrize("tail", [
    lambda frame: frame[:1],
    lambda frame: frame[:4],
    lambda frame: frame[:FRAME_HEADER_SIZE - 1],
    lambda frame: frame[:FRAME_HEADER_SIZE],
    lambda frame: frame[:-1],
    lambda frame: b"\0" * len(frame),
    lambda frame: b"\0",
], ids=["1-byte", "magic", "header-minus-1", "header-only", "all-but-1", "zeros-frame", "one-zero"])
def test_a_torn_tail_is_cut_with_a_warning_and_recorded_on_the_ledger(path, tail):
    offsets, size = write_records(path)
    cut = tail(encode_frame({"seq": 4, "order": "A", "kind": "fulfilled", "key": "A:3", "amount": None,
                             "time": 1.0, "details": {}}))
    with open(path, "ab") as f:
        f.write(cut)
    before = verify_file(path)
    assert before.damaged and "interrupted write" in before.problems[0].message
    with pytest.warns(LedgerWarning, match=rf"torn tail of {len(cut)} bytes at offset {size}\b"):
        ledger = Ledger(path)
    with ledger:
        [repair] = ledger.repaired
        assert isinstance(repair, LedgerRepair)
        assert (repair.path, repair.offset, repair.size) == (path, size, len(cut))
        assert "never committed" in str(repair)
        assert len(ledger.records()) == 3
    assert os.path.getsize(path) == size
    with Ledger(path) as again:
        assert again.repaired == []  # said once, by whoever cut it


def test_a_torn_tail_cut_before_an_append_is_recorded_too(path):
    with Ledger(path) as ledger:
        ledger.append("A", "created", "A:0")
        end = os.path.getsize(path)
        with open(path, "ab") as f:
            f.write(b"FSLR\0\1")  # another process died mid-write
        with pytest.warns(LedgerWarning):
            ledger.append("A", "reserved", "A:1")
        assert [(r.offset, r.size) for r in ledger.repaired] == [(end, 6)]


@pytest.mark.parametrize("tail", [
    b"FSLX" + b"\0" * 30,        # a bad magic
    b"\0" * 19 + b"\1",          # zeros, then not
    b"hello world",
    b"FSLR" + b"\xff" * 16,      # a header whose checksum fails
], ids=["bad-magic", "zeros-then-one", "text", "bad-header"])
def test_a_tail_no_interrupted_write_leaves_is_corruption(path, tail):
    _, size = write_records(path)
    with open(path, "ab") as f:
        f.write(tail)
    before = raw(path)
    with pytest.raises(LedgerCorruptError) as info:
        Ledger(path)
    assert info.value.offset == size and path in str(info.value)
    assert raw(path) == before


# ----------------------------------------------------------------------------- setting a damaged end aside


def test_a_damaged_end_is_set_aside_on_request_and_kept_in_a_private_copy(path):
    offsets, size = write_records(path)
    flip(path, size - 3, 0x10)
    damaged = raw(path)
    offset, count, copy = set_aside_damaged_tail(path)
    assert (offset, count) == (offsets[-1], size - offsets[-1])
    assert os.path.dirname(copy) == os.path.dirname(path)
    assert copy == f"{path}.damaged-at-{offset}"
    assert raw(copy) == damaged[offset:]  # nothing thrown away
    assert mode_of(copy) == 0o600
    assert raw(path) == damaged[:offset]
    with Ledger(path) as ledger:
        assert [r.key for r in ledger.records()] == ["A:0", "A:1"]
        assert ledger.repaired == []
    assert set_aside_damaged_tail(path) is None  # nothing damaged any more: a no-op


def test_setting_aside_never_overwrites_an_existing_file_or_follows_a_symlink(path, tmp_path):
    offsets, size = write_records(path)
    flip(path, size - 1, 0x01)
    taken = f"{path}.damaged-at-{offsets[-1]}"
    with open(taken, "wb") as f:
        f.write(b"someone else's")
    elsewhere = tmp_path / "elsewhere"
    os.symlink(elsewhere, taken + ".1")  # a dangling symlink where the next name would go
    _, _, copy = set_aside_damaged_tail(path)
    assert copy == taken + ".2"
    assert raw(taken) == b"someone else's"
    assert not elsewhere.exists()


def test_damage_in_the_middle_is_never_set_aside(path):
    offsets, _ = write_records(path)
    flip(path, offsets[1] + FRAME_HEADER_SIZE + 1, 0x01)
    before = raw(path)
    with pytest.raises(LedgerCorruptError, match="middle") as info:
        set_aside_damaged_tail(path)
    assert info.value.offset == offsets[1]
    assert raw(path) == before
    assert [name for name in os.listdir(os.path.dirname(path)) if "damaged" in name] == []


def test_setting_aside_a_sound_or_empty_ledger_does_nothing(path):
    write_records(path)
    before = raw(path)
    assert set_aside_damaged_tail(path) is None
    assert raw(path) == before
    with pytest.raises(FileNotFoundError):
        set_aside_damaged_tail(path + ".missing")


# ----------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
def test_a_new_ledger_is_0600_whatever_the_umask(path, umask, mask):
    umask(mask)
    Ledger(path).close()
    assert mode_of(path) == 0o600


def test_a_new_ledger_takes_the_mode_asked_for_and_an_existing_file_keeps_its_own(path, umask):
    umask(0o077)
    Ledger(path, mode=0o640).close()
    assert mode_of(path) == 0o640
    os.chmod(path, 0o644)
    with Ledger(path) as ledger:
        ledger.append("A", "created", "A:0")
    assert mode_of(path) == 0o644


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_a_shop_makes_its_data_directory_0700_and_its_ledger_0600(tmp_path, umask, mask):
    umask(mask)
    data = tmp_path / "deep" / "shop"
    with Shop(data):
        pass
    umask(0o022)
    assert mode_of(data) == 0o700
    assert mode_of(data / "flows") == 0o700
    assert mode_of(data / "ledger.log") == 0o600


def test_a_shop_leaves_an_existing_directory_s_mode_alone(tmp_path):
    data = tmp_path / "shop"
    data.mkdir()
    os.chmod(data, 0o750)
    with Shop(data):
        pass
    assert mode_of(data) == 0o750


def test_a_shop_on_a_path_that_is_a_file_is_refused(tmp_path):
    data = tmp_path / "shop"
    data.write_text("not a directory")
    with pytest.raises(OSError):
        Shop(data)
    assert data.read_text() == "not a directory"


# ----------------------------------------------------------------------------- symlinks and other files


def test_a_symlinked_ledger_is_refused_with_a_clear_error(path, tmp_path):
    target = tmp_path / "real.log"
    write_records(str(target))
    before = raw(target)
    os.symlink(target, path)
    for opener in (Ledger, verify_file, set_aside_damaged_tail):
        with pytest.raises(LedgerError, match="symbolic link") as info:
            opener(path)
        assert path in str(info.value)
    assert raw(target) == before


def test_a_dangling_symlink_is_refused_and_its_target_never_created(path, tmp_path):
    target = tmp_path / "somewhere" / "else.log"
    target.parent.mkdir()
    os.symlink(target, path)
    with pytest.raises(LedgerError, match="symbolic link"):
        Ledger(path)
    assert not target.exists()


def test_a_shop_whose_ledger_is_a_symlink_is_refused(tmp_path):
    data = tmp_path / "shop"
    data.mkdir()
    write_records(str(tmp_path / "real.log"))
    os.symlink(tmp_path / "real.log", data / "ledger.log")
    with pytest.raises(LedgerError, match="symbolic link"):
        Shop(data)


def test_a_fifo_is_refused_without_blocking(path):
    os.mkfifo(path)
    for opener in (Ledger, verify_file):
        with pytest.raises(LedgerError, match="not a regular file"):
            opener(path)


# ----------------------------------------------------------------------------- a failed fsync


def test_a_failed_fsync_leaves_memory_equal_to_disk_and_the_retry_commits(path, monkeypatch):
    with Ledger(path) as ledger:
        ledger.append("A", "created", "A:created", amount=500)
        size = os.path.getsize(path)
        real_fsync = os.fsync
        failures = []

        def failing_once(fd):
            if not failures:
                failures.append(fd)
                raise OSError(5, "Input/output error")
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", failing_once)
        with pytest.raises(LedgerError, match="nothing was committed"):
            ledger.append("A", "reserved", "A:1")
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert failures
        # memory and disk agree: the failed record is in neither
        assert os.path.getsize(path) == size
        assert not ledger.has_key("A:1") and ledger.get("A:1") is None
        mine = ledger.records()
        with Ledger(path) as fresh:
            assert fresh.records() == mine
        assert [r.key for r in mine] == ["A:created"]
        # the retry commits, with the next sequence number, where the failed one was
        record, new = ledger.append("A", "reserved", "A:1")
        assert new and record.seq == 2 and record.offset == size
        assert ledger.verify().ok
    with Ledger(path) as again:
        assert [r.key for r in again.records()] == ["A:created", "A:1"]
        assert again.repaired == []


def test_a_failed_write_leaves_nothing_behind_either(path, monkeypatch):
    import flow.applog as engine

    with Ledger(path) as ledger:
        ledger.append("A", "created", "A:created")
        size = os.path.getsize(path)
        real = engine.write_all

        def half_then_fail(fd, data, offset):
            real(fd, data[: len(data) // 2], offset)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(engine, "write_all", half_then_fail)
        with pytest.raises(LedgerError, match="No space left"):
            ledger.append("A", "reserved", "A:1")
        monkeypatch.setattr(engine, "write_all", real)
        assert os.path.getsize(path) == size
        assert ledger.append("A", "reserved", "A:1")[1] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Ledger(path) as again:
            assert len(again.records()) == 2


# ----------------------------------------------------------------------------- the first file format


def _ledger_bytes_of_the_first_format(bodies):
    """A ledger as flowscheme wrote it before the log engine (flow.applog): the
    16-byte header (b"FSLEDGER", u16 1, u16 0, CRC32), then per record a 20-byte
    frame header (b"FSLR", u16 1, u16 0, u32 length, u32 body CRC32, u32 CRC32 of
    those 16 bytes) and the msgpack body. Built here by hand, not with the ledger's code."""
    import struct
    import zlib

    import msgpack

    head = b"FSLEDGER" + struct.pack(">HH", 1, 0)
    out = head + struct.pack(">I", zlib.crc32(head))
    for fields in bodies:
        body = msgpack.packb(fields, use_bin_type=True)
        frame = b"FSLR" + struct.pack(">HHII", 1, 0, len(body), zlib.crc32(body))
        out += frame + struct.pack(">I", zlib.crc32(frame)) + body
    return out


def test_a_ledger_written_in_the_first_format_opens_reads_and_takes_appends(path):
    fields = [
        {"seq": 1, "order": "%stock", "kind": "received", "key": "in:1", "amount": None, "time": 1.0,
         "details": {"stock": {"tea": 5}}},
        {"seq": 2, "order": "A", "kind": "created", "key": "A:created", "amount": 300, "time": 2.0, "details": {}},
        {"seq": 3, "order": "A", "kind": "reserved", "key": "A:reserved", "amount": None, "time": 3.0,
         "details": {"stock": {"tea": -2}}},
    ]
    data = _ledger_bytes_of_the_first_format(fields)
    with open(path, "wb") as f:
        f.write(data + _ledger_bytes_of_the_first_format(fields[:1])[FILE_HEADER_SIZE:][:FRAME_HEADER_SIZE + 3])
    with pytest.warns(LedgerWarning, match=rf"torn tail of {FRAME_HEADER_SIZE + 3} bytes at offset {len(data)}\b"):
        ledger = Ledger(path)
    with ledger:
        assert [(r.seq, r.key, r.time) for r in ledger.records()] == [(1, "in:1", 1.0), (2, "A:created", 2.0),
                                                                       (3, "A:reserved", 3.0)]
        assert ledger.stock() == {"tea": 3} and ledger.orders() == ["A"]
        assert ledger.get("A:created").amount == 300
        assert ledger.append("A", "created", "A:created") == (ledger.get("A:created"), False)
        record, new = ledger.append("A", "paid", "A:paid", amount=300)
        assert new and record.seq == 4 and record.offset == len(data)
        assert ledger.verify().ok
    assert raw(path).startswith(data)
    assert verify_file(path).ok and verify_file(path).records == 4
