"""Where flows live: the store interface, an in-memory store, and the durable file store.

A store keeps, per flow id, the latest snapshot (bytes) and the flow's journal
(a list of entry bytes, only ever appended to). The interface is small:

    get(flow_id) -> StoredFlow | None     ids() -> list      refresh()
    lock(flow_id)   (exclusive, across threads and processes)
    commit(flow_id, snapshot, new_journal_entries)   durable when it returns
    replace_all({flow_id: StoredFlow})   (import, reset)

FileStore is one append-only log, DIR/flows.log: a header, then frames of
(length, CRC32, msgpack body). Each commit appends one frame and fsyncs before
returning; concurrent committers in one process share an fsync (group commit).
Other processes' commits are picked up by `refresh()`, which reads the frames
appended since we last looked. On open, a torn last frame (a crash mid-write)
is cut off; a bad frame in the middle is an error, never skipped.
"""

import fcntl
import os
import struct
import threading
import zlib
from contextlib import contextmanager

import msgpack

from .errors import StoreFormatError

MAGIC = b"FSFLOWS\x00"
VERSION = 1
HEADER = struct.Struct(">8sH")
FRAME = struct.Struct(">II")  # body length, crc32 of body
MAX_FRAME = 64 * 1024 * 1024
LOCK_BUCKETS = 4096


class StoredFlow:
    __slots__ = ("snapshot", "journal")

    def __init__(self, snapshot, journal=None):
        self.snapshot = snapshot
        self.journal = journal if journal is not None else []


class MemoryStore:
    """Flows in memory only (FlowRuntime(store=None))."""

    durable = False

    def __init__(self):
        self.flows = {}
        self._locks = [threading.RLock() for _ in range(64)]

    def get(self, flow_id):
        return self.flows.get(flow_id)

    def ids(self):
        return list(self.flows)

    def refresh(self):
        pass

    @contextmanager
    def lock(self, flow_id):
        with self._locks[hash(flow_id) % len(self._locks)]:
            yield

    def commit(self, flow_id, snapshot, new_entries=()):
        stored = self.flows.get(flow_id)
        if stored is None:
            self.flows[flow_id] = StoredFlow(snapshot, list(new_entries))
        else:
            stored.snapshot = snapshot
            stored.journal.extend(new_entries)

    def replace_all(self, flows):
        self.flows = dict(flows)

    def close(self):
        pass


class FileStore:
    """The durable store: DIR/flows.log (see the module docstring)."""

    durable = True

    def __init__(self, directory):
        self.dir = os.fspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "flows.log")
        self.flows = {}
        self._mutex = threading.RLock()  # guards flows/offset/file handle
        self._bucket_locks = [threading.RLock() for _ in range(LOCK_BUCKETS)]
        self._lockfile = open(os.path.join(self.dir, "flows.lock"), "a+b")
        self._sync = threading.Condition()
        self._written = 0
        self._synced = 0
        self._syncing = False
        self._open_log()

    # ---------------------------------------------------------------- opening

    def _open_log(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._fd = fd
        self._ino = os.fstat(fd).st_ino
        with self._file_lock(fcntl.LOCK_EX):
            size = os.fstat(fd).st_size
            if size == 0:
                os.pwrite(fd, HEADER.pack(MAGIC, VERSION), 0)
                os.fsync(fd)
                self._fsync_dir()
            self._check_header()
            self.flows = {}
            self.offset = HEADER.size
            self._catch_up(repair=True)

    def _check_header(self):
        head = os.pread(self._fd, HEADER.size, 0)
        if len(head) < HEADER.size:
            raise StoreFormatError(f"{self.path}: truncated header (not a flowscheme store)")
        magic, version = HEADER.unpack(head)
        if magic != MAGIC:
            raise StoreFormatError(f"{self.path}: not a flowscheme flow store (bad magic)")
        if version > VERSION:
            raise StoreFormatError(
                f"{self.path}: store format version {version} is newer than this flowscheme "
                f"understands (version {VERSION}); upgrade flowscheme"
            )

    def _fsync_dir(self):
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @contextmanager
    def _file_lock(self, kind):
        fcntl.flock(self._fd, kind)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # ---------------------------------------------------------------- reading

    def _catch_up(self, repair=False):
        """Apply frames appended since self.offset (caller holds the file lock)."""
        if os.stat(self.path).st_ino != self._ino:  # another process compacted/replaced the log
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR)
            self._ino = os.fstat(self._fd).st_ino
            self._check_header()
            self.flows = {}
            self.offset = HEADER.size
        size = os.fstat(self._fd).st_size
        if size <= self.offset:
            return
        data = os.pread(self._fd, size - self.offset, self.offset)
        pos = 0
        while pos < len(data):
            start = self.offset + pos
            if len(data) - pos < FRAME.size:
                self._torn(start, size, repair, "a partial frame header")
                break
            length, crc = FRAME.unpack_from(data, pos)
            end = pos + FRAME.size + length
            if length > MAX_FRAME:
                if end >= len(data):
                    self._torn(start, size, repair, "a frame with a bad length")
                    break
                raise StoreFormatError(f"{self.path}: corrupt frame at offset {start} (bad length)")
            if end > len(data):
                self._torn(start, size, repair, "a partial frame")
                break
            body = data[pos + FRAME.size : end]
            if zlib.crc32(body) != crc:
                if end == len(data):
                    self._torn(start, size, repair, "a frame with a bad checksum")
                    break
                raise StoreFormatError(f"{self.path}: corrupt frame at offset {start} (checksum mismatch)")
            self._apply(body, start)
            pos = end
        self.offset += pos

    def _torn(self, start, size, repair, what):
        if not repair:
            # another process may still be writing it; it is not ours to cut
            return
        import warnings

        warnings.warn(
            f"{self.path}: dropped {size - start} bytes of {what} at offset {start} "
            f"(an interrupted write)",
            stacklevel=3,
        )
        os.ftruncate(self._fd, start)
        os.fsync(self._fd)

    def _apply(self, body, at):
        try:
            rec = msgpack.unpackb(body, raw=False)
            flow_id = rec["id"]
            op = rec["op"]
        except Exception as e:
            raise StoreFormatError(f"{self.path}: malformed frame at offset {at} ({e})") from None
        if op == "put":
            stored = self.flows.get(flow_id)
            if stored is None or rec.get("full"):
                self.flows[flow_id] = StoredFlow(rec["snapshot"], list(rec.get("journal", ())))
            else:
                stored.snapshot = rec["snapshot"]
                stored.journal.extend(rec.get("journal", ()))
        elif op == "reset":
            self.flows = {}
        else:
            raise StoreFormatError(f"{self.path}: unknown operation {op!r} at offset {at}")

    # ---------------------------------------------------------------- interface

    def get(self, flow_id):
        with self._mutex:
            return self.flows.get(flow_id)

    def ids(self):
        with self._mutex:
            return list(self.flows)

    def refresh(self):
        with self._mutex, self._file_lock(fcntl.LOCK_SH):
            self._catch_up()

    @contextmanager
    def lock(self, flow_id):
        """Exclusive use of one flow, across threads and processes."""
        bucket = zlib.crc32(flow_id.encode("utf-8", "surrogatepass")) % LOCK_BUCKETS
        with self._bucket_locks[bucket]:
            fcntl.lockf(self._lockfile, fcntl.LOCK_EX, 1, bucket)
            try:
                yield
            finally:
                fcntl.lockf(self._lockfile, fcntl.LOCK_UN, 1, bucket)

    def commit(self, flow_id, snapshot, new_entries=()):
        rec = {"id": flow_id, "op": "put", "snapshot": snapshot, "journal": list(new_entries)}
        self._append([rec])

    def _append(self, records):
        frames = []
        for rec in records:
            body = msgpack.packb(rec, use_bin_type=True)
            frames.append(FRAME.pack(len(body), zlib.crc32(body)) + body)
        blob = b"".join(frames)
        with self._mutex, self._file_lock(fcntl.LOCK_EX):
            self._catch_up()
            size = os.fstat(self._fd).st_size
            os.pwrite(self._fd, blob, size)
            pos = size
            for f in frames:
                self._apply(f[FRAME.size :], pos)
                pos += len(f)
            self.offset = pos
            mark = self._note_written()
        self._wait_synced(mark)

    def _note_written(self):
        with self._sync:
            self._written += 1
            return self._written

    def _wait_synced(self, mark):
        """Group commit: one fsync covers every write made before it started."""
        with self._sync:
            while self._synced < mark:
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                target = self._written
                self._sync.release()
                try:
                    os.fsync(self._fd)
                finally:
                    self._sync.acquire()
                    self._syncing = False
                self._synced = max(self._synced, target)
                self._sync.notify_all()

    def replace_all(self, flows):
        """Atomically replace every flow (write a new log, fsync, rename)."""
        tmp = self.path + ".tmp"
        with self._mutex, self._file_lock(fcntl.LOCK_EX):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                parts = [HEADER.pack(MAGIC, VERSION)]
                for flow_id, stored in flows.items():
                    body = msgpack.packb(
                        {"id": flow_id, "op": "put", "full": True, "snapshot": stored.snapshot,
                         "journal": list(stored.journal)},
                        use_bin_type=True,
                    )
                    parts.append(FRAME.pack(len(body), zlib.crc32(body)) + body)
                os.write(fd, b"".join(parts))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, self.path)
            self._fsync_dir()
            old = self._fd
            self._fd = os.open(self.path, os.O_RDWR)
            self._ino = os.fstat(self._fd).st_ino
            os.close(old)
            self.flows = {}
            self.offset = HEADER.size
            self._catch_up()

    def compact(self):
        """Rewrite the log with only each flow's latest state (same content)."""
        with self._mutex, self._file_lock(fcntl.LOCK_EX):
            self._catch_up()
            flows = dict(self.flows)
        self.replace_all(flows)

    def size_bytes(self):
        return os.fstat(self._fd).st_size

    def close(self):
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._lockfile.close()
