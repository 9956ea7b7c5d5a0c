"""Render a transcription as JSON, plain text, SRT or WebVTT."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.windows import Segment

CONTENT_TYPES = {
    "json": "application/json",
    "verbose_json": "application/json",
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{i}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text}\n" for s in segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render(body: dict, segments: Sequence[Segment], response_format: str) -> str | dict:
    if response_format == "text":
        return body["text"] + "\n"
    if response_format == "srt":
        return to_srt(segments)
    if response_format == "vtt":
        return to_vtt(segments)
    return body
