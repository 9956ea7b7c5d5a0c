"""The voxserve client against the real TorchServe: inputs, background jobs, errors,
MLOps helpers, and an event loop that stays free while transcriptions run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import pytest
import voxserve

from bench.scenarios import event_loop_lag
from modelbuild.archive import PROJECT, build_archive
from modelbuild.sources import cached_checkpoint_path
from tests.conftest import word_error_rate
from tests.integration.conftest import TINY, corrupt_copy

pytestmark = [pytest.mark.slow, pytest.mark.anyio]
ARTIFACTS = PROJECT / "tests" / "artifacts"


def _close_enough(clip, result) -> bool:
    return word_error_rate(clip.text, result.text) <= 0.35


async def test_path_bytes_and_file_object_give_the_same_words(aclient, short_english, containers):
    by_path = await aclient.transcribe(containers["m4a"], model=TINY)
    by_bytes = await aclient.transcribe(containers["webm"].read_bytes(), model=TINY)
    with open(containers["flac"], "rb") as handle:
        by_file = await aclient.transcribe(handle, model=TINY)
    by_stream = await aclient.transcribe(io.BytesIO(short_english.read()), model=TINY)
    for result in (by_path, by_bytes, by_file, by_stream):
        assert _close_enough(short_english, result), result.text


async def test_sixteen_submitted_jobs_all_come_back(aclient, short_english):
    jobs = [aclient.submit(short_english.path, model=TINY) for _ in range(16)]
    assert not any(job.done() for job in jobs)  # handles come back before any work is done
    results = await asyncio.gather(*jobs)
    assert all(job.done() for job in jobs)
    assert all(_close_enough(short_english, r) for r in results)
    assert max(r.raw["batch"]["requests"] for r in results) > 1


async def test_corrupt_job_keeps_the_servers_message_and_others_succeed(
    aclient, short_english, containers, tmp_path
):
    corrupt = corrupt_copy(containers["ogg"], tmp_path / "broken.ogg")
    jobs = [
        aclient.submit(p, model=TINY) for p in [short_english.path, corrupt, short_english.path]
    ]
    await asyncio.wait([asyncio.ensure_future(_settle(job)) for job in jobs])
    assert isinstance(jobs[1].exception(), voxserve.InvalidAudioError)
    assert jobs[1].exception().status == 415
    assert "broken.ogg" in str(jobs[1].exception())
    assert jobs[1].exception().message  # the server's own words are kept
    assert _close_enough(short_english, jobs[0].result())
    assert _close_enough(short_english, jobs[2].result())


async def _settle(job) -> None:
    with contextlib.suppress(voxserve.VoxServeError):
        await job


def test_sync_client_submit_and_callback(client, short_english):
    seen = []
    job = client.submit(short_english.path, model=TINY)
    job.add_done_callback(seen.append)
    result = job.result(timeout=120)
    assert _close_enough(short_english, result)
    assert seen == [job]


async def test_mlops_register_predict_set_default_unregister(aclient, server, short_english):
    store = server.model_store
    build_archive(
        model_name=TINY,
        version="2.0",
        checkpoint=cached_checkpoint_path("tiny.en"),
        config_file=PROJECT / "config" / "models" / f"{TINY}.yaml",
        export_path=store / "v2",
    )
    (store / "v2" / f"{TINY}.mar").rename(store / f"{TINY}-v2.mar")
    await aclient.register_model(f"{TINY}-v2.mar", initial_workers=1, synchronous=True)
    try:
        versions = {d["modelVersion"] for d in await aclient.describe_model(TINY, "all")}
        assert versions == {"1.0", "2.0"}
        result = await aclient.transcribe(short_english.path, model=TINY, version="2.0")
        assert result.model.version == "2.0" and _close_enough(short_english, result)
        await aclient.set_default(TINY, "2.0")
        assert (await aclient.transcribe(short_english.path, model=TINY)).model.version == "2.0"
        await aclient.set_default(TINY, "1.0")  # roll back
        assert (await aclient.transcribe(short_english.path, model=TINY)).model.version == "1.0"
    finally:
        await aclient.unregister_model(TINY, "2.0")
    versions = {d["modelVersion"] for d in await aclient.describe_model(TINY, "all")}
    assert versions == {"1.0"}
    with pytest.raises(voxserve.ModelNotFoundError):
        await aclient.transcribe(short_english.path, model=TINY, version="2.0")


async def test_event_loop_stays_free_during_sixteen_transcriptions(aclient, english):
    figures = await event_loop_lag(aclient, english.path, in_flight=16)
    # The loop kept ticking all along: at least half the ticks a free loop would make.
    assert figures["ticks"] >= 0.5 * figures["elapsed_s"] * 1000 / figures["interval_ms"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "event_loop_lag.json").write_text(json.dumps(figures))
    print(f"event loop while 16 transcriptions ran: {figures}")


def test_cli_transcribes_files_and_names_failures(server, short_english, tmp_path):
    import subprocess
    import sys

    good = tmp_path / "good.wav"
    good.write_bytes(short_english.read())
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "voxserve", "transcribe", str(good), str(bad),
         "--url", server.inference_url, "--key-file", str(server.key_file),
         "--model", TINY, "--format", "srt"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "bad.wav" in done.stderr
    srt = Path(f"{good}.srt").read_text()
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert word_error_rate(short_english.text, " ".join(srt.splitlines()[2::4])) <= 0.35
