"""The file store under failure and attack: a failed write or fsync commits
nothing (in memory, on disk, for the next process) and a retry commits; files
are private (0600 in a 0700 directory) and never opened or replaced through a
symbolic link; a store path that is not a directory is a clear error."""

import errno
import os
import stat
import subprocess
import sys
import threading
import time
import warnings

import pytest

from flow import FlowError, FlowRuntime, StoreFormatError, Suspended
from flow.errors import StorePathError, StoreWriteError
from flow.store import HEADER, FileStore, lock_byte

FLOW = "(defflow f (lambda (x) (request 'a x) (request 'b x)))"


def rt_on(d):
    rt = FlowRuntime(store=str(d))
    rt.load(FLOW)
    return rt


def log_of(d):
    return os.path.join(str(d), "flows.log")


def is_log(d):
    """A predicate: is fd the store's current log?"""

    def check(fd):
        try:
            return os.path.samestat(os.fstat(fd), os.stat(log_of(d)))
        except OSError:
            return False

    return check


class Faults:
    """Make os.fsync / os.pwrite / os.ftruncate fail for the descriptors `which`
    picks, `times` times (None: until told otherwise)."""

    def __init__(self, monkeypatch):
        self.mp = monkeypatch
        self.calls = []

    def fail(self, name, which, err=errno.EIO, times=1, before=None):
        real = getattr(os, name)
        left = [times]

        def fake(fd, *args):
            if which(fd) and (left[0] is None or left[0] > 0):
                if left[0] is not None:
                    left[0] -= 1
                self.calls.append(name)
                if before is not None:
                    before(fd, real, *args)
                raise OSError(err, os.strerror(err))
            return real(fd, *args)

        self.mp.setattr(os, name, fake)
        self.left = left
        return self

    def stop(self):
        """The last fault set up fails no more."""
        self.left[0] = 0


def state(d):
    """What a fresh runtime on d finds: {id: (kind or status, journal length)}."""
    rt = rt_on(d)
    try:
        out = {}
        for i in rt.ids():
            r = rt.result(i)
            out[i] = (getattr(r, "kind", None) or rt.status(i), len(rt.journal(i)))
        return out
    finally:
        rt.close()


# ---------------------------------------------------------------- failed writes


@pytest.mark.parametrize("fault", ["fsync-EIO", "pwrite-ENOSPC", "pwrite-half-then-ENOSPC", "fsync-loses-pages"])
def test_a_failed_start_commits_nothing_and_its_retry_commits(tmp_path, monkeypatch, fault):
    d = tmp_path / "s"
    rt = rt_on(d)
    size = os.path.getsize(log_of(d))
    faults = Faults(monkeypatch)
    if fault == "fsync-EIO":
        faults.fail("fsync", is_log(d))
    elif fault == "pwrite-ENOSPC":
        faults.fail("pwrite", is_log(d), errno.ENOSPC)
    elif fault == "pwrite-half-then-ENOSPC":
        def half(fd, real, data, offset):  # the first half lands, then the disk is full
            real(fd, bytes(data)[: len(data) // 2], offset)

        faults.fail("pwrite", is_log(d), errno.ENOSPC, before=half)
    else:
        def lose(fd, real):  # fsyncgate: the pages it could not write are gone
            real_pwrite(fd, b"\0" * (os.fstat(fd).st_size - size), size)

        real_pwrite = os.pwrite
        faults.fail("fsync", is_log(d), before=lose)
    with pytest.raises(StoreWriteError) as e:
        rt.start("f", 1, flow_id="x")
    msg = str(e.value)
    assert log_of(d) in msg and "nothing was committed" in msg
    assert ("Input/output error" if "fsync" in fault else "No space left on device") in msg
    assert isinstance(e.value, FlowError) and isinstance(e.value.os_error, OSError)
    assert e.value.path == log_of(d)
    assert faults.calls
    # nothing of it: not in memory, not on disk (no half frame), not for a new process
    assert rt.ids() == []
    assert os.path.getsize(log_of(d)) == size
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn tail to cut either
        assert state(d) == {}
    # the retry really commits
    assert rt.start("f", 1, flow_id="x") == Suspended("x", "a", 1, "x:1")
    rt.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert state(d) == {"x": ("a", 0)}


@pytest.mark.parametrize("call, err", [("fsync", errno.EIO), ("pwrite", errno.ENOSPC), ("fsync", errno.ENOSPC)])
def test_a_failed_resume_leaves_the_flow_where_it_was(tmp_path, monkeypatch, call, err):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    rt.start("f", 2, flow_id="y")
    Faults(monkeypatch).fail(call, is_log(d), err)
    with pytest.raises(StoreWriteError, match=os.strerror(err)):
        rt.resume("x", 5, kind="a")
    # the state before the call, here and in a new runtime
    assert rt.result("x") == Suspended("x", "a", 1, "x:1")
    assert rt.journal("x") == []
    assert state(d) == {"x": ("a", 0), "y": ("a", 0)}
    # the retry (kind=... as a webhook would) is answered, once
    assert rt.resume("x", 5, kind="a") == Suspended("x", "b", 1, "x:2")
    assert rt.resume("x", 5, kind="a").waiting_on == "b"
    assert rt.resume("y", 6, kind="a").kind == "b"  # and the store goes on working
    rt.close()
    assert state(d) == {"x": ("b", 1), "y": ("b", 1)}
    again = rt_on(d)
    assert [e.answer for e in again.journal("x")] == [5]
    again.close()


def test_fsync_failing_several_times_in_a_row_then_recovering(tmp_path, monkeypatch):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    size = os.path.getsize(log_of(d))
    faults = Faults(monkeypatch).fail("fsync", is_log(d), times=None)  # the disk is failing
    for _ in range(3):
        with pytest.raises(StoreWriteError):
            rt.resume("x", 5, kind="a")
        assert os.path.getsize(log_of(d)) == size and rt.result("x").kind == "a"
    assert "fsync" in faults.calls
    faults.stop()  # and recovers
    assert rt.resume("x", 5, kind="a").kind == "b"
    rt.close()
    assert state(d) == {"x": ("b", 1)}


def test_a_cut_that_fails_too_is_made_before_the_log_is_next_read(tmp_path, monkeypatch):
    """A failed fsync, and then the truncation back fails as well: the uncommitted
    bytes stay in the file for now, but this store cuts them before it reads or
    writes again, so they never show and the retry is not doubled."""
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    size = os.path.getsize(log_of(d))
    faults = Faults(monkeypatch)
    faults.fail("fsync", is_log(d))
    faults.fail("ftruncate", is_log(d))
    with pytest.raises(StoreWriteError):
        rt.resume("x", 5, kind="a")
    assert faults.calls == ["fsync", "ftruncate"]
    assert os.path.getsize(log_of(d)) > size  # the cut is owed
    assert rt.result("x").kind == "a"  # reading first makes it
    assert os.path.getsize(log_of(d)) == size
    assert rt.resume("x", 5, kind="a").kind == "b"
    rt.close()
    assert state(d) == {"x": ("b", 1)}


def test_a_cut_that_still_fails_is_an_error_not_a_read_of_uncommitted_bytes(tmp_path, monkeypatch):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    faults = Faults(monkeypatch)
    faults.fail("fsync", is_log(d))
    faults.fail("ftruncate", is_log(d), times=2)
    with pytest.raises(StoreWriteError):
        rt.resume("x", 5, kind="a")
    with pytest.raises(StoreWriteError, match="cutting back a failed commit failed"):
        rt.result("x")
    assert rt.result("x").kind == "a"  # the third try cuts
    assert rt.resume("x", 5, kind="a").kind == "b"
    rt.close()
    assert state(d) == {"x": ("b", 1)}


def test_a_failed_group_commit_fails_every_commit_of_its_batch(tmp_path, monkeypatch):
    """Seven threads' commits queue behind one being fsync'd; they are written
    together and their fsync fails: each of the seven raises its own
    StoreWriteError, none of them is committed, each retry is."""
    d = tmp_path / "s"
    rt = rt_on(d)
    store = rt.store
    real_fsync = os.fsync
    log = is_log(d)
    calls = []

    def fsync(fd):
        if not log(fd):
            return real_fsync(fd)
        calls.append(fd)
        if len(calls) == 1:  # hold the first until seven more commits queue behind it
            deadline = time.monotonic() + 10
            while len(store._log.queue) < 8 and time.monotonic() < deadline:
                time.sleep(0.001)
            return real_fsync(fd)
        if len(calls) == 2:  # the batch of seven
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outcomes = {}

    def start(i):
        try:
            outcomes[i] = rt.start("f", i, flow_id=f"t{i}")
        except Exception as e:  # noqa: BLE001 - recorded for the assertions
            outcomes[i] = e

    first = threading.Thread(target=start, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=start, args=(i,)) for i in range(1, 8)]
    for t in others:
        t.start()
    for t in [first] + others:
        t.join()
    # one injected failure (the second fsync) failed all seven: they were one batch
    # (a third fsync on the log is the one after cutting the batch off)
    assert len(calls) == 3
    assert outcomes[0] == Suspended("t0", "a", 0, "t0:1")
    errors = [outcomes[i] for i in range(1, 8)]
    assert all(isinstance(e, StoreWriteError) and "Input/output error" in str(e) for e in errors), errors
    assert len({id(e) for e in errors}) == 7  # each thread raises its own
    assert rt.ids() == ["t0"]
    assert state(d) == {"t0": ("a", 0)}
    for i in range(1, 8):
        assert rt.start("f", i, flow_id=f"t{i}") == Suspended(f"t{i}", "a", i, f"t{i}:1")
    rt.close()
    assert state(d) == {f"t{i}": ("a", 0) for i in range(8)}


def test_creating_a_store_whose_first_fsync_fails_leaves_no_half_store(tmp_path, monkeypatch):
    d = tmp_path / "s"
    Faults(monkeypatch).fail("fsync", lambda fd: True)
    with pytest.raises(StoreWriteError, match="creating the store failed"):
        FlowRuntime(store=str(d))
    assert os.path.getsize(log_of(d)) == 0  # an empty log is a new store, a torn header would not be
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rt = rt_on(d)
    assert rt.start("f", 1, flow_id="x").kind == "a"
    rt.close()
    assert open(log_of(d), "rb").read(HEADER.size) == HEADER.pack(b"FSFLOWS\x00", 1)


@pytest.mark.parametrize("what", ["compact", "import", "reset"])
def test_a_failed_rewrite_changes_nothing_and_leaves_no_temp_file(tmp_path, monkeypatch, what):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    rt.resume("x", 5)
    before = open(log_of(d), "rb").read()
    src = rt_on(tmp_path / "other")
    src.start("f", 9, flow_id="new")
    exported = src.export_store()
    src.close()
    faults = Faults(monkeypatch).fail("fsync", lambda fd: not is_log(d)(fd) and stat.S_ISREG(os.fstat(fd).st_mode))
    with pytest.raises(StoreWriteError, match="nothing was committed"):
        {"compact": rt.store.compact, "import": lambda: rt.import_store(exported), "reset": rt.reset}[what]()
    assert faults.calls == ["fsync"]
    assert sorted(os.listdir(d)) == ["flows.lock", "flows.log"]
    assert open(log_of(d), "rb").read() == before
    assert rt.ids() == ["x"] and rt.result("x").kind == "b"
    assert state(d) == {"x": ("b", 1)}
    rt.load(FLOW)
    {"compact": rt.store.compact, "import": lambda: rt.import_store(exported), "reset": rt.reset}[what]()
    expected = {"compact": {"x": ("b", 1)}, "import": {"new": ("a", 0)}, "reset": {}}[what]
    assert state(d) == expected
    rt.close()


def test_a_rewrite_whose_rename_fails_leaves_the_old_log_as_it_was(tmp_path, monkeypatch):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    before = open(log_of(d), "rb").read()

    def rename(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(StoreWriteError, match="compacting the log failed"):
        rt.store.compact()
    monkeypatch.undo()
    assert open(log_of(d), "rb").read() == before  # nor the "moved" frame left behind
    assert sorted(os.listdir(d)) == ["flows.lock", "flows.log"]
    assert rt.resume("x", 1).kind == "b"
    rt.close()
    assert state(d) == {"x": ("b", 1)}


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o277])
def test_files_are_0600_and_created_directories_0700_whatever_the_umask(tmp_path, umask):
    os.chmod(tmp_path, 0o755)
    d = tmp_path / "a" / "b" / "s"
    old = os.umask(umask)
    try:
        rt = rt_on(d)
        rt.start("f", 1, flow_id="x")
        rt.store.compact()  # a rewritten log too
        rt.import_store(rt.export_store())
        rt.close()
    finally:
        os.umask(old)

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(d) == mode(d.parent) == mode(d.parent.parent) == 0o700
    assert mode(d / "flows.log") == 0o600 and mode(d / "flows.lock") == 0o600
    assert mode(tmp_path) == 0o755  # a directory it did not create is left as it is
    assert state(d) == {"x": ("a", 0)}


def test_an_existing_directory_is_used_as_it_is(tmp_path):
    d = tmp_path / "s"
    d.mkdir(mode=0o750)
    os.chmod(d, 0o750)
    rt_on(d).close()
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o750


# ---------------------------------------------------------------- symbolic links


def test_a_planted_temp_file_symlink_is_never_written_through(tmp_path, monkeypatch):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.chmod(victim, 0o644)
    # the old fixed name, and the next "unpredictable" names made predictable
    os.symlink(victim, d / "flows.log.tmp")
    names = iter(["0" * 16, "1" * 16, "2" * 16])
    monkeypatch.setattr("flow.applog.secrets.token_hex", lambda n: next(names))
    os.symlink(victim, d / f"flows.log.{'0' * 16}.tmp")
    os.symlink(tmp_path / "nowhere", d / f"flows.log.{'1' * 16}.tmp")  # dangling: O_EXCL still refuses it
    rt.store.compact()
    assert victim.read_bytes() == b"precious" and stat.S_IMODE(os.stat(victim).st_mode) == 0o644
    assert not (tmp_path / "nowhere").exists()
    assert os.path.islink(d / "flows.log.tmp") and os.path.islink(d / f"flows.log.{'0' * 16}.tmp")
    assert not os.path.islink(log_of(d))
    assert rt.resume("x", 2).kind == "b"
    rt.close()
    assert state(d) == {"x": ("b", 1)}


def test_temp_files_left_by_a_killed_rewrite_are_removed_on_open(tmp_path):
    d = tmp_path / "s"
    rt_on(d).close()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (d / "flows.log.0123456789abcdef.tmp").write_bytes(b"half a log")
    os.symlink(victim, d / "flows.log.fedcba9876543210.tmp")
    (d / "flows.log.tmp").write_bytes(b"not ours")
    (d / "notes.txt").write_bytes(b"not ours")
    rt_on(d).close()
    assert sorted(os.listdir(d)) == ["flows.lock", "flows.log", "flows.log.tmp", "notes.txt"]
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("name", ["flows.log", "flows.lock"])
@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlinked_data_file_is_refused(tmp_path, name, dangling):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    rt.close()
    target = tmp_path / "elsewhere"
    if dangling:
        os.remove(d / name)
    else:
        os.rename(d / name, target)
    before = target.read_bytes() if target.exists() else None
    os.symlink(target, d / name)
    with pytest.raises(StorePathError, match=f"{d / name} is a symbolic link: refusing to follow it"):
        FlowRuntime(store=str(d))
    assert (target.read_bytes() if target.exists() else None) == before  # not created, not written
    os.remove(d / name)
    if not dangling:
        os.rename(target, d / name)
    assert state(d) == ({"x": ("a", 0)} if not dangling or name == "flows.lock" else {})


def test_a_log_replaced_by_a_symlink_while_open_is_refused(tmp_path):
    d = tmp_path / "s"
    rt = rt_on(d)
    rt.start("f", 1, flow_id="x")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.symlink(victim, d / "link")
    os.rename(d / "link", log_of(d))  # swapped in under the open store
    with pytest.raises(StorePathError, match="is a symbolic link"):
        rt.resume("x", 1)
    assert victim.read_bytes() == b"precious"
    rt.close()


@pytest.mark.parametrize("what", ["directory", "fifo"])
def test_a_data_file_that_is_not_a_regular_file_is_refused(tmp_path, what):
    d = tmp_path / "s"
    d.mkdir()
    if what == "directory":
        (d / "flows.log").mkdir()
        match = "flows.log is a directory, not a flow store file"
    else:
        os.mkfifo(d / "flows.log")
        match = "flows.log is not a regular file"
    with pytest.raises(StorePathError, match=match):
        FlowRuntime(store=str(d))


# ---------------------------------------------------------------- the store path


def test_a_store_path_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"mine")
    with pytest.raises(StorePathError, match=f"{f} is a file, not a directory"):
        FlowRuntime(store=str(f))
    with pytest.raises(StorePathError, match=f"{f} is a file, not a directory"):
        FlowRuntime(store=str(f / "below"))  # a parent that is a file
    assert f.read_bytes() == b"mine"
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_a_store_path_that_is_a_dangling_symlink_is_a_clear_error(tmp_path):
    os.symlink(tmp_path / "nowhere", tmp_path / "s")
    with pytest.raises(StorePathError, match="is a symbolic link to nothing"):
        FlowRuntime(store=str(tmp_path / "s"))
    assert not (tmp_path / "nowhere").exists()


def test_an_empty_store_path_is_refused(tmp_path):
    with pytest.raises(StorePathError, match="needs a directory path"):
        FileStore("")


def test_store_paths_as_bytes_and_pathlike_are_the_same_store(tmp_path):
    d = tmp_path / "s"
    rt = FlowRuntime(store=d)
    rt.load(FLOW)
    rt.start("f", 1, flow_id="x")
    rt.close()
    s = FileStore(os.fsencode(str(d)))
    assert s.ids() == ["x"] and s.path == log_of(d)
    s.close()


def test_a_symlinked_store_directory_is_followed(tmp_path):
    """The directory is the user's to choose; only the files in it are guarded."""
    d = tmp_path / "real"
    rt_on(d).close()
    os.symlink(d, tmp_path / "alias")
    rt = rt_on(tmp_path / "alias")
    rt.start("f", 1, flow_id="x")
    rt.close()
    assert state(d) == {"x": ("a", 0)}


def test_a_bad_log_is_still_a_format_error_not_a_path_error(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "flows.log").write_bytes(b"garbage garbage")
    with pytest.raises(StoreFormatError, match="bad magic"):
        FlowRuntime(store=str(d))


# ---------------------------------------------------------------- the lock file

HOLDER_CHECK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
except OSError:
    print("held")
else:
    print("free")
"""


def test_opening_and_closing_another_store_keeps_this_process_s_flow_locks(tmp_path):
    """Closing any descriptor of flows.lock would drop every record lock the
    process holds on it: a second store on the directory must not."""
    d = tmp_path / "s"
    rt = rt_on(d)
    bucket = lock_byte("x")

    def other_process_sees():
        return subprocess.run([sys.executable, "-c", HOLDER_CHECK, str(d / "flows.lock"), str(bucket)],
                              capture_output=True, text=True, check=True).stdout.strip()

    with rt.store.lock("x"):
        assert other_process_sees() == "held"
        second = rt_on(d)
        assert other_process_sees() == "held"
        second.close()
        with pytest.raises(StorePathError):
            FlowRuntime(store=str(d / "flows.log"))
        assert other_process_sees() == "held"
    assert other_process_sees() == "free"
    rt.close()
