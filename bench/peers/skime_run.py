"""Run a Scheme program on skime (PyPI `skime`), for the benchmark table.

skime's console script is only an interactive REPL (one line per expression),
so this runner uses its embedding API instead: `skime.vm.VM().load(path)`,
which compiles the whole file as one `(begin ...)` and runs it on skime's VM.
Run it with the Python of the venv skime is installed in:

    python skime_run.py PROGRAM.scm
    python skime_run.py -e EXPR          (prints the value)

Errors are reported on stderr with exit status 1.
"""

import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("-e", "--eval", metavar="EXPR",
                      help="evaluate EXPR and print its value")
    what.add_argument("program", nargs="?", help="Scheme program file to run")
    args = ap.parse_args(argv)

    from skime.vm import VM

    try:
        vm = VM()
        if args.eval is not None:
            print(vm.eval_string(args.eval))
        else:
            vm.load(args.program)
        sys.stdout.flush()
    except RecursionError:
        sys.stdout.flush()
        print("skime_run: RecursionError (Python stack exhausted)", file=sys.stderr)
        return 1
    except Exception as e:
        sys.stdout.flush()
        print(f"skime_run: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
