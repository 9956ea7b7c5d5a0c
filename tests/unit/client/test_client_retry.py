"""Retries happen only where safe, back off with bounded jitter, and stop in time."""

from __future__ import annotations

import io
import random
from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import Script, ok, respond
from voxserve._retry import backoff_delay

pytestmark = pytest.mark.anyio

AUDIO = b"RIFF....WAVEfmt "
BUSY = respond(503, {"code": 503, "type": "ServiceUnavailableException", "message": "no worker"})
WORKER_DIED = respond(
    500, {"code": 500, "type": "InternalServerException", "message": "Worker died."}
)
FAST = voxserve.Retry(attempts=4, backoff=0.1, max_backoff=1.0, total=30.0)


@pytest.mark.parametrize(
    "failure",
    [
        BUSY,
        WORKER_DIED,
        httpx.ConnectError("Connection refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("Connection reset by peer"),
    ],
    ids=["503 busy", "500 worker died", "refused", "disconnected", "reset"],
)
async def test_transient_failure_is_retried_until_success(make_harness: Any, failure: Any) -> None:
    script = Script(failure, failure, ok)
    harness = make_harness(script, retry=FAST)

    result = await harness.call("transcribe", AUDIO)

    assert result.text == "Hello world. How are you?"
    assert script.calls == 3
    assert len(harness.sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [
        respond(400, {"error": {"status": 400, "type": "invalid_option", "message": "bad"}}),
        respond(401),
        respond(404, {"code": 404, "type": "ModelNotFoundException", "message": "nope"}),
        respond(413),
        respond(415, {"error": {"status": 415, "type": "invalid_audio", "message": "bad"}}),
        respond(500, {"error": {"status": 500, "type": "inference_error", "message": "oom"}}),
        respond(502),
        respond(
            503,
            {"code": 503, "type": "ServiceUnavailableException", "message": "Prediction failed"},
        ),
        httpx.ReadTimeout("timed out"),
    ],
    ids=["400", "401", "404", "413", "415", "500 inference", "502", "503 failed", "read timeout"],
)
async def test_other_failures_are_not_retried(make_harness: Any, failure: Any) -> None:
    script = Script(failure, ok)
    harness = make_harness(script, retry=FAST)

    with pytest.raises(voxserve.VoxServeError):
        await harness.call("transcribe", AUDIO)

    assert script.calls == 1
    assert harness.sleeps == []


@pytest.mark.parametrize(
    "disabled", [False, voxserve.Retry(attempts=1)], ids=["False", "1 attempt"]
)
async def test_retry_can_be_disabled(make_harness: Any, disabled: Any) -> None:
    script = Script(BUSY, ok)
    harness = make_harness(script, retry=disabled)

    with pytest.raises(voxserve.ServerBusyError):
        await harness.call("transcribe", AUDIO)

    assert script.calls == 1


async def test_gives_up_after_the_attempts_and_says_so(make_harness: Any) -> None:
    script = Script(BUSY)
    harness = make_harness(script, retry=FAST)

    with pytest.raises(voxserve.ServerBusyError) as caught:
        await harness.call("transcribe", AUDIO)

    assert script.calls == FAST.attempts
    assert "Gave up after 4 attempts" in str(caught.value)


async def test_backoff_grows_and_is_capped(make_harness: Any) -> None:
    policy = voxserve.Retry(attempts=7, backoff=0.5, max_backoff=3.0, total=1000.0, jitter=False)
    harness = make_harness(Script(BUSY), retry=policy)

    with pytest.raises(voxserve.ServerBusyError):
        await harness.call("transcribe", AUDIO)

    assert harness.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


async def test_jittered_backoff_stays_under_each_cap(make_harness: Any) -> None:
    policy = voxserve.Retry(attempts=8, backoff=0.5, max_backoff=3.0, total=1000.0)
    harness = make_harness(Script(WORKER_DIED), retry=policy)
    harness.client._random = random.Random(7)

    with pytest.raises(voxserve.WorkerDiedError):
        await harness.call("transcribe", AUDIO)

    caps = [min(3.0, 0.5 * 2**n) for n in range(7)]
    assert len(harness.sleeps) == 7
    assert all(0 <= slept <= cap for slept, cap in zip(harness.sleeps, caps, strict=True))
    assert len(set(harness.sleeps)) > 1, "jitter spreads the waits"


async def test_total_time_bounds_the_retries(make_harness: Any) -> None:
    policy = voxserve.Retry(attempts=50, backoff=1.0, max_backoff=4.0, total=5.0, jitter=False)
    script = Script(BUSY)
    harness = make_harness(script, retry=policy)

    with pytest.raises(voxserve.ServerBusyError) as caught:
        await harness.call("transcribe", AUDIO)

    # Waits 1 + 2 = 3 s; the next wait (4 s) would pass the 5 s budget.
    assert harness.sleeps == [1.0, 2.0]
    assert script.calls == 3
    assert "retry time limit 5 s" in str(caught.value)


async def test_retry_resends_the_whole_upload(make_harness: Any, tmp_path: Any) -> None:
    audio = bytes(range(256)) * 1000
    path = tmp_path / "talk.wav"
    path.write_bytes(audio)
    script = Script(BUSY, ok)
    harness = make_harness(script, retry=FAST)

    await harness.call("transcribe", path)

    first, second = script.requests
    assert first.content == second.content
    assert audio in second.content


async def test_seekable_file_object_is_rewound_for_a_retry(make_harness: Any) -> None:
    audio = b"\x01\x02" * 50_000
    upload = io.BytesIO(b"junk" + audio)
    upload.seek(4)
    script = Script(WORKER_DIED, ok)
    harness = make_harness(script, retry=FAST)

    await harness.call("transcribe", upload)

    assert script.calls == 2
    assert audio + b"\r\n--" in script.requests[1].content
    assert b"junk" not in script.requests[1].content


class Pipe(io.RawIOBase):
    """A file object that can only be read forward, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


async def test_non_seekable_upload_is_not_retried_and_says_why(make_harness: Any) -> None:
    script = Script(BUSY, ok)
    harness = make_harness(script, retry=FAST)

    with pytest.raises(voxserve.ServerBusyError) as caught:
        await harness.call("transcribe", Pipe(AUDIO))

    assert script.calls == 1
    assert "cannot be rewound" in str(caught.value)


async def test_registering_is_not_repeated_after_a_reset(make_harness: Any) -> None:
    script = Script(httpx.ReadError("Connection reset by peer"), respond(200, {"status": "ok"}))
    harness = make_harness(script, retry=FAST)

    with pytest.raises(voxserve.ConnectionError):
        await harness.call("register_model", "whisper-base.mar")

    assert script.calls == 1


async def test_registering_is_retried_when_refused(make_harness: Any) -> None:
    script = Script(httpx.ConnectError("Connection refused"), respond(200, {"status": "ok"}))
    harness = make_harness(script, retry=FAST)

    assert await harness.call("register_model", "whisper-base.mar") == {"status": "ok"}
    assert script.calls == 2


def test_backoff_delay_is_full_jitter_below_the_cap() -> None:
    policy = voxserve.Retry(backoff=1.0, max_backoff=5.0)
    highs: list[float] = []

    def record_high(low: float, high: float) -> float:
        highs.append(high)
        return high / 2

    delays = [backoff_delay(policy, n, record_high) for n in range(1, 6)]

    assert highs == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert delays == [0.5, 1.0, 2.0, 2.5, 2.5]


def test_retry_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        voxserve.Retry(attempts=0)
