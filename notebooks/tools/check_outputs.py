"""Checks an executed notebook: no error output of any kind, and at least one image.

Usage: check_outputs.py EXECUTED.ipynb   (exit 1 with the reasons when it fails)
"""
import sys

import nbformat


def problems(nb):
    found, images = [], 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = "cell %d (%s)" % (index, cell.source.strip().splitlines()[0][:60] if cell.source.strip() else "empty")
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                found.append("%s raised %s: %s" % (where, out.get("ename"), out.get("evalue")))
            elif kind == "stream" and out.get("name") == "stderr":
                found.append("%s wrote to stderr: %s" % (where, out.get("text", "").strip()[:500]))
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                if any(mime.startswith("image/") for mime in data):
                    images += 1
                # The kernel reports some failures as plain text results rather than errors.
                text = data.get("text/plain", "")
                if "Exception" in text and "\tat " in text:
                    found.append("%s shows a stack trace: %s" % (where, text.strip()[:500]))
        if cell.get("execution_count") is None:
            found.append("%s was not executed" % where)
    if images == 0:
        found.append("no cell produced an image")
    return found, images


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_outputs.py EXECUTED.ipynb")
    nb = nbformat.read(sys.argv[1], as_version=4)
    found, images = problems(nb)
    for p in found:
        print("notebooks: %s: %s" % (sys.argv[1], p), file=sys.stderr)
    if found:
        sys.exit(1)
    print("notebooks: %s: no error output, %d image(s)" % (sys.argv[1], images), file=sys.stderr)


if __name__ == "__main__":
    main()
