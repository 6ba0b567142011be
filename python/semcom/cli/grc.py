"""Start GNU Radio Companion set up for gr-semcom: the [Semcom] blocks found, and flowgraphs run
(F6) with this installation's Python, so that `from gnuradio import semcom` works in them.

GRC runs a flowgraph with the interpreter GRC itself runs on. Started as plain
`gnuradio-companion` it is /usr/bin/python3, which does not see a venv; started from here it is
the venv's. GRC_BLOCKS_PATH gains this installation's block folder.

Examples:
  semcom-grc                                                  # empty canvas
  semcom-grc share/gr-semcom/examples/air_loopback_gui.grc    # open a shipped example
"""
import os
import shutil
import sys

from . import common as cli


def blocks_dir() -> str:
    return os.path.join(sys.prefix, "share", "gnuradio", "grc", "blocks")


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


def command(args) -> list[str]:
    from ..errors import SemcomError
    companion = shutil.which("gnuradio-companion")
    if companion is None:
        raise SemcomError("gnuradio-companion not found: install GNU Radio Companion "
                          "(apt-get install gnuradio gir1.2-gtk-3.0)")
    return [sys.executable, companion, *args]


def main():
    p = cli.parser(__doc__)
    p.add_argument("flowgraphs", nargs="*", help=".grc files to open")
    p.add_argument("--print-command", action="store_true", help="print the command and environment, do not start")
    args = p.parse_args()
    cmd = command(args.flowgraphs)
    env = environment()
    if args.print_command:
        print(f"GRC_BLOCKS_PATH={env['GRC_BLOCKS_PATH']} {' '.join(cmd)}")
        return 0
    os.execve(cmd[0], cmd, env)


def run():
    cli.run_main(main)


if __name__ == "__main__":
    run()
