"""Writes a copy of a notebook or Zeppelin note with one code cell that does not compile.

Usage: break_cell.py SOURCE.ipynb|SOURCE.zpln COPY
In a Jupyter notebook the second code cell (the first after the imports) gets a Java line, in a
Zeppelin note the first %spark paragraph a Scala line, that names `deliberately_broken`, so the
runner's log shows that the failure is this cell's.
"""
import json
import sys

import nbformat


def break_notebook(source, copy):
    nb = nbformat.read(source, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(code) < 2:
        sys.exit("break_cell.py: %s has fewer than two code cells" % source)
    code[1].source = 'int deliberately_broken = "not a number";\n' + code[1].source
    nbformat.write(nb, copy)


def break_note(source, copy):
    with open(source) as f:
        note = json.load(f)
    for p in note["paragraphs"]:
        if p.get("text", "").startswith("%spark\n"):
            p["text"] = '%spark\nval deliberately_broken: Int = "not a number"\n' + p["text"][len("%spark\n"):]
            break
    else:
        sys.exit("break_cell.py: %s has no %%spark paragraph" % source)
    with open(copy, "w") as f:
        json.dump(note, f, indent=2)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: break_cell.py SOURCE.ipynb|SOURCE.zpln COPY")
    if sys.argv[1].endswith(".zpln"):
        break_note(sys.argv[1], sys.argv[2])
    else:
        break_notebook(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
