"""Background jobs: awaitable or pollable handles, callbacks, cancel, and a concurrency cap."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
from typing import Any

import anyio
import httpx
import pytest
import voxserve
from client_fakes import SERVER_RESULT, Gate, Script, eventually, respond

pytestmark = pytest.mark.anyio

AUDIO = b"RIFF....WAVEfmt "
INVALID = respond(415, {"error": {"status": 415, "type": "invalid_audio", "message": "bad"}})


async def test_submit_returns_at_once_and_gives_the_result(make_harness: Any, mode: str) -> None:
    gate = Gate()
    harness = make_harness(gate.handler(mode))

    job = harness.client.submit(AUDIO)

    assert not job.done()
    gate.open()
    result = await harness.wait(job)
    assert isinstance(result, voxserve.TranscriptionResult)
    assert result.text == SERVER_RESULT["text"]
    assert job.done() and not job.cancelled()
    assert job.result() is result
    assert job.exception() is None


async def test_job_can_be_polled(make_harness: Any) -> None:
    harness = make_harness(Script())

    job = harness.client.submit(AUDIO, language="en")

    await eventually(job.done)
    assert job.result().language == "en"


@pytest.mark.parametrize("mode", ["async"])
async def test_async_result_before_done_raises(make_harness: Any, mode: str) -> None:
    gate = Gate()
    harness = make_harness(gate.handler(mode))
    job = harness.client.submit(AUDIO)

    with pytest.raises(asyncio.InvalidStateError, match="still running"):
        job.result()
    with pytest.raises(asyncio.InvalidStateError):
        job.exception()

    gate.open()
    await job


@pytest.mark.parametrize("mode", ["sync"])
async def test_sync_result_waits_with_a_timeout(make_harness: Any, mode: str) -> None:
    gate = Gate()
    harness = make_harness(gate.handler(mode))
    job = harness.client.submit(AUDIO)

    with pytest.raises(concurrent.futures.TimeoutError):
        job.result(timeout=0.01)

    gate.open()
    assert job.result(timeout=5).text == SERVER_RESULT["text"]


async def test_failure_is_kept_on_the_job(make_harness: Any) -> None:
    harness = make_harness(Script(INVALID))

    job = harness.client.submit(AUDIO)

    await eventually(job.done)
    assert isinstance(job.exception(), voxserve.InvalidAudioError)
    with pytest.raises(voxserve.InvalidAudioError):
        job.result()
    with pytest.raises(voxserve.InvalidAudioError):
        await harness.wait(job)


async def test_bad_argument_fails_the_job_not_the_caller(make_harness: Any) -> None:
    harness = make_harness(Script())

    job = harness.client.submit("/nonexistent/talk.wav")

    await eventually(job.done)
    assert isinstance(job.exception(), FileNotFoundError)


async def test_callback_gets_the_job(make_harness: Any) -> None:
    harness = make_harness(Script(respond(200, SERVER_RESULT), INVALID))
    seen: list[Any] = []

    good = harness.client.submit(AUDIO)
    good.add_done_callback(seen.append)
    await eventually(lambda: len(seen) == 1)
    bad = harness.client.submit(AUDIO)
    bad.add_done_callback(seen.append)
    await eventually(lambda: len(seen) == 2)

    assert seen == [good, bad]
    assert seen[0].result().text == SERVER_RESULT["text"]
    assert isinstance(seen[1].exception(), voxserve.InvalidAudioError)


async def test_callback_on_finished_job_runs_at_once(make_harness: Any) -> None:
    harness = make_harness(Script())
    job = harness.client.submit(AUDIO)
    await harness.wait(job)
    seen: list[Any] = []

    job.add_done_callback(seen.append)

    await eventually(lambda: seen == [job])


async def test_cancel_a_waiting_job(make_harness: Any, mode: str) -> None:
    gate = Gate()
    harness = make_harness(gate.handler(mode), max_concurrency=1)
    running = harness.client.submit(AUDIO)
    await eventually(lambda: gate.in_flight == 1)

    waiting = harness.client.submit(AUDIO)
    assert waiting.cancel()
    gate.open()

    assert (await harness.wait(running)).text == SERVER_RESULT["text"]
    await eventually(waiting.done)
    assert waiting.cancelled()
    assert gate.seen == 1, "the cancelled job never reached the server"
    with pytest.raises((asyncio.CancelledError, concurrent.futures.CancelledError)):
        waiting.result()


@pytest.mark.parametrize("mode", ["async"])
async def test_cancel_a_running_async_job(make_harness: Any, mode: str) -> None:
    gate = Gate()
    harness = make_harness(gate.handler(mode))
    job = harness.client.submit(AUDIO)
    await eventually(lambda: gate.in_flight == 1)

    assert job.cancel()

    with pytest.raises(asyncio.CancelledError):
        await job
    assert job.cancelled()
    gate.open()


@pytest.mark.parametrize("mode", ["async"])
async def test_unretrieved_failure_is_not_logged_as_lost(make_harness: Any, mode: str) -> None:
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    harness = make_harness(Script(INVALID))

    try:
        job = harness.client.submit(AUDIO)
        await eventually(job.done)
        del job
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)

    assert reports == []


async def test_concurrency_limit_holds_for_many_submits(make_harness: Any, mode: str) -> None:
    gate = Gate()
    gate.open()
    harness = make_harness(gate.handler(mode, hold_s=0.01), max_concurrency=3)

    jobs = [harness.client.submit(AUDIO) for _ in range(20)]
    for job in jobs:
        await harness.wait(job)

    assert gate.seen == 20
    assert gate.max_in_flight == 3


async def test_concurrency_limit_covers_direct_calls(make_harness: Any, mode: str) -> None:
    gate = Gate()
    gate.open()
    harness = make_harness(gate.handler(mode, hold_s=0.01), max_concurrency=2)

    if harness.is_async:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(harness.client.transcribe, AUDIO)
            for _ in range(4):
                group.start_soon(harness.client.predict, "whisper-base", AUDIO)
    else:
        threads = [
            threading.Thread(target=harness.client.transcribe, args=(AUDIO,)) for _ in range(8)
        ] + [
            threading.Thread(target=harness.client.predict, args=("whisper-base", AUDIO))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()

        def join_all() -> None:
            for thread in threads:
                thread.join()

        await anyio.to_thread.run_sync(join_all)

    assert gate.seen == 12
    assert gate.max_in_flight == 2


async def test_close_waits_for_submitted_jobs(make_harness: Any, mode: str) -> None:
    gate = Gate()
    gate.open()
    harness = make_harness(gate.handler(mode, hold_s=0.02))
    jobs = [harness.client.submit(AUDIO) for _ in range(4)]

    await harness.close()

    assert all(job.done() and job.exception() is None for job in jobs)
    with pytest.raises(RuntimeError, match="closed"):
        harness.client.submit(AUDIO)


async def test_text_formats_return_text(make_harness: Any) -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,800\nHello world.\n"
    script = Script(httpx.Response(200, text=srt, headers={"content-type": "application/x-subrip"}))
    harness = make_harness(script)

    job = harness.client.submit(AUDIO, response_format="srt")

    assert await harness.wait(job) == srt


def test_async_submit_outside_a_loop_says_what_to_do() -> None:
    client = voxserve.AsyncClient(transport=httpx.MockTransport(lambda request: respond(200)))

    with pytest.raises(RuntimeError, match=r"use Client\.submit"):
        client.submit(AUDIO)
