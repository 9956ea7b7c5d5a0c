"""TorchServe handler: where the speech is (Silero VAD), batched over requests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handlers.audio import SAMPLE_RATE
from handlers.base import AudioHandler, AudioRequest
from handlers.errors import InvalidOptionError
from handlers.vad import SileroVAD, VadSettings, speech_spans

DEFAULT_VAD_FILE = "silero_vad.jit"


class SpeechSegmentsHandler(AudioHandler):
    """Answers each upload with its speech segments (start/end seconds)."""

    def load(self, model_dir: str, serialized_file: str | None) -> None:
        self.vad = SileroVAD(Path(model_dir) / (serialized_file or DEFAULT_VAD_FILE), self.device)
        self.vad_settings = VadSettings.from_mapping(dict(self.settings.get("vad") or {}))

    def parse_options(self, raw: dict[str, str]) -> None:
        if raw:
            raise InvalidOptionError(
                f"{self.model_name} takes no options (got {', '.join(sorted(raw))})"
            )

    def run(self, requests: Sequence[AudioRequest]) -> tuple[list[Any], dict[str, Any]]:
        probs = self.vad.probabilities([r.audio.samples for r in requests])
        spans = [
            speech_spans(p, int(r.audio.samples.shape[-1]), self.vad_settings)
            for r, p in zip(requests, probs, strict=True)
        ]
        return spans, {"requests": len(requests)}

    def respond(self, request: AudioRequest, output: Any, facts: dict[str, Any]) -> Any:
        segments = [
            {"start": round(s.start / SAMPLE_RATE, 3), "end": round(s.end / SAMPLE_RATE, 3)}
            for s in output
        ]
        self._set_content_type(request.index, "application/json")
        return {
            "segments": segments,
            "duration": round(request.audio.duration, 3),
            "speech_duration": round(sum(s["end"] - s["start"] for s in segments), 3),
            "model": {"name": self.model_name, "version": self.model_version},
            "batch": facts,
            "timings": request.timings,
        }
