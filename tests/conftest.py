"""Tests import the installed module (``make test`` installs it into .venv first);
plain-logic tests fall back to the source tree so they also run without GNU Radio."""
import os
import sys

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
try:
    import gnuradio.semcom  # noqa: F401
except ImportError:
    sys.path.insert(0, SOURCE)
else:
    sys.path.append(SOURCE)  # tests of plain modules may import them as `semcom` from the source tree

import pytest  # noqa: E402

# tests/<room>/ mirrors python/semcom/<room>/; these rooms need GNU Radio (flowgraphs, blocks)
GR_ROOMS = {"blocks", "flowgraphs", "cli", "grc", "faults"}
SLOW_SECONDS = 5  # a test marked slow takes longer than this here; `make test-fast` leaves them out


def pytest_configure(config):
    config.addinivalue_line("markers", "gr: needs GNU Radio (blocks, flowgraphs, apps)")
    config.addinivalue_line("markers", f"slow: takes more than {SLOW_SECONDS} s (left out by make test-fast)")
    config.addinivalue_line("markers", "training: needs torch (training, export)")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        room = os.path.relpath(str(item.fspath), here).split(os.sep)[0]
        if room in GR_ROOMS:
            item.add_marker(pytest.mark.gr)
        if room == "training" or os.path.basename(str(item.fspath)).startswith("test_training"):
            item.add_marker(pytest.mark.training)


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    """Training tests run torch on one thread (a second process may share the CPU)."""
    if "training" not in request.node.keywords:
        yield
        return
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class FaultMatrix:
    """Cases of the fault-injection suite (tests/faults): class -> kind -> [tried, behaved]."""

    def __init__(self):
        self.cases: dict = {}

    def record(self, fault_class: str, kind: str, ok: bool) -> None:
        entry = self.cases.setdefault(fault_class, {}).setdefault(kind, [0, 0])
        entry[0] += 1
        entry[1] += bool(ok)

    def markdown(self) -> str:
        lines = ["| fault class | kinds | cases | behaved correctly |", "|---|---|---|---|"]
        for name, kinds in self.cases.items():
            tried, ok = sum(v[0] for v in kinds.values()), sum(v[1] for v in kinds.values())
            lines.append(f"| {name} | {len(kinds)} | {tried} | {ok} |")
        return "\n".join(lines) + "\n"


_MATRIX = FaultMatrix()


def pytest_addoption(parser):
    parser.addoption("--fault-report", default="", help="write the fault-injection matrix (Markdown) here")


@pytest.fixture(scope="session")
def fault_matrix():
    return _MATRIX


def pytest_sessionfinish(session):
    path = session.config.getoption("--fault-report", default="")
    if path and _MATRIX.cases:
        with open(path, "w") as f:
            f.write(_MATRIX.markdown())
