"""Decode any uploaded audio from memory into a float32 mono tensor at the model's rate.

PyAV (FFmpeg) reads the container and codec; torchaudio resamples. The duration limit is
enforced while decoding, so an over-long upload is rejected without materialising it.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import av
import numpy as np
import torch
import torchaudio.functional as AF

from handlers.errors import AudioTooLongError, EmptyAudioError, InvalidAudioError

SAMPLE_RATE = 16_000

# Containers whose declared duration is only an estimate from the bitrate, so a short
# decode there is no sign of truncation.
_ESTIMATED_DURATION_FORMATS = {"mp3", "aac", "adts", "ac3", "eac3"}
# A decode shorter than the declared duration by more than this means a truncated file.
_TRUNCATION_TOLERANCE_S = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.02
MIN_SOURCE_RATE = 1_000
MAX_SOURCE_RATE = 768_000
MAX_RESAMPLE_RATIO = 2_000  # source_rate / gcd beyond this gets a cheaper path


@dataclass(frozen=True)
class DecodedAudio:
    samples: torch.Tensor  # float32, mono, at ``sample_rate``
    sample_rate: int
    source_rate: int
    source_channels: int
    container: str
    codec: str

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.sample_rate


def _planar_mono(frame: av.AudioFrame) -> np.ndarray:
    """Downmix one decoded frame to mono float32, whatever its sample format."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    if data.dtype.kind == "f":
        data = data.astype(np.float32, copy=False)
    else:
        # Full scale is half the integer range; unsigned (u8) audio is centred on it.
        half_range = float(2 ** (8 * data.dtype.itemsize - 1))
        offset = half_range if data.dtype.kind == "u" else 0.0
        data = (data.astype(np.float32) - offset) / half_range
    return data.mean(axis=0) if channels > 1 else data[0]


def decode_audio(
    data: bytes | bytearray, *, max_duration_s: float, sample_rate: int = SAMPLE_RATE
) -> DecodedAudio:
    """Decode ``data`` to mono float32 at ``sample_rate``.

    Raises EmptyAudioError, InvalidAudioError (not audio, corrupt, truncated, absurd
    header) or AudioTooLongError (longer than ``max_duration_s``; checked as frames
    arrive, so a tiny file that expands to hours is refused early).
    """
    if not data:
        raise EmptyAudioError("the upload is empty (0 bytes)")
    _check_riff_size(data)
    _check_ogg_end(data)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError, EOFError) as exc:
        kind = _looks_like(data)
        if kind:
            raise InvalidAudioError(
                f"the {kind} file is truncated or corrupt ({exc.__class__.__name__})"
            ) from exc
        raise InvalidAudioError(f"not a recognised audio file ({exc.__class__.__name__})") from exc
    with container:
        try:
            decoded = _decode_stream(container, max_duration_s, sample_rate)
        except (AttributeError, TypeError, ValueError, OverflowError, EOFError) as exc:
            # FFmpeg accepted a header it cannot really decode (e.g. 0 bits per sample).
            raise InvalidAudioError(f"the audio stream cannot be decoded ({exc})") from exc
    samples, source_rate, channels, declared, container_name, codec = decoded
    decoded_s = samples.shape[-1] / source_rate
    if (
        declared is not None
        and container_name.split(",")[0] not in _ESTIMATED_DURATION_FORMATS
        and decoded_s < declared * (1 - _TRUNCATION_TOLERANCE_RATIO) - _TRUNCATION_TOLERANCE_S
    ):
        raise InvalidAudioError(
            f"the file is truncated: it declares {declared:.2f} s but holds {decoded_s:.2f} s"
        )
    if samples.shape[-1] == 0:
        raise EmptyAudioError("the file contains no audio samples")
    if not torch.isfinite(samples).all():
        raise InvalidAudioError("the audio contains NaN or infinite samples")
    peak = float(samples.abs().max())
    if peak > 1.0:
        # Float files written without normalisation (e.g. in int16 scale): scale back
        # rather than let the clipping or level lose the speech.
        samples = samples / peak
    if source_rate != sample_rate:
        samples = resample(samples, source_rate, sample_rate)
    return DecodedAudio(
        samples=samples.contiguous(),
        sample_rate=sample_rate,
        source_rate=source_rate,
        source_channels=channels,
        container=container_name,
        codec=codec,
    )


def _decode_stream(
    container: av.container.InputContainer, max_duration_s: float, sample_rate: int
) -> tuple[torch.Tensor, int, int, float | None, str, str]:
    if not container.streams.audio:
        found = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
        raise InvalidAudioError(f"the file has no audio stream (found: {found})")
    stream = container.streams.audio[0]
    context = stream.codec_context
    if context is None:
        raise InvalidAudioError("the audio codec is not supported")
    source_rate = context.sample_rate or stream.rate or 0
    if not MIN_SOURCE_RATE <= source_rate <= MAX_SOURCE_RATE:
        raise InvalidAudioError(
            f"unsupported sample rate {source_rate} Hz "
            f"(supported: {MIN_SOURCE_RATE}-{MAX_SOURCE_RATE} Hz)"
        )
    max_samples = int(max_duration_s * source_rate)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(stream):
            if frame.sample_rate and frame.sample_rate != source_rate:
                raise InvalidAudioError("the sample rate changes inside the stream")
            mono = _planar_mono(frame)
            total += mono.shape[0]
            if total > max_samples:
                raise AudioTooLongError(f"audio is longer than the maximum of {max_duration_s:g} s")
            chunks.append(mono)
    except av.FFmpegError as exc:
        at = total / source_rate
        raise InvalidAudioError(
            f"the audio is corrupt or truncated (decoding failed after {at:.2f} s: {exc})"
        ) from exc
    samples = torch.from_numpy(np.concatenate(chunks)) if chunks else torch.zeros(0)
    declared = _declared_duration(container, stream)
    return samples, source_rate, context.channels, declared, container.format.name, context.name


def resample(samples: torch.Tensor, source_rate: int, target_rate: int) -> torch.Tensor:
    """torchaudio's band-limited resampling.

    Its kernel grows with ``rate / gcd(rate, target)``: fine for every usual rate
    (8, 11.025, 22.05, 44.1, 48, 96 kHz...), enormous for an odd one like 22,051 Hz.
    Odd rates are first snapped to the nearest multiple of 50 Hz by linear
    interpolation (a change of at most 0.3 % in pitch and timing, only for such rates).
    """
    if (source_rate // math.gcd(source_rate, target_rate)) > MAX_RESAMPLE_RATIO:
        snapped = max(50, round(source_rate / 50) * 50)
        length = round(samples.shape[-1] * snapped / source_rate)
        samples = torch.nn.functional.interpolate(
            samples[None, None], size=length, mode="linear", align_corners=False
        )[0, 0]
        source_rate = snapped
    return AF.resample(samples, source_rate, target_rate)


_MAGIC = {
    b"RIFF": "WAV",
    b"OggS": "Ogg",
    b"fLaC": "FLAC",
    b"ID3": "MP3",
    b"\x1aE\xdf\xa3": "WebM/Matroska",
}


def _looks_like(data: bytes | bytearray) -> str | None:
    """The container a file claims to be, from its first bytes."""
    head = bytes(data[:12])
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def _check_ogg_end(data: bytes | bytearray) -> None:
    """A finished Ogg stream ends with a complete page flagged end-of-stream."""
    if bytes(data[:4]) != b"OggS":
        return
    last = bytes(data).rfind(b"OggS")
    header = bytes(data[last : last + 27])
    if len(header) < 27:
        raise InvalidAudioError("the Ogg file is truncated: its last page is cut off")
    segments = data[last + 26]
    table = bytes(data[last + 27 : last + 27 + segments])
    page_end = last + 27 + segments + sum(table)
    if len(table) < segments or page_end > len(data):
        raise InvalidAudioError("the Ogg file is truncated: its last page is cut off")
    if not header[5] & 0x04:
        raise InvalidAudioError("the Ogg file is truncated: it has no end-of-stream page")


def _check_riff_size(data: bytes | bytearray) -> None:
    """A WAV's data chunk states its size: fewer bytes than that means a cut-off upload.

    FFmpeg silently decodes what is there, so the check is made on the header itself.
    Streaming writers put 0 or 0xFFFFFFFF there ("unknown"), which is accepted.
    """
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        return
    order = "<" if data[:4] == b"RIFF" else ">"
    position = 12
    byte_rate = 0
    while position + 8 <= len(data):
        chunk_id = bytes(data[position : position + 4])
        (size,) = struct.unpack(order + "I", data[position + 4 : position + 8])
        body = position + 8
        if chunk_id == b"fmt " and body + 12 <= len(data):
            (byte_rate,) = struct.unpack(order + "I", data[body + 8 : body + 12])
        if chunk_id == b"data":
            if size in (0, 0xFFFFFFFF) or byte_rate == 0:
                return
            present = len(data) - body
            if (
                present
                < size * (1 - _TRUNCATION_TOLERANCE_RATIO) - _TRUNCATION_TOLERANCE_S * byte_rate
            ):
                raise InvalidAudioError(
                    f"the file is truncated: its header declares {size / byte_rate:.2f} s "
                    f"but it holds {max(present, 0) / byte_rate:.2f} s"
                )
            return
        position = body + size + (size & 1)
    (riff_size,) = struct.unpack(order + "I", data[4:8])
    if riff_size + 8 > len(data):
        raise InvalidAudioError("the file is truncated: it ends before its audio data")


def _declared_duration(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
