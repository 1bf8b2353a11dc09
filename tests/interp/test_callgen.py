"""The application closures: checked-in code that matches its generator, names
all defined in calls.py, and counting calls in calls.py's counters."""

import builtins
import dis

import pytest

from interp import callgen, calls, machine, nodes
from interp.interpreter import Interpreter


def test_the_checked_in_application_closures_are_what_the_generator_writes():
    _, section, _ = callgen.split(callgen.CALLS.read_text())
    assert section == callgen.render()
    assert callgen.main(["--check"]) == 0


def test_the_check_fails_on_a_hand_edited_closure_and_a_rewrite_restores_it(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "calls.py"
    text = callgen.CALLS.read_text()
    edited = text.replace("                    _fuel -= 1\n", "                    _fuel -= 2\n", 1)
    assert edited != text
    copy.write_text(edited)
    monkeypatch.setattr(callgen, "CALLS", copy)
    assert callgen.main(["--check"]) == 1
    assert "differ" in capsys.readouterr().err
    assert copy.read_text() == edited  # --check never writes
    assert callgen.main([]) == 0
    assert copy.read_text() == text
    assert callgen.main(["--check"]) == 0


def test_there_is_a_builder_for_every_variant_and_app_nodes_use_them():
    assert set(calls.APP_BUILDERS) == set(callgen.variants())
    assert len(calls.APP_BUILDERS) == 20
    assert nodes.APP_BUILDERS is calls.APP_BUILDERS
    # nothing is generated into the machine's namespace any more
    assert not [name for name in vars(machine) if name.startswith(("build_app", "_build_app"))]


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from _code_objects(const)


def test_every_global_the_builders_use_is_defined_in_calls_and_only_the_counters_are_assigned():
    stored = set()
    for builder in calls.APP_BUILDERS.values():
        assert builder.__module__ == "interp.calls"
        assert builder.__globals__ is vars(calls)
        for code in _code_objects(builder.__code__):
            for ins in dis.get_instructions(code):
                if ins.opname == "LOAD_GLOBAL":
                    name = ins.argval
                    assert name in vars(calls) or hasattr(builtins, name), (builder.__name__, name)
                elif ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
                    stored.add(ins.argval)
    assert stored == {"_depth", "_fuel"}


def _fuel_used(it, text):
    machine.set_fuel(1 << 40)
    it.eval(text)
    return (1 << 40) - machine.fuel()


def test_fuel_counts_one_per_closure_call_through_the_application_closures():
    it = Interpreter()
    it.eval("(define (one x) x) (define (two x y) y) (define (zero) 0)")
    old = machine.fuel()
    try:
        base = _fuel_used(it, "(list (one 1))")
        # one more non-tail call of each arity: one more unit of fuel each
        assert _fuel_used(it, "(list (one 1) (one 2))") == base + 1
        assert _fuel_used(it, "(list (one 1) (two 1 2))") == base + 1
        assert _fuel_used(it, "(list (one 1) (zero))") == base + 1
        assert _fuel_used(it, "(list (one 1) ((lambda (x) x) 2))") == base + 1  # operator an expression
        assert machine.fuel() == calls._fuel
    finally:
        machine.set_fuel(old)


def test_an_interrupt_sets_the_spill_limit_the_closures_read_and_the_driver_takes_it():
    it = Interpreter()
    it.eval("(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1)))))")
    seen = []
    verdict = [None]

    def check():
        seen.append(calls._limit)
        return verdict[0]

    saved = machine.CHECK[0]
    machine.CHECK[0] = check
    try:
        machine.interrupt()
        assert calls._limit == -1
        assert it.eval("(down 100)") == 100  # the hook said carry on
        # the first call spilled into the driver, which asked the hook once
        assert seen == [-1]
        verdict[0] = "stop"
        machine.interrupt()
        with pytest.raises(machine.Interrupted) as stopped:
            it.eval("(down 100)")
        assert stopped.value.reason == "stop"
        assert seen == [-1, -1]
    finally:
        machine.CHECK[0] = saved
    assert calls._limit >= 0  # the driver put the spill depth back after the run
    assert it.eval("(down 5000)") == 5000  # deeper than MAX_DEPTH: spills and carries on
    assert calls._depth == 0
