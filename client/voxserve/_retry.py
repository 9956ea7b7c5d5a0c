"""When to retry a failed request, and how long to wait before doing so.

Pure policy, no I/O: the clients ask `RetryState.next_delay` after each
failure and either sleep that long and try again, or raise the error.
"""

from __future__ import annotations

from collections.abc import Callable

from . import _errors
from ._config import Retry
from ._errors import VoxServeError

__all__ = ["RetryState", "backoff_delay", "is_retryable"]

#: Draws a number uniformly from [low, high]; `random.Random.uniform` fits.
Uniform = Callable[[float, float], float]

_NOT_REPLAYABLE = (
    "Not retried: the upload is a file object that cannot be rewound; pass a path, bytes "
    "or a seekable file to allow retries."
)


def backoff_delay(retry: Retry, retry_number: int, uniform: Uniform) -> float:
    """Seconds to wait before retry number ``retry_number`` (1 for the first retry).

    Exponential growth capped at ``max_backoff``; with jitter, a uniform draw
    below that cap ("full jitter"), which spreads out clients that failed together.
    """
    cap = min(retry.max_backoff, retry.backoff * 2 ** (retry_number - 1))
    return uniform(0.0, cap) if retry.jitter else cap


def is_retryable(error: VoxServeError, *, idempotent: bool) -> bool:
    """Whether repeating the request is safe and may succeed.

    A connection reset after the request was sent is retried only for
    idempotent calls; a refused connection never reached the server.
    """
    if isinstance(error, _errors.ConnectionError) and error.request_sent:
        return idempotent
    return error.retryable


class RetryState:
    """Counts the attempts of one call and decides whether another is allowed."""

    def __init__(self, retry: Retry, *, started: float, idempotent: bool, replayable: bool) -> None:
        self._retry = retry
        self._started = started
        self._idempotent = idempotent
        self._replayable = replayable
        self.attempts = 1

    def next_delay(self, error: VoxServeError, *, now: float, uniform: Uniform) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up.

        On giving up after retries, or when retrying would have been safe but
        was impossible, a sentence saying so is added to ``error``'s message.
        """
        if not is_retryable(error, idempotent=self._idempotent) or self._retry.attempts == 1:
            return None
        if not self._replayable:
            error._append(_NOT_REPLAYABLE)
            return None
        elapsed = now - self._started
        if self.attempts >= self._retry.attempts:
            error._append(f"Gave up after {self.attempts} attempts in {elapsed:.1f} s.")
            return None
        delay = backoff_delay(self._retry, self.attempts, uniform)
        if elapsed + delay > self._retry.total:
            error._append(
                f"Gave up after {self.attempts} attempts in {elapsed:.1f} s "
                f"(retry time limit {self._retry.total:g} s)."
            )
            return None
        self.attempts += 1
        return delay
