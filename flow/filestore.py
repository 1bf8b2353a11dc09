"""The durable flow store: DIR/flows.log, an append-only log (flow.applog) of flow commits.

The log is a header (b"FSFLOWS\\0", u16 version), then frames of (u32 length,
u32 CRC32, msgpack body); a body is one record {id, op, ...}: "put" (a flow's
new full snapshot, which becomes its base and drops its pieces, the journal
entries it adds, its index entry "ix"; "full" replaces the flow, journal too),
"piece" (a piece of a flow the log already holds, kept after its base and
pieces, with its commit's journal entries and "ix": an op of its own, so that a
flowscheme from before pieces refuses the log, "unknown operation", instead of
taking a piece for a snapshot), "reset" (forget every flow) or "moved" (the log
is being replaced by a rewrite: import, reset, compaction, which write each
flow as one full snapshot, its pieces assembled). Each commit appends one frame and fsyncs
before returning, threads of a process sharing one fsync (group commit); other
processes' commits are picked up by `refresh()` (one fstat when there are
none). Torn tails, corrupt middles, failed writes, symbolic links and modes are
the engine's (flow.applog): a torn last frame (anything with no whole frame
after it) is cut off with a warning, on open or by the next writer; a bad frame
followed by good ones is an error naming its offset; a failed write or fsync
commits nothing (StoreWriteError, and memory never saw it). A commit too large
for a frame is refused before anything is written. Flow locks are byte-range
locks on DIR/flows.lock, shared by all FileStores of a process. Directories the
store creates are 0700 and its files 0600 (whatever the umask).
"""

import errno
import fcntl
import os
import stat
import struct
import threading
import time
import warnings
import zlib
from contextlib import contextmanager

import msgpack

from .applog import AppendLog, Damage, open_file
from .errors import FlowError, StoreFormatError, StorePathError, StoreWriteError, UnsaveableFlow
from .packing import packb
from .store import FlowLocks, IndexedFlows, StoredFlow, lock_byte, piece_of_unknown_flow

MAGIC = b"FSFLOWS\x00"
VERSION = 1
HEADER = struct.Struct(">8sH")
FRAME = struct.Struct(">II")  # body length, crc32 of body
MAX_FRAME = 64 * 1024 * 1024
DIR_MODE = 0o700  # directories the store creates
FILE_MODE = 0o600  # files the store creates


class _Layout:
    """flows.log's header and frames, for flow.applog."""

    name, what = "store", "flow store file"
    header_size = HEADER.size
    magic = b""  # frames have none: a resync tries every byte
    strict_tail = False  # any bad frame with no whole frame after it is torn
    error, path_error, write_error = FlowError, StorePathError, StoreWriteError

    @property
    def max_frame(self):
        return FRAME.size + MAX_FRAME

    def encode_header(self):
        return HEADER.pack(MAGIC, VERSION)

    def check_header(self, head, path):
        if not head:
            return False  # a new store
        if len(head) < HEADER.size:
            raise StoreFormatError(f"{path}: truncated header (not a flowscheme store)")
        magic, version = HEADER.unpack(head)
        if magic != MAGIC:
            raise StoreFormatError(f"{path}: not a flowscheme flow store (bad magic)")
        if version != VERSION:
            raise StoreFormatError(f"{path}: store format version {version} is not supported (this "
                                   f"flowscheme reads version {VERSION})")
        return True

    def frame(self, body):
        return FRAME.pack(len(body), zlib.crc32(body)) + body

    def frame_at(self, reader, offset):
        head = reader.read(offset, FRAME.size)
        if len(head) < FRAME.size:
            return Damage(offset, "a partial frame header", runs_past_end=True)
        length, crc = FRAME.unpack(head)
        if length == 0 or length > MAX_FRAME:
            return Damage(offset, "a frame with a bad length")
        body = reader.read(offset + FRAME.size, length)
        if len(body) < length:
            return Damage(offset, "a partial frame", runs_past_end=True)
        if zlib.crc32(body) != crc:
            return Damage(offset, "a frame with a bad checksum")
        return body, offset + FRAME.size + length

    def corrupt(self, path, damage, detail):
        return StoreFormatError(f"{path}: corrupt frame at offset {damage.offset} ({detail})")


LAYOUT = _Layout()


def _body(rec):
    body = packb(rec)
    if len(body) > MAX_FRAME:
        raise UnsaveableFlow(
            f"flow {rec['id']!r}: a {len(body)}-byte commit is over the store's limit of {MAX_FRAME} bytes"
        )
    return body


_MOVED = packb({"id": "", "op": "moved"})


def _full_records(flow_id, stored):
    """A flow's whole state as log records: the first replaces it, the next ones
    carry the rest of a journal too long for one frame. Its snapshot is the
    whole one (pieces assembled): a rewrite drops the pieces."""
    snapshot = stored.snapshot
    chunk, size, first = [], len(snapshot), True
    for entry in stored.journal:
        if chunk and size + len(entry) > MAX_FRAME // 2:
            yield {"id": flow_id, "op": "put", "full": first, "snapshot": snapshot, "journal": chunk}
            chunk, size, first = [], len(snapshot), False
        chunk.append(entry)
        size += len(entry) + 5
    yield {"id": flow_id, "op": "put", "full": first, "snapshot": snapshot, "journal": chunk}



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
    def record_lock(self, byte, blocking=True):
        """The process's record lock on `byte` while any of its threads holds a flow
        on it: ids whose crc32 collide share a byte, and one thread letting go of
        its flow must not drop the lock another thread holds for the other.
        Yields True; or, not blocking, False at once when another process has it."""
        with self.bytes_guard:
            entry = self.bytes.get(byte)
            if entry is None:
                entry = self.bytes[byte] = [0, 0, threading.Lock()]
            entry[0] += 1
        try:
            with entry[2]:
                if entry[1] == 0:
                    if blocking:
                        _lock_byte(self.fd, byte)
                    elif not _try_lock_byte(self.fd, byte):
                        yield False
                        return
                entry[1] += 1
            try:
                yield True
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
                fd = open_file(path, LAYOUT, create_mode=FILE_MODE)
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



def _try_lock_byte(fd, byte):
    """Take the record lock on one byte if no other process has it; False if one does."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, byte)
        return True
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise


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



class FileStore(IndexedFlows):
    """The durable store: DIR/flows.log (see the module docstring)."""

    durable = True
    takes_pieces = True

    def __init__(self, directory, index_of=None):
        self.dir = os.fsdecode(os.fspath(directory))
        if not self.dir:
            raise StorePathError("a flow store needs a directory path, not an empty one")
        _make_dir(self.dir)
        self.path = os.path.join(self.dir, "flows.log")
        self.flows = {}
        self._init_index(index_of)
        self._closed = True
        self._locks = _LockFile.acquire(os.path.join(self.dir, "flows.lock"))
        try:
            self._log = AppendLog(self.path, LAYOUT, self._apply, self._torn, FILE_MODE,
                                  replaceable=True, on_reset=self._clear)
        except BaseException:
            self._locks.release()
            raise
        self._closed = False

    def _torn(self, offset, size, reason, why):
        warnings.warn(f"{self.path}: dropped {size} bytes of {reason} at offset {offset} (an interrupted write)",
                      stacklevel=4)

    def _apply(self, at, body):
        try:
            rec = msgpack.unpackb(body, raw=False)
            flow_id = rec["id"]
            op = rec["op"]
        except Exception as e:
            raise StoreFormatError(f"{self.path}: malformed frame at offset {at} ({e})") from None
        # each commit publishes a new StoredFlow (see StoredFlow): a reader without the
        # flow's lock never sees a base and pieces of two different commits
        if op == "put":
            stored = self.flows.get(flow_id)
            if stored is None or rec.get("full"):
                self.flows[flow_id] = StoredFlow(rec["snapshot"], list(rec.get("journal", ())))
            else:
                journal = stored.journal
                journal.extend(rec.get("journal", ()))
                self.flows[flow_id] = StoredFlow(rec["snapshot"], journal)
            self.index.set(flow_id, self._entry(rec["snapshot"], rec.get("ix")))
        elif op == "piece":
            stored = self.flows.get(flow_id)
            if stored is None:  # a writer checks, holding the log: so only a damaged log has this
                raise StoreFormatError(f"{self.path}: a piece of flow {flow_id!r} at offset {at}, but the log "
                                       f"holds no snapshot of that flow before it")
            journal = stored.journal
            journal.extend(rec.get("journal", ()))
            self.flows[flow_id] = StoredFlow(stored.base, journal, [*stored.pieces, rec["piece"]])
            self.index.set(flow_id, self._entry(rec["piece"], rec.get("ix")))
        elif op == "reset":
            self._clear()
        elif op != "moved":  # moved: the log is replaced after this frame (see AppendLog.rewrite)
            raise StoreFormatError(f"{self.path}: unknown operation {op!r} at offset {at}")

    def _clear(self):
        """Forget every flow (before reading the log from its start)."""
        self.flows = {}
        self.index.clear()

    # ---------------------------------------------------------------- interface

    def get(self, flow_id):
        # no lock: one dict lookup is atomic, and a commit in progress (which holds
        # the log's mutex across its system calls) must not hold up readers of other flows
        return self.flows.get(flow_id)

    def ids(self):
        with self._log.mutex:
            return list(self.flows)

    def refresh(self):
        self._log.refresh()

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

    @contextmanager
    def try_lock(self, flow_id):
        """lock(flow_id) if no other thread or process holds it (yields True), else
        yields False at once: workers walking the same due list skip each other's flows."""
        locks = self._locks
        with locks.threads.hold(flow_id, blocking=False) as depth:
            if depth == 0:
                yield False
            elif depth == 1:
                with locks.record_lock(lock_byte(flow_id), blocking=False) as held:
                    yield held
            else:
                yield True

    def commit(self, flow_id, snapshot, new_entries=(), index=None, piece=False):
        """index: the flow's FlowIndex entry (kind, wake), kept in the log record
        (else read from the snapshot, or the piece, when the log is read).
        piece: see FlowStore.commit (a "piece" record)."""
        if piece:
            rec = {"id": flow_id, "op": "piece", "piece": snapshot, "journal": list(new_entries)}
        else:
            rec = {"id": flow_id, "op": "put", "snapshot": snapshot, "journal": list(new_entries)}
        if index is not None:
            rec["ix"] = list(index)
        self._log.group_commit((flow_id, piece, [_body(rec)]), self._write_batch)

    def _write_batch(self, batch):
        """Write a group commit's frames durably, then apply them to memory. A
        piece of a flow the log does not hold (once caught up, counting the
        batch's own commits before it) is refused alone, nothing of it written."""
        log = self._log
        with log.locked(fcntl.LOCK_EX):
            log.catch_up(repair=True)  # a torn tail is a crashed writer's: cut before appending
            bodies, made = [], set()
            for pending in batch:
                flow_id, piece, items = pending.item
                if not piece:
                    made.add(flow_id)
                elif flow_id not in self.flows and flow_id not in made:
                    pending.error = piece_of_unknown_flow(self.path, flow_id)
                    continue
                bodies.extend(items)
            if bodies:
                for at, body in zip(log.write(bodies), bodies):
                    self._apply(at, body)

    def replace_all(self, flows):
        """Atomically replace every flow (write a new log, fsync, rename)."""
        self._rewrite(lambda: flows, "replacing every flow")

    def compact(self):
        """Rewrite the log with only each flow's latest state (same content)."""
        self._rewrite(lambda: dict(self.flows), "compacting the log")  # read under the rewrite's lock

    def _rewrite(self, get_flows, doing):
        log = self._log
        with log.locked(fcntl.LOCK_EX):
            log.catch_up(repair=True)
            bodies = [_body(rec) for flow_id, stored in get_flows().items()
                      for rec in _full_records(flow_id, stored)]
            log.rewrite(bodies, _MOVED, doing)

    def size_bytes(self):
        return self._log.size()

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._log.close()
        self._locks.release()
