"""Proper tail calls in every tail position R7RS names, loops in constant memory,
and non-tail recursion bounded by memory rather than by Python's stack.

A tail position is checked exactly: a loop through it captures its continuation
(call/cc) after 10 and after 2,000 iterations, and the two continuations must be
equally long. A call that is not a tail call leaves one frame per iteration."""

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from evalhelp import interp
from interp.machine import continuation_frames

ROOT = Path(__file__).resolve().parents[2]
SLOW = bool(os.environ.get("FLOWSCHEME_SLOW"))


def depth_interp():
    it = interp()
    it.define("%k-depth", lambda k: len(continuation_frames(k.k)))
    it.eval("(define (probe) (call/cc (lambda (k) (%k-depth k))))")
    return it


# each defines (loop n): (probe) when n is 0, else a call (loop (- n 1)) in the named position
TAIL_POSITIONS = {
    "if then": "(define (loop n) (if (> n 0) (loop (- n 1)) (probe)))",
    "if else": "(define (loop n) (if (= n 0) (probe) (loop (- n 1))))",
    "cond clause": "(define (loop n) (cond ((= n 0) (probe)) ((odd? n) 'x (loop (- n 1))) (else (loop (- n 1)))))",
    "cond =>": "(define (loop n) (cond ((= n 0) (probe)) ((- n 1) => loop)))",
    "cond else": "(define (loop n) (cond ((= n 0) (probe)) (else (loop (- n 1)))))",
    "case clause": "(define (loop n) (case n ((0) (probe)) ((1 3 5) (loop (- n 1))) (else (loop (- n 1)))))",
    "case =>": "(define (loop n) (case n ((0) (probe)) (else => (lambda (m) (loop (- m 1))))))",
    "and": "(define (loop n) (if (= n 0) (probe) (and #t 1 (loop (- n 1)))))",
    "or": "(define (loop n) (if (= n 0) (probe) (or #f (loop (- n 1)))))",
    "when": "(define (loop n) (if (= n 0) (probe) (when #t 1 (loop (- n 1)))))",
    "unless": "(define (loop n) (if (= n 0) (probe) (unless #f 1 (loop (- n 1)))))",
    "let": "(define (loop n) (if (= n 0) (probe) (let ((m (- n 1))) 1 (loop m))))",
    "let*": "(define (loop n) (if (= n 0) (probe) (let* ((a 1) (m (- n a))) (loop m))))",
    "letrec": "(define (loop n) (if (= n 0) (probe) (letrec ((m (- n 1))) (loop m))))",
    "letrec*": "(define (loop n) (if (= n 0) (probe) (letrec* ((a 1) (m (- n a))) (loop m))))",
    "named let": "(define (loop n) (let lp ((i n)) (if (= i 0) (probe) (lp (- i 1)))))",
    "let-values": "(define (loop n) (if (= n 0) (probe) (let-values (((m) (- n 1))) (loop m))))",
    "let*-values": "(define (loop n) (if (= n 0) (probe) (let*-values (((a) 1) ((m) (- n a))) (loop m))))",
    "do result": "(define (loop n) (do ((i 0 (+ i 1))) ((= i 2) (if (= n 0) (probe) (loop (- n 1))))))",
    "begin": "(define (loop n) (if (= n 0) (probe) (begin 1 2 (loop (- n 1)))))",
    "lambda body": "(define (loop n) (if (= n 0) (probe) ((lambda () 1 (loop (- n 1))))))",
    "internal define body": "(define (loop n) (define m (- n 1)) (if (< m 0) (probe) (loop m)))",
    "apply": "(define (loop n) (if (= n 0) (probe) (apply loop (list (- n 1)))))",
    "call/cc receiver": "(define (loop n) (if (= n 0) (probe) (call/cc (lambda (k) (loop (- n 1))))))",
    "call-with-values consumer": "(define (loop n) (if (= n 0) (probe) (call-with-values (lambda () (- n 1)) loop)))",
    "case-lambda": "(define loop (case-lambda ((n) (if (= n 0) (probe) (loop (- n 1) 'x))) ((n x) (loop n))))",
    "mutual recursion": "(define (loop n) (if (= n 0) (probe) (other (- n 1)))) (define (other n) (loop n))",
    "macro expansion": "(define-syntax my-if (syntax-rules () ((_ c a b) (cond (c a) (else b)))))"
                       " (define (loop n) (my-if (= n 0) (probe) (loop (- n 1))))",
    "eval": "(define (loop n) (if (= n 0) (probe) (eval (list 'loop (- n 1)) (interaction-environment))))",
}


@pytest.mark.parametrize("position", list(TAIL_POSITIONS), ids=list(TAIL_POSITIONS))
def test_tail_position(position):
    it = depth_interp()
    it.eval(TAIL_POSITIONS[position])
    short = it.eval("(loop 10)")
    long = it.eval("(loop 2000)")
    assert long == short, f"{position}: {long - short} frames left by 1990 more iterations"


def test_the_probe_detects_a_non_tail_call():
    it = depth_interp()
    it.eval("(define (loop n) (if (= n 0) (probe) (+ 0 (loop (- n 1)))))")
    assert it.eval("(loop 2000)") - it.eval("(loop 10)") >= 1990


@pytest.mark.parametrize(
    "form",
    [
        "(dynamic-wind (lambda () #f) (lambda () (loop (- n 1))) (lambda () #f))",
        "(guard (e (#f 0)) (loop (- n 1)))",
    ],
)
def test_positions_that_are_not_tail_positions(form):
    """R7RS does not make these tail positions (work remains after the call)."""
    it = depth_interp()
    it.eval(f"(define (loop n) (if (= n 0) (probe) {form}))")
    assert it.eval("(loop 200)") > it.eval("(loop 10)")


def test_a_tail_loop_runs_in_constant_memory():
    it = interp()
    it.eval("(define (loop n acc) (if (= n 0) acc (loop (- n 1) (+ acc 1))))")
    it.eval("(loop 1000 0)")  # warm up (compile)
    tracemalloc.start()
    try:
        assert it.eval("(loop 200000 0)") == 200000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"peak {peak} bytes for a tail loop"


def test_a_named_let_loop_with_many_iterations_returns():
    it = interp()
    assert it.eval("(let loop ((i 0) (acc 0)) (if (= i 300000) acc (loop (+ i 1) (+ acc i))))") == sum(range(300000))


@pytest.mark.skipif(not SLOW, reason="set FLOWSCHEME_SLOW=1 to run the 10,000,000-iteration loop")
def test_ten_million_iterations_in_constant_memory():
    src = "(define (loop n acc) (if (= n 0) acc (loop (- n 1) (+ acc 1)))) (display (loop 10000000 0))"
    code = (
        "import resource, sys; from interp import Interpreter; "
        f"Interpreter().eval({src!r}); "
        "sys.stdout.write(' %d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=1200)
    value, maxrss_kb = done.stdout.split()
    assert value == "10000000"
    assert int(maxrss_kb) < 150_000


# ---------------------------------------------------------------- deep non-tail recursion


COUNT = "(define (count n) (if (= n 0) 0 (+ 1 (count (- n 1)))))"


def test_deep_non_tail_recursion_returns():
    it = interp()
    it.eval(COUNT)
    assert it.eval("(count 100000)") == 100000


def test_deep_recursion_through_map_and_non_tail_builders():
    it = interp()
    it.eval("(define (build n) (if (= n 0) '() (cons n (build (- n 1)))))")
    assert it.eval("(length (build 50000))") == 50000
    it.eval("(define (my-map f l) (if (null? l) '() (cons (f (car l)) (my-map f (cdr l)))))")
    assert it.eval("(apply + (my-map (lambda (x) (* 2 x)) (iota 30000)))") == 2 * sum(range(30000))
    # deep recursion inside a map callback, inside a dynamic-wind, inside a guard
    it.eval("(define (sum-to n) (if (= n 0) 0 (+ n (sum-to (- n 1)))))")
    assert it.eval("(guard (e (#t 'error)) (dynamic-wind (lambda () #f) (lambda () (map sum-to '(20000 30000))) (lambda () #f)))").car == 20000 * 20001 // 2


def test_an_error_deep_in_recursion_is_a_scheme_error_with_a_short_backtrace():
    from interp.errors import SchemeError

    it = interp()
    it.eval("(define (down n) (if (= n 0) (car '()) (+ 1 (down (- n 1)))))")
    with pytest.raises(SchemeError) as info:
        it.eval("(down 30000)")
    e = info.value
    assert "car: expected a pair" in e.message
    assert e.backtrace[0][0] == "down"
    text = e.format()
    assert len(text.splitlines()) < 20 and "more" in text


@pytest.mark.skipif(not SLOW, reason="set FLOWSCHEME_SLOW=1 to run count 1,000,000")
def test_count_one_million():
    it = interp()
    it.eval(COUNT)
    start = time.perf_counter()
    assert it.eval("(count 1000000)") == 1000000
    assert time.perf_counter() - start < 300


def test_a_shallow_run_stays_off_the_roomy_frame_and_a_deep_one_moves_there(monkeypatch):
    """A short computation (a flow step) runs without the driver's roomy stack frame
    (its chunk costs an mmap/munmap a run); one that gets deep spills once into
    frames, carries on in the roomy frame, and still answers right — also when it
    captures a continuation and suspends mid-way."""
    from interp import machine

    entered = []
    roomy = machine._ROOMY

    def counting(fn, *args):
        entered.append(1)
        return roomy(fn, *args)

    monkeypatch.setattr(machine, "_ROOMY", counting)
    it = interp()
    it.eval("(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1)))))")
    assert it.eval("(down 5)") == 5
    assert entered == []
    assert it.eval("(down 5000)") == 5000
    assert entered == [1]
    assert it.eval("(+ (down 3000) (call/cc (lambda (k) (k (down 10)))))") == 3010
    assert len(entered) == 2
