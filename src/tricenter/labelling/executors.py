"""
Where the labelling calculations run: here, in local processes, or on Dask.

Results come back in completion order; the caller alone writes them.
"""

import contextlib
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .methods import import_pyscf, run_calculation


def run_task(task, threads=None):
    """Compute one frame: runs in a worker; returns ``(index, outcome)``."""
    index, atoms, method, forces = task
    if threads is not None and method.backend == "pyscf":
        import_pyscf().lib.num_threads(threads)
    return index, run_calculation(atoms, method, forces)


@contextlib.contextmanager
def _thread_environment(threads):
    """Limit the threads of the OpenMP/BLAS libraries of the processes started here."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(threads) for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_tasks(tasks, workers, threads, scheduler):
    """Yield ``(index, outcome)`` of every task, in completion order."""
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(tasks, threads, scheduler)
    elif workers == 1:
        for task in tasks:
            yield run_task(task, threads)
    else:
        import multiprocessing

        if threads is None:
            threads = max(1, (os.cpu_count() or 1) // workers)
        # "spawn": forking a process that holds OpenMP and tqdm threads can deadlock
        context = multiprocessing.get_context("spawn")
        with _thread_environment(threads):
            executor = ProcessPoolExecutor(workers, mp_context=context)
            futures = [executor.submit(run_task, task, threads) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)


def _run_dask(tasks, threads, scheduler):
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            "a Dask scheduler needs dask.distributed: install it with "
            "`pip install tricenter[distributed]`"
        ) from error
    own_client = not isinstance(scheduler, distributed.Client)
    client = distributed.Client(scheduler) if own_client else scheduler
    try:
        futures = client.map(run_task, tasks, threads=threads, pure=False)
        try:
            for _, result in distributed.as_completed(futures, with_results=True):
                yield result
        finally:
            client.cancel(futures)
    finally:
        if own_client:
            client.close()


@contextlib.contextmanager
def progress_bar(total, initial, method, enabled):
    """A progress bar over the frames of a labelling run (closed on exit)."""
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total,
        initial=initial,
        unit="frame",
        desc=f"labelling ({method.name})",
        disable=not enabled,
        dynamic_ncols=True,
    )
    try:
        yield bar
    finally:
        bar.close()
