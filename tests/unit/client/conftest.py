"""Fixtures for the client tests: every client test runs against `Client` and `AsyncClient`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# The fakes module sits beside this file; make it importable in any pytest import mode.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
# Test the checkout's client even when the package is not installed.
try:
    import voxserve  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parents[2] / "client"))

from client_fakes import Handler, Harness, ok  # noqa: E402 - needs the path set above


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_harness(mode: str, anyio_backend: str) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(handler: Handler = ok, **options: Any) -> Harness:
        harness = Harness(mode, handler, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        if not harness.client.is_closed:
            await harness.close()
