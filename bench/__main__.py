"""``python -m bench`` (``make bench``): run every benchmark once, write a dated report."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import voxserve

from bench import report, scenarios
from bench.measure import hardware
from demo import speech
from server.process import PROJECT

RESULTS = PROJECT / "bench" / "results"


def _audio(folder: Path) -> dict[str, Path]:
    short = speech.sentences_with_pauses(speech.ENGLISH[:2], folder / "short.wav")
    window = speech.sentences_with_pauses(speech.ENGLISH[:6], folder / "window.wav")
    three, _ = speech.long_english(folder / "three-minutes.wav", seconds=180)
    decode_src, _ = speech.long_english(folder / "decode.wav", seconds=150)
    files = {"short": short, "window": window, "three": three}
    for fmt in ("m4a", "mp3", "webm", "wav"):
        files[f"decode-{fmt}"] = speech.convert(decode_src, folder / f"decode-set.{fmt}")
    return files


async def _run(server, files: dict[str, Path]) -> dict:
    results: dict = {}
    async with voxserve.AsyncClient(
        server.inference_url,
        management_url=server.management_url,
        key_file=server.key_file,
        max_concurrency=64,
    ) as vs:
        steps = [
            ("overhead", lambda: scenarios.serving_overhead(vs, files["window"])),
            ("batching", lambda: scenarios.batching_gain(vs, files["short"])),
            ("baseline", lambda: scenarios.naive_baseline(vs, files["short"], 4, 12)),
            ("long_upload", lambda: scenarios.long_upload(vs, files["three"])),
            ("event_loop", lambda: scenarios.event_loop_lag(vs, files["short"])),
            (
                "app_health",
                lambda: scenarios.app_health(server, files["short"], files["short"].parent),
            ),
            ("memory", lambda: scenarios.worker_memory(vs)),
        ]
        for name, step in steps:
            started = time.perf_counter()
            results[name] = await step()
            print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return results


def main() -> int:
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H%M")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = _audio(folder)
        decode_files = [files[f"decode-{fmt}"] for fmt in ("m4a", "mp3", "webm", "wav")]
        results: dict = {"started": stamp, "hardware": hardware()}
        results["decode"] = scenarios.decode_cost(decode_files)
        print("decode: done", flush=True)
        server = scenarios.start_server(folder / "torchserve")
        try:
            results.update(asyncio.run(_run(server, files)))
        finally:
            server.stop()
    results["wall_s"] = time.perf_counter() - started
    path = report.write(results, RESULTS / stamp)
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
