"""Configuration value objects and every default the client uses.

Each number the client relies on is named here, once, so a reader can see the
whole policy at a glance: how long to wait, how many requests to run at once,
how to back off when the server is busy, how large each upload chunk is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MANAGEMENT_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_METRICS_URL",
    "DEFAULT_MODEL",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "UPLOAD_CHUNK_SIZE",
    "Limits",
    "Retry",
    "Timeout",
]

# Where TorchServe listens by default (config/config.properties).
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8080"
DEFAULT_MANAGEMENT_URL: Final = "http://127.0.0.1:8081"
DEFAULT_METRICS_URL: Final = "http://127.0.0.1:8082"

DEFAULT_MODEL: Final = "whisper-base"

# Requests to the inference API in flight at once, per client.
DEFAULT_MAX_CONCURRENCY: Final = 8

# Uploads are read and sent in chunks of this size, never whole.
UPLOAD_CHUNK_SIZE: Final = 64 * 1024

# Timeouts, in seconds. Reading waits for the whole transcription of a long
# file, so it is sized for the longest audio the server accepts.
DEFAULT_CONNECT_TIMEOUT_S: Final = 5.0
DEFAULT_READ_TIMEOUT_S: Final = 600.0
DEFAULT_WRITE_TIMEOUT_S: Final = 60.0
DEFAULT_POOL_TIMEOUT_S: Final = 60.0

# Connection pool.
DEFAULT_MAX_CONNECTIONS: Final = 16
DEFAULT_MAX_KEEPALIVE_CONNECTIONS: Final = 8
DEFAULT_KEEPALIVE_EXPIRY_S: Final = 30.0

# Retries: a crashed worker restarts within seconds, so the budget covers that.
DEFAULT_RETRY_ATTEMPTS: Final = 5
DEFAULT_BACKOFF_S: Final = 0.5
DEFAULT_MAX_BACKOFF_S: Final = 8.0
DEFAULT_RETRY_TOTAL_S: Final = 60.0


@dataclass(frozen=True)
class Timeout:
    """How long to wait, in seconds, for each phase of a request.

    ``read`` bounds the wait for the server's answer, which for a long file is
    the whole transcription; raise it if the server accepts longer audio.
    ``None`` disables a limit.
    """

    connect: float | None = DEFAULT_CONNECT_TIMEOUT_S
    read: float | None = DEFAULT_READ_TIMEOUT_S
    write: float | None = DEFAULT_WRITE_TIMEOUT_S
    pool: float | None = DEFAULT_POOL_TIMEOUT_S

    @classmethod
    def of(cls, value: Timeout | float | None) -> Timeout:
        """Accept a `Timeout`, one number for every phase, or ``None`` for no limit."""
        if isinstance(value, Timeout):
            return value
        return cls(connect=value, read=value, write=value, pool=value)

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class Limits:
    """Size of the connection pool shared by all requests of one client."""

    max_connections: int | None = DEFAULT_MAX_CONNECTIONS
    max_keepalive_connections: int | None = DEFAULT_MAX_KEEPALIVE_CONNECTIONS
    keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY_S

    def to_httpx(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive_connections,
            keepalive_expiry=self.keepalive_expiry,
        )


@dataclass(frozen=True)
class Retry:
    """When and how often to retry a request that failed for a transient reason.

    Only failures that are safe to repeat are retried: connection refused or
    reset, 503 (server busy) and 500 "Worker died". The n-th retry waits a
    random time between 0 and ``min(max_backoff, backoff * 2**(n-1))`` seconds
    ("full jitter"); with ``jitter=False`` it waits exactly that cap. Retrying
    stops after ``attempts`` tries in all, or when the next wait would pass
    ``total`` seconds since the first try. ``Retry(attempts=1)`` never retries.
    """

    attempts: int = DEFAULT_RETRY_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF_S
    max_backoff: float = DEFAULT_MAX_BACKOFF_S
    total: float = DEFAULT_RETRY_TOTAL_S
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"Retry.attempts must be at least 1 (one try), got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0 or self.total < 0:
            raise ValueError("Retry.backoff, max_backoff and total must not be negative")

    @classmethod
    def of(cls, value: Retry | bool | None) -> Retry:
        """Accept a `Retry`, ``True``/``None`` for the default, or ``False`` for none."""
        if isinstance(value, Retry):
            return value
        return NO_RETRY if value is False else DEFAULT_RETRY


DEFAULT_TIMEOUT: Final = Timeout()
DEFAULT_LIMITS: Final = Limits()
DEFAULT_RETRY: Final = Retry()
NO_RETRY: Final = Retry(attempts=1)
