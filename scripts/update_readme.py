#!/usr/bin/env python3
"""Copies generated tables into README.md between <!-- NAME:begin --> and <!-- NAME:end -->.

    update_readme.py results=docs/results/summary.md bench=docs/results/bench.md
"""
import re
import sys


def main(pairs):
    with open("README.md") as f:
        text = f.read()
    for pair in pairs:
        name, _, path = pair.partition("=")
        with open(path) as f:
            body = f.read().strip()
        pattern = re.compile(rf"(<!-- {name}:begin -->).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            sys.exit(f"README.md has no <!-- {name}:begin/end --> markers")
        text = pattern.sub(lambda m: f"{m.group(1)}\n{body}\n{m.group(2)}", text)
    with open("README.md", "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
