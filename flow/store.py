"""Where flows live: the store interface, an in-memory store, and the durable file store.

A store keeps, per flow id, the latest snapshot (bytes) and the flow's journal
(a list of entry bytes, only ever appended to). The interface is small:

    get(flow_id) -> StoredFlow | None     ids() -> list      refresh()
    lock(flow_id)   (exclusive, across threads and processes)
    commit(flow_id, snapshot, new_journal_entries)   durable when it returns (else it raises, nothing done)
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

Durable or nothing: a batch is written and fsync'd under the log's exclusive
lock and only then applied to memory. When the write or the fsync fails (a full
disk, an I/O error) the log is cut back to where the batch began — the kernel
may have dropped the pages a failed fsync did not write, so nothing after that
point is trusted — and every commit of the batch raises StoreWriteError; memory
never saw the batch, so a retry writes it again. Files: directories the store
creates are 0700 and its files 0600 (whatever the umask); flows.log and
flows.lock are opened without following a symbolic link (one there is refused,
StorePathError); a rewrite writes a new temporary file with an unpredictable
name, created exclusively, and renames it over the log.
"""

import errno
import fcntl
import heapq
import os
import re
import secrets
import stat
import struct
import threading
import time
import zlib
from contextlib import contextmanager

import msgpack

from .errors import FlowError, StoreFormatError, StorePathError, StoreWriteError, UnsaveableFlow
from .packing import packb

MAGIC = b"FSFLOWS\x00"
VERSION = 1
HEADER = struct.Struct(">8sH")
FRAME = struct.Struct(">II")  # body length, crc32 of body
MAX_FRAME = 64 * 1024 * 1024
DIR_MODE = 0o700  # directories the store creates
FILE_MODE = 0o600  # files the store creates
_OPEN = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
_TEMP_NAME = re.compile(r"flows\.log\.[0-9a-f]{16}\.tmp\Z")  # see FileStore._temp_file


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


def _make_dir(path):
    """Make sure directory `path` exists, creating it (and missing parents) with
    mode 0700 whatever the umask; an existing directory is used as it is."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        parent = os.path.dirname(os.path.abspath(path))
        if parent != os.path.abspath(path):
            _make_dir(parent)
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:  # made meanwhile (by another process, say), or a dangling link
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise StorePathError(f"{path} is a symbolic link to nothing, not a directory") from None
        else:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.fchmod(fd, DIR_MODE)  # mkdir's mode is cut by the umask
            finally:
                os.close(fd)
            return
    if not stat.S_ISDIR(st.st_mode):
        raise StorePathError(f"{path} is a file, not a directory (a flow store is a directory)")


def _open_data_file(path, create=True):
    """A read-write descriptor of the regular file `path`, never through a symbolic
    link; created with mode 0600 (whatever the umask) when missing and `create`."""
    while True:
        try:
            if not create:
                fd = os.open(path, _OPEN)
                break
            try:
                fd = os.open(path, _OPEN | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                try:
                    fd = os.open(path, _OPEN)
                except FileNotFoundError:
                    continue  # removed in between: create it after all
                break
            try:
                os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is cut by the umask
            except BaseException:
                os.close(fd)
                raise
            break
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise StorePathError(
                    f"{path} is a symbolic link: refusing to follow it (a flow store's files "
                    f"must be regular files in its directory)"
                ) from None
            if e.errno == errno.EISDIR:
                raise StorePathError(f"{path} is a directory, not a flow store file") from None
            raise
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise StorePathError(f"{path} is not a regular file (a flow store's files must be)")
    return fd


class _LockFile:
    """DIR/flows.lock, shared by every FileStore of this process on DIR: POSIX
    record locks belong to the process (two FileStores of one process would not
    exclude each other, and closing either's descriptor would drop both's locks),
    so one descriptor and one set of thread locks serve them all."""

    _open = {}  # (st_dev, st_ino) -> _LockFile
    _guard = threading.Lock()

    def __init__(self, key, fd):
        self.key = key
        self.fd = fd
        self.spare = []  # more descriptors of the file, closed only with fd (see acquire)
        self.threads = FlowLocks()  # one per flow: a long step blocks no other flow
        self.users = 0
        self.bytes = {}  # byte -> [users, holds, Lock]: this process's record locks in use
        self.bytes_guard = threading.Lock()

    @contextmanager
    def record_lock(self, byte):
        """The process's record lock on `byte` while any of its threads holds a flow
        on it: ids whose crc32 collide share a byte, and one thread letting go of
        its flow must not drop the lock another thread holds for the other."""
        with self.bytes_guard:
            entry = self.bytes.get(byte)
            if entry is None:
                entry = self.bytes[byte] = [0, 0, threading.Lock()]
            entry[0] += 1
        try:
            with entry[2]:
                if entry[1] == 0:
                    _lock_byte(self.fd, byte)
                entry[1] += 1
            try:
                yield
            finally:
                with entry[2]:
                    entry[1] -= 1
                    if entry[1] == 0:
                        fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, byte)
        finally:
            with self.bytes_guard:
                entry[0] -= 1
                if entry[0] == 0:
                    del self.bytes[byte]

    @classmethod
    def acquire(cls, path):
        with cls._guard:
            # closing any descriptor of the file would drop every record lock this
            # process holds on it: find an open one without opening the file again
            try:
                st = os.lstat(path)
                shared = cls._open.get((st.st_dev, st.st_ino)) if stat.S_ISREG(st.st_mode) else None
            except FileNotFoundError:
                shared = None
            if shared is None:
                fd = _open_data_file(path)
                st = os.fstat(fd)
                key = (st.st_dev, st.st_ino)
                shared = cls._open.get(key)
                if shared is None:
                    shared = cls._open[key] = cls(key, fd)
                else:  # replaced by the same file between the lstat and the open
                    shared.spare.append(fd)
            shared.users += 1
            return shared

    def release(self):
        with self._guard:
            self.users -= 1
            if self.users == 0:
                del self._open[self.key]
                for fd in [self.fd, *self.spare]:
                    os.close(fd)


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


class FlowIndex:
    """What the worker looks flows up by, kept beside a store's flows: the
    wake-up time of each flow that has one (a timer, a deadline, a retry), in
    time order, and the request kind each suspended flow waits on.

    An entry is (kind, wake): kind a str or None, wake epoch seconds or None.
    `due(now)` costs O(k log n) for the k due flows, whatever n is."""

    def __init__(self):
        self.wake = {}  # flow id -> wake time
        self._heap = []  # (wake, flow id), with stale entries skipped lazily
        self.kinds = {}  # kind -> set of flow ids waiting on it
        self._kind_of = {}

    def clear(self):
        self.__init__()

    def set(self, flow_id, entry):
        kind, wake = entry if entry is not None else (None, None)
        old = self._kind_of.get(flow_id)
        if old != kind:
            if old is not None:
                ids = self.kinds[old]
                ids.discard(flow_id)
                if not ids:
                    del self.kinds[old]
                del self._kind_of[flow_id]
            if kind is not None:
                self.kinds.setdefault(kind, set()).add(flow_id)
                self._kind_of[flow_id] = kind
        if wake is None:
            self.wake.pop(flow_id, None)
        elif self.wake.get(flow_id) != wake:
            self.wake[flow_id] = wake
            heapq.heappush(self._heap, (wake, flow_id))
            if len(self._heap) > 2 * len(self.wake) + 1024:
                self._heap = [(t, i) for i, t in self.wake.items()]
                heapq.heapify(self._heap)

    def due(self, now, limit=None):
        """[(wake, flow id)] of the flows whose wake time is <= now, earliest first."""
        heap, out, seen = self._heap, [], set()
        popped = []
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            t, flow_id = heapq.heappop(heap)
            if self.wake.get(flow_id) == t and flow_id not in seen:
                seen.add(flow_id)
                out.append((t, flow_id))
                popped.append((t, flow_id))
        for item in popped:
            heapq.heappush(heap, item)
        return out

    def next_wake(self):
        """The earliest wake time, or None."""
        heap = self._heap
        while heap and self.wake.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def waiting_on(self, kind):
        return sorted(self.kinds.get(kind, ()))


class IndexedFlows:
    """The index half of a store (see FlowIndex): `index_of(snapshot) -> entry`,
    given by the runtime, reads an entry from a snapshot where a commit did not
    carry one (a replaced store, an older log)."""

    def _init_index(self, index_of):
        self.index = FlowIndex()
        self.index_of = index_of

    def _entry(self, snapshot, entry):
        if entry is not None:
            return tuple(entry)
        return self.index_of(snapshot) if self.index_of is not None else None

    def due(self, now, limit=None):
        """[(wake, flow id)] of the flows due at `now`, earliest first."""
        self.refresh()
        return self.index.due(now, limit)

    def next_wake(self):
        self.refresh()
        return self.index.next_wake()

    def waiting_on(self, kind):
        """Ids of the suspended flows waiting on request kind `kind`."""
        self.refresh()
        return self.index.waiting_on(kind)


def _lock_byte(fd, byte, patience=60.0):
    """Take the record lock on one byte, waiting. Record locks belong to the
    process, so the kernel's deadlock check sees a cycle where two processes'
    threads merely wait on each other's other flows (EDEADLK, though each thread
    waits for one flow only): that is waited out too, up to `patience` seconds
    (a true cycle — a flow step taking another flow's lock — then fails)."""
    deadline = None
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, byte)
            return
        except OSError as e:
            if e.errno != errno.EDEADLK:
                raise
            now = time.monotonic()
            deadline = deadline or now + patience
            if now > deadline:
                raise
            time.sleep(0.002)


def lock_byte(flow_id):
    """The byte of flows.lock whose record lock stands for flow_id across processes."""
    return zlib.crc32(flow_id.encode("utf-8", "surrogatepass"))


def open_store(where, index_of=None):
    """The store for `where`: None (in memory), a directory path (the durable
    file store), or a store object (returned as it is). index_of: see IndexedFlows."""
    if where is None:
        return MemoryStore(index_of)
    if isinstance(where, (str, bytes, os.PathLike)):
        return FileStore(where, index_of)
    if all(hasattr(where, m) for m in ("get", "ids", "refresh", "lock", "commit", "replace_all", "close")):
        return where
    raise TypeError(f"a flow store is None, a directory path or a store object, not {type(where).__name__}")


class FlowLocks:
    """One re-entrant lock per flow id, made while it is held or waited for."""

    def __init__(self):
        self._locks = {}  # flow id -> [RLock, users, depth]
        self._mutex = threading.Lock()

    @contextmanager
    def hold(self, flow_id):
        """Hold flow_id's lock; yields how many holds this thread now has (1: outermost)."""
        with self._mutex:
            entry = self._locks.get(flow_id)
            if entry is None:
                entry = self._locks[flow_id] = [threading.RLock(), 0, 0]
            entry[1] += 1
        try:
            with entry[0]:
                entry[2] += 1
                try:
                    yield entry[2]
                finally:
                    entry[2] -= 1
        finally:
            with self._mutex:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[flow_id]


class MemoryStore(IndexedFlows):
    """Flows in memory only (FlowRuntime(store=None))."""

    durable = False

    def __init__(self, index_of=None):
        self.flows = {}
        self._locks = FlowLocks()
        self._init_index(index_of)

    def get(self, flow_id):
        return self.flows.get(flow_id)

    def ids(self):
        return list(self.flows)

    def refresh(self):
        pass

    def lock(self, flow_id):
        return self._locks.hold(flow_id)

    def commit(self, flow_id, snapshot, new_entries=(), index=None):
        """index: the flow's FlowIndex entry (kind, wake), else read from snapshot."""
        stored = self.flows.get(flow_id)
        if stored is None:
            self.flows[flow_id] = StoredFlow(snapshot, list(new_entries))
        else:
            stored.snapshot = snapshot
            stored.journal.extend(new_entries)
        self.index.set(flow_id, self._entry(snapshot, index))

    def replace_all(self, flows):
        self.flows = dict(flows)
        self.index.clear()
        for flow_id, stored in self.flows.items():
            self.index.set(flow_id, self._entry(stored.snapshot, None))

    def close(self):
        pass


class FileStore(IndexedFlows):
    """The durable store: DIR/flows.log (see the module docstring)."""

    durable = True

    def __init__(self, directory, index_of=None):
        self.dir = os.fsdecode(os.fspath(directory))
        if not self.dir:
            raise StorePathError("a flow store needs a directory path, not an empty one")
        _make_dir(self.dir)
        self.path = os.path.join(self.dir, "flows.log")
        self.flows = {}
        self._init_index(index_of)
        self.offset = HEADER.size
        self._mutex = threading.RLock()  # guards flows/offset/file handle
        self._queue = []  # _Pending commits, the head one leading (see _append)
        self._queue_lock = threading.Lock()
        self._fd = None
        self._cut_to = None  # (start, size): a failed write's bytes still to cut off (_cut_back)
        self._in_flight = None  # the log's size with our frames written, while they are fsync'd
        self._closed = False
        self._locks = _LockFile.acquire(os.path.join(self.dir, "flows.lock"))
        try:
            self._open_log()
        except BaseException:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._locks.release()
            raise

    # ---------------------------------------------------------------- opening

    def _open_log(self):
        self._fd = _open_data_file(self.path)
        self.offset = HEADER.size
        with self._file_lock(fcntl.LOCK_EX) as size:
            if size == 0:
                self._write_header()
                size = HEADER.size
            self._check_header()
            self._clear()
            self._catch_up(size, repair=True)
            self._remove_stale_temp_files()

    def _write_header(self):
        try:
            _write_all(self._fd, HEADER.pack(MAGIC, VERSION), 0)
            os.fsync(self._fd)
            self._fsync_dir()
        except OSError as e:
            _truncate_quietly(self._fd, 0)  # an empty log is a new store; a partial header is not
            raise StoreWriteError(self.path, e, "creating the store") from e

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

    def _remove_stale_temp_files(self):
        """Remove what rewrites killed half way left behind. Call holding the log
        exclusively: a rewrite in progress holds it, so none is."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for name in names:
            if _TEMP_NAME.match(name):
                _remove_quietly(os.path.join(self.dir, name))  # a symbolic link itself, never its target

    def _fsync_dir(self):
        dfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @contextmanager
    def _file_lock(self, kind):
        """flock the log, yielding its size; if another process replaced it
        meanwhile, lock the new one and read it from the start. First cuts off
        what a failed write of ours left, if cutting it failed then (_cut_back)."""
        if self._cut_to is not None:
            kind = fcntl.LOCK_EX
        replaced = False
        while True:
            fcntl.flock(self._fd, kind)
            try:
                if self._cut_to is not None:
                    self._retry_cut()
                st = os.fstat(self._fd)
                try:
                    now = os.lstat(self.path)
                except FileNotFoundError:
                    raise StorePathError(f"{self.path} was removed while the store was open") from None
            except BaseException:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                raise
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                break
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            new = _open_data_file(self.path, create=False)  # never through a symbolic link
            os.close(self._fd)
            self._fd = new
            self._clear()
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

        try:
            os.ftruncate(self._fd, start)
            os.fsync(self._fd)
        except OSError as e:
            raise StoreWriteError(self.path, e, f"cutting off an interrupted write at offset {start}") from e
        warnings.warn(
            f"{self.path}: dropped {size - start} bytes of {what} at offset {start} "
            f"(an interrupted write)",
            stacklevel=3,
        )

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
            self.index.set(flow_id, self._entry(rec["snapshot"], rec.get("ix")))
        elif op == "reset":
            self._clear(offset=False)
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
            if st.st_size in (self.offset, self._in_flight) and st.st_nlink and self._cut_to is None:
                # nothing appended since we looked, but for a commit of ours being
                # fsync'd (it holds the log exclusively, so nobody else appends; it
                # is not committed yet, so not to be seen; and not waiting for it lets
                # this thread's own commit join the next group). No lock needed. A
                # rewrite appends a "moved" frame to the old log before replacing it
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
        locks = self._locks
        with locks.threads.hold(flow_id) as depth:
            if depth == 1:
                with locks.record_lock(lock_byte(flow_id)):
                    yield
            else:
                yield

    def _clear(self, offset=True):
        """Forget every flow (before reading the log from its start)."""
        self.flows = {}
        self.index.clear()
        if offset:
            self.offset = HEADER.size

    def commit(self, flow_id, snapshot, new_entries=(), index=None):
        """index: the flow's FlowIndex entry (kind, wake), kept in the log record
        (else read from the snapshot when the log is read)."""
        rec = {"id": flow_id, "op": "put", "snapshot": snapshot, "journal": list(new_entries)}
        if index is not None:
            rec["ix"] = list(index)
        self._append([rec])

    def _append(self, records):
        """Append records durably. Group commit: concurrent appenders queue up;
        the one at the head writes every queued frame in one write, fsyncs once,
        wakes the others and hands the lead to the next in the queue. When that
        write or fsync fails, every commit of the batch raises StoreWriteError."""
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
        except StoreWriteError as e:
            for p in batch[1:]:  # each its own error (raised in its own thread)
                p.error = StoreWriteError(e.path, e.os_error, e.doing, str(e))
                p.error.__cause__ = e.__cause__
            raise
        except Exception as e:  # e.g. a corrupt middle found catching up: the store's state
            for p in batch[1:]:
                p.error = e
            raise
        except BaseException as e:  # interrupted in the leading thread
            for p in batch[1:]:
                p.error = FlowError(
                    f"{self.path}: the group commit this commit was part of was interrupted "
                    f"({type(e).__name__}); the store shows whether it was committed"
                )
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
        """Write frames at the log's end and fsync them, holding the log exclusively
        (no other process reads them before they are durable, nor writes after
        them before they are), then apply them to memory. A failed write or fsync
        cuts the log back and applies nothing."""
        with self._mutex, self._file_lock(fcntl.LOCK_EX) as size:
            # we hold the log exclusively: an incomplete frame at its end is a
            # crashed writer's, to cut off before appending after it
            size = self._catch_up(size, repair=True)
            data = b"".join(frames)
            try:
                _write_all(self._fd, data, size)
                self._in_flight = size + len(data)  # (see refresh)
                os.fsync(self._fd)
            except BaseException as e:
                # e.g. a full disk, or an I/O error: after a failed fsync the kernel
                # may have dropped the unwritten pages, so what the log holds past
                # `size` is not to be trusted; a retry writes it all again
                self._in_flight = None
                self._cut_back(size, size + len(data))
                if isinstance(e, OSError):
                    raise StoreWriteError(self.path, e) from e
                raise
            try:
                pos = size
                for f in frames:
                    self._apply(f[FRAME.size :], pos)
                    pos += len(f)
                self.offset = pos
            finally:
                self._in_flight = None

    def _cut_back(self, start, end):
        """Cut the log back to `start` after a failed write (which may have left up
        to `end`). If even the cut fails, it is tried again before the log is
        next read or written (_file_lock)."""
        try:
            os.ftruncate(self._fd, start)
        except OSError:
            try:
                end = os.fstat(self._fd).st_size
            except OSError:
                pass
            self._cut_to = (start, end)
            return
        self._cut_to = None
        try:
            os.fsync(self._fd)
        except OSError:
            pass  # the cut is what every reader sees; the next commit's fsync makes it durable

    def _retry_cut(self):
        """The cut a failed write still owes (the log held exclusively)."""
        start, end = self._cut_to
        try:
            size = os.fstat(self._fd).st_size
            if size == end:
                os.ftruncate(self._fd, start)
            # else another process wrote (or cut) after those bytes meanwhile: they
            # are its to judge now, and cutting would lose its commits
        except OSError as e:
            raise StoreWriteError(self.path, e, "cutting back a failed commit") from e
        self._cut_to = None
        try:
            os.fsync(self._fd)
        except OSError:
            pass

    def replace_all(self, flows):
        """Atomically replace every flow (write a new log, fsync, rename)."""
        self._rewrite(lambda: flows, "replacing every flow")

    def compact(self):
        """Rewrite the log with only each flow's latest state (same content)."""
        self._rewrite(lambda: dict(self.flows), "compacting the log")  # read under the rewrite's lock

    def _temp_file(self):
        """A new file for a rewrite, in the store's directory: an unpredictable name,
        created exclusively (never an existing file, never through a link), 0600."""
        for _ in range(100):
            tmp = os.path.join(self.dir, f"flows.log.{secrets.token_hex(8)}.tmp")
            try:
                fd = os.open(tmp, _OPEN | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                continue
            try:
                os.fchmod(fd, FILE_MODE)
            except BaseException:
                os.close(fd)
                _remove_quietly(tmp)
                raise
            return fd, tmp
        raise FileExistsError(errno.EEXIST, "no unused temporary file name", self.dir)

    def _rewrite(self, get_flows, doing):
        with self._mutex, self._file_lock(fcntl.LOCK_EX) as size:
            self._catch_up(size, repair=True)
            flows = get_flows()
            parts = [HEADER.pack(MAGIC, VERSION)]
            for flow_id, stored in flows.items():
                parts.extend(_frame(rec) for rec in _full_records(flow_id, stored))
            blob = b"".join(parts)
            try:
                new, tmp = self._temp_file()
            except OSError as e:
                raise StoreWriteError(self.path, e, doing) from e
            moved_at = None
            try:
                _write_all(new, blob, 0)
                os.fsync(new)
                fcntl.flock(new, fcntl.LOCK_EX)  # held until _file_lock's unlock below
                # grow the old log, so that other processes' refresh() looks properly
                moved_at = self.offset
                _write_all(self._fd, _frame({"id": "", "op": "moved"}), moved_at)
                os.rename(tmp, self.path)  # replaces the name itself, whatever it is
            except BaseException as e:
                os.close(new)
                _remove_quietly(tmp)
                if moved_at is not None:
                    _truncate_quietly(self._fd, moved_at)
                if isinstance(e, OSError):
                    raise StoreWriteError(self.path, e, doing) from e
                raise
            old = self._fd
            self._fd = new
            os.close(old)
            self._clear()
            self._catch_up(len(blob))
            try:
                self._fsync_dir()
            except OSError as e:
                raise StoreWriteError(
                    self.path, e, doing,
                    f"{self.path}: {doing}: the new log is in place, but syncing its directory "
                    f"failed ({e}), so a crash may yet bring back the old one",
                ) from e

    def size_bytes(self):
        return os.fstat(self._fd).st_size

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            os.close(self._fd)
        except (OSError, TypeError):
            pass
        self._fd = None
        self._locks.release()


def _truncate_quietly(fd, size):
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass


def _remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
