"""Decoding uploads: every container to the right duration; broken input to a clear 4xx."""

from __future__ import annotations

import io
import random
import struct
import wave
from pathlib import Path

import pytest
import torch

from demo import speech
from handlers.audio import SAMPLE_RATE, decode_audio
from handlers.errors import AudioTooLongError, EmptyAudioError, InvalidAudioError, RequestError

# AAC encoders prepend priming samples (~1024 at the source rate); allow for them.
AAC_PRIMING_S = 0.06
TOLERANCE_S = 0.05


def _reference_seconds(clip: Path) -> float:
    samples, rate = speech.read_wav(clip)
    return len(samples) / rate


@pytest.mark.parametrize("container", [*speech.CONTAINERS, "m4a-faststart", "mp4-video"])
def test_every_container_decodes_to_the_right_duration(containers, short_english, container):
    expected = _reference_seconds(short_english.path)
    audio = decode_audio(containers[container].read_bytes(), max_duration_s=60)
    slack = TOLERANCE_S + (AAC_PRIMING_S if container.startswith(("m4a", "mp4")) else 0)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.ndim == 1
    assert audio.samples.dtype.is_floating_point
    assert abs(audio.duration - expected) <= slack, (container, audio.duration, expected)


def _wav_bytes(frames: bytes, *, rate: int, width: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("width", "channels", "rate"), [(1, 1, 8000), (2, 2, 44100), (3, 1, 48000), (4, 2, 22050)]
)
def test_wav_of_any_sample_format_downmixes_and_resamples(width, channels, rate):
    seconds = 1.5
    n = int(seconds * rate)
    peak = 2 ** (8 * width - 1) - 1
    frames = bytearray()
    for i in range(n):
        value = int(peak * 0.5 * ((i // 20) % 2 * 2 - 1))  # square wave, half scale
        for _ in range(channels):
            if width == 1:
                frames += struct.pack("<B", value + 128)
            else:
                frames += value.to_bytes(width, "little", signed=True)
    audio = decode_audio(
        _wav_bytes(bytes(frames), rate=rate, width=width, channels=channels), max_duration_s=10
    )
    assert abs(audio.duration - seconds) < 0.01
    assert audio.source_rate == rate and audio.source_channels == channels
    # Half-scale square wave stays half-scale whatever the sample format.
    assert 0.4 < float(audio.samples.abs().max()) < 0.65


def _png() -> bytes:
    import zlib

    raw = b"\x00\xff\x00\x00" * 1
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _broken_inputs(
    wav: bytes, m4a: bytes, flac: bytes
) -> dict[str, tuple[bytes, type[RequestError], str]]:
    rng = random.Random(1234)
    return {
        "zero bytes": (b"", EmptyAudioError, "empty"),
        "wav header only": (wav[: wav.index(b"data") + 8], InvalidAudioError, "truncated"),
        "wav cut inside its header": (wav[:40], InvalidAudioError, "truncated"),
        "wav truncated": (wav[: len(wav) // 3], InvalidAudioError, "truncated"),
        "m4a truncated": (m4a[: len(m4a) // 2], InvalidAudioError, ""),
        "flac truncated": (flac[: len(flac) // 3], InvalidAudioError, ""),
        "random bytes": (bytes(rng.getrandbits(8) for _ in range(50_000)), InvalidAudioError, ""),
        "text": (b"hello, this is not audio at all\n" * 100, InvalidAudioError, "audio"),
        "image": (_png(), InvalidAudioError, "no audio stream"),
    }


@pytest.mark.parametrize(
    "case",
    ["zero bytes", "wav header only", "wav cut inside its header", "wav truncated", "m4a truncated", "flac truncated",
     "random bytes", "text", "image"],
)  # fmt: skip
def test_broken_input_gets_the_right_4xx_with_a_message(containers, case):
    inputs = _broken_inputs(
        containers["wav"].read_bytes(),
        containers["m4a-faststart"].read_bytes(),
        containers["flac"].read_bytes(),
    )
    data, error, words = inputs[case]
    with pytest.raises(error) as raised:
        decode_audio(data, max_duration_s=60)
    assert 400 <= raised.value.status < 500
    assert words in raised.value.message
    assert len(raised.value.message) > 10


def test_too_long_is_rejected_while_decoding(english):
    with pytest.raises(AudioTooLongError) as raised:
        decode_audio(english.read(), max_duration_s=5)
    assert raised.value.status == 413
    assert "maximum of 5 s" in raised.value.message


def test_silent_wav_decodes_to_zeros():
    data = _wav_bytes(bytes(2 * 16000 * 2), rate=16000, width=2, channels=1)
    audio = decode_audio(data, max_duration_s=10)
    assert audio.duration == pytest.approx(2.0)
    assert float(audio.samples.abs().max()) == 0.0


def _wav_header(
    *, tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, frames: bytes = b""
) -> bytes:
    block = max(1, channels * bits // 8)
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(frames))
        + frames
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("0 bits per sample", {"bits": 0}),
        ("unknown format tag", {"tag": 0x1234}),
        ("absurd sample rate", {"rate": 0x7FFFFFFF}),
        ("sample rate 0", {"rate": 0}),
        ("0 channels", {"channels": 0}),
    ],
)
def test_absurd_headers_are_refused_as_not_decodable(case, header):
    data = _wav_header(frames=bytes(32000), **header)
    with pytest.raises(InvalidAudioError) as raised:
        decode_audio(data, max_duration_s=60)
    assert raised.value.status == 415, case


@pytest.mark.parametrize("rate", [7919, 22051, 44101])
def test_odd_sample_rates_decode_to_the_right_length(rate):
    seconds = 2.0
    data = _wav_header(rate=rate, frames=bytes(2 * int(rate * seconds)))
    audio = decode_audio(data, max_duration_s=60)
    assert abs(audio.duration - seconds) < 0.01
    assert audio.source_rate == rate


def test_float_audio_outside_full_scale_is_brought_back(short_english):
    import numpy as np

    samples, rate = speech.read_wav(short_english.path)
    scaled = np.asarray(samples, dtype=np.float32)  # int16 scale written as float
    data = _wav_header(tag=3, rate=rate, bits=32, frames=scaled.tobytes())
    audio = decode_audio(data, max_duration_s=60)
    assert float(audio.samples.abs().max()) == pytest.approx(1.0, abs=0.05)
    reference = decode_audio(short_english.read(), max_duration_s=60)
    correlation = torch.corrcoef(torch.stack([audio.samples, reference.samples]))[0, 1]
    assert correlation > 0.99


@pytest.mark.parametrize(
    ("container", "keep"),
    # Ogg is checked for its end-of-stream page, so even a 5 % cut shows; WebM by the
    # duration it declares, within 0.5 s + 2 %.
    [
        ("ogg", 0.02),
        ("ogg", 0.6),
        ("ogg", 0.95),
        ("opus", 0.6),
        ("opus", 0.95),
        ("webm", 0.02),
        ("webm", 0.6),
    ],
)
def test_cut_off_streams_are_called_truncated(containers, container, keep):
    data = containers[container].read_bytes()
    with pytest.raises(InvalidAudioError) as raised:
        decode_audio(data[: int(len(data) * keep)], max_duration_s=60)
    assert "truncated" in raised.value.message


def test_a_cut_off_mp4_says_so(containers):
    data = containers["m4a"].read_bytes()  # moov at the end: the cut loses it
    with pytest.raises(InvalidAudioError, match="MP4/M4A file is truncated or corrupt"):
        decode_audio(data[: len(data) // 2], max_duration_s=60)
