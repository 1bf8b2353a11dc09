"""Mutable strings in flow data: a suspended flow's strings made by make-string,
string-copy, string-append ... come back mutable, with their sharing intact, after the
flow is resumed from its store, exported and imported; literals stay immutable; the
host sees every string as a Python str; malformed string entries are refused."""

import msgpack
import pytest

from flow import FlowRuntime, codec, to_python, to_scheme
from interp.values import NIL, MString, Pair

from flowhelp import runtime, transfer

CODE = r"""
(defflow scribble
  (lambda (n)
    (let* ((s (make-string n #\-))
           (alias (list s s))
           (joined (string-append "ab" (string #\c)))
           (lit "literal"))
      (string-set! s 0 #\a)
      (request 'first (string-copy s))
      ;; after a resume: the same (still mutable) object under both names
      (string-set! (car alias) 1 #\b)
      (string-fill! joined #\z 1)
      (request 'second (list s (cadr alias) (eq? (car alias) (cadr alias)) (eq? s (car alias))))
      (list s joined
            (guard (e ((error-object? e) (error-object-message e))) (string-set! lit 0 #\L) 'mutated)
            lit))))
"""


def _run_through(rt, make_next):
    """Start the flow, then hand it on with make_next(rt) before each resume."""
    first = rt.start("scribble", 4, flow_id="s1")
    assert first.kind == "first" and first.payload == "a---" and type(first.payload) is str
    rt = make_next(rt)
    second = rt.resume("s1", None)
    assert second.kind == "second"
    assert second.payload == ["ab--", "ab--", True, True]
    rt = make_next(rt)
    done = rt.resume("s1", None)
    s, joined, message, lit = done.value
    assert (s, joined, lit) == ("ab--", "azz", "literal")
    assert all(type(x) is str for x in (s, joined, lit))
    assert "string-set!" in message and "immutable" in message and '"literal"' in message
    return rt


def test_a_resumed_flow_still_mutates_its_strings():
    _run_through(runtime(CODE), lambda rt: rt)


def test_strings_survive_export_and_import_mutable_and_shared():
    _run_through(runtime(CODE), lambda rt: transfer(rt, CODE))


def test_strings_survive_a_durable_store(tmp_path):
    from flow.store import open_store

    where = str(tmp_path / "flows")

    def reopen(rt):
        rt.store.close()
        return runtime(CODE, store=open_store(where))

    _run_through(runtime(CODE, store=open_store(where)), reopen)


def _round_trip(root):
    env = codec.Env(FlowRuntime().interp)
    units, objects, r = codec.encode(root, env)
    return objects, codec.decode_graph(msgpack.packb([units, objects, r]), env)


def test_a_shared_mutable_string_is_one_object_table_entry():
    s = MString("shared")
    s.mutable_chars()[0] = "S"  # a mutated string is saved by its current characters
    objects, back = _round_trip(Pair(s, Pair(s, Pair("lit", NIL))))
    assert sum(1 for o in objects if o[0] == codec.T_STRING) == 1
    assert type(back.car) is MString and back.car is back.cdr.car
    assert back.car.text() == "Shared"
    assert type(back.cdr.cdr.car) is str  # a literal stays immutable


KEYS = r"""
(defflow keys
  (lambda ()
    (let ((h (make-equal-hash-table)) (k (string-copy "key")))
      (hash-table-set! h k 1)
      (request 'wait #f)
      (list (hash-table-ref/default h "key" 'missing)
            (hash-table-ref/default h (string #\k #\e #\y) 'missing)
            (hash-table-ref/default h "other" 'missing)
            (string? (car (hash-table-keys h)))))))
"""


def test_mutable_string_keys_of_an_equal_table_still_find_their_values():
    rt = runtime(KEYS)
    rt.start("keys", flow_id="k")
    assert transfer(rt, KEYS).resume("k", None).value == [1, 1, "missing", True]


@pytest.mark.parametrize("entry", [
    [codec.T_STRING],
    [codec.T_STRING, 5],
    [codec.T_STRING, b"bytes"],
    [codec.T_STRING, "a", "b"],
    [codec.T_STRING, None],
])
def test_malformed_string_entries_are_refused(entry):
    env = codec.Env(FlowRuntime().interp)
    units, objects, r = codec.encode(Pair(MString("x"), NIL), env)
    objects = [entry if o[0] == codec.T_STRING else o for o in objects]
    with pytest.raises(codec.CodecError, match="malformed string"):
        codec.decode_graph(msgpack.packb([units, objects, r], use_bin_type=True), env)


def test_host_conversion_gives_str_both_ways():
    rt = FlowRuntime()
    made = rt.eval('(list (string-copy "a") (make-string 2 #\\b) "lit" (string->symbol (string #\\c)))')
    assert to_python(made) == ["a", "bb", "lit", "c"]
    assert all(type(x) is str for x in to_python(made))
    assert type(to_scheme("text")) is str  # a host string is immutable in Scheme
