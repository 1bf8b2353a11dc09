"""The append-only log engine (flow.applog) on its own: torn tails cut at any
byte, a corrupt middle refused, a failed fsync cut back, group commit across
threads, appends from two processes, symbolic links refused, private modes, a
rewrite noticed by another handle. Run with the flow store's frame layout, and
with the same layout made strict about torn tails (as the ledger's is)."""

import errno
import fcntl
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from flow.applog import AppendLog
from flow.errors import StoreFormatError, StorePathError, StoreWriteError
from flow.filestore import LAYOUT, MAGIC


class _Strict(type(LAYOUT)):
    """The store's frames, but only a frame cut short by the end of the file (or
    zeros) is a torn tail: a complete frame whose checksum fails is damage."""

    strict_tail = True


STRICT = _Strict()
LAYOUTS = pytest.mark.parametrize("layout", [LAYOUT, STRICT], ids=["lenient", "strict"])


class Handle:
    """An AppendLog with an owner that keeps what it read and what it repaired."""

    def __init__(self, path, layout=LAYOUT, **kw):
        self.bodies, self.repairs, self.resets = [], [], 0
        self.log = AppendLog(str(path), layout, self._apply, self._repair, **kw, on_reset=self._reset)

    def _apply(self, offset, body):
        self.bodies.append((offset, bytes(body)))

    def _repair(self, offset, size, reason, why):
        self.repairs.append((offset, size, reason))

    def _reset(self):
        self.bodies, self.resets = [], self.resets + 1

    def append(self, *bodies):
        """Commit `bodies` (group commit); returns their offsets."""
        return self.log.group_commit(list(bodies), self._lead)

    def _lead(self, batch):
        log = self.log
        with log.locked(fcntl.LOCK_EX):
            log.catch_up(repair=True)
            offsets = log.write([body for p in batch for body in p.item])
            for p in batch:
                p.result, offsets = offsets[: len(p.item)], offsets[len(p.item):]
                self.bodies.extend(zip(p.result, p.item))

    def refresh(self):
        self.log.refresh()
        return [b for _, b in self.bodies]

    def close(self):
        self.log.close()


def written(path, n=3, layout=LAYOUT):
    """A closed log of n bodies: (their offsets, the file's bytes)."""
    h = Handle(path, layout)
    offsets = [h.append(f"body {i} ".encode() * (i + 1))[0] for i in range(n)]
    h.close()
    return offsets, open(path, "rb").read()


def bodies(n):
    return [f"body {i} ".encode() * (i + 1) for i in range(n)]


# ---------------------------------------------------------------- the file


def test_a_new_log_is_a_private_file_holding_its_header(tmp_path):
    old = os.umask(0)
    try:
        h = Handle(tmp_path / "log")
    finally:
        os.umask(old)
    h.close()
    assert open(tmp_path / "log", "rb").read() == MAGIC + b"\x00\x01"
    assert stat.S_IMODE(os.stat(tmp_path / "log").st_mode) == 0o600


def test_what_is_appended_is_read_back_by_a_new_handle_in_order(tmp_path):
    offsets, data = written(tmp_path / "log", 5)
    h = Handle(tmp_path / "log")
    assert h.bodies == list(zip(offsets, bodies(5)))
    assert [h.log.read_at(o) for o in offsets] == bodies(5)
    assert [(o, bytes(b)) for o, b in h.log.frames(h.log.end)] == h.bodies
    assert h.repairs == []
    h.close()


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symbolic_link_is_refused_and_its_target_left_alone(tmp_path, dangling):
    target = tmp_path / "target"
    if not dangling:
        target.write_bytes(b"precious")
    os.symlink(target, tmp_path / "log")
    with pytest.raises(StorePathError, match="is a symbolic link: refusing to follow it"):
        Handle(tmp_path / "log")
    assert (target.read_bytes() if not dangling else target.exists()) == (b"precious" if not dangling else False)


def test_a_file_that_is_not_a_log_is_refused_untouched(tmp_path):
    (tmp_path / "log").write_bytes(b"something else entirely")
    with pytest.raises(StoreFormatError, match="bad magic"):
        Handle(tmp_path / "log")
    assert (tmp_path / "log").read_bytes() == b"something else entirely"


# ---------------------------------------------------------------- torn tails


@LAYOUTS
def test_the_last_frame_cut_at_every_byte_is_a_torn_tail_cut_off(tmp_path, layout):
    offsets, data = written(tmp_path / "whole", 3, layout)
    last = offsets[-1]
    for cut in range(last + 1, len(data)):
        path = tmp_path / f"cut-{cut}"
        path.write_bytes(data[:cut])
        h = Handle(path, layout)
        assert [b for _, b in h.bodies] == bodies(2), cut
        assert h.repairs == [(last, cut - last, h.repairs[0][2])], cut
        assert os.path.getsize(path) == last
        assert h.append(b"after")[0] == last  # appends go where the torn frame was
        h.close()
        again = Handle(path, layout)
        assert [b for _, b in again.bodies] == bodies(2) + [b"after"] and again.repairs == []
        again.close()


@LAYOUTS
def test_a_zero_filled_tail_is_torn(tmp_path, layout):
    offsets, data = written(tmp_path / "log", 2, layout)
    with open(tmp_path / "log", "ab") as f:
        f.write(bytes(100))
    h = Handle(tmp_path / "log", layout)
    assert h.repairs[0][:2] == (len(data), 100) and os.path.getsize(tmp_path / "log") == len(data)
    h.close()


@LAYOUTS
def test_a_complete_last_frame_with_a_bad_checksum(tmp_path, layout):
    """Torn for the lenient layout (cut, with a repair), damage for the strict one
    (an error naming the offset, the file untouched)."""
    offsets, data = written(tmp_path / "log", 3, layout)
    damaged = bytearray(data)
    damaged[-1] ^= 0x01
    (tmp_path / "log").write_bytes(bytes(damaged))
    if layout is STRICT:
        with pytest.raises(StoreFormatError, match=f"corrupt frame at offset {offsets[-1]}"):
            Handle(tmp_path / "log", layout)
        assert (tmp_path / "log").read_bytes() == bytes(damaged)
    else:
        h = Handle(tmp_path / "log", layout)
        assert h.repairs[0][:2] == (offsets[-1], len(data) - offsets[-1])
        h.close()


def test_a_torn_tail_another_process_may_still_be_writing_is_left_by_readers(tmp_path):
    written(tmp_path / "log", 2)
    reader = Handle(tmp_path / "log")
    with open(tmp_path / "log", "ab") as f:
        f.write(b"\x00\x00\x01\x00partial")  # a writer mid-frame
    size = os.path.getsize(tmp_path / "log")
    assert reader.refresh() == bodies(2)  # a reader does not cut
    assert os.path.getsize(tmp_path / "log") == size and reader.repairs == []
    reader.append(b"next")  # a writer (holding the file exclusively) does
    assert reader.repairs and reader.refresh() == bodies(2) + [b"next"]
    reader.close()


# ---------------------------------------------------------------- corrupt middle


@LAYOUTS
def test_damage_to_any_byte_of_a_middle_frame_is_an_error_naming_its_offset(tmp_path, layout):
    offsets, data = written(tmp_path / "whole", 4, layout)
    middle, after = offsets[1], offsets[2]
    for at in range(middle, after):
        damaged = bytearray(data)
        damaged[at] ^= 0x40
        path = tmp_path / f"flip-{at}"
        path.write_bytes(bytes(damaged))
        with pytest.raises(StoreFormatError, match=f"corrupt frame at offset {middle} .*a sound frame follows"):
            Handle(path, layout)
        assert path.read_bytes() == bytes(damaged), at  # never cut, never skipped


def test_damage_appended_by_another_process_stops_the_next_append(tmp_path):
    offsets, data = written(tmp_path / "log", 2)
    h = Handle(tmp_path / "log")
    with open(tmp_path / "log", "ab") as f:
        f.write(b"\xff" * 12 + data[offsets[1]:])  # garbage, then a sound frame
    with pytest.raises(StoreFormatError, match=f"corrupt frame at offset {len(data)}"):
        h.append(b"x")
    assert os.path.getsize(tmp_path / "log") == len(data) + 12 + len(data) - offsets[1]
    h.close()


def test_a_file_that_shrank_under_a_handle_is_an_error(tmp_path):
    offsets, data = written(tmp_path / "log", 3)
    h = Handle(tmp_path / "log")
    os.truncate(tmp_path / "log", offsets[1])
    with pytest.raises(StoreFormatError, match="shrank"):
        h.refresh()
    h.close()


# ---------------------------------------------------------------- failed writes


def _is(path):
    def check(fd):
        try:
            return os.path.samestat(os.fstat(fd), os.stat(path))
        except (OSError, TypeError):
            return False
    return check


@pytest.mark.parametrize("call", ["fsync", "pwrite"])
def test_a_failed_write_is_cut_back_and_the_retry_commits(tmp_path, monkeypatch, call):
    path = tmp_path / "log"
    written(path, 2)
    h = Handle(path)
    size = os.path.getsize(path)
    real, log_fd, calls = getattr(os, call), _is(path), []

    def failing(fd, *args):
        if log_fd(fd) and not calls:
            calls.append(fd)
            if call == "pwrite":  # half of it lands first
                real(fd, bytes(args[0])[: len(args[0]) // 2], args[1])
            else:  # and the pages a failed fsync did not write are lost
                os.pwrite(fd, bytes(os.fstat(fd).st_size - size), size)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real(fd, *args)

    monkeypatch.setattr(os, call, failing)
    with pytest.raises(StoreWriteError, match="nothing was committed") as info:
        h.append(b"lost", b"lost too")
    assert calls and info.value.os_error.errno == errno.EIO
    assert os.path.getsize(path) == size  # cut back: no half frame, no zeros
    assert h.bodies[-1][1] == bodies(2)[-1] and h.log.end == size
    assert h.append(b"retried") == [size]
    h.close()
    again = Handle(path)
    assert [b for _, b in again.bodies] == bodies(2) + [b"retried"] and again.repairs == []
    again.close()


def test_a_cut_back_that_fails_too_is_made_before_the_file_is_next_read(tmp_path, monkeypatch):
    path = tmp_path / "log"
    written(path, 1)
    h = Handle(path)
    size = os.path.getsize(path)
    log_fd = _is(path)
    real_fsync, real_truncate = os.fsync, os.ftruncate
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "fsync")) if log_fd(fd)
                        else real_fsync(fd))
    monkeypatch.setattr(os, "ftruncate", lambda fd, n: (_ for _ in ()).throw(OSError(errno.EIO, "truncate"))
                        if log_fd(fd) else real_truncate(fd, n))
    with pytest.raises(StoreWriteError):
        h.append(b"lost")
    assert os.path.getsize(path) > size and h.log.cut_to is not None  # owed
    monkeypatch.undo()
    assert h.refresh() == bodies(1)  # the cut is made first
    assert os.path.getsize(path) == size and h.log.cut_to is None
    h.close()


# ---------------------------------------------------------------- group commit


def test_commits_queued_behind_an_fsync_share_the_next_one(tmp_path, monkeypatch):
    path = tmp_path / "log"
    h = Handle(path)
    real_fsync, log_fd, calls = os.fsync, _is(path), []

    def fsync(fd):
        if log_fd(fd):
            calls.append(fd)
            if len(calls) == 1:  # hold the first until seven more commits queue behind it
                deadline = time.monotonic() + 10
                while len(h.log.queue) < 8 and time.monotonic() < deadline:
                    time.sleep(0.001)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.setdefault(i, h.append(b"t%d" % i)))
               for i in range(8)]
    threads[0].start()
    while not calls:
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 2  # the first commit, then the seven queued behind it together
    h.close()
    again = Handle(path)
    assert sorted(b for _, b in again.bodies) == sorted(b"t%d" % i for i in range(8))
    assert {o for (o,) in results.values()} == {o for o, _ in again.bodies}
    again.close()


def test_many_threads_appending_each_commit_once_in_order(tmp_path):
    h = Handle(tmp_path / "log")

    def run(t):
        for i in range(40):
            h.append(b"%d:%d" % (t, i))

    threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = list(h.bodies)
    h.close()
    again = Handle(tmp_path / "log")
    assert again.bodies == sorted(mine)
    got = [b for _, b in again.bodies]
    assert sorted(got) == sorted(b"%d:%d" % (t, i) for t in range(6) for i in range(40))
    for t in range(6):  # each thread's own appends in the order it made them
        assert [g for g in got if g.startswith(b"%d:" % t)] == [b"%d:%d" % (t, i) for i in range(40)]
    again.close()


def test_a_failed_group_fsync_fails_every_commit_of_the_batch_each_with_its_own_error(tmp_path, monkeypatch):
    path = tmp_path / "log"
    h = Handle(path)
    real_fsync, log_fd, calls = os.fsync, _is(path), []

    def fsync(fd):
        if log_fd(fd):
            calls.append(fd)
            if len(calls) == 1:
                deadline = time.monotonic() + 10
                while len(h.log.queue) < 6 and time.monotonic() < deadline:
                    time.sleep(0.001)
            elif len(calls) == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outcomes = {}

    def run(i):
        try:
            outcomes[i] = h.append(b"t%d" % i)
        except Exception as e:  # noqa: BLE001 - recorded for the assertions
            outcomes[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    threads[0].start()
    while not calls:
        time.sleep(0.001)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    errors = [outcomes[i] for i in range(1, 6)]
    assert all(isinstance(e, StoreWriteError) for e in errors), errors
    assert len({id(e) for e in errors}) == 5
    monkeypatch.undo()
    assert h.refresh() == [b"t0"]
    h.close()


# ---------------------------------------------------------------- processes

APPENDER = """
import fcntl, sys
sys.path.insert(0, sys.argv[1])
from flow.applog import AppendLog
from flow.filestore import LAYOUT
log = AppendLog(sys.argv[2], LAYOUT, lambda o, b: None, lambda *a: None)
def lead(batch):
    with log.locked(fcntl.LOCK_EX):
        log.catch_up(repair=True)
        log.write([p.item for p in batch])
for i in range(int(sys.argv[4])):
    log.group_commit(b"%s:%d" % (sys.argv[3].encode(), i), lead)
log.close()
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    path = tmp_path / "log"
    watcher = Handle(path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, root, str(path), name, "150"])
             for name in ("a", "b")]
    for p in procs:
        assert p.wait(timeout=120) == 0
    got = watcher.refresh()
    assert sorted(got) == sorted(b"%s:%d" % (n, i) for n in (b"a", b"b") for i in range(150))
    for n in (b"a", b"b"):
        assert [g for g in got if g.startswith(n)] == [b"%s:%d" % (n, i) for i in range(150)]
    watcher.close()
    again = Handle(path)
    assert [b for _, b in again.bodies] == got and again.repairs == []
    again.close()


# ---------------------------------------------------------------- rewriting


def test_a_rewrite_replaces_the_file_and_another_handle_follows(tmp_path):
    path = tmp_path / "log"
    written(path, 3)
    a, b = Handle(path, replaceable=True), Handle(path, replaceable=True)
    with a.log.locked(fcntl.LOCK_EX):
        a.log.catch_up(repair=True)
        a.log.rewrite([b"only", b"these"], b"moved", "compacting")
    assert [x for _, x in a.bodies] == [b"only", b"these"] and a.resets == 1
    assert b.refresh() == [b"only", b"these"] and b.resets == 1
    assert sorted(os.listdir(tmp_path)) == ["log"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    b.append(b"more")
    assert a.refresh() == [b"only", b"these", b"more"]
    a.close(), b.close()

