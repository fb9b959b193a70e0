"""Proves check_outputs.py rejects what it must: each case mutates a copy of a notebook that passes.

Usage: test_check_outputs.py EXECUTED.ipynb   (an executed notebook that check_outputs accepts)
Exits 1 when a case is not rejected.
"""
import copy
import sys

import nbformat

import check_outputs


def first_code(nb):
    return next(c for c in nb.cells if c.cell_type == "code")


def with_stderr(nb):
    first_code(nb).outputs.append(nbformat.v4.new_output("stream", name="stderr", text="WARN something\n"))


def with_error(nb):
    first_code(nb).outputs.append(nbformat.v4.new_output("error", ename="EvalException", evalue="boom", traceback=[]))


def without_images(nb):
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = [o for o in c.outputs if not any(m.startswith("image/") for m in o.get("data", {}))]


def unexecuted(nb):
    first_code(nb).execution_count = None


def with_trace_text(nb):
    first_code(nb).outputs.append(nbformat.v4.new_output(
        "execute_result", data={"text/plain": "java.lang.IllegalStateException: x\n\tat Foo.bar(Foo.java:1)"},
        execution_count=1))


CASES = [with_stderr, with_error, without_images, unexecuted, with_trace_text]


def main():
    base = nbformat.read(sys.argv[1], as_version=4)
    passed = failed = 0
    found, _ = check_outputs.problems(base)
    if found:
        print("the base notebook is not clean: %s" % found)
        failed += 1
    else:
        passed += 1
    for case in CASES:
        nb = copy.deepcopy(base)
        case(nb)
        found, _ = check_outputs.problems(nb)
        if found:
            passed += 1
        else:
            print("check_outputs accepted a notebook %s" % case.__name__.replace("_", " "))
            failed += 1
    print("check_outputs: %d of %d cases behaved" % (passed, passed + failed), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
