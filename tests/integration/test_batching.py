"""Concurrency, batching, per-item errors and auth against the real TorchServe."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import voxserve

from tests.conftest import word_error_rate
from tests.integration.conftest import BASE, TINY, corrupt_copy

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


async def test_eight_concurrent_uploads_ride_in_batches(aclient, short_english):
    results = await asyncio.gather(
        *(aclient.transcribe(short_english.path, model=TINY) for _ in range(8))
    )
    sizes = [r.raw["batch"]["requests"] for r in results]
    print(f"batch sizes seen by 8 concurrent uploads: {sizes}")
    assert max(sizes) > 1
    assert all(word_error_rate(short_english.text, r.text) <= 0.35 for r in results)
    (description,) = await aclient.describe_model(TINY)
    assert description["batchSize"] == 8
    assert description["maxBatchDelay"] == 100


async def test_one_corrupt_upload_among_seven_good_fails_alone(
    aclient, server, short_english, containers, tmp_path
):
    corrupt = corrupt_copy(containers["ogg"], tmp_path / "corrupt.ogg")
    uploads = [short_english.path] * 3 + [corrupt] + [short_english.path] * 4
    outcomes = await asyncio.gather(
        *(aclient.transcribe(path, model=TINY) for path in uploads), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failures) == 1 and isinstance(outcomes[3], voxserve.InvalidAudioError), outcomes
    assert outcomes[3].status == 415
    assert "audio" in str(outcomes[3])
    good = [o for o in outcomes if isinstance(o, voxserve.TranscriptionResult)]
    assert len(good) == 7
    assert all(word_error_rate(short_english.text, r.text) <= 0.35 for r in good)
    health = await aclient.health(TINY)
    assert health.healthy and health.ready_workers == 1


def test_request_without_token_is_refused(server, short_english):
    response = httpx.post(
        f"{server.inference_url}/predictions/{TINY}",
        files={"file": short_english.path.read_bytes()},
        timeout=30,
    )
    assert response.status_code in (400, 401)
    assert response.json()["type"] == "InvalidKeyException"


def test_wrong_token_is_refused_by_the_client(server, short_english):
    with (
        voxserve.Client(server.inference_url, token="not-the-key", retry=False) as vs,
        pytest.raises(voxserve.AuthenticationError) as raised,
    ):
        vs.transcribe(short_english.path, model=TINY)
    assert "Token Authorization failed" in str(raised.value)


def test_handler_metrics_are_scraped(client, short_english):
    client.transcribe(short_english.path, model=TINY)
    text = client.metrics()
    assert f'VoxServeWindowsPerForward_count{{ModelName="{TINY}"' in text
    assert "ts_inference_requests_total" in text


def test_unknown_model_is_named(client, short_english):
    with pytest.raises(voxserve.ModelNotFoundError):
        client.transcribe(short_english.path, model="no-such-model")
    assert client.health(BASE).healthy


async def test_non_ascii_option_values_fail_alone_and_keep_the_worker(
    aclient, server, short_english
):
    """A non-ASCII value echoed in the HTTP reason phrase once killed the worker (and
    the requests batched with it); now it is a plain 400."""
    bad = [
        aclient.transcribe(short_english.path, model=TINY, language=lang)
        for lang in ("é", "日本語")
    ]
    good = [aclient.transcribe(short_english.path, model=TINY) for _ in range(6)]
    outcomes = await asyncio.gather(*bad, *good, return_exceptions=True)
    assert all(isinstance(o, voxserve.InvalidOptionError) for o in outcomes[:2]), outcomes[:2]
    assert "valid values" in str(outcomes[0])
    assert all(isinstance(o, voxserve.TranscriptionResult) for o in outcomes[2:]), outcomes[2:]
    log = (server.run_dir / "logs" / "model_log.log").read_text(errors="replace")
    assert "Backend worker process died" not in log
