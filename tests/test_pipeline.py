"""The bounded receiver stage alone (plain Python): order, back-pressure, failures, shutdown."""
import os
import signal
import threading
import time

import pytest

from plain import module

pipeline = module("pipeline")


def collecting_stage(work, capacity=2, workers=1):
    out, failures = [], []
    stage = pipeline.Stage(work, lambda item, result: out.append(result),
                           lambda item, err: failures.append((item, str(err))), capacity, workers)
    return stage, out, failures


@pytest.mark.parametrize("workers", [1, 3])
def test_results_come_out_in_input_order(workers):
    """Later items finish first (shorter work), yet results are handed on in the order put."""
    stage, out, _ = collecting_stage(lambda i: (time.sleep(0.002 * (20 - i)), i * i)[1], capacity=4, workers=workers)
    for i in range(20):
        stage.put(i)
    assert stage.join(timeout=10)
    assert out == [i * i for i in range(20)] and stage.backlog == 0
    assert stage.close(timeout=5)


def test_a_full_queue_blocks_the_producer():
    """Capacity 2, one worker held: the worker's item and 2 queued ones are accepted, the 4th put
    waits until the worker moves on; nothing is dropped."""
    gate = threading.Event()
    stage, out, _ = collecting_stage(lambda i: (gate.wait(10), i)[1], capacity=2)
    accepted = []
    producer = threading.Thread(target=lambda: [(stage.put(i), accepted.append(i)) for i in range(4)])
    producer.start()
    deadline = time.monotonic() + 5
    while len(accepted) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert accepted == [0, 1, 2] and stage.full and stage.backlog == 3  # the 4th put is blocked
    gate.set()
    producer.join(timeout=5)
    assert stage.join(timeout=5) and out == [0, 1, 2, 3]


def test_put_newest_never_waits_and_drops_the_oldest_queued_item():
    """Capacity 2, one worker held on item 0: put_newest queues 1 and 2, then 3 and 4 each make
    room by dropping the oldest queued item (returned, never worked on); the rest come out in order."""
    gate = threading.Event()
    stage, out, _ = collecting_stage(lambda i: (gate.wait(10), i)[1], capacity=2)
    assert stage.put_newest(0) is None
    deadline = time.monotonic() + 5
    while stage._queue and time.monotonic() < deadline:  # the worker took item 0
        time.sleep(0.01)
    assert [stage.put_newest(i) for i in (1, 2, 3, 4)] == [None, None, 1, 2]
    assert stage.backlog == 3
    gate.set()
    assert stage.join(timeout=5) and out == [0, 3, 4]


def test_put_newest_counts_idle_workers_as_room():
    """Two idle workers and capacity 1: three items are taken without a drop (two go to the
    workers), the fourth drops the oldest still queued."""
    gate = threading.Event()
    stage, out, _ = collecting_stage(lambda i: (gate.wait(10), i)[1], capacity=1, workers=2)
    deadline = time.monotonic() + 5
    while stage._idle < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [stage.put_newest(i) for i in range(4)] == [None, None, None, 2]
    gate.set()
    assert stage.join(timeout=5) and out == [0, 1, 3]


def test_a_failing_item_is_reported_and_the_stage_goes_on():
    def work(i):
        if i == 2:
            raise ValueError("bad frame")
        return i
    stage, out, failures = collecting_stage(work, workers=2)
    for i in range(5):
        stage.put(i)
    assert stage.join(timeout=5)
    assert out == [0, 1, 3, 4] and failures == [(2, "bad frame")]


def test_a_signal_closes_the_stage_without_losing_what_it_received():
    """SIGINT's handler closes the stage while items are queued and in work: every item put before
    it comes out, in order; one put afterwards is worked on in the caller's thread."""
    stage, out, _ = collecting_stage(lambda i: (time.sleep(0.05), i)[1], capacity=3, workers=2)
    previous = signal.signal(signal.SIGINT, lambda *_: stage.close(timeout=10))
    try:
        for i in range(5):
            stage.put(i)
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert out == [0, 1, 2, 3, 4]
    stage.put(5)
    assert out == [0, 1, 2, 3, 4, 5]


def test_capacity_and_workers_must_be_positive():
    with pytest.raises(ValueError):
        pipeline.Stage(lambda i: i, print, print, capacity=0)
