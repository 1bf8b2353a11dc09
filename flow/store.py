"""Where flows live: the store interface, an in-memory store, and the durable file store.

A store keeps, per flow id, the latest snapshot (bytes) and the flow's journal
(a list of entry bytes, only ever appended to). The interface is small:

    get(flow_id) -> StoredFlow | None     ids() -> list      refresh()
    lock(flow_id)   (exclusive, across threads and processes)
    commit(flow_id, snapshot, new_journal_entries)   durable when it returns
    replace_all({flow_id: StoredFlow})   (import, reset)

FileStore is one append-only log, DIR/flows.log: a header, then frames of
(length, CRC32, msgpack body). Each commit appends one frame and fsyncs before
returning; concurrent committers in one process queue up and the head of the
queue writes and fsyncs them all at once (group commit). Other processes'
commits are picked up by `refresh()`, which reads the frames appended since we
last looked (one fstat when there are none; a rewrite — import, reset,
compaction — appends a "moved" frame to the old log before renaming the new one
over it, so that shows as well). A torn last frame (a crash mid-write: an
incomplete or unchecksummed frame with no whole frame after it) is cut off with
a warning, on open or by the next writer; a bad frame followed by good ones is
a corrupt middle: an error naming its offset, never skipped or cut. A commit
too large for a frame is refused before anything is written. Flow locks are
byte-range locks on DIR/flows.lock, shared by all FileStores of a process.
"""

import fcntl
import os
import struct
import threading
import zlib
from contextlib import contextmanager

import msgpack

from .errors import StoreFormatError, UnsaveableFlow
from .packing import packb

MAGIC = b"FSFLOWS\x00"
VERSION = 1
HEADER = struct.Struct(">8sH")
FRAME = struct.Struct(">II")  # body length, crc32 of body
MAX_FRAME = 64 * 1024 * 1024
LOCK_BUCKETS = 4096


def _frame(rec):
    body = packb(rec)
    if len(body) > MAX_FRAME:
        raise UnsaveableFlow(
            f"flow {rec['id']!r}: a {len(body)}-byte commit is over the store's limit of {MAX_FRAME} bytes"
        )
    return FRAME.pack(len(body), zlib.crc32(body)) + body


def _full_records(flow_id, stored):
    """A flow's whole state as log records: the first replaces it, the next ones
    carry the rest of a journal too long for one frame."""
    chunk, size, first = [], len(stored.snapshot), True
    for entry in stored.journal:
        if chunk and size + len(entry) > MAX_FRAME // 2:
            yield {"id": flow_id, "op": "put", "full": first, "snapshot": stored.snapshot, "journal": chunk}
            chunk, size, first = [], len(stored.snapshot), False
        chunk.append(entry)
        size += len(entry) + 5
    yield {"id": flow_id, "op": "put", "full": first, "snapshot": stored.snapshot, "journal": chunk}


def _write_all(fd, data, offset):
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(f"could not write to the flow store (wrote {n} bytes)")
        view = view[n:]
        offset += n


def _next_frame(data, pos):
    """The offset of the first complete, checksummed frame at or after pos, if any."""
    last = len(data) - FRAME.size
    while pos <= last:
        length, crc = FRAME.unpack_from(data, pos)
        end = pos + FRAME.size + length
        if 0 < length <= MAX_FRAME and end <= len(data) and zlib.crc32(data[pos + FRAME.size : end]) == crc:
            return pos
        pos += 1
    return None


class _LockFile:
    """DIR/flows.lock, shared by every FileStore of this process on DIR: POSIX
    record locks belong to the process (two FileStores of one process would not
    exclude each other, and closing either's descriptor would drop both's locks),
    so one descriptor and one set of thread locks serve them all."""

    _open = {}  # (st_dev, st_ino) -> _LockFile
    _guard = threading.Lock()

    def __init__(self, key, f):
        self.key = key
        self.file = f
        self.buckets = [threading.RLock() for _ in range(LOCK_BUCKETS)]
        self.depth = [0] * LOCK_BUCKETS  # holds of each bucket by its owning thread
        self.users = 0

    @classmethod
    def acquire(cls, path):
        f = open(path, "a+b")
        st = os.fstat(f.fileno())
        key = (st.st_dev, st.st_ino)
        with cls._guard:
            shared = cls._open.get(key)
            if shared is None:
                shared = cls._open[key] = cls(key, f)
            else:
                f.close()
            shared.users += 1
            return shared

    def release(self):
        with self._guard:
            self.users -= 1
            if self.users == 0:
                del self._open[self.key]
                self.file.close()


class _Pending:
    """A commit waiting in FileStore's group-commit queue."""

    __slots__ = ("frames", "done", "error", "wake")

    def __init__(self, frames):
        self.frames = frames
        self.done = False
        self.error = None
        self.wake = threading.Lock()  # held until the commit is done or leads
        self.wake.acquire()


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
        self._locks = _LockFile.acquire(os.path.join(self.dir, "flows.lock"))
        self._queue = []  # _Pending commits, the head one leading (see _append)
        self._queue_lock = threading.Lock()
        self._fd = None
        try:
            self._open_log()
        except BaseException:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._locks.release()
            raise

    # ---------------------------------------------------------------- opening

    def _open_log(self):
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self.offset = HEADER.size
        with self._file_lock(fcntl.LOCK_EX) as size:
            if size == 0:
                os.pwrite(self._fd, HEADER.pack(MAGIC, VERSION), 0)
                os.fsync(self._fd)
                self._fsync_dir()
                size = HEADER.size
            self._check_header()
            self.flows = {}
            self.offset = HEADER.size
            self._catch_up(size, repair=True)

    def _check_header(self):
        head = os.pread(self._fd, HEADER.size, 0)
        if len(head) < HEADER.size:
            raise StoreFormatError(f"{self.path}: truncated header (not a flowscheme store)")
        magic, version = HEADER.unpack(head)
        if magic != MAGIC:
            raise StoreFormatError(f"{self.path}: not a flowscheme flow store (bad magic)")
        if version != VERSION:
            raise StoreFormatError(
                f"{self.path}: store format version {version} is not supported (this flowscheme "
                f"reads version {VERSION})"
            )

    def _fsync_dir(self):
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @contextmanager
    def _file_lock(self, kind):
        """flock the log, yielding its size; if another process replaced it
        meanwhile, lock the new one and read it from the start."""
        replaced = False
        while True:
            fcntl.flock(self._fd, kind)
            st = os.fstat(self._fd)
            if os.stat(self.path).st_ino == st.st_ino:
                break
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_RDWR)
            self.flows = {}
            self.offset = HEADER.size
            replaced = True
        try:
            if replaced:
                self._check_header()
            yield st.st_size
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # ---------------------------------------------------------------- reading

    def _catch_up(self, size, repair=False):
        """Apply frames appended since self.offset, up to `size` (the log's size:
        the caller holds the file lock). Returns the log's size after (a repair
        cuts a torn tail off)."""
        if size <= self.offset:
            return size
        data = os.pread(self._fd, size - self.offset, self.offset)
        pos = 0
        while pos < len(data):
            start = self.offset + pos
            problem = None
            if len(data) - pos < FRAME.size:
                problem = "a partial frame header"
            else:
                length, crc = FRAME.unpack_from(data, pos)
                end = pos + FRAME.size + length
                if length == 0 or length > MAX_FRAME:
                    problem = "a frame with a bad length"
                elif end > len(data):
                    problem = "a partial frame"
                elif zlib.crc32(data[pos + FRAME.size : end]) != crc:
                    problem = "a frame with a bad checksum"
            if problem is not None:
                # an interrupted append leaves one incomplete frame and nothing
                # after it; a whole frame after the bad one means a corrupt middle
                after = _next_frame(data, pos + 1)
                if after is not None:
                    raise StoreFormatError(
                        f"{self.path}: corrupt frame at offset {start} ({problem[2:]}; "
                        f"{len(data) - after} bytes of frames follow it)"
                    )
                self._torn(start, size, repair, problem)
                if repair:
                    size = start
                break
            self._apply(data[pos + FRAME.size : end], start)
            pos = end
        self.offset += pos
        return size

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
        elif op == "moved":
            pass  # the log is replaced after this frame (see refresh); a no-op here
        else:
            raise StoreFormatError(f"{self.path}: unknown operation {op!r} at offset {at}")

    # ---------------------------------------------------------------- interface

    def get(self, flow_id):
        # no lock: one dict lookup is atomic, and a commit in progress (which holds
        # _mutex across its system calls) must not hold up readers of other flows
        return self.flows.get(flow_id)

    def ids(self):
        with self._mutex:
            return list(self.flows)

    def refresh(self):
        try:
            st = os.fstat(self._fd)
            if st.st_size == self.offset and st.st_nlink:
                # nothing appended since we looked (no lock needed: a commit of ours
                # in progress has grown the file, so it looks properly); a rewrite
                # appends a "moved" frame to the old log before replacing it
                return
        except (OSError, TypeError):  # closed or reopened under us: look properly
            pass
        with self._mutex, self._file_lock(fcntl.LOCK_SH) as size:
            self._catch_up(size)

    @contextmanager
    def lock(self, flow_id):
        """Exclusive use of one flow, across threads and processes. Re-entrant in
        a thread: only the outermost hold takes and drops the process's record
        lock (dropping it on an inner exit would let another process in)."""
        bucket = zlib.crc32(flow_id.encode("utf-8", "surrogatepass")) % LOCK_BUCKETS
        locks = self._locks
        with locks.buckets[bucket]:
            outermost = locks.depth[bucket] == 0
            if outermost:
                fcntl.lockf(locks.file, fcntl.LOCK_EX, 1, bucket)
            locks.depth[bucket] += 1
            try:
                yield
            finally:
                locks.depth[bucket] -= 1
                if outermost:
                    fcntl.lockf(locks.file, fcntl.LOCK_UN, 1, bucket)

    def commit(self, flow_id, snapshot, new_entries=()):
        rec = {"id": flow_id, "op": "put", "snapshot": snapshot, "journal": list(new_entries)}
        self._append([rec])

    def _append(self, records):
        """Append records durably. Group commit: concurrent appenders queue up;
        the one at the head writes every queued frame in one write, fsyncs once,
        wakes the others and hands the lead to the next in the queue."""
        pending = _Pending([_frame(rec) for rec in records])
        with self._queue_lock:
            self._queue.append(pending)
            leads = self._queue[0] is pending
        if not leads:
            pending.wake.acquire()  # until a leader committed it, or made it the leader
        if pending.done:
            if pending.error is not None:
                raise pending.error
            return
        with self._queue_lock:
            batch = list(self._queue)
        try:
            self._write_synced([f for p in batch for f in p.frames])
        except BaseException as e:
            for p in batch:
                p.error = e
            raise
        finally:
            with self._queue_lock:
                del self._queue[: len(batch)]
                successor = self._queue[0] if self._queue else None
            for p in batch[1:]:
                p.done = True
                p.wake.release()
            if successor is not None:
                successor.wake.release()

    def _write_synced(self, frames):
        with self._mutex, self._file_lock(fcntl.LOCK_EX) as size:
            # we hold the log exclusively: an incomplete frame at its end is a
            # crashed writer's, to cut off before appending after it
            size = self._catch_up(size, repair=True)
            try:
                _write_all(self._fd, b"".join(frames), size)
            except BaseException:
                os.ftruncate(self._fd, size)  # e.g. a full disk: leave no partial frame behind
                raise
            pos = size
            for f in frames:
                self._apply(f[FRAME.size :], pos)
                pos += len(f)
            self.offset = pos
        os.fsync(self._fd)

    def replace_all(self, flows):
        """Atomically replace every flow (write a new log, fsync, rename)."""
        self._rewrite(lambda: flows)

    def compact(self):
        """Rewrite the log with only each flow's latest state (same content)."""
        self._rewrite(lambda: dict(self.flows))  # read under the same lock as the rewrite

    def _rewrite(self, get_flows):
        tmp = self.path + ".tmp"
        with self._mutex, self._file_lock(fcntl.LOCK_EX) as size:
            self._catch_up(size, repair=True)
            flows = get_flows()
            parts = [HEADER.pack(MAGIC, VERSION)]
            for flow_id, stored in flows.items():
                parts.extend(_frame(rec) for rec in _full_records(flow_id, stored))
            blob = b"".join(parts)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, blob, 0)
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                os.remove(tmp)
                raise
            os.close(fd)
            new = os.open(tmp, os.O_RDWR)
            fcntl.flock(new, fcntl.LOCK_EX)  # held until _file_lock's unlock below
            # grow the old log, so that other processes' refresh() looks properly
            _write_all(self._fd, _frame({"id": "", "op": "moved"}), self.offset)
            os.rename(tmp, self.path)
            self._fsync_dir()
            old = self._fd
            self._fd = new
            os.close(old)
            self.flows = {}
            self.offset = HEADER.size
            self._catch_up(len(blob))

    def size_bytes(self):
        return os.fstat(self._fd).st_size

    def close(self):
        if self._fd is None:
            return
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._fd = None
        self._locks.release()
