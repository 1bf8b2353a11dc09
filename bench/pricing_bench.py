"""Pricing speed: a cold quote (a cart never seen, so the miniKanren search runs),
a warm quote (the memo), and the backward question carts_costing — the repo's
schemes/kanren.scm + schemes/pricing.scm against a baseline copy in the same run.

    cp schemes/kanren.scm /tmp/kanren_old.scm; cp schemes/pricing.scm /tmp/pricing_old.scm  # before a change
    python bench/pricing_bench.py --kanren /tmp/kanren_old.scm --rules /tmp/pricing_old.scm
    python bench/pricing_bench.py                       # the repo's rules alone
    python bench/pricing_bench.py --baseline-pricing-py /tmp/pricing_old.py ...  # also the old Python side

What is timed (each in its own interpreter, the two interleaved round by round so
drift on a busy machine hits both; each cell is the best round, CPU time of this
process — time.process_time — so other people's load on the machine counts less
than it would in wall time; the wall-clock best is printed alongside)
  cold quote   Pricing.quote on --carts distinct carts per round, each new (the
               memo never answers): one line, two lines (the orders bench's cold
               cart: filter x N, tea x 1), five lines.
  warm quote   Pricing.quote of one cart again and again (the memo answers).
  backward     Pricing.carts_costing(total, max_items) for a few questions.
Before timing, the baseline and the repo must give the same quotes and the same
carts (a benchmark of two different answers would mean nothing). Timings are
never asserted anywhere.
"""

import argparse
import importlib.util
import io
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from commerce import pricing as repo_pricing  # noqa: E402
from interp.interpreter import Interpreter  # noqa: E402

BACKWARD = [(2400, 3), (4050, 4)]


def cart_shapes(n):
    """name -> a function i -> the i-th distinct cart of that shape."""
    return {
        "1 line": lambda i: [("honey", n + i)],
        "2 lines": lambda i: [("filter", n + i), ("tea", 1)],
        "5 lines": lambda i: [("tea", 2), ("mug", 1), ("filter", n + i), ("honey", 3), ("pot", 10)],
    }


def load_module(path):
    spec = importlib.util.spec_from_file_location("baseline_pricing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_pricing(module, kanren, rules):
    it = Interpreter(stdout=io.StringIO())
    for path in (kanren, rules):
        with open(path, encoding="utf-8") as f:
            it.eval(f.read(), filename=path)
    return module.Pricing(it)


def timed(f, n):
    """(cpu seconds, wall seconds) of n calls f(0) .. f(n-1)."""
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(n):
        f(i)
    return time.process_time() - c0, time.perf_counter() - w0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kanren", help="baseline kanren.scm (default: none, the repo's rules alone)")
    ap.add_argument("--rules", help="baseline pricing.scm (default: the repo's)")
    ap.add_argument("--baseline-pricing-py", help="baseline commerce/pricing.py (default: the repo's)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (5)")
    ap.add_argument("--carts", type=int, default=40, help="distinct carts per cold round and shape (40)")
    ap.add_argument("--warm", type=int, default=2000, help="warm quotes per round (2000)")
    ap.add_argument("--backward-rounds", type=int, default=2, help="rounds of carts_costing (2)")
    args = ap.parse_args()

    schemes = os.path.join(ROOT, "schemes")
    sides = {"repo": make_pricing(repo_pricing, os.path.join(schemes, "kanren.scm"),
                                  os.path.join(schemes, "pricing.scm"))}
    if args.kanren or args.rules or args.baseline_pricing_py:
        module = load_module(args.baseline_pricing_py) if args.baseline_pricing_py else repo_pricing
        sides = {"baseline": make_pricing(module, args.kanren or os.path.join(schemes, "kanren.scm"),
                                          args.rules or os.path.join(schemes, "pricing.scm")),
                 **sides}

    # the same answers from both, or the timings compare different things
    probe = [s(7) for s in cart_shapes(10).values()] + [[("tea", 9)], [("pot", 25), ("mug", 11)]]
    answers = {name: ([tuple(p.quote(c)) for c in probe], [p.carts_costing(*q) for q in BACKWARD])
               for name, p in sides.items()}
    if len({repr(a) for a in answers.values()}) != 1:
        sys.exit(f"the baseline and the repo answer differently:\n{answers}")

    best = {}  # (measure, side) -> (cpu, wall) per operation, the best round

    def record(key, cpu, wall, n):
        old = best.get(key)
        per = (cpu / n, wall / n)
        best[key] = per if old is None else (min(old[0], per[0]), min(old[1], per[1]))

    shapes = cart_shapes(1000)
    for round_ in range(args.rounds):
        order = list(sides.items()) if round_ % 2 == 0 else list(sides.items())[::-1]
        for name, p in order:
            for shape, cart_of in shapes.items():
                base = 10_000 * (round_ + 1)  # new carts every round: the memo never answers
                cpu, wall = timed(lambda i: p.quote(cart_of(base + i)), args.carts)
                record((f"cold quote, {shape}", name), cpu, wall, args.carts)
            warm_cart = shapes["2 lines"](0)
            p.quote(warm_cart)
            cpu, wall = timed(lambda i: p.quote(warm_cart), args.warm)
            record(("warm quote (memo)", name), cpu, wall, args.warm)
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    for round_ in range(args.backward_rounds):
        for name, p in (list(sides.items()) if round_ % 2 == 0 else list(sides.items())[::-1]):
            for total, max_items in BACKWARD:
                cpu, wall = timed(lambda i: p.carts_costing(total, max_items), 1)
                record((f"carts_costing({total}, {max_items})", name), cpu, wall, 1)

    names = list(sides)
    measures = list(dict.fromkeys(m for m, _ in best))
    width = max(len(m) for m in measures) + 2
    head = "".join(f"{n + ' ms (cpu/wall)':>26}" for n in names)
    print(f"{'measure':<{width}}{head}" + ("   baseline/repo (cpu)" if len(names) == 2 else ""))
    for m in measures:
        row = "".join(f"{best[(m, n)][0] * 1e3:>13.3f} /{best[(m, n)][1] * 1e3:>10.3f}" for n in names)
        if len(names) == 2:
            row += f"   {best[(m, names[0])][0] / best[(m, names[1])][0]:>8.1f}x"
        print(f"{m:<{width}}{row}")


if __name__ == "__main__":
    main()
