"""loop: sum the integers below N in a loop, as bench/programs/loop.scm (hand-written Python peer).

One addition per iteration in a plain `for` loop (not `sum(range(n))`, which
would add in C and time no loop at all).

Usage: python loop.py [N]   (default 1000000; bench/run passes the N of `(sum-below N)`)
"""

import sys


def sum_below(n):
    acc = 0
    for i in range(n):
        acc += i
    return acc


def main(argv):
    n = int(argv[0]) if argv else 1000000
    print(sum_below(n))


if __name__ == "__main__":
    main(sys.argv[1:])
