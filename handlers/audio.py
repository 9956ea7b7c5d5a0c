"""Decode any uploaded audio from memory into a float32 mono tensor at the model's rate.

PyAV (FFmpeg) reads the container and codec; torchaudio resamples. The duration limit is
enforced while decoding, so an over-long upload is rejected without materialising it.
"""

from __future__ import annotations

import io
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

    Raises EmptyAudioError, InvalidAudioError (not audio, corrupt, truncated) or
    AudioTooLongError (longer than ``max_duration_s``; checked as frames arrive).
    """
    if not data:
        raise EmptyAudioError("the upload is empty (0 bytes)")
    _check_riff_size(data)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidAudioError(f"not a recognised audio file ({exc.__class__.__name__})") from exc
    with container:
        if not container.streams.audio:
            found = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
            raise InvalidAudioError(f"the file has no audio stream (found: {found})")
        stream = container.streams.audio[0]
        source_rate = stream.codec_context.sample_rate or stream.rate or 0
        if source_rate <= 0:
            raise InvalidAudioError("the audio stream has no sample rate")
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
                    raise AudioTooLongError(
                        f"audio is longer than the maximum of {max_duration_s:g} s"
                    )
                chunks.append(mono)
        except av.FFmpegError as exc:
            at = total / source_rate
            raise InvalidAudioError(
                f"the audio is corrupt or truncated (decoding failed after {at:.2f} s: {exc})"
            ) from exc
        declared = _declared_duration(container, stream)
        container_name = container.format.name
        codec = stream.codec_context.name
        channels = stream.codec_context.channels
    if total == 0:
        raise EmptyAudioError("the file contains no audio samples")
    decoded_s = total / source_rate
    if (
        declared is not None
        and container_name.split(",")[0] not in _ESTIMATED_DURATION_FORMATS
        and decoded_s < declared * (1 - _TRUNCATION_TOLERANCE_RATIO) - _TRUNCATION_TOLERANCE_S
    ):
        raise InvalidAudioError(
            f"the file is truncated: it declares {declared:.2f} s but holds {decoded_s:.2f} s"
        )
    samples = torch.from_numpy(np.concatenate(chunks))
    if not torch.isfinite(samples).all():
        raise InvalidAudioError("the audio contains NaN or infinite samples")
    if source_rate != sample_rate:
        samples = AF.resample(samples, source_rate, sample_rate)
    return DecodedAudio(
        samples=samples.contiguous(),
        sample_rate=sample_rate,
        source_rate=source_rate,
        source_channels=channels,
        container=container_name,
        codec=codec,
    )


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
