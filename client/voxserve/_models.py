"""Typed results: what a transcription returns, and how to render it as subtitles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Health", "ModelRef", "Segment", "TranscriptionResult", "Word"]

_MS_PER_S = 1000
_MS_PER_HOUR = 3_600_000
_MS_PER_MINUTE = 60_000


@dataclass(frozen=True)
class Word:
    """One word with its timing (present when ``word_timestamps=True`` was asked)."""

    word: str
    start: float
    end: float
    probability: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            word=str(data.get("word", "")),
            start=float(data.get("start", 0.0)),
            end=float(data.get("end", 0.0)),
            probability=_optional_float(data.get("probability")),
        )


@dataclass(frozen=True)
class Segment:
    """One timed piece of the transcript; times are seconds from the start."""

    id: int
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    language: str | None = None
    words: tuple[Word, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int = 0) -> Segment:
        return cls(
            id=int(data.get("id", index)),
            start=float(data.get("start", 0.0)),
            end=float(data.get("end", 0.0)),
            text=str(data.get("text", "")),
            avg_logprob=_optional_float(data.get("avg_logprob")),
            no_speech_prob=_optional_float(data.get("no_speech_prob")),
            compression_ratio=_optional_float(data.get("compression_ratio")),
            language=_optional_str(data.get("language")),
            words=tuple(Word.from_dict(w) for w in data.get("words") or ()),
        )


@dataclass(frozen=True)
class ModelRef:
    """The model and version that served a request."""

    name: str
    version: str | None = None


@dataclass(frozen=True)
class TranscriptionResult:
    """A transcription (or translation) as the server returned it.

    ``raw`` keeps the whole JSON answer, including fields this class does not
    name. Render subtitles with `to_srt` and `to_vtt`.
    """

    text: str
    language: str | None = None
    language_probability: float | None = None
    duration: float | None = None
    task: str | None = None
    segments: list[Segment] = field(default_factory=list)
    model: ModelRef | None = None
    batch: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptionResult:
        """Build a result from the server's JSON answer; missing fields stay empty."""
        model = data.get("model")
        segments = data.get("segments") or []
        return cls(
            text=str(data.get("text", "")),
            language=data.get("language"),
            language_probability=_optional_float(data.get("language_probability")),
            duration=_optional_float(data.get("duration")),
            task=data.get("task"),
            segments=[Segment.from_dict(item, index) for index, item in enumerate(segments)],
            model=(
                ModelRef(
                    name=str(model.get("name", "")), version=_optional_str(model.get("version"))
                )
                if isinstance(model, Mapping)
                else None
            ),
            batch=dict(data.get("batch") or {}),
            timings=dict(data.get("timings") or {}),
            raw=dict(data),
        )

    def to_srt(self) -> str:
        """Render the segments as SubRip subtitles (``.srt``)."""
        cues = [
            f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n"
            for number, (start, end, text) in enumerate(self._cues(), start=1)
        ]
        return "\n".join(cues)

    def to_vtt(self) -> str:
        """Render the segments as WebVTT subtitles (``.vtt``)."""
        cues = [
            f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{text}\n"
            for start, end, text in self._cues()
        ]
        return "\n".join(["WEBVTT\n", *cues])

    def _cues(self) -> Iterable[tuple[float, float, str]]:
        if not self.segments:
            # A result without segments still has its text: one cue for all of it.
            if self.text.strip():
                yield 0.0, self.duration or 0.0, self.text.strip()
            return
        for segment in self.segments:
            text = segment.text.strip()
            if text:
                yield segment.start, segment.end, text


@dataclass(frozen=True)
class Health:
    """Answer of `health()`; true when the server (and the model, if named) can serve.

    ``ready_workers`` counts the model's workers in state READY (``None`` when
    no model was asked about); ``detail`` says why it is not healthy.
    """

    healthy: bool
    status: str
    model: str | None = None
    ready_workers: int | None = None
    detail: str = ""

    def __bool__(self) -> bool:
        return self.healthy


def _timestamp(seconds: float, decimal_mark: str) -> str:
    total_ms = max(0, round(seconds * _MS_PER_S))
    hours, rest = divmod(total_ms, _MS_PER_HOUR)
    minutes, rest = divmod(rest, _MS_PER_MINUTE)
    secs, millis = divmod(rest, _MS_PER_S)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
