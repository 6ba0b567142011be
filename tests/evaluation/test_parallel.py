"""parallel.run: results in the order of the units, here or in worker processes."""
import operator
import os
import time

import pytest

try:
    from gnuradio.semcom.errors import SemcomError
    from gnuradio.semcom.evaluation import parallel, sweep
except ImportError:
    from semcom.errors import SemcomError
    from semcom.evaluation import parallel, sweep


def test_workers_return_the_results_in_the_order_of_the_units():
    done = []
    units = list(range(-5, 7))
    assert parallel.run(operator.neg, units, jobs=3, progress=done.append) == [-u for u in units]
    assert sorted(done) == sorted(-u for u in units)  # one progress call per unit


@pytest.mark.parametrize("jobs, scheduler, message", [(0, None, "--jobs 0"), (1, "local:0", "local:N")])
def test_bad_worker_counts_are_one_line(jobs, scheduler, message):
    pytest.importorskip("dask.distributed") if scheduler else None
    with pytest.raises(SemcomError, match=message):
        parallel.run(operator.neg, [1, 2], jobs=jobs, scheduler=scheduler)


def test_a_worker_that_dies_is_one_line():
    with pytest.raises(SemcomError, match="a worker process died"):
        parallel.run(os._exit, [3, 3], jobs=2)


def test_a_point_seed_depends_on_the_point_and_the_seed_only():
    a = sweep.point_seed(0, "a.png", "webp", "qpsk/ldpc-1/2", "awgn", 3.0)
    assert a == sweep.point_seed(0, "a.png", "webp", "qpsk/ldpc-1/2", "awgn", 3.0)
    assert a != sweep.point_seed(1, "a.png", "webp", "qpsk/ldpc-1/2", "awgn", 3.0)
    assert a != sweep.point_seed(0, "b.png", "webp", "qpsk/ldpc-1/2", "awgn", 3.0)


def test_a_failing_unit_stops_the_others_at_once():
    """The error comes back without waiting for the units still running or queued."""
    start = time.monotonic()
    with pytest.raises(TypeError):
        parallel.run(time.sleep, ["not a number", 30, 30, 30], jobs=2)
    assert time.monotonic() - start < 15


def test_workers_run_one_thread_each_and_the_caller_keeps_its_environment():
    before = os.environ.get("OMP_NUM_THREADS")
    assert parallel.run(os.getenv, ["SEMCOM_ORT_THREADS", "OMP_NUM_THREADS"], jobs=2) == ["1", "1"]
    assert os.environ.get("OMP_NUM_THREADS") == before
