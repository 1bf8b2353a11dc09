"""The order ledger: one append-only file of checksummed, msgpack-framed records.

Every effect of the order lifecycle is appended here once, under an idempotency
key, and fsync'd before `Ledger.append` returns. Several processes may append to
the same file at once (serialised by an exclusive `flock`).

Stock: a record may carry `details["stock"]`, {sku: signed change of the stock
on hand} (received +n, reserved -n, released +n); the ledger keeps the running
balance per sku (`Ledger.stock()`), so the stock on hand is whatever the file
says, exact after any crash. `append(..., short_kind=...)` is the conditional
append: checked and written under the same exclusive lock, it records `kind`
only if no balance would go below zero, and otherwise `short_kind` (with what
was short) under the same key — so of two processes reserving the last unit,
exactly one gets it. A torn tail left by
a crash (a frame that runs past the end of the file: an interrupted write, never
committed) is truncated on the next open or append, with a LedgerWarning and an
entry in `Ledger.repaired`; any other damage — a complete frame whose checksum
fails, even the last one — is a LedgerCorruptError naming file and offset, never
skipped or cut (`set_aside_damaged_tail` moves a damaged end aside on request).
A new ledger file is created 0600 (whatever the umask) and never opened through
a symlink. The file itself — framing, checksums, torn-tail repair, group commit,
fsync, cut-back of a failed write — is the append-only log engine flow.applog;
this module is the ledger's file format (`_Layout`) and its records on top.

File layout (all integers big-endian)::

    file header   8s magic b"FSLEDGER" | u16 format version | u16 flags (0)
                  | u32 CRC32 of the preceding 12 bytes                     16 bytes
    frame         4s magic b"FSLR" | u16 format version | u16 flags (0)
                  | u32 body length | u32 CRC32 of body
                  | u32 CRC32 of the preceding 16 header bytes              20 bytes
                  + body: a msgpack map {seq, order, kind, key, amount, time, details}

The header checksum means a damaged length field can never make a committed
frame look like an interrupted write at the end of the file. What an interrupted
write can leave: a prefix of a frame header, a sound header whose body runs past
the end of the file, or zeros (a file extension whose data never reached the disk).
"""

from __future__ import annotations

import fcntl
import math
import os
import struct
import threading
import time as _time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any

import msgpack

from flow.applog import (READ_CHUNK, AppendLog, Damage, Pending, Reader, fsync_dir, new_file, open_file, pread,
                         write_all)

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "RECORD_KINDS",
    "STOCK",
    "Ledger",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerInputError",
    "LedgerPathError",
    "LedgerRecord",
    "LedgerRepair",
    "LedgerVersionError",
    "LedgerWarning",
    "LedgerWriteError",
    "VerifyProblem",
    "VerifyReport",
    "encode_file_header",
    "encode_frame",
    "set_aside_damaged_tail",
    "verify_file",
]

FORMAT_VERSION = 1

#: The kinds of record of an order that is fulfilled, in the order it passes through them.
KINDS = ("created", "reserved", "paid", "fulfilled")
#: Every kind of record: KINDS, an order's other ends (out-of-stock instead of
#: reserved; released: its reservation given back; refund-due: money that came
#: in and must go back) and stock received (under the pseudo-order STOCK).
RECORD_KINDS = KINDS + ("out-of-stock", "released", "refund-due", "received")
#: The order field of stock records (`received`); never an order id (the Shop
#: refuses ids starting with "%").
STOCK = "%stock"

FILE_MAGIC = b"FSLEDGER"
_FILE_HEADER = struct.Struct(">8sHHI")
FILE_HEADER_SIZE = _FILE_HEADER.size  # 16

FRAME_MAGIC = b"FSLR"
_FRAME_HEADER = struct.Struct(">4sHHIII")
FRAME_HEADER_SIZE = _FRAME_HEADER.size  # 20

#: Largest body a frame may carry. Also bounds what can be an interrupted write:
#: more unreadable bytes than one frame at the end of the file is damage, not a torn tail.
MAX_BODY_SIZE = 16 * 1024 * 1024
MAX_FRAME_SIZE = FRAME_HEADER_SIZE + MAX_BODY_SIZE

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Generous bound on a body's bytes besides order, key and details (field names, seq, amount, time).
_FIXED_FIELDS_SIZE = 128
#: How many of the latest records this process appended are kept in memory for get().
_RECENT_BODIES = 4096


# --------------------------------------------------------------------------- errors


class LedgerError(Exception):
    """Base class of every error the ledger raises."""


class LedgerInputError(LedgerError, ValueError):
    """An append was refused because an argument is invalid; nothing was written."""


class LedgerCorruptError(LedgerError):
    """A committed frame is damaged; the file is left as it was."""

    def __init__(self, path: str, offset: int, reason: str):
        self.path, self.offset, self.reason = path, offset, reason
        super().__init__(f"{path}: ledger damaged at byte offset {offset}: {reason}")


class LedgerVersionError(LedgerError):
    """The file was written by a newer ledger format than this code understands."""

    def __init__(self, path: str, found: int, supported: int, where: str = "file"):
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path}: {where} has ledger format version {found}, but this flowscheme "
            f"reads only up to version {supported}; upgrade flowscheme to open it "
            f"(the file was not modified)"
        )



class LedgerPathError(LedgerError, OSError):
    """A ledger path that cannot be used safely: a symbolic link, a directory, not a regular file."""


class LedgerWriteError(LedgerError):
    """A write or fsync of the ledger failed: nothing of that call was committed (memory
    and file are as they were) and it can be retried. Names the file (.path) and the
    operating system's error (.os_error)."""

    def __init__(self, path: str, os_error: OSError, doing: str = "appending", message: str | None = None):
        self.path, self.os_error, self.doing = path, os_error, doing
        super().__init__(message or f"{path}: {doing} failed, nothing was committed: {os_error}")

class LedgerWarning(UserWarning):
    """Something was repaired on the way in (a torn tail truncated); also in `Ledger.repaired`."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """One committed ledger entry, as read back from the file."""

    seq: int
    order: str
    kind: str
    key: str
    amount: int | None
    time: float
    details: dict[str, Any] = field(hash=False)
    offset: int


@dataclass(frozen=True, slots=True)
class LedgerRepair:
    """Bytes the ledger cut off because they were an interrupted write, never committed:
    `size` bytes at `offset` (a torn tail, or a file header torn at creation)."""

    path: str
    offset: int
    size: int
    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class VerifyProblem:
    offset: int
    message: str
    #: True for a damaged frame or file header (bytes that are not a sound frame),
    #: False for a sound record that breaks a rule (lifecycle, sequence, field types).
    damage: bool = False

    def __str__(self) -> str:
        return f"offset {self.offset}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `Ledger.verify` found. `ok` is true when `problems` is empty."""

    path: str
    records: int
    problems: tuple[VerifyProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def damaged(self) -> bool:
        """True if some bytes are not sound frames (as opposed to only rule violations)."""
        return any(p.damage for p in self.problems)

    def __str__(self) -> str:
        head = f"{self.path}: {self.records} records, "
        if self.ok:
            return head + "no problems"
        lines = [head + f"{len(self.problems)} problem(s)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


# --------------------------------------------------------------------------- encoding


def encode_file_header(version: int = FORMAT_VERSION) -> bytes:
    """The 16-byte header a ledger file starts with (other versions: for tests and tools)."""
    head = FILE_MAGIC + struct.pack(">HH", version, 0)
    return head + struct.pack(">I", zlib.crc32(head))


def encode_frame(body: dict[str, Any] | bytes, version: int = FORMAT_VERSION) -> bytes:
    """One frame holding `body` (a dict to msgpack, or already-packed bytes).

    Low level: no validation of the fields, no sequence numbers. `Ledger.append`
    is the way to add records; this exists for tools and for tests that must
    write what `append` would refuse.
    """
    if not isinstance(body, (bytes, bytearray)):
        body = _packb(body)
    head = struct.pack(">4sHHII", FRAME_MAGIC, version, 0, len(body), zlib.crc32(body))
    return head + struct.pack(">I", zlib.crc32(head)) + bytes(body)


_local = threading.local()  # one reusable msgpack Packer per thread


def _packb(body: Any) -> bytes:
    packer = getattr(_local, "packer", None)
    if packer is None:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(body)


class _Process:
    """This process's id, kept current across fork without a getpid() per call."""

    pid = os.getpid()

    @classmethod
    def forked(cls) -> None:
        cls.pid = os.getpid()


os.register_at_fork(after_in_child=_Process.forked)


def _unpack(body) -> Any:
    return msgpack.unpackb(body, raw=False)


def _record(offset: int, d: Any) -> LedgerRecord:
    return LedgerRecord(
        seq=d["seq"], order=d["order"], kind=d["kind"], key=d["key"],
        amount=d["amount"], time=d["time"], details=d["details"], offset=offset,
    )


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


# --------------------------------------------------------------------------- the file format


class _Layout:
    """The ledger's file header and frames, for the log engine (flow.applog)."""

    name = what = "ledger"
    header_size = FILE_HEADER_SIZE
    max_frame = MAX_FRAME_SIZE
    magic = FRAME_MAGIC
    #: torn: only a frame cut short by the end of the file, or zeros; a complete
    #: frame whose checksum fails is damage, even the last one
    strict_tail = True
    error, path_error, write_error = LedgerError, LedgerPathError, LedgerWriteError

    def encode_header(self) -> bytes:
        return encode_file_header()

    def frame(self, body: bytes) -> bytes:
        return encode_frame(body)

    def check_header(self, head: bytes, path: str) -> bool:
        """True if `head` is a readable header; False if the file must be (re)initialised.

        Raises for anything that is not this ledger format, leaving the file alone.
        """
        if len(head) < FILE_HEADER_SIZE:
            if FILE_MAGIC.startswith(head[:len(FILE_MAGIC)]):
                return False  # empty, or a header torn while the file was created
            raise LedgerError(f"{path}: not a flowscheme ledger (file is {len(head)} bytes, no ledger header)")
        magic, version, _flags, crc = _FILE_HEADER.unpack(head)
        if magic != FILE_MAGIC:
            raise LedgerError(f"{path}: not a flowscheme ledger (starts with {bytes(head[:8])!r})")
        if version > FORMAT_VERSION:
            raise LedgerVersionError(path, version, FORMAT_VERSION)
        if version < 1:
            raise LedgerError(f"{path}: invalid ledger format version {version}")
        if zlib.crc32(head[:12]) != crc:
            raise LedgerCorruptError(path, 0, "file header checksum mismatch")
        return True

    def frame_at(self, reader: Reader, offset: int) -> tuple[memoryview, int] | Damage:
        head = reader.read(offset, FRAME_HEADER_SIZE)
        if len(head) < FRAME_HEADER_SIZE:
            magic = bytes(head[:len(FRAME_MAGIC)])
            return Damage(offset, f"incomplete frame header ({len(head)} of {FRAME_HEADER_SIZE} bytes)",
                          runs_past_end=FRAME_MAGIC.startswith(magic))
        magic, version, _flags, length, body_crc, head_crc = _FRAME_HEADER.unpack(head)
        if magic != FRAME_MAGIC:
            return Damage(offset, f"bad frame magic {bytes(magic)!r}")
        if zlib.crc32(head[:16]) != head_crc:
            return Damage(offset, "frame header checksum mismatch")
        if version > FORMAT_VERSION:
            return Damage(offset, f"frame format version {version}", newer_version=version)
        if version < 1:
            return Damage(offset, f"invalid frame format version {version}")
        if length > MAX_BODY_SIZE:
            return Damage(offset, f"frame body length {length} exceeds the maximum {MAX_BODY_SIZE}")
        body = reader.read(offset + FRAME_HEADER_SIZE, length)
        if len(body) < length:
            return Damage(offset, f"incomplete frame body ({len(body)} of {length} bytes)", runs_past_end=True)
        if zlib.crc32(body) != body_crc:
            return Damage(offset, "frame body checksum mismatch")
        return body, offset + FRAME_HEADER_SIZE + length

    def corrupt(self, path: str, damage: Damage, detail: str) -> LedgerError:
        if damage.newer_version is not None:
            return LedgerVersionError(path, damage.newer_version, FORMAT_VERSION,
                                      where=f"frame at byte offset {damage.offset}")
        return LedgerCorruptError(path, damage.offset, detail)


_LAYOUT = _Layout()


# --------------------------------------------------------------------------- the ledger


class _Request:
    __slots__ = ("order", "kind", "key", "amount", "details", "time", "short_kind")

    def __init__(self, order, kind, key, amount, details, time, short_kind=None):
        self.order, self.kind, self.key = order, kind, key
        self.short_kind = short_kind
        self.amount, self.details, self.time = amount, details, time


class Ledger:
    """An append-only, idempotent, multi-process-safe ledger file.

    Keeps an index (key -> frame offset, order -> frame offsets) in memory;
    records themselves are read back from the file (and re-checksummed) on demand,
    except the latest few thousand this process appended, whose bodies it keeps.
    Reads first catch up with what other processes have committed.

    `mode` is the permission a new file gets (0600 unless told otherwise, whatever
    the umask); an existing file keeps its own. A symlink is refused (O_NOFOLLOW),
    and so is anything but a regular file. `repaired` lists every interrupted
    write this object cut off (on opening, or before an append): each is also a
    LedgerWarning, but a caller that must show it (the CLI does) reads it here.
    """

    def __init__(self, path: str | os.PathLike, mode: int = 0o600):
        self.path = os.fspath(path)
        self.repaired: list[LedgerRepair] = []
        self._by_key: dict[str, int] = {}
        self._by_order: dict[str, list[int]] = {}
        self._count = 0
        self._last_seq = 0
        self._stock: dict[str, int] = {}  # sku -> stock on hand: the sum of the records' stock changes
        self._recent: dict[int, bytes] = {}  # offset -> body of our latest appends
        self._warnings: list[LedgerRepair] = []
        self._pid = _Process.pid
        # the file (flow.applog): its mutex lets one thread at a time take the file
        # lock, catch up or commit; the index only ever holds durable records, so
        # reading it needs no lock (see get)
        self._log = AppendLog(self.path, _LAYOUT, self._index, self._repaired, mode)
        _warn(self._take_warnings())

    def _repaired(self, offset: int, size: int, reason: str, why: str) -> None:
        repair = LedgerRepair(
            self.path, offset, size, reason,
            f"{self.path}: truncated a torn tail of {size} bytes at offset {offset} "
            f"({reason}: {why}); the interrupted write was never committed",
        )
        self.repaired.append(repair)
        self._warnings.append(repair)

    def _index(self, offset: int, body) -> None:
        try:
            d = _unpack(body)
            key, order, seq = d["key"], d["order"], d["seq"]
        except Exception as exc:  # malformed msgpack, not a map, missing field
            raise LedgerCorruptError(
                self.path, offset, f"frame checksum is valid but its body is not a ledger record ({exc!r})"
            ) from None
        if not (isinstance(key, str) and isinstance(order, str) and type(seq) is int):
            raise LedgerCorruptError(
                self.path, offset, "frame checksum is valid but its key/order/seq have the wrong types"
            )
        if key not in self._by_key:  # a duplicate (never written by append) counts once
            _add_stock(self._stock, _stock_of(d.get("details")))
        self._by_key.setdefault(key, offset)  # a duplicate (never written by append) keeps the first
        self._by_order.setdefault(order, []).append(offset)
        self._count += 1
        self._last_seq = seq

    def _refresh(self) -> None:
        """Catch up with other processes' commits (shared lock: never reads an unsynced write)."""
        self._check_usable()
        self._log.refresh()

    # ----------------------------------------------------------------- appending

    def append(
        self,
        order: str,
        kind: str,
        key: str,
        amount: int | None = None,
        details: dict[str, Any] | None = None,
        time: float | None = None,
        short_kind: str | None = None,
    ) -> tuple[LedgerRecord, bool]:
        """Record `kind` for `order` under idempotency `key`, durably.

        Returns (record, True) once the new record is fsync'd, or (existing record,
        False) without writing anything if `key` is already in the ledger.
        Concurrent appends from threads of one process share one fsync.

        `details["stock"]` ({sku: signed int}) changes the stock on hand. With
        `short_kind`, the append is conditional: if a change would take some
        sku's stock below zero, the record written under `key` is a
        `short_kind` record instead, without the stock change and with
        `details["short"]` = {sku: {"wanted": n, "on_hand": m}} — decided under
        the file lock, against every committed record (the caller reads the
        returned record's kind).
        """
        details = _validate(order, kind, key, amount, details, time)
        if short_kind is not None and short_kind not in RECORD_KINDS:
            raise LedgerInputError(f"short_kind must be one of {', '.join(map(repr, RECORD_KINDS))}; "
                                   f"got {_describe(short_kind)}")
        self._check_usable()
        offset = self._by_key.get(key)  # a key we have indexed is committed: answer at once
        if offset is not None:
            return self._read_record(offset), False
        request = _Request(order, kind, key, amount, details, None if time is None else float(time), short_kind)
        try:
            return self._log.group_commit(request, self._commit)
        finally:
            _warn(self._take_warnings())

    def _commit(self, batch: list[Pending]) -> None:
        """Group commit (the leading thread): decide and write every queued request."""
        self._check_usable()
        log = self._log
        with log.locked(fcntl.LOCK_EX):
            log.catch_up(repair=True)
            self._write_batch(batch)

    def _write_batch(self, batch: list[Pending]) -> None:
        new: dict[str, int] = {}  # key -> index in bodies
        bodies: list[bytes] = []
        records: list[dict[str, Any]] = []
        answers: list[tuple[Pending, int, bool]] = []
        stock = dict(self._stock)  # the balances with this batch's records so far
        now = _time.time()
        for pending in batch:
            request = pending.item
            if request.key in new:
                answers.append((pending, new[request.key], False))
                continue
            offset = self._by_key.get(request.key)
            if offset is not None:
                pending.result = (self._read_record(offset), False)
                continue
            kind, details = request.kind, request.details
            change = _stock_of(details)
            if request.short_kind is not None and change:
                short = {sku: {"wanted": -delta, "on_hand": stock.get(sku, 0)}
                         for sku, delta in change.items() if stock.get(sku, 0) + delta < 0}
                if short:
                    kind = request.short_kind
                    details = {k: v for k, v in details.items() if k != "stock"}
                    details["short"] = short
                    change = None
            _add_stock(stock, change)
            new[request.key] = len(bodies)
            answers.append((pending, len(bodies), True))
            records.append({
                "seq": self._last_seq + len(bodies) + 1,
                "order": request.order,
                "kind": kind,
                "key": request.key,
                "amount": request.amount,
                "time": now if request.time is None else request.time,
                "details": details,
            })
            bodies.append(_packb(records[-1]))
        if not bodies:
            return
        offsets = self._log.write(bodies)  # durable, or it raises with nothing written
        made = [_record(offset, fields) for offset, fields in zip(offsets, records)]
        for pending, i, fresh in answers:
            pending.result = (made[i], fresh)
        recent = self._recent
        for offset, body in zip(offsets, bodies):
            recent[offset] = body
        while len(recent) > _RECENT_BODIES:
            del recent[next(iter(recent))]
        for record in made:
            self._by_key[record.key] = record.offset
            self._by_order.setdefault(record.order, []).append(record.offset)
        self._count += len(made)
        self._last_seq += len(made)
        self._stock = stock

    # ----------------------------------------------------------------- reading

    def has_key(self, key: str) -> bool:
        return self._offset_of(key) is not None

    def get(self, key: str) -> LedgerRecord | None:
        """The record committed under `key`, or None."""
        offset = self._offset_of(key)
        return None if offset is None else self._read_record(offset)

    def _offset_of(self, key: str) -> int | None:
        """Where the committed record under `key` is. Does not wait for a commit of
        this process in flight (its fsync): the index holds durable records only,
        and a file no longer than what we indexed plus our own unsynced frames
        holds nothing from other processes to catch up with."""
        self._check_usable()
        offset = self._by_key.get(key)
        if offset is None and not self._log.unchanged():
            self._refresh()
            offset = self._by_key.get(key)
        return offset

    def records(self, order: str | None = None) -> list[LedgerRecord]:
        """All records in ledger order, or only those of `order`."""
        with self._log.mutex:
            self._refresh()
            if order is not None:
                return [self._read_record(offset) for offset in self._by_order.get(order, ())]
            return [_record(offset, _unpack(body)) for offset, body in self._log.frames(self._log.end)]

    def orders(self) -> list[str]:
        """Order ids in the order they first appear in the ledger (not STOCK)."""
        with self._log.mutex:
            self._refresh()
            return [order for order in self._by_order if order != STOCK]

    def stock(self) -> dict[str, int]:
        """{sku: stock on hand}: the sum of every record's `details["stock"]` changes."""
        with self._log.mutex:
            self._refresh()
            return dict(self._stock)

    def _read_record(self, offset: int) -> LedgerRecord:
        body = self._recent.get(offset)
        if body is None:  # not one we wrote lately (what we fsync'd, no need to read it back):
            # the offset came from the index, a committed frame, checked against its own
            # length and checksums (a reader may race the index update)
            body = self._log.read_at(offset)
        return _record(offset, _unpack(body))

    # ----------------------------------------------------------------- verifying

    def verify(self) -> VerifyReport:
        """Re-read the whole file and report every damaged frame and every lifecycle violation.

        Never raises for what it finds; a damaged frame is skipped to the next
        sound one so that everything after it is still checked.
        """
        self._check_usable()
        with self._log.locked(fcntl.LOCK_SH):
            return _verify_fd(self.path, self._log.fd)

    # ----------------------------------------------------------------- housekeeping

    def _check_usable(self) -> None:
        if self._log.fd is None:
            raise LedgerError(f"{self.path}: ledger is closed")
        if _Process.pid != self._pid:
            # flock belongs to the open file, which a forked child shares with its
            # parent: the two would not exclude each other.
            raise LedgerError(
                f"{self.path}: this Ledger was opened in process {self._pid}; "
                f"open a new Ledger in process {os.getpid()}"
            )

    def _take_warnings(self) -> list[LedgerRepair]:
        pending, self._warnings = self._warnings, []
        return pending

    def close(self) -> None:
        self._log.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._log.fd is None else f"{self._count} records"
        return f"<Ledger {self.path!r} {state}>"


# --------------------------------------------------------------------------- helpers


def verify_file(path: str | os.PathLike) -> VerifyReport:
    """Verify a ledger file without opening it as a Ledger (read-only, nothing repaired):
    works on a ledger too damaged to open, reporting every problem with its offset."""
    path = os.fspath(path)
    fd = open_file(path, _LAYOUT, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        return _verify_fd(path, fd)
    finally:
        os.close(fd)


def _verify_fd(path: str, fd: int) -> VerifyReport:
    size = os.fstat(fd).st_size
    checker = _Checker()
    try:
        if not _LAYOUT.check_header(pread(fd, FILE_HEADER_SIZE, 0), path):
            raise LedgerError(f"{path}: the ledger header is missing")
    except LedgerError as exc:
        return VerifyReport(path, 0, (VerifyProblem(0, str(exc), damage=True),))
    reader = Reader(fd, _LAYOUT, size)
    pos = FILE_HEADER_SIZE
    while pos < size:
        frame = reader.frame_at(pos)
        if isinstance(frame, Damage):
            following = reader.next_sound_frame(pos + 1)
            if following is None:
                torn = reader.torn(frame)
                if torn is not None:
                    checker.problem(pos, f"{frame.reason}: {size - pos} unreadable bytes at the end "
                                         f"(an interrupted write: {torn}; truncated on the next open "
                                         f"or append)", damage=True)
                else:
                    checker.problem(pos, f"{frame.reason}: {size - pos} bytes at the end of the file "
                                         f"that are damage to committed data, not an interrupted write "
                                         f"(the ledger will not open until they are set aside)",
                                    damage=True)
                break
            checker.problem(pos, f"{frame.reason}: {following - pos} bytes skipped to the "
                                 f"next sound frame at offset {following}", damage=True)
            checker.lost_frames = True
            pos = following
            continue
        body, nxt = frame
        checker.check(pos, body)
        pos = nxt
    return VerifyReport(path, checker.records, tuple(checker.problems))


def _validate(order, kind, key, amount, details, time) -> dict[str, Any]:
    """Check append's arguments; return `details` normalised to what reading it back gives."""
    if not isinstance(order, str) or not order:
        raise LedgerInputError(f"order must be a non-empty str, got {_describe(order)}")
    if not isinstance(kind, str) or kind not in RECORD_KINDS:
        raise LedgerInputError(f"kind must be one of {', '.join(map(repr, RECORD_KINDS))}; got {_describe(kind)}")
    if not isinstance(key, str) or not key:
        raise LedgerInputError(f"key must be a non-empty str, got {_describe(key)}")
    text_size = 0
    for name, text in (("order", order), ("key", key)):
        try:
            text_size += len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise LedgerInputError(f"{name} {text!r} cannot be stored as UTF-8: {exc.reason}") from None
    if amount is not None:
        if type(amount) is not int:
            raise LedgerInputError(f"amount must be an int (minor units) or None, got {_describe(amount)}")
        if not _INT64_MIN <= amount <= _INT64_MAX:
            raise LedgerInputError(f"amount {amount} is outside the signed 64-bit range the ledger stores")
    if time is not None:
        if isinstance(time, bool) or not isinstance(time, (int, float)) or not _finite(time):
            raise LedgerInputError(f"time must be a finite number of epoch seconds, got {_describe(time)}")
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise LedgerInputError(f"details must be a dict or None, got {_describe(details)}")
    if "stock" in details:
        change = details["stock"]
        if not (isinstance(change, dict) and all(
                isinstance(sku, str) and sku and type(n) is int and _INT64_MIN <= n <= _INT64_MAX
                for sku, n in change.items())):
            raise LedgerInputError(f"details['stock'] must map skus (non-empty str) to signed 64-bit ints, "
                                   f"got {_describe(change)}")
    try:
        packed = _packb(details)
        normal = _unpack(packed)
    except Exception as exc:
        raise LedgerInputError(
            f"details must hold only msgpack-able values (None, bool, int, float, str, bytes, "
            f"lists, dicts with str keys): {exc}"
        ) from None
    size = len(packed) + text_size + _FIXED_FIELDS_SIZE
    if size > MAX_BODY_SIZE:
        raise LedgerInputError(f"record would be {size} bytes; a record may hold at most {MAX_BODY_SIZE}")
    return normal


def _stock_of(details: Any) -> dict[str, int] | None:
    """The stock changes a record's details carry ({sku: int}), or None."""
    change = details.get("stock") if isinstance(details, dict) else None
    if not isinstance(change, dict):
        return None
    return {sku: n for sku, n in change.items() if isinstance(sku, str) and type(n) is int} or None


def _add_stock(balances: dict[str, int], change: dict[str, int] | None) -> None:
    for sku, n in (change or {}).items():
        balances[sku] = balances.get(sku, 0) + n


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float
        return False


#: The lifecycles `verify` accepts, as what each kind of record needs before it
#: (one of) and what it may not follow: created -> reserved -> paid -> fulfilled;
#: created -> reserved [-> paid] -> released; created -> out-of-stock; refund-due
#: after paid, released or out-of-stock (a payment that must go back; one per
#: payment reference, so it may repeat); received: stock, under STOCK.
_NEEDS = {
    "reserved": ("created",),
    "out-of-stock": ("created",),
    "paid": ("reserved",),
    "fulfilled": ("paid",),
    "released": ("reserved",),
    "refund-due": ("paid", "released", "out-of-stock"),
}
_EXCLUDES = {
    "reserved": ("out-of-stock",),
    "out-of-stock": ("reserved",),
    "paid": ("out-of-stock",),
    "fulfilled": ("released",),
    "released": ("fulfilled",),
}
_REPEATABLE = frozenset({"refund-due", "received"})


class _Checker:
    """The lifecycle and field checks `verify` applies to each sound frame, in ledger order."""

    def __init__(self):
        self.records = 0
        self.problems: list[VerifyProblem] = []
        self.last_seq: int | None = None
        self.lost_frames = False  # damage was skipped: the next seq may jump
        self.keys: dict[str, int] = {}
        self.kinds: dict[str, dict[str, int]] = {}  # order -> kind -> offset of first

    def problem(self, offset: int, message: str, damage: bool = False) -> None:
        self.problems.append(VerifyProblem(offset, message, damage))

    def check(self, offset: int, body) -> None:
        try:
            d = _unpack(body)
        except Exception as exc:
            return self.problem(offset, f"body is not valid msgpack ({exc})", damage=True)
        if not isinstance(d, dict):
            return self.problem(offset, f"body is a {type(d).__name__}, not a record map", damage=True)
        missing = [name for name in ("seq", "order", "kind", "key", "amount", "time", "details") if name not in d]
        if missing:
            return self.problem(offset, f"record lacks field(s) {', '.join(missing)}", damage=True)
        self.records += 1
        seq, order, kind, key = d["seq"], d["order"], d["kind"], d["key"]
        amount, when, details = d["amount"], d["time"], d["details"]

        if type(seq) is not int:
            self.problem(offset, f"seq is {_describe(seq)}, not an int")
        else:
            expected = 1 if self.last_seq is None else self.last_seq + 1
            if self.lost_frames:
                if seq < expected:
                    self.problem(offset, f"seq {seq} where more than {expected - 1} was expected")
            elif seq != expected:
                self.problem(offset, f"seq {seq} where {expected} was expected")
            self.last_seq, self.lost_frames = seq, False
        if not isinstance(key, str) or not key:
            self.problem(offset, f"key is {_describe(key)}, not a non-empty str")
        elif key in self.keys:
            self.problem(offset, f"key {key!r} recorded again (first at offset {self.keys[key]})")
        else:
            self.keys[key] = offset
        if amount is not None and type(amount) is not int:
            self.problem(offset, f"amount is {_describe(amount)}, not an int or None")
        if isinstance(when, bool) or not isinstance(when, (int, float)):
            self.problem(offset, f"time is {_describe(when)}, not a number")
        if not isinstance(details, dict):
            self.problem(offset, f"details is {_describe(details)}, not a map")
        if not isinstance(order, str) or not order:
            return self.problem(offset, f"order is {_describe(order)}, not a non-empty str")
        if kind not in RECORD_KINDS:
            return self.problem(offset, f"order {order!r}: unknown kind {_describe(kind)}")
        if (kind == "received") != (order == STOCK):
            return self.problem(offset, f"order {order!r}: {kind!r} records belong under {STOCK!r} only, "
                                        f"and {STOCK!r} holds only 'received' records")

        seen = self.kinds.setdefault(order, {})
        if kind in seen and kind not in _REPEATABLE:
            self.problem(offset, f"order {order!r}: {kind!r} recorded twice (first at offset {seen[kind]})")
            return
        needs = _NEEDS.get(kind)
        if needs is not None and not any(k in seen for k in needs):
            self.problem(offset, f"order {order!r}: {kind!r} recorded before "
                                 + " or ".join(repr(k) for k in needs))
        for other in _EXCLUDES.get(kind, ()):
            if other in seen:
                self.problem(offset, f"order {order!r}: {kind!r} recorded after {other!r} "
                                     f"(at offset {seen[other]}): an order has one or the other")
        seen.setdefault(kind, offset)


def _warn(repairs: list[LedgerRepair]) -> None:
    for repair in repairs:
        warnings.warn(str(repair), LedgerWarning, stacklevel=3)  # the caller of Ledger() / append()


def set_aside_damaged_tail(path: str | os.PathLike) -> tuple[int, int, str] | None:
    """Move damaged bytes at the end of a ledger out of the way, on request.

    For a ledger that will not open because its end is damaged (a complete last
    frame whose checksum fails, say): the bytes from the first damaged frame to
    the end of the file are copied to a new file beside it (created O_EXCL, 0600:
    `<name>.damaged-at-<offset>[.N]`), fsync'd, and only then cut from the ledger.
    Returns (offset, byte count, path of the copy), or None if the file has no
    damage. Damage with a sound frame after it is refused (LedgerCorruptError):
    cutting there would drop committed records. Nothing is re-derived here; the
    records lost are for `commerce.audit.repair` to rebuild from the flows.
    """
    path = os.fspath(path)
    fd = open_file(path, _LAYOUT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not _LAYOUT.check_header(pread(fd, FILE_HEADER_SIZE, 0), path):
            return None
        size = os.fstat(fd).st_size
        reader = Reader(fd, _LAYOUT, size)
        pos = FILE_HEADER_SIZE
        while pos < size:
            frame = reader.frame_at(pos)
            if isinstance(frame, Damage):
                break
            pos = frame[1]
        else:
            return None
        if frame.newer_version is not None:
            raise _LAYOUT.corrupt(path, frame, "")
        following = reader.next_sound_frame(pos + 1)
        if following is not None:
            raise LedgerCorruptError(
                path, pos, f"{frame.reason}; a sound frame follows at offset {following}: "
                           f"damage in the middle is not set aside (committed records follow it)")
        suffix = f".damaged-at-{pos}"
        copy_path, out = new_file((path + suffix + (f".{n}" if n else "") for n in range(1000)), _LAYOUT)
        try:
            at = pos
            while at < size:
                chunk = pread(fd, min(READ_CHUNK, size - at), at)
                if not chunk:
                    break
                write_all(out, chunk, at - pos)
                at += len(chunk)
            os.fsync(out)
        finally:
            os.close(out)
        fsync_dir(copy_path)
        os.ftruncate(fd, pos)
        os.fsync(fd)
        return pos, size - pos, copy_path
    finally:
        os.close(fd)
