"""The measurements. Each returns plain dicts; ``bench.report`` turns them into a report."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import torch
import voxserve

from bench.measure import peak_rss_mb, percentile, run_load
from handlers.audio import decode_audio
from handlers.transcriber import DecodeSettings, TranscriptionJob, WhisperTranscriber, load_whisper
from handlers.vad import SileroVAD
from modelbuild.sources import cached_checkpoint_path, silero_vad_path
from server.process import Ports, TorchServe

TINY_MAR = "whisper-tiny-en.mar"
CONCURRENCY = (1, 4, 16, 32)


def _audio_s(result: voxserve.TranscriptionResult) -> float:
    return float(result.duration or 0.0)


async def batching_gain(vs: voxserve.AsyncClient, clip: Path) -> dict:
    """The same weights registered with batchSize 1 and 8; throughput at each concurrency."""
    runs: dict[str, list[dict]] = {}
    for batch in (1, 8):
        name = f"tiny-en-b{batch}"
        await vs.register_model(
            TINY_MAR, model_name=name, batch_size=batch, max_batch_delay=100, initial_workers=1
        )
        runs[name] = []
        try:
            for concurrency in CONCURRENCY:

                async def call(model: str = name) -> tuple[float, dict]:
                    result = await vs.transcribe(clip, model=model)
                    return _audio_s(result), result.raw["batch"]

                load = await run_load(
                    call, requests=max(2 * concurrency, 8), concurrency=concurrency
                )
                summary = load.summary()
                summary["max_requests_per_batch"] = max(e["requests"] for e in load.extras)
                summary["max_windows_per_pass"] = max(
                    e["max_windows_per_pass"] for e in load.extras
                )
                runs[name].append(summary)
        finally:
            await vs.unregister_model(name)
    gains = [
        round(b8["audio_s_per_s"] / b1["audio_s_per_s"], 2)
        for b1, b8 in zip(runs["tiny-en-b1"], runs["tiny-en-b8"], strict=True)
    ]
    return {"model": "whisper tiny.en", "clip": clip.name, "runs": runs, "gain_b8_over_b1": gains}


@contextlib.asynccontextmanager
async def baseline_app(model: str) -> AsyncIterator[str]:
    """Start the naive Sanic + openai-whisper app for ``model``; yields its URL."""
    port = Ports.free().inference
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.baseline_app", "--port", str(port),
         "--checkpoint", str(cached_checkpoint_path(model))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(240):
                try:
                    if (await http.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _naive_call(url: str, clip: Path) -> None:
    async with httpx.AsyncClient(timeout=1800) as http:
        response = await http.post(
            f"{url}/transcribe", files={"file": (clip.name, clip.read_bytes())}
        )
        response.raise_for_status()


async def naive_baseline(
    vs: voxserve.AsyncClient, clip: Path, concurrency: int, requests: int
) -> dict:
    """openai-whisper inline in a Sanic handler vs VoxServe, same clip, model and concurrency."""
    clip_s = decode_audio(clip.read_bytes(), max_duration_s=3600).duration
    async with baseline_app("tiny.en") as url:

        async def naive() -> tuple[float, dict]:
            await _naive_call(url, clip)
            return clip_s, {}

        baseline = await run_load(naive, requests=requests, concurrency=concurrency)

    async def ours() -> tuple[float, dict]:
        result = await vs.transcribe(clip, model="whisper-tiny-en")
        return _audio_s(result), {}

    voxserve_load = await run_load(ours, requests=requests, concurrency=concurrency)
    b, v = baseline.summary(), voxserve_load.summary()
    return {
        "model": "whisper tiny.en",
        "clip": clip.name,
        "baseline": b,
        "voxserve": v,
        "throughput_ratio": round(v["audio_s_per_s"] / b["audio_s_per_s"], 2),
        "p50_ratio": round(b["p50_s"] / v["p50_s"], 2),
        "p95_ratio": round(b["p95_s"] / v["p95_s"], 2),
    }


async def serving_overhead(vs: voxserve.AsyncClient, clip: Path, repeats: int = 3) -> dict:
    """One ~28 s window through client + TorchServe vs the same model called in-process."""
    served = []
    for _ in range(repeats):
        started = time.perf_counter()
        await vs.transcribe(clip, model="whisper-tiny-en")
        served.append(time.perf_counter() - started)
    torch.set_num_threads(1)
    device = torch.device("cpu")
    transcriber = WhisperTranscriber(
        load_whisper(cached_checkpoint_path("tiny.en"), device),
        DecodeSettings(),
        vad=SileroVAD(silero_vad_path(), device),
    )
    local = []
    for _ in range(repeats):
        started = time.perf_counter()
        audio = decode_audio(clip.read_bytes(), max_duration_s=3600)
        transcriber.transcribe([TranscriptionJob(audio.samples)])
        local.append(time.perf_counter() - started)
    description = (await vs.describe_model("whisper-tiny-en"))[0]
    s, loc = min(served), min(local)
    return {
        "model": "whisper tiny.en",
        "clip": clip.name,
        "served_s": round(s, 3),
        "in_process_s": round(loc, 3),
        "ratio": round(s / loc, 3),
        "max_batch_delay_ms": description.get("maxBatchDelay"),
    }


def decode_cost(files: list[Path]) -> dict:
    """PyAV decode + torchaudio resample in-process vs the ffmpeg CLI making 16 kHz PCM."""
    ours, theirs, audio = 0.0, 0.0, 0.0
    per_format = {}
    for path in files:
        data = path.read_bytes()
        started = time.perf_counter()
        decoded = decode_audio(data, max_duration_s=7200)
        mine = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path),
             "-ar", "16000", "-ac", "1", "-f", "s16le", "-"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        cli = time.perf_counter() - started
        ours, theirs, audio = ours + mine, theirs + cli, audio + decoded.duration
        per_format[path.suffix.lstrip(".")] = {
            "in_process_s": round(mine, 3),
            "ffmpeg_cli_s": round(cli, 3),
        }
    return {
        "audio_s": round(audio, 1),
        "in_process_s": round(ours, 3),
        "ffmpeg_cli_s": round(theirs, 3),
        "ratio_cli_over_in_process": round(theirs / ours, 2),
        "per_format": per_format,
    }


async def long_upload(vs: voxserve.AsyncClient, clip: Path) -> dict:
    """A 3-minute upload end to end with tiny.en and base, each beside the naive app on
    the same file and weights; decode's share of the request time."""
    out = {}
    for model, weights in (("whisper-tiny-en", "tiny.en"), ("whisper-base", "base")):
        started = time.perf_counter()
        result = await vs.transcribe(clip, model=model)
        latency = time.perf_counter() - started
        async with baseline_app(weights) as url:
            started = time.perf_counter()
            await _naive_call(url, clip)
            naive = time.perf_counter() - started
        timings = result.raw["timings"]
        out[model] = {
            "audio_s": result.duration,
            "latency_s": round(latency, 2),
            "realtime_factor": round(latency / float(result.duration or 1), 3),
            "naive_latency_s": round(naive, 2),
            "speed_up": round(naive / latency, 2),
            "windows": result.raw["batch"]["request_windows"],
            "decode_share": round(timings["decode_s"] / timings["total_s"], 4),
        }
    return out


async def event_loop_lag(vs: voxserve.AsyncClient, clip: Path, in_flight: int = 16) -> dict:
    """Worst lag of a 10 ms ticker while ``in_flight`` transcriptions run on the same loop."""
    interval, lags = 0.01, []
    stop = asyncio.Event()

    async def ticker() -> None:
        expected = time.perf_counter() + interval
        while not stop.is_set():
            await asyncio.sleep(interval)
            now = time.perf_counter()
            lags.append(max(0.0, now - expected))
            expected = now + interval

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(vs.transcribe(clip, model="whisper-tiny-en") for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return {
        "in_flight": in_flight,
        "elapsed_s": round(elapsed, 2),
        "interval_ms": interval * 1000,
        "ticks": len(lags),
        "worst_lag_ms": round(max(lags) * 1000, 1),
        "p99_lag_ms": round(percentile(lags, 99) * 1000, 1),
    }


async def worker_memory(vs: voxserve.AsyncClient) -> dict:
    """Peak RSS of each model's worker after the runs above (VmHWM)."""
    out = {}
    for model in ("whisper-tiny-en", "whisper-base"):
        (description,) = await vs.describe_model(model)
        micro_batch = description.get("batchSize")
        for worker in description.get("workers", []):
            pid = worker.get("pid")
            if pid:
                out[model] = {
                    "peak_rss_mb": round(peak_rss_mb(int(pid)) or 0.0, 1),
                    "batch_size": micro_batch,
                }
    return out


async def app_health(server: TorchServe, clip: Path, folder: Path, uploads: int = 32) -> dict:
    """The Sanic example's /health, idle and while ``uploads`` uploads are in flight."""
    port = Ports.free().inference
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.sanic_app", "--voxserve-url", server.inference_url,
         "--key-file", str(server.key_file), "--model", "whisper-tiny-en", "--port", str(port),
         "--db", str(folder / "app.sqlite"), "--upload-dir", str(folder / "uploads")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=30) as http:

            async def health() -> float:
                started = time.perf_counter()
                (await http.get(f"{url}/health")).raise_for_status()
                return time.perf_counter() - started

            for _ in range(120):
                try:
                    await health()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.5)
            idle = [await health() for _ in range(200)]
            body = clip.read_bytes()
            ids = []
            for _ in range(uploads):
                response = await http.post(f"{url}/uploads", files={"file": (clip.name, body)})
                ids.append(response.json()["id"])
            loaded: list[float] = []
            pending = set(ids)
            deadline = time.perf_counter() + 600
            while pending and time.perf_counter() < deadline:
                loaded.append(await health())
                if len(loaded) % 20 == 0:
                    for upload_id in list(pending):
                        status = (await http.get(f"{url}/uploads/{upload_id}")).json()["status"]
                        if status != "pending":
                            pending.discard(upload_id)
                await asyncio.sleep(0.01)
    finally:
        process.terminate()
        process.wait(timeout=30)
    ms = 1000
    return {
        "uploads": uploads,
        "idle_p50_ms": round(percentile(idle, 50) * ms, 2),
        "idle_p99_ms": round(percentile(idle, 99) * ms, 2),
        "load_p50_ms": round(percentile(loaded, 50) * ms, 2),
        "load_p99_ms": round(percentile(loaded, 99) * ms, 2),
        "p99_ratio": round(percentile(loaded, 99) / percentile(idle, 99), 2),
        "requests_under_load": len(loaded),
    }


def start_server(run_dir: Path) -> TorchServe:
    server = TorchServe(
        run_dir,
        {"whisper-base": "whisper-base.mar", "whisper-tiny-en": TINY_MAR},
        ports=Ports.free(),
        overrides={"enable_model_api": "true"},
    )
    server.start()
    return server
