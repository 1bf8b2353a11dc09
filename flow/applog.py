"""A checksummed, framed, append-only file: the engine under the flow store and the order ledger.

An AppendLog is a file header, then frames, each holding one body (bytes) under
a checksum. It is written only at its end, durably: `write` (holding the file
exclusively) writes frames and fsyncs them before anything may read them; when
the write or the fsync fails the file is cut back to where the frames began —
after a failed fsync the kernel may have dropped pages, so nothing past that
point is trusted — and the layout's write error is raised (if even the cut
fails, it is made before the file is next read or written). `group_commit`
queues concurrent committers of one process so that the one at the head writes
and fsyncs them all at once. Several processes share the file under flock:
readers take it shared, writers exclusive; `catch_up` hands every frame
appended since it last looked to the owner's `apply(offset, body)`.

Damage: a frame that does not check out with no sound frame after it may be a
torn tail (an interrupted write, never committed); it is cut off — on open, or
by the next writer, holding the file exclusively — and reported through
`on_repair`. Which tails count as torn is the layout's (`strict_tail`: only a
frame cut short by the end of the file, or zeros, no longer than one frame).
Any other damage — a bad frame followed by a sound one, a corrupt middle — is
the layout's corruption error naming the file and offset; nothing is skipped or
cut. Files: opened never through a symbolic link and only if regular, created
exclusively with a private mode whatever the umask; the directory is fsync'd
when a file is created or replaced. A replaceable log may be rewritten whole
(`rewrite`: a new file renamed over it); other processes notice on their next lock.

The layout (one object per on-disk format) says how the header and frames are
encoded and checked, and which exceptions to raise; it has:

    name, what            nouns for messages ("store", "flow store file")
    header_size, max_frame
    magic                 bytes every frame starts with (b"": none; resync tries every byte)
    strict_tail           see above
    error, path_error     exception classes (message) -> Exception
    write_error           exception class (path, os_error, doing, message=None)
    encode_header() -> bytes;  check_header(head, path) -> bool (False: empty or torn, to write anew)
    frame(body) -> bytes;      frame_at(reader, offset) -> (body view, next offset) | Damage
    corrupt(path, damage, detail) -> Exception
"""

import errno
import fcntl
import os
import re
import secrets
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass

READ_CHUNK = 1 << 20
NO_STOP = 1 << 62
_OPEN = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


@dataclass(frozen=True, slots=True)
class Damage:
    """Why the bytes at `offset` are not a sound frame."""

    offset: int
    reason: str
    newer_version: int | None = None
    #: the bytes run past the end of the file as an interrupted write leaves them
    runs_past_end: bool = False


# --------------------------------------------------------------------------- files


def pread(fd, n, offset):
    """n bytes at offset, fewer only where the file ends."""
    parts, got = [], 0
    while got < n:
        part = os.pread(fd, n - got, offset + got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def write_all(fd, data, offset):
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        if n <= 0:
            raise OSError(errno.EIO, f"wrote {n} bytes")
        view, offset = view[n:], offset + n


def open_file(path, layout, flags=os.O_RDWR, create_mode=None):
    """A descriptor of the regular file `path`, never through a symbolic link nor
    blocking on a FIFO. With `create_mode`, a missing file is created (O_EXCL)
    with exactly that mode, whatever the umask. Refusals are layout.path_error."""
    base = flags | _OPEN
    created = False
    try:
        for _ in range(100):
            if create_mode is not None:
                try:
                    fd = os.open(path, base | os.O_CREAT | os.O_EXCL, create_mode)
                    created = True
                    break
                except FileExistsError:
                    pass
            try:
                fd = os.open(path, base)
                break
            except FileNotFoundError:
                if create_mode is None:
                    raise
                # removed between the two opens: create it after all
        else:
            raise layout.path_error(f"{path} keeps appearing and disappearing; not opened")
    except OSError as e:
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise layout.path_error(f"{path} is a symbolic link: refusing to follow it (a {layout.what} "
                                    f"is never opened through a symbolic link; give the real file's path)") from None
        if e.errno == errno.EISDIR:
            raise layout.path_error(f"{path} is a directory, not a {layout.what}") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise layout.path_error(f"{path} is not a regular file, so not a {layout.what}")
        if created:
            os.fchmod(fd, create_mode)  # O_CREAT's mode is cut by the umask
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def new_file(paths, layout, mode=0o600):
    """(path, fd) of a new file at the first free one of `paths`: created exclusively
    (never an existing file, never through a link, even a dangling one), `mode`."""
    path = None
    for path in paths:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            remove_quietly(path)
            raise
        return path, fd
    raise FileExistsError(errno.EEXIST, f"no free name for a new {layout.what}", path)


def fsync_dir(path):
    """fsync the directory holding `path` (a new or renamed name in it is durable)."""
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def remove_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# --------------------------------------------------------------------------- reading


class Reader:
    """Reads the frames of [.., stop) of a descriptor through a sliding window."""

    def __init__(self, fd, layout, stop, chunk=READ_CHUNK):
        self.fd, self.layout, self.stop, self.chunk = fd, layout, stop, chunk
        self.base, self.data = 0, memoryview(b"")

    def read(self, offset, n):
        """Up to `n` bytes at `offset`; fewer only where the region (or file) ends."""
        rel = offset - self.base
        if rel >= 0 and rel + n <= len(self.data):  # the window never reaches past stop
            return self.data[rel:rel + n]
        n = max(0, min(n, self.stop - offset))
        want = min(max(n, self.chunk), self.stop - offset)
        self.base, self.data = offset, memoryview(pread(self.fd, want, offset))
        return self.data[:n]

    def frame_at(self, offset):
        """(body, offset of the next frame) if a sound frame starts at `offset`, else Damage."""
        return self.layout.frame_at(self, offset)

    def next_sound_frame(self, start):
        """Offset of the first sound frame at or after `start`, or None."""
        magic, pos = self.layout.magic, start
        overlap = max(len(magic) - 1, 0)
        while pos < self.stop:
            chunk = pread(self.fd, min(READ_CHUNK, self.stop - pos), pos)
            if not chunk:
                return None
            i = chunk.find(magic)
            while 0 <= i < len(chunk):
                if not isinstance(self.frame_at(pos + i), Damage):
                    return pos + i
                i = chunk.find(magic, i + 1)
            if pos + len(chunk) >= self.stop:
                return None
            pos += len(chunk) - overlap
        return None

    def all_zero(self, start):
        pos = start
        while pos < self.stop:
            chunk = pread(self.fd, min(READ_CHUNK, self.stop - pos), pos)
            if not chunk:
                break
            if chunk.count(0) != len(chunk):
                return False
            pos += len(chunk)
        return True

    def torn(self, damage):
        """Why the damage at the end of the region is what an interrupted write
        leaves (never committed), or None if it is damage to committed data."""
        if damage.newer_version is not None:
            return None
        if not self.layout.strict_tail:
            why = "no whole frame after it"
        elif self.stop - damage.offset > self.layout.max_frame:
            return None
        elif damage.runs_past_end:
            why = "the frame runs past the end of the file"
        elif self.all_zero(damage.offset):
            why = "only zero bytes, where the file grew but the write never reached the disk"
        else:
            return None
        if self.next_sound_frame(damage.offset + 1) is not None:
            return None
        return why

    def describe(self, damage):
        """Why `damage` is damage to committed data (for an error message)."""
        size = self.stop - damage.offset
        following = self.next_sound_frame(damage.offset + 1)
        if following is not None:
            return (f"{damage.reason}; a sound frame follows at offset {following} ({self.stop - following} "
                    f"bytes of frames from there), so this is damage to committed data, not an interrupted write")
        if size > self.layout.max_frame:
            return (f"{damage.reason}; {size} bytes from here to the end of the file are more "
                    f"than one interrupted write could leave, so this is damage to committed data")
        return (f"{damage.reason}; these last {size} bytes are not what an interrupted write "
                f"leaves (that is only a frame cut short by the end of the file, or zeros), so "
                f"this is damage to committed data; nothing was cut")


# --------------------------------------------------------------------------- the log


class Pending:
    """One committer waiting in a group-commit queue: `item` is the caller's."""

    __slots__ = ("item", "done", "error", "result", "wake")

    def __init__(self, item):
        self.item = item
        self.done = False
        self.error = None
        self.result = None
        self.wake = threading.Lock()  # held until the commit is done or leads
        self.wake.acquire()


class AppendLog:
    """One append-only log file (see the module docstring).

    apply(offset, body): called for each committed frame, in order, as it is
    read (catch_up); the owner's frames written by `write` are the owner's to
    apply. on_repair(offset, size, reason, why): bytes cut off as an interrupted
    write. on_reset(): a replaceable log was replaced by another process's
    rewrite and is read again from its start. `mutex` serialises this process's
    use of the file (flock does not exclude threads sharing a descriptor)."""

    def __init__(self, path, layout, apply, on_repair, mode=0o600, replaceable=False, on_reset=None):
        self.path = path
        self.layout = layout
        self.apply = apply
        self.on_repair = on_repair
        self.on_reset = on_reset
        self.replaceable = replaceable
        self.mutex = threading.RLock()
        self.end = layout.header_size  # every frame before this offset is applied (and durable)
        self.tail = self.end  # the file's end as far as we know: end plus our own frames being fsync'd
        self.cut_to = None  # (start, end): a failed write's bytes still to cut off
        self.queue = []  # Pending commits, the head one leading (group_commit)
        self._queue_lock = threading.Lock()
        self.fd = open_file(path, layout, create_mode=mode)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self):
        with self.mutex:
            if not self.replaceable:  # the common case reads under a shared lock
                with self.locked(fcntl.LOCK_SH):
                    if self._header_ok() and self.catch_up(repair=False) is None:
                        return
            with self.locked(fcntl.LOCK_EX):
                if not self._header_ok():
                    self._initialise()
                self.catch_up(repair=True)
                if self.replaceable:
                    self._remove_stale_temp_files()

    def _header_ok(self):
        return self.layout.check_header(pread(self.fd, self.layout.header_size, 0), self.path)

    def _initialise(self):
        size = os.fstat(self.fd).st_size
        try:
            if size:
                os.ftruncate(self.fd, 0)
            write_all(self.fd, self.layout.encode_header(), 0)
            os.fsync(self.fd)
            fsync_dir(self.path)
        except OSError as e:
            truncate_quietly(self.fd, 0)  # an empty file is a new log; a partial header is not
            raise self.layout.write_error(self.path, e, f"creating the {self.layout.name}") from e
        if size:
            self.on_repair(0, size, f"an incomplete {self.layout.name} header",
                           "the file's creation was interrupted")
        self.end = self.tail = self.layout.header_size

    @contextmanager
    def locked(self, kind):
        """Hold the file (flock `kind`) and this process's mutex. First makes the cut
        a failed write still owes; a replaceable log replaced meanwhile is reopened
        and read again from its start (on_reset)."""
        with self.mutex:
            if self.cut_to is not None:
                kind = fcntl.LOCK_EX
            replaced = False
            while True:
                fcntl.flock(self.fd, kind)
                try:
                    if self.cut_to is not None:
                        self._retry_cut()
                    if not self.replaceable or self._same_file():
                        break
                except BaseException:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                    raise
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                new = open_file(self.path, self.layout)
                os.close(self.fd)
                self.fd = new
                self.end = self.tail = self.layout.header_size
                self.on_reset()
                replaced = True
            try:
                if replaced and not self._header_ok():
                    raise self.layout.error(f"{self.path}: the {self.layout.name} was replaced by an empty file")
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _same_file(self):
        st = os.fstat(self.fd)
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            raise self.layout.path_error(f"{self.path} was removed while the {self.layout.name} was open") from None
        return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)

    def unchanged(self):
        """True if nothing was appended since we last looked (but for a commit of
        ours being fsync'd, not committed yet, so not to be seen): one fstat."""
        try:
            st = os.fstat(self.fd)
        except (OSError, TypeError):  # closed or reopened under us: look properly
            return False
        # a rewrite appends a frame to the old log before replacing it
        return (st.st_size == self.end or st.st_size == self.tail) and st.st_nlink > 0 and self.cut_to is None

    def refresh(self):
        """Take in what other processes have committed since we last looked."""
        if not self.unchanged():
            with self.locked(fcntl.LOCK_SH):
                self.catch_up(repair=False)

    # ---------------------------------------------------------------- reading

    def catch_up(self, repair):
        """Apply the frames committed after `end` (hold `locked`). A torn tail is
        cut off if `repair` (the file held exclusively), else left and returned;
        any other damage raises the layout's corruption error, changing nothing."""
        size = os.fstat(self.fd).st_size
        if size < self.end:
            raise self.layout.corrupt(self.path, Damage(size, "the file shrank"),
                                      f"file shrank to {size} bytes; {self.end} bytes had already been committed")
        reader = Reader(self.fd, self.layout, size)
        pos, apply, frame_at = self.end, self.apply, self.layout.frame_at
        try:
            while pos < size:
                frame = frame_at(reader, pos)
                if isinstance(frame, Damage):
                    break
                apply(pos, frame[0])
                pos = frame[1]
        finally:
            self.end = self.tail = pos  # what was applied
        return self._damaged(reader, frame, repair) if pos < size else None

    def _damaged(self, reader, damage, repair):
        why = reader.torn(damage)
        if why is None:
            raise self.layout.corrupt(self.path, damage, reader.describe(damage))
        if not repair:
            return damage  # another process may still be writing it: not ours to cut
        try:
            os.ftruncate(self.fd, damage.offset)
            os.fsync(self.fd)
        except OSError as e:
            raise self.layout.write_error(self.path, e, f"cutting off an interrupted write at offset "
                                                        f"{damage.offset}") from e
        self.on_repair(damage.offset, reader.stop - damage.offset, damage.reason, why)
        return None

    def read_at(self, offset):
        """The body of the committed frame at `offset` (re-checksummed)."""
        frame = Reader(self.fd, self.layout, NO_STOP, chunk=4096).frame_at(offset)  # usually one pread
        if isinstance(frame, Damage):
            raise self.layout.corrupt(self.path, frame, f"{frame.reason} (damaged after it was opened)")
        return frame[0]

    def frames(self, stop):
        """(offset, body) of every frame before `stop`, re-read and re-checksummed."""
        reader = Reader(self.fd, self.layout, stop)
        pos = self.layout.header_size
        while pos < stop:
            frame = reader.frame_at(pos)
            if isinstance(frame, Damage):
                raise self.layout.corrupt(self.path, frame, f"{frame.reason} (damaged after it was opened)")
            yield pos, frame[0]
            pos = frame[1]

    # ---------------------------------------------------------------- writing

    def group_commit(self, item, lead):
        """Commit `item` with whatever other threads commit meanwhile; returns its
        Pending's result. The thread at the head of the queue calls lead(batch)
        (every Pending queued so far, its own first), which sets each one's
        result; then wakes them and hands the lead on. If lead raises, every
        other Pending of the batch not yet done raises a like error."""
        pending = Pending(item)
        with self._queue_lock:
            self.queue.append(pending)
            leads = self.queue[0] is pending
        if not leads:
            pending.wake.acquire()  # until a leader committed it, or made it the leader
        if not pending.done:
            with self._queue_lock:
                batch = list(self.queue)
            try:
                lead(batch)
            except BaseException as e:
                for p in batch[1:]:
                    if not p.done:
                        p.error = self._error_for_another(e)
                raise
            finally:
                with self._queue_lock:
                    del self.queue[: len(batch)]
                    successor = self.queue[0] if self.queue else None
                for p in batch[1:]:
                    p.done = True
                    p.wake.release()
                if successor is not None:
                    successor.wake.release()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _error_for_another(self, e):
        """The error another committer of a failed batch raises in its own thread."""
        layout = self.layout
        if isinstance(e, layout.write_error):
            other = layout.write_error(e.path, e.os_error, e.doing, str(e))
            other.__cause__ = e.__cause__
            return other
        if isinstance(e, Exception):
            return e
        return layout.error(f"{self.path}: the group commit this commit was part of was interrupted "
                            f"({type(e).__name__}); the {layout.name} shows whether it was committed")

    def write(self, bodies):
        """Append a frame per body at the end and fsync (hold locked(LOCK_EX),
        caught up). Returns the frames' offsets; `end` moves past them. On a
        failed write or fsync the file is cut back and layout.write_error raised."""
        frame = self.layout.frame
        frames, offsets, at = [], [], self.end
        for body in bodies:
            frames.append(frame(body))
            offsets.append(at)
            at += len(frames[-1])
        start = self.end
        try:
            write_all(self.fd, b"".join(frames), start)
            self.tail = at  # our own bytes: readers need not catch up with them (unchanged)
            os.fsync(self.fd)
        except BaseException as e:
            self.tail = start
            self._cut_back(start, at)
            if isinstance(e, OSError):
                raise self.layout.write_error(self.path, e) from e
            raise
        self.end = at
        return offsets

    def _cut_back(self, start, end):
        """Cut the file back to `start` after a failed write (which may have left up
        to `end`). If even the cut fails, `locked` tries again first thing."""
        try:
            os.ftruncate(self.fd, start)
        except OSError:
            try:
                end = os.fstat(self.fd).st_size
            except OSError:
                pass
            self.cut_to = (start, end)
            return
        self.cut_to = None
        try:
            os.fsync(self.fd)
        except OSError:
            pass  # the cut is what every reader sees; the next write's fsync makes it durable

    def _retry_cut(self):
        start, end = self.cut_to
        try:
            if os.fstat(self.fd).st_size == end:
                os.ftruncate(self.fd, start)
            # else another process wrote (or cut) after those bytes meanwhile: they
            # are its to judge now, and cutting would lose its commits
        except OSError as e:
            raise self.layout.write_error(self.path, e, "cutting back a failed commit") from e
        self.cut_to = None
        try:
            os.fsync(self.fd)
        except OSError:
            pass

    # ---------------------------------------------------------------- rewriting

    def _temp_names(self):
        for _ in range(100):
            yield f"{self.path}.{secrets.token_hex(8)}.tmp"

    def _remove_stale_temp_files(self):
        """Remove what rewrites killed half way left behind (hold the file
        exclusively: a rewrite in progress holds it, so none is)."""
        directory, name = os.path.split(self.path)
        pattern = re.compile(re.escape(name) + r"\.[0-9a-f]{16}\.tmp\Z")
        try:
            names = os.listdir(directory or ".")
        except OSError:
            return
        for other in names:
            if pattern.match(other):
                remove_quietly(os.path.join(directory, other))  # a symbolic link itself, never its target

    def rewrite(self, bodies, marker, doing):
        """Replace the file by a new one holding a frame per body (hold
        locked(LOCK_EX), caught up): written to a new file beside it with an
        unpredictable name, fsync'd, then renamed over it; before the rename a
        `marker` frame is appended to the old file, so that other processes'
        `refresh` looks. The new file is then read (apply) from its start."""
        layout = self.layout
        blob = b"".join([layout.encode_header(), *(layout.frame(b) for b in bodies)])
        try:
            tmp, new = new_file(self._temp_names(), layout)
        except OSError as e:
            raise layout.write_error(self.path, e, doing) from e
        marked = None
        try:
            write_all(new, blob, 0)
            os.fsync(new)
            fcntl.flock(new, fcntl.LOCK_EX)  # held until locked() lets go of the file
            marked = self.end
            write_all(self.fd, layout.frame(marker), marked)
            os.rename(tmp, self.path)  # replaces the name itself, whatever it is
        except BaseException as e:
            os.close(new)
            remove_quietly(tmp)
            if marked is not None:
                truncate_quietly(self.fd, marked)
            if isinstance(e, OSError):
                raise layout.write_error(self.path, e, doing) from e
            raise
        old, self.fd = self.fd, new
        os.close(old)
        self.end = self.tail = layout.header_size
        self.on_reset()
        self.catch_up(repair=False)
        try:
            fsync_dir(self.path)
        except OSError as e:
            raise layout.write_error(
                self.path, e, doing,
                f"{self.path}: {doing}: the new file is in place, but syncing its directory "
                f"failed ({e}), so a crash may yet bring back the old one",
            ) from e

    def size(self):
        return os.fstat(self.fd).st_size

    def close(self):
        with self.mutex:
            if self.fd is not None:
                fd, self.fd = self.fd, None
                os.close(fd)


def truncate_quietly(fd, size):
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass
