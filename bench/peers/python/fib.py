"""fib: naive doubly-recursive Fibonacci, as bench/programs/fib.scm (hand-written Python peer).

Usage: python fib.py [N]   (default 25; bench/run passes the N of the program's `(fib N)`)
"""

import sys


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def main(argv):
    n = int(argv[0]) if argv else 25
    print(fib(n))


if __name__ == "__main__":
    main(sys.argv[1:])
