#!/usr/bin/env python3
"""Copies generated tables into the docs between <!-- NAME:begin --> and <!-- NAME:end -->.

    python3 scripts/update_docs.py results=docs/results/summary.md bench=docs/results/bench.md

Each NAME is looked up in README.md, docs/*.md and research/*.md (run from the repository root);
a NAME with no markers in any of them is an error.
"""
import glob
import re
import sys

PAGES = ["README.md", *sorted(glob.glob("docs/*.md")), *sorted(glob.glob("research/*.md"))]


def main(pairs):
    texts = {}
    for page in PAGES:
        with open(page) as f:
            texts[page] = f.read()
    for pair in pairs:
        name, _, path = pair.partition("=")
        with open(path) as f:
            body = f.read().strip()
        pattern = re.compile(rf"(<!-- {re.escape(name)}:begin -->).*?(<!-- {re.escape(name)}:end -->)", re.S)
        pages = [p for p, t in texts.items() if pattern.search(t)]
        if not pages:
            sys.exit(f"update_docs: no page has <!-- {name}:begin/end --> markers ({', '.join(PAGES)})")
        for page in pages:
            texts[page] = pattern.sub(lambda m: f"{m.group(1)}\n{body}\n{m.group(2)}", texts[page])
    for page, text in texts.items():
        with open(page, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
