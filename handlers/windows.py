"""Cut long audio into model-sized windows at pauses, batch them, stitch results back.

A window never exceeds ``max_window_s`` (kept below Whisper's 30 s so the model always
sees some padding and has room to close its last segment), and each cut is placed at the
quietest stretch in the last part of the window, so words are not split.
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


@dataclass(frozen=True)
class Window:
    """A half-open sample range ``[start, end)`` of one request's audio."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


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
        windows.append(Window(start, cut))
        start = cut
    windows.append(Window(start, total))
    return windows


def micro_batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError("micro-batch size must be at least 1")
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def stitch(windows: Sequence[tuple[float, float, Sequence[Segment]]]) -> list[Segment]:
    """Place each window's segments on the request's timeline.

    ``windows`` holds ``(offset_s, length_s, segments)`` with times relative to the window;
    segments are shifted by the offset and clamped inside their window.
    """
    out: list[Segment] = []
    for offset, length, segments in windows:
        for seg in segments:
            start = offset + min(max(seg.start, 0.0), length)
            end = offset + min(max(seg.end, seg.start, 0.0), length)
            out.append(replace(seg, start=round(start, 3), end=round(max(end, start), 3)))
    return out
