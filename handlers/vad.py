"""Voice activity detection with Silero VAD (TorchScript), batched over requests.

Silero scores 512-sample chunks at 16 kHz with a recurrent state; several requests run
as rows of one batch. ``speech_spans`` turns chunk probabilities into speech spans with
hysteresis (start above ``threshold``, end after ``min_silence_s`` below
``neg_threshold``), dropping blips shorter than ``min_speech_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from handlers.windows import Span

VAD_RATE = 16_000
CHUNK = 512  # samples per Silero step at 16 kHz


@dataclass(frozen=True)
class VadSettings:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3

    @classmethod
    def from_mapping(cls, values: dict) -> VadSettings:
        return cls(**{f: float(values[f]) for f in cls.__dataclass_fields__ if f in values})


class SileroVAD:
    """Speech probabilities for many clips at once."""

    def __init__(self, path: Path, device: torch.device) -> None:
        self.model = torch.jit.load(str(path), map_location=device).eval()
        self.device = device

    def probabilities(self, clips: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """One speech probability per 512-sample chunk, for each 16 kHz clip."""
        if not clips:
            return []
        longest = max(int(c.shape[-1]) for c in clips)
        steps = max(1, -(-longest // CHUNK))
        batch = torch.zeros(len(clips), steps * CHUNK)
        for row, clip in enumerate(clips):
            batch[row, : clip.shape[-1]] = clip
        with torch.inference_mode():
            probs = self.model.audio_forward(batch.to(self.device), VAD_RATE).float().cpu()
        return [probs[row, : max(1, -(-int(c.shape[-1]) // CHUNK))] for row, c in enumerate(clips)]


def speech_spans(probs: torch.Tensor, total_samples: int, settings: VadSettings) -> list[Span]:
    """Speech spans (in samples) from per-chunk probabilities."""
    min_silence = max(1, round(settings.min_silence_s * VAD_RATE / CHUNK))
    min_speech = settings.min_speech_s * VAD_RATE
    spans: list[Span] = []
    start: int | None = None
    quiet_since: int | None = None
    for index, p in enumerate(probs.tolist()):
        if start is None:
            if p >= settings.threshold:
                start, quiet_since = index, None
            continue
        if p >= settings.threshold:
            quiet_since = None
        elif p < settings.neg_threshold:
            quiet_since = index if quiet_since is None else quiet_since
            if index - quiet_since + 1 >= min_silence:
                spans.append(Span(start * CHUNK, quiet_since * CHUNK))
                start, quiet_since = None, None
    if start is not None:
        end = quiet_since if quiet_since is not None else len(probs)
        spans.append(Span(start * CHUNK, end * CHUNK))
    return [
        Span(s.start, min(s.end, total_samples))
        for s in spans
        if s.length >= min_speech and s.start < total_samples
    ]
