"""Fakes for the client tests: a scripted server, a harness over either client kind.

The server is an in-process fake (`httpx.MockTransport`); no network is used.
Time is fake too: retries "sleep" by advancing a fake clock, instantly.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import voxserve

Handler = Callable[[httpx.Request], Any]

# A transcription as the server returns it (docs/api.md).
SERVER_RESULT: dict[str, Any] = {
    "text": "Hello world. How are you?",
    "language": "en",
    "language_probability": 0.98,
    "duration": 4.21,
    "task": "transcribe",
    "segments": [
        {
            "id": 0,
            "start": 0.0,
            "end": 1.8,
            "text": " Hello world.",
            "avg_logprob": -0.21,
            "no_speech_prob": 0.01,
            "compression_ratio": 0.9,
        },
        {
            "id": 1,
            "start": 1.8,
            "end": 4.21,
            "text": " How are you?",
            "avg_logprob": -0.3,
            "no_speech_prob": 0.02,
            "compression_ratio": 1.1,
        },
    ],
    "model": {"name": "whisper-base", "version": "1.0"},
    "batch": {"requests": 3, "windows": 5, "request_windows": 2, "forward_passes": 1},
    "timings": {"decode_s": 0.01, "inference_s": 1.2, "total_s": 1.25},
}


def ok(request: httpx.Request) -> httpx.Response:
    """A server that transcribes everything."""
    return httpx.Response(200, json=SERVER_RESULT)


def respond(status: int, body: Any = None, *, text: str | None = None) -> httpx.Response:
    """A response with a JSON body, a text body, or (neither given) an empty body."""
    if text is not None:
        return httpx.Response(status, text=text)
    if body is None:
        return httpx.Response(status)
    return httpx.Response(status, json=body)


class Script:
    """A fake server that answers with the given responses in turn (the last one repeats).

    An entry may be an `httpx.Response`, an exception to raise (a transport
    failure), or a handler. Every request is recorded with its body.
    """

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers) or [ok]
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            answer = self.answers[min(len(self.requests), len(self.answers) - 1)]
            self.requests.append(request)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            # A Response is single-use; hand out a fresh copy each time.
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        result: httpx.Response = answer(request)
        return result

    @property
    def calls(self) -> int:
        return len(self.requests)


class Harness:
    """One client under test plus uniform helpers, whichever kind it is.

    ``await harness.call("transcribe", ...)`` works for both kinds; fake
    ``sleep`` and ``clock`` record the retry waits without waiting.
    """

    def __init__(self, mode: str, handler: Handler, **options: Any) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        self.now = 0.0
        transport = httpx.MockTransport(handler)
        client: voxserve.Client | voxserve.AsyncClient
        if mode == "sync":
            client = voxserve.Client(transport=transport, **options)
            client._sleep = self._sleep
        else:
            client = voxserve.AsyncClient(transport=transport, **options)
            client._sleep = self._async_sleep
        client._clock = lambda: self.now
        self.client = client

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def _async_sleep(self, seconds: float) -> None:
        self._sleep(seconds)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def wait(self, job: Any) -> Any:
        """The job's result (or raise its failure), without blocking the event loop."""
        if self.is_async:
            return await job
        return await anyio.to_thread.run_sync(job.result)

    async def close(self) -> None:
        await self.call("aclose" if self.is_async else "close")


class Gate:
    """Holds requests at the fake server until opened; counts how many wait at once."""

    def __init__(self, respond_with: Handler = ok) -> None:
        self._open = threading.Event()
        self._lock = threading.Lock()
        self._respond_with = respond_with
        self.in_flight = 0
        self.max_in_flight = 0
        self.seen = 0

    def open(self) -> None:
        self._open.set()

    def _enter(self) -> None:
        with self._lock:
            self.seen += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def handler(self, mode: str, *, hold_s: float = 0.0) -> Handler:
        """A sync handler (threads) or an async one (event loop), per client kind."""

        def sync_handler(request: httpx.Request) -> httpx.Response:
            self._enter()
            try:
                self._open.wait(timeout=10)
                time.sleep(hold_s)
                return self._respond_with(request)
            finally:
                self._leave()

        async def async_handler(request: httpx.Request) -> httpx.Response:
            self._enter()
            try:
                while not self._open.is_set():
                    await asyncio.sleep(0.001)
                await asyncio.sleep(hold_s)
                return self._respond_with(request)
            finally:
                self._leave()

        return sync_handler if mode == "sync" else async_handler


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait (politely, for both kinds of client) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await anyio.sleep(0.002)


@dataclass
class Part:
    headers: dict[str, str]
    data: bytes

    @property
    def disposition(self) -> str:
        return self.headers.get("content-disposition", "")


def parse_multipart(body: bytes, content_type: str) -> dict[str, list[Part]]:
    """Split a multipart/form-data body into its parts, by field name."""
    boundary = content_type.split("boundary=", 1)[1].encode()
    pieces = body.split(b"--" + boundary)
    assert pieces[0] == b"", "nothing may come before the first boundary"
    assert pieces[-1] == b"--\r\n", "the body must end with the closing boundary"
    fields: dict[str, list[Part]] = {}
    for piece in pieces[1:-1]:
        assert piece.startswith(b"\r\n") and piece.endswith(b"\r\n")
        head, data = piece[2:-2].split(b"\r\n\r\n", 1)
        headers = {}
        for line in head.decode().split("\r\n"):
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        name = headers["content-disposition"].split('name="', 1)[1].split('"', 1)[0]
        fields.setdefault(name, []).append(Part(headers, data))
    return fields


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


Waiter = Callable[[], Awaitable[None]]
