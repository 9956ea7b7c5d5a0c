"""Non-speech sounds that fool naive speech recognisers: ringtones, tones, noise."""

from __future__ import annotations

import array
import math
import random

FULL_SCALE = 32767


def _to_pcm(values: list[float]) -> array.array:
    return array.array(
        "h", (max(-FULL_SCALE, min(FULL_SCALE, int(v * FULL_SCALE))) for v in values)
    )


def ringtone(seconds: float, rate: int = 16000) -> array.array:
    """A two-tone phone ring (440 + 480 Hz), 2 s on, 4 s off."""
    values = []
    for i in range(int(seconds * rate)):
        t = i / rate
        on = (t % 6.0) < 2.0
        values.append(
            0.25 * (math.sin(2 * math.pi * 440 * t) + math.sin(2 * math.pi * 480 * t))
            if on
            else 0.0
        )
    return _to_pcm(values)


def melody(seconds: float, rate: int = 16000) -> array.array:
    """Music-like tones: an arpeggio of notes with harmonics and a decay."""
    notes = [261.63, 329.63, 392.0, 523.25, 392.0, 329.63]
    note_s = 0.4
    values = []
    for i in range(int(seconds * rate)):
        t = i / rate
        f = notes[int(t / note_s) % len(notes)]
        local = t % note_s
        envelope = math.exp(-4 * local)
        values.append(
            0.3 * envelope * sum(math.sin(2 * math.pi * f * k * t) / k for k in (1, 2, 3))
        )
    return _to_pcm(values)


def noise(seconds: float, level_db: float = -45.0, rate: int = 16000, seed: int = 7) -> array.array:
    """White noise at ``level_db`` dBFS (RMS): quiet, but above digital silence."""
    rng = random.Random(seed)
    rms = 10 ** (level_db / 20)
    return _to_pcm([rng.gauss(0.0, rms) for _ in range(int(seconds * rate))])
