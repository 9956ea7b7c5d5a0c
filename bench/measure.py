"""Small measuring tools shared by the benchmarks."""

from __future__ import annotations

import asyncio
import math
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass(frozen=True)
class LoadResult:
    """One load run: per-request latencies and what the requests carried."""

    concurrency: int
    wall_s: float
    latencies_s: list[float]
    audio_s: float
    extras: list[dict]

    @property
    def throughput(self) -> float:
        """Audio seconds transcribed per wall-clock second."""
        return self.audio_s / self.wall_s

    def summary(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "requests": len(self.latencies_s),
            "wall_s": round(self.wall_s, 3),
            "audio_s_per_s": round(self.throughput, 3),
            "p50_s": round(percentile(self.latencies_s, 50), 3),
            "p95_s": round(percentile(self.latencies_s, 95), 3),
        }


async def run_load(
    call: Callable[[], Awaitable[tuple[float, dict]]], *, requests: int, concurrency: int
) -> LoadResult:
    """Run ``requests`` calls with at most ``concurrency`` in flight.

    ``call`` returns (audio seconds, extra facts) for one request.
    """
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    extras: list[dict] = []
    audio = 0.0

    async def one() -> None:
        nonlocal audio
        async with gate:
            started = time.perf_counter()
            seconds, extra = await call()
            latencies.append(time.perf_counter() - started)
            extras.append(extra)
            audio += seconds

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    return LoadResult(concurrency, time.perf_counter() - started, latencies, audio, extras)


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory of a process (VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def hardware() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
