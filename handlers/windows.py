"""Cut long audio into model-sized windows, batch them, stitch results back.

Two ways to cut: ``pack_speech`` packs the speech spans a voice activity detector found
into windows (long non-speech stretches are left out, and times are mapped back to the
original audio); ``split_into_windows`` cuts the whole audio at its quietest stretches.
A window never exceeds ``max_window_s`` (kept below Whisper's 30 s so the model always
sees some padding and has room to close its last segment), and no cut splits a word.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import torch

MAX_WINDOW_S = 28.0
MIN_WINDOW_S = 12.0
FRAME_S = 0.02
SMOOTH_S = 0.2

T = TypeVar("T")


JOINT_S = 0.3  # silence placed between packed speech spans
MERGE_GAP_S = 1.0  # pauses up to this long stay inside a span, as spoken
SPEECH_PAD_S = 0.2  # context kept around each detected speech span


@dataclass(frozen=True)
class Span:
    """A half-open sample range ``[start, end)`` of the original audio."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    """One model input: spans of the original audio joined by ``joint`` samples of silence."""

    spans: tuple[Span, ...]
    joint: int = 0

    @classmethod
    def of(cls, start: int, end: int) -> Window:
        return cls((Span(start, end),))

    @property
    def start(self) -> int:
        return self.spans[0].start

    @property
    def end(self) -> int:
        return self.spans[-1].end

    @property
    def length(self) -> int:
        """Samples the model sees (spans plus joints)."""
        return sum(s.length for s in self.spans) + self.joint * (len(self.spans) - 1)

    def audio(self, samples: torch.Tensor) -> torch.Tensor:
        if len(self.spans) == 1:
            return samples[self.start : self.end]
        gap = samples.new_zeros(self.joint)
        parts: list[torch.Tensor] = []
        for i, span in enumerate(self.spans):
            if i:
                parts.append(gap)
            parts.append(samples[span.start : span.end])
        return torch.cat(parts)

    def to_original(self, seconds: float, rate: int, *, is_end: bool = False) -> float:
        """Map a time inside the window to the original audio's timeline.

        A time inside a joint belongs to the span after it, or, for the end of a
        segment, to the span before it.
        """
        position = max(0.0, seconds * rate)
        cursor = 0.0
        last = len(self.spans) - 1
        for i, span in enumerate(self.spans):
            if position <= cursor + span.length or i == last:
                return (span.start + min(max(position - cursor, 0.0), span.length)) / rate
            if position < cursor + span.length + self.joint:
                return (span.end if is_end else self.spans[i + 1].start) / rate
            cursor += span.length + self.joint
        return self.end / rate  # unreachable: the last span returns


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    language: str | None = None
    words: tuple[Word, ...] = ()


def frame_energy(samples: torch.Tensor, frame: int, smooth_frames: int) -> torch.Tensor:
    """Mean square per frame, smoothed over ``smooth_frames`` so pauses beat short dips."""
    usable = samples.shape[-1] // frame * frame
    if usable == 0:
        return torch.zeros(0)
    energy = samples[:usable].reshape(-1, frame).pow(2).mean(dim=1)
    if smooth_frames > 1 and energy.shape[0] >= smooth_frames:
        kernel = torch.ones(1, 1, smooth_frames) / smooth_frames
        padded = torch.nn.functional.pad(
            energy[None, None], (smooth_frames // 2, (smooth_frames - 1) // 2), mode="replicate"
        )
        energy = torch.nn.functional.conv1d(padded, kernel)[0, 0]
    return energy


def split_into_windows(
    samples: torch.Tensor,
    sample_rate: int,
    *,
    max_window_s: float = MAX_WINDOW_S,
    min_window_s: float = MIN_WINDOW_S,
) -> list[Window]:
    """Contiguous windows covering ``samples`` exactly once, each at most ``max_window_s``."""
    total = int(samples.shape[-1])
    max_len = int(max_window_s * sample_rate)
    min_len = min(int(min_window_s * sample_rate), max_len)
    if total == 0:
        return []
    frame = max(1, int(FRAME_S * sample_rate))
    energy = frame_energy(samples, frame, max(1, int(SMOOTH_S / FRAME_S)))
    windows: list[Window] = []
    start = 0
    while total - start > max_len:
        first = -(-(start + min_len) // frame)  # first frame starting at or after min_len
        last = (start + max_len) // frame  # frames must end by max_len
        cut = start + max_len
        if last > first and last <= energy.shape[0]:
            region = energy[first:last]
            # Latest frame among the quietest: fewer, longer windows.
            quietest = int(region.shape[0] - 1 - torch.argmin(region.flip(0)))
            cut = (first + quietest) * frame + frame // 2
        cut = min(max(cut, start + 1), start + max_len)
        windows.append(Window.of(start, cut))
        start = cut
    windows.append(Window.of(start, total))
    return windows


def pack_speech(
    spans: Sequence[Span],
    samples: torch.Tensor,
    sample_rate: int,
    *,
    max_window_s: float = MAX_WINDOW_S,
    joint_s: float = JOINT_S,
    merge_gap_s: float = MERGE_GAP_S,
    pad_s: float = SPEECH_PAD_S,
) -> list[Window]:
    """Pack speech spans into windows of at most ``max_window_s``.

    Spans are padded a little, merged across short pauses, split at their quietest
    point when longer than a window, then packed in order, joined by ``joint_s`` of
    silence. Audio outside every span is not transcribed at all.
    """
    total = int(samples.shape[-1])
    pad, merge_gap = int(pad_s * sample_rate), int(merge_gap_s * sample_rate)
    joint, max_len = int(joint_s * sample_rate), int(max_window_s * sample_rate)
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        padded = Span(max(0, span.start - pad), min(total, span.end + pad))
        if padded.length <= 0:
            continue
        if merged and padded.start - merged[-1].end <= merge_gap:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, padded.end))
        else:
            merged.append(padded)
    pieces: list[Span] = []
    for span in merged:
        if span.length <= max_len:
            pieces.append(span)
            continue
        for part in split_into_windows(
            samples[span.start : span.end], sample_rate, max_window_s=max_window_s
        ):
            pieces.append(Span(span.start + part.start, span.start + part.end))
    windows: list[Window] = []
    current: list[Span] = []
    used = 0
    for piece in pieces:
        extra = piece.length + (joint if current else 0)
        if current and used + extra > max_len:
            windows.append(Window(tuple(current), joint))
            current, used = [], 0
            extra = piece.length
        current.append(piece)
        used += extra
    if current:
        windows.append(Window(tuple(current), joint))
    return windows


def micro_batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError("micro-batch size must be at least 1")
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def stitch(windows: Sequence[tuple[Window, Sequence[Segment]]], sample_rate: int) -> list[Segment]:
    """Place each window's segments (times relative to the window) on the original
    audio's timeline, in order, each inside its window."""
    out: list[Segment] = []
    for window, segments in windows:
        for seg in segments:
            start = window.to_original(seg.start, sample_rate)
            end = window.to_original(max(seg.end, seg.start), sample_rate, is_end=True)
            words = tuple(
                replace(
                    w,
                    start=round(window.to_original(w.start, sample_rate), 3),
                    end=round(window.to_original(w.end, sample_rate, is_end=True), 3),
                )
                for w in seg.words
            )
            out.append(
                replace(seg, start=round(start, 3), end=round(max(end, start), 3), words=words)
            )
    return out
