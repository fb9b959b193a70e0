"""Checks that notebooks are committed without outputs: no outputs, no execution counts.

Usage: check_stripped.py NOTEBOOK.ipynb ...   (exit 1 naming each notebook that has outputs)
"""
import sys

import nbformat


def main():
    dirty = []
    for path in sys.argv[1:]:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                dirty.append("%s: cell %d has outputs; clear them before committing "
                             "(Jupyter: Edit > Clear All Outputs)" % (path, index))
    for d in dirty:
        print("notebooks: " + d, file=sys.stderr)
    sys.exit(1 if dirty else 0)


if __name__ == "__main__":
    main()
