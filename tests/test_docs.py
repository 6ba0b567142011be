"""The README and the pages behind it: short, linked, every generated table in one place, and the
README's first run runs."""
import glob
import os
import re
import subprocess
import sys

import pytest

from plain import REPO

PAGES = ["README.md", *sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))),
         *sorted(glob.glob(os.path.join(REPO, "research", "*.md")))]
MAKEFILES = [os.path.join(REPO, "Makefile"), os.path.join(REPO, "research", "Makefile")]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def test_readme_fits_one_screen_of_200_lines():
    assert len(read("README.md").splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(os.path.join(REPO, p), REPO))
def test_every_relative_link_resolves_to_a_file(page):
    folder = os.path.dirname(os.path.join(REPO, page))
    broken = []
    for target in LINK.findall(read(page)):
        path = target.split("#", 1)[0]
        if not path or "://" in path or path.startswith("mailto:"):
            continue
        if not os.path.exists(os.path.normpath(os.path.join(folder, path))):
            broken.append(target)
    assert not broken, f"{page}: links to missing files: {broken}"


def makefile_marker_names():
    """The NAMEs of every NAME=FILE pair the make targets hand to scripts/update_docs.py."""
    names = set()
    for makefile in MAKEFILES:
        names |= set(re.findall(r"(?<![\w$(-])([a-z][a-z0-9-]*)=\$\(", read(makefile)))
    return names


def test_every_marker_the_makefiles_fill_is_in_exactly_one_page():
    names = makefile_marker_names()
    assert {"results", "faults", "ampsc", "mvqvae", "ablation-long-test", "envelope"} <= names
    texts = {page: read(page) for page in PAGES}
    for name in sorted(names):
        holders = [p for p, t in texts.items()
                   if f"<!-- {name}:begin -->" in t and f"<!-- {name}:end -->" in t]
        assert len(holders) == 1, f"marker {name} is in {holders or 'no page'}"


def first_run_commands():
    """The commands of the README's first fenced block under '## First run, no hardware'."""
    section = read("README.md").split("## First run, no hardware", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].split() for line in block.splitlines() if line.strip()]


@pytest.mark.gr
@pytest.mark.slow
def test_readme_first_run_sends_the_photo_above_a_psnr_floor(tmp_path):
    pytest.importorskip("gnuradio.semcom.flowgraphs.air")
    commands = first_run_commands()
    assert commands[0] == [".", ".venv/bin/activate"]  # the venv's apps; here sys.executable runs them
    (app, *args), = commands[1:]
    assert app == "tx_image.py"
    out = tmp_path / "rx.png"
    args = [str(out) if a == "out/demo_rx.png" else a for a in args]
    assert str(out) in args  # the received image is written where the README says
    r = subprocess.run([sys.executable, os.path.join(REPO, "apps", app), *args], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    psnr = float(re.search(r"PSNR (\d+\.\d+) dB", r.stdout).group(1))
    assert psnr > 22.0, r.stdout
    assert out.stat().st_size > 0


@pytest.mark.gr
def test_man_pages_say_what_the_apps_help_says():
    """docs/man/*.1 are generated from --help (make docs): a changed option shows up here."""
    pytest.importorskip("gnuradio.semcom")
    r = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "man_pages.py"), "--check"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    pages = sorted(os.listdir(os.path.join(REPO, "docs", "man")))
    assert "tx_image.py.1" in pages and "rx_image.py.1" in pages and len(pages) >= 10
