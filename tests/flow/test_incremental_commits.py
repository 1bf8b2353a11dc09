"""Incremental commits (flow.live, flow.pieces): a flow kept live between steps
commits only what changed; what a store assembles from a base and its pieces is
the flow's state, whichever way its objects were changed; anything that changes
a kept flow's objects from outside its steps sends it back to the store."""

import random
import string

import msgpack
import pytest

from flow import Done, FlowRuntime
from flow.errors import StoreFormatError
from flow.live import PIECES_MIN, PieceMismatch
from flow.pieces import EXT_REF, assemble
from flow import codec

from flowhelp import runtime, transfer

GROWING = """
(defflow growing (lambda ()
  (let loop ((n 0) (answers '()))
    (if (= n 400) (length answers) (loop (+ n 1) (cons (request 'next n) answers))))))
"""

# every way of changing a kept object in place, each across a request
MUTATIONS = r"""
(define-record-type point (make-point x y) point? (x point-x set-point-x!) (y point-y))
(define p (make-parameter 1))
(defflow mutate (lambda ()
  (let ((pair (list 1 2 3)) (vec (vector 1 2 3)) (str (make-string 3 #\a))
        (bv (bytevector 1 2 3)) (ht (make-equal-hash-table)) (pt (make-point 1 2))
        (counter 0))
    (define (bump!) (set! counter (+ counter 1)) counter)
    (let loop ((i 0))
      (if (= i 6)
          (list pair vec str (bytevector-u8-ref bv 0) (hash-table-ref/default ht 'k #f) (point-x pt) counter)
          (begin
            (request 'tick i)
            (set-car! pair i) (set-cdr! (cddr pair) (list i))
            (vector-set! vec 0 i) (vector-fill! vec i 1 2)
            (string-set! str 0 (integer->char (+ 65 i)))
            (bytevector-u8-set! bv 0 i)
            (hash-table-set! ht 'k i)
            (set-point-x! pt i)
            (bump!)
            (loop (+ i 1))))))))
"""


def pieces_of(rt, flow_id):
    stored = rt.store.get(flow_id)
    return stored.base, list(stored.pieces)


@pytest.fixture(params=["memory", "file", "postgres"])
def location(request, tmp_path):
    """A fresh store location of each kind: None (memory), a directory, a PostgreSQL database."""
    if request.param == "memory":
        return None
    if request.param == "file":
        return str(tmp_path / "store")
    return request.getfixturevalue("pg_databases")().url


def test_a_live_flow_commits_pieces_whose_size_does_not_grow_with_its_state(location):
    rt = runtime(GROWING, store=location)
    rt.start("growing", flow_id="g")
    sizes = {}
    for n in range(399):
        rt.resume("g", "x" * 10)
        base, pieces = pieces_of(rt, "g")
        if pieces:
            sizes[n] = len(pieces[-1])
    assert sizes, "no piece was ever written"
    early = [s for n, s in sizes.items() if n < 100]
    late = [s for n, s in sizes.items() if n > 350]
    # (what grows is only the digits: of the step, the key, the table's indices)
    assert early and late and max(late) <= max(early) + 48
    base, _ = pieces_of(rt, "g")
    assert len(base) > 10 * max(late)  # the whole state is far larger than what a commit writes
    assert rt.resume("g", "last") == Done("g", 400)
    rt.close()


def test_what_the_store_assembles_is_the_flow_a_fresh_runtime_resumes(location):
    rt = runtime(GROWING, store=location)
    rt.start("growing", flow_id="g")
    had_pieces = False
    for n in range(250):  # (pieces once the state outgrows flow.live.LIVE_MIN)
        rt.resume("g", n)
        had_pieces = had_pieces or bool(pieces_of(rt, "g")[1])
    assert had_pieces
    # a second runtime on the same store (its own store object, but in memory) reads it back
    other = runtime(GROWING, store=location if location is not None else rt.store)
    for n in range(250, 399):
        (other if n % 3 else rt).resume("g", n)
    result = rt.resume("g", 399)
    assert result == Done("g", 400)
    rt.close()
    other.close()


def test_every_kind_of_change_in_place_survives_pieces_and_restarts(location):
    rt = runtime(MUTATIONS, store=location)
    rt.start("mutate", flow_id="m")
    for i in range(6):
        r = rt.resume("m", i)
    expected = [[5, 2, 3, 5], [5, 5, 3], "Faa", 5, 5, 5, 6]
    assert r == Done("m", expected)
    # the same run, with the flow read back from the store (assembled) every other step
    rt2 = runtime(MUTATIONS, store=None)
    rt2.start("mutate", flow_id="m")
    for i in range(6):
        r2 = rt2.resume("m", i)
        if i % 2:
            rt2 = transfer(rt2, MUTATIONS)
    assert r2 == Done("m", expected)
    rt.close()


def test_a_change_from_outside_the_flow_sends_it_back_to_its_committed_state():
    code = """
    (define shared #f)
    (defflow holder (lambda ()
      (let ((v (vector 'mine)))
        (set! shared v)
        (request 'wait 1)
        (request 'again (vector-ref v 0)))))
    """
    rt = runtime(code)
    rt.start("holder", flow_id="h")
    rt.eval("(vector-set! shared 0 'theirs)")  # the flow's object, changed by other code
    # the flow resumes from its commit, as after a restart: its vector as it was
    assert rt.resume("h", 0).payload == "mine"
    assert rt.resume("h", 0) == Done("h", 0)


def test_a_change_the_barrier_missed_is_caught_by_the_piece_check(monkeypatch):
    monkeypatch.setenv("FLOWSCHEME_CHECK_PIECES", "1")
    code = """
    (define shared #f)
    (defflow holder (lambda ()
      (let ((p (list 'mine)) (padding (make-list 300 'x)))  ; (a state a step changes little of)
        (set! shared p)
        (let loop () (request 'wait (list (car p) (length padding))) (loop)))))
    """
    rt = runtime(code)
    rt.start("holder", flow_id="h")
    rt.resume("h", 0)
    rt.resume("h", 0)
    assert rt.store.get("h").pieces  # (kept live, committing pieces)
    pair = rt.interp.lookup("shared")
    pair.car = "changed behind the barrier's back"  # (Python: no write barrier)
    with pytest.raises(PieceMismatch, match="'h'"):
        rt.resume("h", 0)


def test_pieces_stay_within_the_size_of_the_whole_snapshot():
    rt = runtime(GROWING)
    rt.start("growing", flow_id="g")
    for n in range(399):
        rt.resume("g", n)
        base, pieces = pieces_of(rt, "g")
        assert sum(map(len, pieces)) <= max(len(base), PIECES_MIN)


def test_flows_dropped_from_the_live_set_resume_from_the_store():
    rt = runtime(GROWING)
    rt.live.max_live = 2
    ids = [f"g{i}" for i in range(5)]
    for fid in ids:
        rt.start("growing", flow_id=fid)
    for n in range(399):
        for fid in ids:
            rt.resume(fid, n)
    assert len(rt.live._kept) <= 2
    assert all(rt.resume(fid, 399) == Done(fid, 400) for fid in ids)


def test_a_failed_commit_drops_the_live_flow_and_the_store_keeps_the_last_one():
    rt = runtime(GROWING)
    rt.start("growing", flow_id="g")
    for n in range(10):
        rt.resume("g", n)
    real = rt.store.commit

    def failing(*a, **k):
        raise OSError("disk full")

    rt.store.commit = failing
    with pytest.raises(OSError):
        rt.resume("g", 10)
    assert "g" not in rt.live._kept and "g" not in rt.live._held
    rt.store.commit = real
    for n in range(10, 399):
        rt.resume("g", n)
    assert rt.resume("g", 399) == Done("g", 400)


def test_a_store_without_pieces_gets_whole_snapshots():
    class Plain:
        """A store object of a user's own: no takes_pieces."""

        def __init__(self):
            from flow.store import MemoryStore

            self.inner = MemoryStore()
            self.seen = []

        def commit(self, flow_id, snapshot, new_entries=(), index=None):
            self.seen.append(snapshot)
            return self.inner.commit(flow_id, snapshot, new_entries, index)

        def __getattr__(self, name):
            if name == "takes_pieces":
                raise AttributeError(name)
            return getattr(self.inner, name)

    store = Plain()
    rt = FlowRuntime(store=store)
    rt.load(GROWING)
    rt.start("growing", flow_id="g")
    for n in range(50):
        rt.resume("g", n)
    assert len(store.seen) == 51 and all(msgpack.unpackb(s).get("piece") is None for s in store.seen)


# ---------------------------------------------------------------- assemble, bad input


def _flow_with_pieces():
    rt = runtime(GROWING)
    rt.start("growing", flow_id="g")
    for n in range(399):  # (pieces once the state is large beside a step's change)
        rt.resume("g", n)
        base, pieces = pieces_of(rt, "g")
        if n > 100 and len(pieces) >= 2:
            break
    assert pieces
    return base, pieces


def _meta(blob):
    return msgpack.unpackb(blob, raw=False)


def _piece_with_k(piece, k):
    m = _meta(piece)
    m["k"] = k
    return msgpack.packb(m, use_bin_type=True)


def test_assemble_drops_what_the_root_no_longer_reaches():
    base, pieces = _flow_with_pieces()
    whole = _meta(assemble(base, pieces))
    units, objects, root = msgpack.unpackb(whole["k"], raw=False)
    n_before = msgpack.unpackb(_meta(pieces[-1])["k"], raw=False)[1]
    assert len(objects) < n_before  # old frames and environments left out
    assert "piece" not in whole


@pytest.mark.parametrize("change, message", [
    (lambda k: [k[0], k[1], [10**6, k[2][1]] + k[2][2:], k[3]], "out of range"),
    (lambda k: [k[0], k[1], k[2] + [0], k[3]], "pairs"),
    (lambda k: [[["other", "x.scm"]], k[1], k[2], k[3]], "code units"),
    (lambda k: [k[0], 0, k[2], k[3]], "table length"),
    (lambda k: [k[0], k[1], k[2]], "expected"),
])
def test_a_malformed_piece_is_refused_naming_what_is_wrong(change, message):
    base, pieces = _flow_with_pieces()
    k = msgpack.unpackb(_meta(pieces[-1])["k"], raw=False)
    bad = _piece_with_k(pieces[-1], msgpack.packb(change(k), use_bin_type=True))
    with pytest.raises(StoreFormatError, match=message):
        assemble(base, pieces[:-1] + [bad])


def test_a_piece_that_leaves_an_object_unwritten_is_refused():
    base, pieces = _flow_with_pieces()
    k = msgpack.unpackb(_meta(pieces[-1])["k"], raw=False)
    k[1] += 5  # a longer table, with nothing written in the new places ...
    k[3] = msgpack.ExtType(EXT_REF, (k[1] - 1).to_bytes(4, "big"))  # ... and the root one of them
    bad = _piece_with_k(pieces[-1], msgpack.packb(k, use_bin_type=True))
    with pytest.raises(StoreFormatError, match="never written"):
        assemble(base, pieces[:-1] + [bad])


def test_a_piece_where_a_base_belongs_and_changes_without_a_continuation_are_refused():
    base, pieces = _flow_with_pieces()
    with pytest.raises(StoreFormatError, match="a piece where its base belongs"):
        assemble(pieces[0], pieces)
    m = _meta(base)
    m["k"] = None
    with pytest.raises(StoreFormatError, match="does not have"):
        assemble(msgpack.packb(m, use_bin_type=True), pieces)
    with pytest.raises(StoreFormatError, match="not marked"):
        assemble(base, [base])


def test_the_reference_code_is_the_codecs():
    assert EXT_REF == codec.EXT_REF


# ---------------------------------------------------------------- large strings, stored once

BIG = "".join(random.Random(14).choices(string.ascii_letters + string.digits, k=100_000))  # (no repeats)


def _copies(stored, text=BIG):
    needle = text[:64].encode()
    return sum(b.count(needle) for b in [stored.base, *stored.pieces, *stored.journal])


def test_a_large_answer_is_stored_once_however_long_the_flow_keeps_it(location):
    rt = runtime(GROWING, store=location)
    rt.start("growing", flow_id="g")
    for n in range(5):
        rt.resume("g", n)
    rt.resume("g", BIG)  # kept in the flow's list of answers from now on
    assert _copies(rt.store.get("g")) == 1
    for n in range(6, 200):  # (whole snapshots in between: see flow.live)
        rt.resume("g", n)
    assert _copies(rt.store.get("g")) == 1
    other = runtime(GROWING, store=location if location is not None else rt.store)
    for n in range(200, 399):  # read back from the store by another runtime, committed whole
        (other if n % 2 else rt).resume("g", n)
    assert _copies(rt.store.get("g")) == 1
    fresh = transfer(rt, GROWING)
    assert _copies(fresh.store.get("g")) == 1
    fresh.resume("g", 399)  # (its list now holds the large answer it reads back from its journal)
    assert fresh.flow("g").result == 400


def test_a_large_payload_answered_is_referred_to_in_the_journal():
    code = """
    (defflow echo (lambda (text)
      (let ((got (request 'send text)))
        (request 'again (string-length got))
        (string-append got "!"))))
    """
    rt = runtime(code)
    rt.start("echo", BIG, flow_id="e")
    rt.resume("e", BIG)  # the answer is the same text as the payload it answers
    assert rt.resume("e", 0) == Done("e", BIG + "!")


def _graph_with_ref(cenv, which=1):
    text = "y" * codec.LARGE_STRING
    units, objects, root = codec.encode((text, 1), cenv, {text: codec.journal_ref(0, which)})
    return msgpack.packb([units, objects, root], use_bin_type=True), text


def _journal(rt, payload, answer):
    from flow.model import JournalEntry, journal_entry_bytes
    from interp.values import sym

    return [journal_entry_bytes(JournalEntry(sym("k"), payload, "f:1", answer), rt.cenv)]


def test_journal_references_resolve_to_the_journal_strings():
    from flow.model import JournalValues, unpack_graph

    rt = runtime(GROWING)
    blob, text = _graph_with_ref(rt.cenv)
    shared = {}
    got = unpack_graph(blob, rt.cenv, journal=JournalValues(_journal(rt, 1, text), rt.cenv, shared))
    assert got == (text, 1) and shared == {text: codec.journal_ref(0, 1)}


@pytest.mark.parametrize("entries, which, message", [
    ([], 1, "journal entry 0, which the flow does not have"),
    ("short", 1, "not a large string"),
    ("number", 0, "not a large string"),
    (None, 1, "not at hand"),
])
def test_a_bad_journal_reference_is_refused(entries, which, message):
    from flow.model import JournalValues, unpack_graph

    rt = runtime(GROWING)
    blob, text = _graph_with_ref(rt.cenv, which)
    if entries == "short":
        entries = _journal(rt, 1, "y")
    elif entries == "number":
        entries = _journal(rt, 5, text)
    journal = None if entries is None else JournalValues(entries, rt.cenv, {})
    with pytest.raises(codec.CodecError, match=message):
        unpack_graph(blob, rt.cenv, journal=journal)


def test_a_malformed_journal_reference_is_refused():
    from flow.model import JournalValues, unpack_graph

    rt = runtime(GROWING)
    text = "y" * codec.LARGE_STRING
    bad = msgpack.ExtType(codec.EXT_JOURNAL, b"\x00\x00\x00\x00\x07")  # which: neither 0 nor 1
    units, objects, root = codec.encode((text, 1), rt.cenv, {text: bad})
    blob = msgpack.packb([units, objects, root], use_bin_type=True)
    with pytest.raises(codec.CodecError, match="malformed journal reference"):
        unpack_graph(blob, rt.cenv, journal=JournalValues(_journal(rt, 1, text), rt.cenv, {}))


def test_flows_sharing_an_object_committed_on_many_threads_all_hear_of_its_change():
    import threading

    code = """
    (define shared (vector 'as-committed))
    (defflow sharer (lambda ()
      (let ((v shared) (padding (make-list 200 'x)))  ; (kept live: a state a step changes little of)
        (let loop () (request 'look (list (vector-ref v 0) (length padding))) (loop)))))
    """
    rt = runtime(code)
    ids = [f"s{i}" for i in range(24)]
    for fid in ids:
        rt.start("sharer", flow_id=fid)

    def resume_all(part):
        for _ in range(5):
            for fid in part:
                rt.resume(fid, 0)

    threads = [threading.Thread(target=resume_all, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(rt.live._kept) == len(ids)
    rt.eval("(vector-set! shared 0 'changed-outside)")  # every kept flow holds that vector
    # each flow goes on from its commit (as after a restart), none sees the change
    assert all(rt.resume(fid, 0).payload[0] == "as-committed" for fid in ids)
