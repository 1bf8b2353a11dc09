"""Programs: the top-level forms of one text, run one after another in a single run.

A form is analysed only when the run first reaches it, so the macros an earlier
form defined (or a file it loaded) are in force. A continuation captured inside a
form includes "the rest of the program": a `toplevel` resumer frame whose data is
(program key, index of the next form). Re-entering such a continuation from a
later form therefore carries on through the rest of the file, as a native Scheme
does. The frame stays plain data; the key finds the program in PROGRAMS, which
holds it for as long as its code unit is alive.
"""

import itertools
import weakref

from .analyzer import Analyzer
from .errors import scheme_error
from .machine import Capture, Frame, RESUMERS, TailCall, call, resumer
from .nodes import CodeUnit
from .sha import sha256

PROGRAMS = weakref.WeakValueDictionary()  # key -> Program
_serial = itertools.count(1)


class Program:
    """The forms of one text (read at once), analysed lazily, run in order."""

    def __init__(self, genv, units, text, filename=None, datums=None):
        self.positions = None  # where each form was read, when read here
        if datums is None:
            from .reader import read_all

            self.positions = []
            datums = read_all(text, filename, self.positions)
        self.datums = datums
        self.count = len(datums)
        self.unit = CodeUnit(text, filename)
        self.unit.program = self  # the program lives as long as its code does
        self.analyzer = Analyzer(genv, self.unit)
        self.units = units
        self.codes = []
        digest = sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        self.key = f"{digest}.{next(_serial)}"
        PROGRAMS[self.key] = self

    def code(self, i):
        """The compiled form i (analysing the forms up to it first)."""
        codes = self.codes
        while len(codes) <= i:
            j = len(codes)
            codes.append(self.analyzer.compile_toplevel(self.datums[j], self.positions and self.positions[j]))
            if len(codes) == self.count:
                self.datums = self.positions = None  # all analysed: not needed any more
        return codes[i]

    def run_from(self, i, value):
        """Run forms i.. and return the last one's value (`value` if none are left).

        The last form runs in tail position; a continuation captured in an earlier
        one gets a frame that runs the forms after it."""
        n = self.count
        if i >= n:
            return value
        while i < n - 1:
            code = self.code(i)
            try:
                v = code(None)
                if type(v) is TailCall:
                    v = call(v.f, v.args)
            except Capture as cap:
                cap.frames.append(Frame(TOPLEVEL, None, (self.key, i + 1)))
                raise
            i += 1
        return self.code(n - 1)(None)

    def register(self):
        """Make the code unit findable by its hash (the flow store refers to it so)."""
        self.units[self.unit.hash] = self.unit


@resumer("toplevel")
def _resume_toplevel(frame, value):
    key, i = frame.data
    program = PROGRAMS.get(key)
    if program is None:
        raise scheme_error(
            "cannot continue the rest of a program that is no longer loaded", key
        )
    return program.run_from(i, value)


TOPLEVEL = RESUMERS["toplevel"]
