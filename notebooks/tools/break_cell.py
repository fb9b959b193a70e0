"""Writes a copy of a notebook whose first code cell after the imports does not compile.

Usage: break_cell.py SOURCE.ipynb COPY.ipynb
The copy's broken line names `deliberately_broken`, so the runner's log shows which cell failed.
"""
import sys

import nbformat


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: break_cell.py SOURCE.ipynb COPY.ipynb")
    nb = nbformat.read(sys.argv[1], as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) < 2:
        sys.exit("break_cell.py: %s has fewer than two code cells" % sys.argv[1])
    code[1].source = 'int deliberately_broken = "not a number";\n' + code[1].source
    nbformat.write(nb, sys.argv[2])


if __name__ == "__main__":
    main()
