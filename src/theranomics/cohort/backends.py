"""Execution backends behind one small interface: ``submit(fn, arg) -> future``,
``wait_any(futures) -> done``, ``result(future)``, ``warm_up(modules)``, ``n_workers``, ``close()``.

* :class:`LocalBackend` — a process pool (``spawn``: a script using it needs the usual
  ``if __name__ == "__main__":`` guard), one thread per worker.
* :class:`SerialBackend` — in this process (``workers=0``).
* :class:`DaskBackend` — a Dask distributed cluster (``tcp://…`` address or a ``Client``); dask is
  imported only here, only when used.  Only task dicts of paths travel through the scheduler; the
  workers read the images from shared storage.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ._worker import limit_threads, warm_up


def default_workers() -> int:
    """Cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class LocalBackend:
    """A local process pool of ``n_workers`` single-threaded workers."""

    name = "local"

    def __init__(self, n_workers: int | None = None):
        n = default_workers() if n_workers is None else int(n_workers)
        if n < 1:
            raise ValueError(f"workers must be >= 1, got {n_workers}")
        self.n_workers = n
        self._modules: tuple[str, ...] = ()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=limit_threads)

    def submit(self, fn, arg):
        """Submit; a pool broken by a dying worker is replaced first (its lost tasks were reported)."""
        try:
            return self._pool.submit(fn, arg)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            if self._modules:
                self.warm_up(self._modules)
            return self._pool.submit(fn, arg)

    def warm_up(self, modules) -> None:
        """Start every worker and let it import ``modules`` (runs while the caller goes on)."""
        self._modules = tuple(modules)
        self._warm = [self._pool.submit(warm_up, tuple(modules)) for _ in range(self.n_workers)]

    def warm_up_seconds(self) -> float | None:
        """Longest worker import time of :meth:`warm_up` (None before it finished)."""
        return _longest(getattr(self, "_warm", []))

    @staticmethod
    def wait_any(futures) -> set:
        done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
        return set(done)

    @staticmethod
    def result(future):
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Done:
    """A finished future of :class:`SerialBackend`."""

    def __init__(self, value=None, error: BaseException | None = None):
        self.value, self.error = value, error

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


class SerialBackend:
    """Runs each task in this process when it is submitted (``workers=0``: debugging, tiny cohorts)."""

    name = "serial"
    n_workers = 1

    def submit(self, fn, arg):
        try:
            return _Done(fn(arg))
        except Exception as exc:  # delivered through result(), like a pool future
            return _Done(error=exc)

    @staticmethod
    def warm_up(modules) -> None:
        """Nothing to start: stages import what they need when they run."""

    @staticmethod
    def warm_up_seconds() -> None:
        return None

    @staticmethod
    def wait_any(futures) -> set:
        return set(futures)

    @staticmethod
    def result(future):
        return future.result()

    def close(self) -> None:
        pass


class DaskBackend:
    """Tasks on a Dask distributed cluster (``scheduler``: address string or ``distributed.Client``)."""

    name = "dask"

    def __init__(self, scheduler):
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("the Dask backend needs the optional dependency: pip install \"theranomics[dask]\" "
                              "(dask[distributed])") from None
        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        elif isinstance(scheduler, str):
            try:
                self.client, self._own = Client(scheduler, timeout="20s"), True
            except OSError as exc:
                raise ValueError(f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}") from None
        else:
            raise TypeError(f"scheduler must be an address like 'tcp://host:8786' or a distributed.Client, "
                            f"got {type(scheduler).__name__}")
        workers = self.client.scheduler_info().get("workers", {})
        self.n_workers = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        self.client.run(limit_threads)

    def submit(self, fn, arg):
        return self.client.submit(fn, arg, pure=False)

    def warm_up(self, modules) -> None:
        """Every worker imports ``modules`` (one task pinned to each, not waited for)."""
        workers = list(self.client.scheduler_info().get("workers", {}))
        self._warm = [self.client.submit(warm_up, tuple(modules), workers=[w], allow_other_workers=False, pure=False)
                      for w in workers]

    def warm_up_seconds(self) -> float | None:
        return _longest(getattr(self, "_warm", []))

    @staticmethod
    def wait_any(futures) -> set:
        from distributed import wait as dwait
        done, _ = dwait(list(futures), return_when="FIRST_COMPLETED")
        return set(done)

    @staticmethod
    def result(future):
        return future.result()

    def close(self) -> None:
        if self._own:
            self.client.close()


def _longest(futures) -> float | None:
    try:
        return max(f.result() for f in futures) if futures and all(f.done() for f in futures) else None
    except Exception:  # a worker lost during warm-up: the tasks report it
        return None


def make_backend(workers: int | None = None, scheduler=None):
    """:class:`DaskBackend` when ``scheduler`` is given, :class:`SerialBackend` for ``workers=0``,
    else :class:`LocalBackend` (``workers`` default: cores)."""
    if scheduler is not None and workers is not None:
        raise ValueError("give either workers (local pool) or scheduler (Dask), not both")
    if scheduler is not None:
        return DaskBackend(scheduler)
    if workers is not None and int(workers) == 0:
        return SerialBackend()
    return LocalBackend(workers)
