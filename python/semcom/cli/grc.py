"""Start GNU Radio Companion set up for gr-semcom: the [Semcom] blocks found, and flowgraphs run
(F6) with this installation's Python, so that `from gnuradio import semcom` works in them.

GRC runs a flowgraph with the interpreter GRC itself runs on. Started as plain
`gnuradio-companion` it is /usr/bin/python3, which does not see a venv; started from here it is
the venv's. GRC_BLOCKS_PATH gains this installation's block folder.

GRC writes the Python it generates (F6) next to the .grc, and the flowgraph runs there (its
rx_images/ and recordings land there too). So the flowgraphs named here are opened as copies in a
work folder, $SEMCOM_GRC_DIR, else ~/.cache/gr-semcom/grc (beside the data cache; outside any
checkout, and there for an installed module too), with the example images they read; a copy
that exists already is kept (your edits), --fresh replaces it, --in-place opens the files given.
A name without a folder that is not a file here is a shipped example (air_loopback_gui.grc).

Examples:
  semcom-grc                                        # empty canvas
  semcom-grc air_loopback_gui.grc                   # a copy of a shipped example, in the work folder
  semcom-grc --in-place my_flowgraph.grc            # edit (and run) the file itself
"""
import os
import shutil
import sys

from . import common as cli


def blocks_dir() -> str:
    """The GRC block folder of the prefix this package was installed into."""
    parts = ("share", "gnuradio", "grc", "blocks")
    ours = cli.installed(*parts, "semcom_burst_rx.block.yml")  # sys.prefix may hold GNU Radio's own only
    return os.path.dirname(ours) if ours else os.path.join(sys.prefix, *parts)


def environment(env=None) -> dict:
    """``env`` (default: os.environ) with this installation's GRC block folder on GRC_BLOCKS_PATH,
    and without QT_QPA_PLATFORM=offscreen (GUI flowgraphs started with F6 must show their windows)."""
    env = dict(os.environ if env is None else env)
    if env.get("QT_QPA_PLATFORM") == "offscreen":
        del env["QT_QPA_PLATFORM"]
    paths = [p for p in env.get("GRC_BLOCKS_PATH", "").split(os.pathsep) if p]
    if blocks_dir() not in paths:
        paths.insert(0, blocks_dir())
    env["GRC_BLOCKS_PATH"] = os.pathsep.join(paths)
    return env


def examples_dir() -> str:
    """The shipped examples of the prefix this package was installed into."""
    parts = ("share", "gr-semcom", "examples")
    return cli.installed(*parts) or os.path.join(sys.prefix, *parts)


def work_dir() -> str:
    """``$SEMCOM_GRC_DIR``, else ``~/.cache/gr-semcom/grc``."""
    return os.path.abspath(os.path.expanduser(os.environ.get("SEMCOM_GRC_DIR") or "~/.cache/gr-semcom/grc"))


def flowgraph_path(name: str) -> str:
    """``name`` if it is a file, else the shipped example of that name; SemcomError when neither."""
    from ..errors import SemcomError
    if os.path.isfile(name):
        return name
    shipped = os.path.join(examples_dir(), name if name.endswith(".grc") else name + ".grc")
    if os.path.dirname(name) == "" and os.path.isfile(shipped):
        return shipped
    raise SemcomError(f"no flowgraph {name}: neither a file nor a shipped example "
                      f"({', '.join(sorted(f for f in os.listdir(examples_dir()) if f.endswith('.grc')))})"
                      if os.path.isdir(examples_dir()) else f"no flowgraph {name}")


def prepare(flowgraphs: list[str], folder: str, fresh: bool = False) -> list[str]:
    """Copies each flowgraph into ``folder``, with the example images beside (images/), and returns
    the copies' paths; a copy already there is kept unless ``fresh``."""
    from ..errors import SemcomError
    sources = [flowgraph_path(f) for f in flowgraphs]
    try:
        os.makedirs(folder, exist_ok=True)
        images = os.path.join(os.path.dirname(sources[0]) if sources else examples_dir(), "images")
        if not os.path.isdir(images):
            images = os.path.join(examples_dir(), "images")
        if os.path.isdir(images):
            shutil.copytree(images, os.path.join(folder, "images"), dirs_exist_ok=True)
        copies = []
        for source in sources:
            copy = os.path.join(folder, os.path.basename(source))
            if fresh or not os.path.exists(copy):
                shutil.copyfile(source, copy)
            copies.append(copy)
    except OSError as err:
        raise SemcomError(f"cannot prepare the GRC work folder {folder}: {err.strerror or err}") from None
    return copies


def command(args) -> list[str]:
    from ..errors import SemcomError
    companion = shutil.which("gnuradio-companion")
    if companion is None:
        raise SemcomError("gnuradio-companion not found: install GNU Radio Companion "
                          "(apt-get install gnuradio gir1.2-gtk-3.0)")
    return [sys.executable, companion, *args]


def main():
    p = cli.parser(__doc__)
    p.add_argument("flowgraphs", nargs="*", help=".grc files, or names of shipped examples, to open")
    p.add_argument("--in-place", action="store_true", help="open the files given, not copies in the work folder")
    p.add_argument("--fresh", action="store_true", help="replace copies already in the work folder")
    p.add_argument("--print-command", action="store_true",
                   help="prepare the work folder, print the command and environment, do not start")
    args = p.parse_args()
    folder = work_dir()
    if args.in_place:
        flowgraphs = [flowgraph_path(f) for f in args.flowgraphs]
    else:
        flowgraphs = prepare(args.flowgraphs, folder, args.fresh)
    cmd = command(flowgraphs)
    env = environment()
    if args.print_command:
        print(f"GRC_BLOCKS_PATH={env['GRC_BLOCKS_PATH']} {' '.join(cmd)}")
        return 0
    if not args.in_place:
        print(f"semcom-grc: working in {folder}: F6 writes the generated Python and received images there", flush=True)
        os.chdir(folder)
    os.execve(cmd[0], cmd, env)


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
