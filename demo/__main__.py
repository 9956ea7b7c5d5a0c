"""``python -m demo`` (``make demo``): serve the default model and transcribe real speech.

Starts TorchServe with the embedded Whisper base model and the Silero VAD model on free
ports, sends a handful of real speech files in the containers apps upload, all at once
through the async client, prints what came back and how it was batched, shows where the
speech-segments model finds speech, and stops the server.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import voxserve

from demo import speech
from server.process import PROJECT, Ports, ServerError, TorchServe

MODEL = "whisper-base"
VAD_MODEL = "speech-segments"


def make_speech(folder: Path) -> list[Path]:
    english = speech.sentences_with_pauses(speech.ENGLISH[:5], folder / "english.wav")
    files = [
        speech.convert(english, folder / "english.m4a"),
        speech.convert(
            speech.speak(speech.FOREIGN["de"], folder / "de.wav", "de"), folder / "german.webm"
        ),
        speech.convert(
            speech.speak(speech.FOREIGN["es"], folder / "es.wav", "es"), folder / "spanish.mp3"
        ),
        speech.convert(
            speech.speak(speech.FOREIGN["fr"], folder / "fr.wav", "fr"), folder / "french.ogg"
        ),
        speech.arctic_clip(),
    ]
    return files


async def transcribe_all(server: TorchServe, files: list[Path]) -> int:
    failures = 0
    async with voxserve.AsyncClient(
        server.inference_url, management_url=server.management_url, key_file=server.key_file
    ) as vs:
        started = time.perf_counter()
        jobs = [(path, vs.submit(path, model=MODEL)) for path in files]  # returns at once
        print(f"submitted {len(jobs)} files in {time.perf_counter() - started:.3f} s; waiting…\n")
        for path, job in jobs:
            try:
                result = await job
            except voxserve.VoxServeError as error:
                failures += 1
                print(f"{path.name}: FAILED: {error}\n")
                continue
            latency = time.perf_counter() - started
            batch = result.raw["batch"]
            probability = result.language_probability or 0.0
            print(
                f"{path.name}: language {result.language} ({probability:.2f}), "
                f"{result.duration:.1f} s of audio, latency {latency:.1f} s, "
                f"batch of {batch['requests']} requests / {batch['windows']} windows"
            )
            print(f"  {result.text}\n")
        found = await vs.predict(VAD_MODEL, files[0])
        spans = ", ".join(f"{s['start']:.1f}-{s['end']:.1f}" for s in found["segments"])
        share = f"{found['speech_duration']:.1f} of {found['duration']:.1f} s"
        print(f"{VAD_MODEL} on {files[0].name}: speech at {spans} s ({share})")
        (description,) = await vs.describe_model(MODEL)
        print(f"{MODEL}: batchSize {description['batchSize']}, maxBatchDelay "
              f"{description['maxBatchDelay']} ms")  # fmt: skip
    return failures


def main() -> int:
    run_dir = PROJECT / ".run" / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    models = {name: f"{name}.mar" for name in (MODEL, VAD_MODEL)}
    server = TorchServe(run_dir, models, ports=Ports.free())
    with tempfile.TemporaryDirectory() as tmp:
        files = make_speech(Path(tmp))
        print(f"starting TorchServe with {MODEL} and {VAD_MODEL} (logs in {run_dir / 'logs'})…")
        try:
            server.start()
            return 1 if asyncio.run(transcribe_all(server, files)) else 0
        except ServerError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            server.stop()
            print("TorchServe stopped")


if __name__ == "__main__":
    sys.exit(main())
