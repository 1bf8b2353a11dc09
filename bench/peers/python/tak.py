"""tak: the Takeuchi function, as bench/programs/tak.scm (hand-written Python peer).

Usage: python tak.py [X Y Z]   (default 18 12 6; bench/run passes the arguments of `(tak X Y Z)`)
"""

import sys


def tak(x, y, z):
    if not y < x:
        return z
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))


def main(argv):
    x, y, z = (int(a) for a in argv) if argv else (18, 12, 6)
    print(tak(x, y, z))


if __name__ == "__main__":
    main(sys.argv[1:])
