#!/usr/bin/env python3
"""Man pages for the apps, generated from their --help (the one source of their documentation).

  python3 scripts/man_pages.py            # writes docs/man/<app>.1 for every program in apps/
  python3 scripts/man_pages.py --check    # exit 1 when a page differs from what --help gives now

CMake installs docs/man/*.1 to share/man/man1; `make docs` regenerates them.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
APPS = os.path.join(ROOT, "apps")
OUT = os.path.join(ROOT, "docs", "man")
SECTIONS = ("positional arguments:", "options:")


def apps() -> list[str]:
    return sorted(n for n in os.listdir(APPS) if n != "CMakeLists.txt" and not n.startswith((".", "__"))
                  and os.path.isfile(os.path.join(APPS, n)))


def roff(line: str) -> str:
    line = line.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + line if line.startswith((".", "'")) else line


def page(name: str, help_text: str, version: str) -> str:
    """A man(7) page: NAME from the description's first line, SYNOPSIS from usage, the rest as given."""
    lines = help_text.rstrip("\n").splitlines()
    usage_end = next(i for i, line in enumerate(lines) if not line.strip())
    body = lines[usage_end + 1:]
    summary = body[0].strip().rstrip(".") if body else name
    title = roff(name.upper())
    out = [f'.TH {title} 1 "{version}" "gr-semcom" "User Commands"', ".SH NAME",
           f"{roff(name)} \\- {roff(summary[:1].lower() + summary[1:])}", ".SH SYNOPSIS", ".nf"]
    out += [roff(line.replace("usage: ", "", 1) if i == 0 else "  " + line.strip())
            for i, line in enumerate(lines[:usage_end])]
    out += [".fi", ".SH DESCRIPTION", ".nf"]
    for line in body:
        if line.strip() in SECTIONS:
            out += [".fi", f".SH {line.strip().rstrip(':').upper()}", ".nf"]
        else:
            out.append(roff(line))
    out += [".fi", ".SH SEE ALSO", "The gr\\-semcom documentation: docs/ in the source tree, installed under "
            "share/doc/gr\\-semcom.", ""]
    return "\n".join(out)


def help_of(name: str) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    r = subprocess.run([sys.executable, os.path.join(APPS, name), "--help"], capture_output=True, text=True,
                       env=env, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"{name} --help failed: {r.stderr.strip().splitlines()[-1:]}")
    return r.stdout


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare instead of writing")
    args = p.parse_args()
    with open(os.path.join(ROOT, "python", "semcom", "__init__.py")) as f:
        version = "gr-semcom " + re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
    os.makedirs(OUT, exist_ok=True)
    stale = []
    for name in apps():
        text = page(name, help_of(name), version)
        path = os.path.join(OUT, f"{name}.1")
        if args.check:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(name)
            continue
        with open(path, "w") as f:
            f.write(text)
    if stale:
        print(f"man pages out of date: {', '.join(stale)}; run python3 scripts/man_pages.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
