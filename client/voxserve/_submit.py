"""Handles on work running in the background: `Job` (asyncio) and `SyncJob` (threads).

Both have the same shape: ``done()``, ``cancel()``, ``cancelled()``,
``result()``, ``exception()`` and ``add_done_callback(fn)``, where ``fn``
receives the handle. A failure is kept on the handle until asked for; it is
never lost and never reported as "Task exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Generator
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Job", "SyncJob"]

T = TypeVar("T")


class _FutureLike(Protocol):
    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def cancel(self) -> bool: ...


class _BaseJob(Generic[T]):
    """What both handles share; only how a result is waited for differs."""

    _future: _FutureLike

    def __init__(self, label: str) -> None:
        #: What the job works on, e.g. the file name; for logs and messages.
        self.label = label

    def done(self) -> bool:
        """Whether the job finished: with a result, a failure, or cancelled."""
        return self._future.done()

    def cancelled(self) -> bool:
        """Whether the job was cancelled before finishing."""
        return self._future.cancelled()

    def cancel(self) -> bool:
        """Ask the job to stop; false if it already finished (or, for `SyncJob`, started)."""
        return self._future.cancel()

    def __repr__(self) -> str:
        if not self.done():
            state = "running"
        elif self.cancelled():
            state = "cancelled"
        else:
            state = "done"
        return f"<{type(self).__name__} {self.label!r} {state}>"


class Job(_BaseJob[T]):
    """A request running as an asyncio task, returned by `AsyncClient.submit`.

    ``await job`` gives the result (or raises the failure); ``done()`` and
    ``result()`` let a caller poll instead; ``add_done_callback`` runs a
    function with the job when it finishes.
    """

    def __init__(self, task: asyncio.Task[T], label: str) -> None:
        super().__init__(label)
        self._future = self._task = task
        # Mark the failure as seen: it stays on the job for result()/exception().
        task.add_done_callback(_retrieve_exception)

    def __await__(self) -> Generator[Any, None, T]:
        return self._task.__await__()

    def result(self) -> T:
        """The result, or raise the failure. Raises if the job is still running."""
        self._require_done()
        return self._task.result()

    def exception(self) -> BaseException | None:
        """The failure, or ``None`` if the job succeeded. Raises if still running."""
        self._require_done()
        return self._task.exception()

    def add_done_callback(self, fn: Callable[[Job[T]], object]) -> None:
        """Call ``fn(job)`` in the event loop once the job finishes (at once if it has)."""
        self._task.add_done_callback(lambda _task: fn(self))

    def _require_done(self) -> None:
        if not self._task.done():
            raise asyncio.InvalidStateError(
                f"job {self.label!r} is still running: await it, or poll done() first"
            )


class SyncJob(_BaseJob[T]):
    """A request running in a worker thread, returned by `Client.submit`.

    ``result(timeout)`` waits for the result (or raises the failure);
    ``done()`` polls; ``add_done_callback`` runs a function with the job when
    it finishes, in the worker thread.
    """

    def __init__(self, future: concurrent.futures.Future[T], label: str) -> None:
        super().__init__(label)
        self._future = self._concurrent = future

    def result(self, timeout: float | None = None) -> T:
        """Wait up to ``timeout`` seconds (forever if ``None``) and return the result.

        Raises the job's failure, or `concurrent.futures.TimeoutError` if it
        has not finished in time.
        """
        return self._concurrent.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait like `result`, and return the failure or ``None``."""
        return self._concurrent.exception(timeout)

    def add_done_callback(self, fn: Callable[[SyncJob[T]], object]) -> None:
        """Call ``fn(job)`` once the job finishes (at once, here, if it has)."""
        self._concurrent.add_done_callback(lambda _future: fn(self))


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
