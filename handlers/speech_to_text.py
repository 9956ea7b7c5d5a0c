"""TorchServe handler: Whisper transcription and translation of uploaded audio."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ts.metrics.metric_type_enum import MetricTypes

from handlers.base import AudioHandler, AudioRequest, logger
from handlers.formats import CONTENT_TYPES, render
from handlers.options import TranscriptionOptions, parse_options
from handlers.transcriber import (
    DecodeSettings,
    TranscriptionJob,
    TranscriptionOutput,
    WhisperTranscriber,
    load_whisper,
)
from handlers.vad import SileroVAD, VadSettings

DEFAULT_CHECKPOINT = "model.pt"
VAD_FILE = "silero_vad.jit"  # packed beside the checkpoint by modelbuild


class SpeechToTextHandler(AudioHandler):
    """Batched Whisper over every window of every request TorchServe hands over."""

    def load(self, model_dir: str, serialized_file: str | None) -> None:
        checkpoint = Path(model_dir) / (serialized_file or DEFAULT_CHECKPOINT)
        model = load_whisper(checkpoint, self.device)
        vad_config = dict(self.settings.get("vad") or {})
        vad = None
        if vad_config.get("enabled", True):
            vad_path = Path(model_dir) / vad_config.get("file", VAD_FILE)
            if vad_path.exists():
                vad = SileroVAD(vad_path, self.device)
            else:
                logger.warning("%s not in the archive: cutting at quiet points instead", vad_path)
        self.transcriber = WhisperTranscriber(
            model,
            DecodeSettings.from_mapping(self.settings),
            vad=vad,
            vad_settings=VadSettings.from_mapping(vad_config),
        )

    def parse_options(self, raw: dict[str, str]) -> TranscriptionOptions:
        return parse_options(
            raw,
            languages=self.transcriber.languages,
            multilingual=self.transcriber.multilingual,
        )

    def run(self, requests: Sequence[AudioRequest]) -> tuple[list[Any], dict[str, Any]]:
        jobs = [
            TranscriptionJob(
                r.audio.samples,
                language=r.options.language,
                task=r.options.task,
                word_timestamps=r.options.word_timestamps,
            )
            for r in requests
        ]
        outputs, stats = self.transcriber.transcribe(jobs)
        for passes in stats.windows_per_pass:
            self._metric("WindowsPerForward", passes, "Count", MetricTypes.HISTOGRAM)
        self._metric("BatchRequests", len(requests), "Count", MetricTypes.HISTOGRAM)
        self._metric("SilentWindowsSkipped", stats.skipped_silent, "Count", MetricTypes.COUNTER)
        self._metric("SkippedAudioSeconds", stats.skipped_seconds, "Seconds", MetricTypes.COUNTER)
        self._metric(
            "AudioSeconds", sum(o.duration for o in outputs), "Seconds", MetricTypes.COUNTER
        )
        facts = {
            "requests": stats.requests,
            "windows": stats.windows,
            "forward_passes": stats.forward_passes,
            "max_windows_per_pass": max(stats.windows_per_pass, default=0),
        }
        return outputs, facts

    def respond(
        self, request: AudioRequest, output: TranscriptionOutput, facts: dict[str, Any]
    ) -> Any:
        options: TranscriptionOptions = request.options
        segments = []
        for i, segment in enumerate(output.segments):
            item = {"id": i, **asdict(segment)}
            if not options.word_timestamps:
                del item["words"]
            segments.append(item)
        body = {
            "text": output.text,
            "language": output.language,
            "language_probability": output.language_probability,
            "duration": output.duration,
            "speech_duration": output.speech_s,
            "task": options.task,
            "segments": segments,
            "model": {"name": self.model_name, "version": self.model_version},
            "batch": {**facts, "request_windows": output.windows},
            "timings": request.timings,
        }
        self._set_content_type(request.index, CONTENT_TYPES[options.response_format])
        return render(body, output.segments, options.response_format)
