"""Run independent units of work in worker processes on this machine, or on a Dask cluster.

Results come back in the order of the units whatever order they finish in. Workers are started
with 'spawn' (GNU Radio and ONNX Runtime do not survive fork) and one ONNX Runtime / OpenMP
thread each, so N workers use N cores.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from ..errors import SemcomError

SINGLE_THREAD = {"SEMCOM_ORT_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
LOCAL = "local:"  # scheduler 'local:N': a Dask LocalCluster of N worker processes on this machine


@contextlib.contextmanager
def single_thread_environment():
    """``SINGLE_THREAD`` in os.environ while workers are started (they inherit it), then restored."""
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD}
    os.environ.update(SINGLE_THREAD)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(function, units: list, jobs: int = 1, scheduler: str | None = None, progress=None) -> list:
    """``[function(u) for u in units]``: here (``jobs`` 1), in ``jobs`` worker processes, or on the
    Dask ``scheduler`` (an address like tcp://HOST:8786, or 'local:N'). ``progress(result)`` is
    called as each unit finishes. ``function`` and the units must be picklable."""
    if scheduler:
        return _run_dask(function, units, scheduler, progress)
    if jobs < 1:
        raise SemcomError(f"--jobs {jobs}: give at least 1 worker")
    if jobs == 1 or len(units) <= 1:
        results = []
        for unit in units:
            results.append(function(unit))
            progress and progress(results[-1])
        return results
    pool = ProcessPoolExecutor(min(jobs, len(units)), mp_context=multiprocessing.get_context("spawn"))
    try:
        with single_thread_environment():  # workers start on submit
            futures = {pool.submit(function, unit): i for i, unit in enumerate(units)}
        results = _collect(futures, as_completed(futures), progress)
    except BaseException as err:  # a signal or an error: the workers stop with the app, not after their queue
        _stop_workers(pool)
        if isinstance(err, BrokenProcessPool):
            raise SemcomError("a worker process died (out of memory, or killed); rerun with fewer --jobs") from None
        raise
    pool.shutdown()
    return results


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancels the queued units and terminates the running ones."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)
    pool.shutdown()  # releases the pool's queues and their semaphores


def _collect(futures: dict, completed, progress) -> list:
    results = [None] * len(futures)
    for future in completed:
        results[futures[future]] = future.result()
        progress and progress(results[futures[future]])
    return results


def _run_dask(function, units, scheduler, progress):
    try:
        from dask.distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise SemcomError("--scheduler needs Dask: pip install 'distributed' (see docs/usage.md)") from None
    with contextlib.ExitStack() as stack:
        if scheduler.startswith(LOCAL):
            try:
                workers = int(scheduler[len(LOCAL):])
            except ValueError:
                workers = 0
            if workers < 1:
                raise SemcomError(f"--scheduler {scheduler}: give local:N with N >= 1 worker processes")
            stack.enter_context(single_thread_environment())
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None))
            address = cluster.scheduler_address
        else:
            address = scheduler
        try:
            client = stack.enter_context(Client(address, timeout="30s"))
        except OSError as err:
            raise SemcomError(f"cannot reach the Dask scheduler {address} ({err})") from None
        futures = {client.submit(function, unit, pure=False): i for i, unit in enumerate(units)}
        return _collect(futures, dask_completed(list(futures)), progress)
