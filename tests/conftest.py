"""Shared fixtures: real speech made offline (espeak-ng, ffmpeg, the CMU ARCTIC clip)."""

from __future__ import annotations

import io
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo import speech

ENGLISH_PARAGRAPH = speech.ENGLISH[:6]


@dataclass(frozen=True)
class Clip:
    path: Path
    text: str
    language: str = "en"

    def read(self) -> bytes:
        return self.path.read_bytes()


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def english(speech_dir: Path) -> Clip:
    """About 20 s of English sentences with pauses."""
    path = speech.sentences_with_pauses(ENGLISH_PARAGRAPH, speech_dir / "english.wav")
    return Clip(path, " ".join(ENGLISH_PARAGRAPH))


@pytest.fixture(scope="session")
def short_english(speech_dir: Path) -> Clip:
    text = speech.ENGLISH[0]
    return Clip(speech.speak(text, speech_dir / "short.wav"), text)


@pytest.fixture(scope="session")
def foreign(speech_dir: Path) -> dict[str, Clip]:
    return {
        lang: Clip(speech.speak(text, speech_dir / f"{lang}.wav", lang), text, lang)
        for lang, text in speech.FOREIGN.items()
    }


@pytest.fixture(scope="session")
def containers(short_english: Clip, speech_dir: Path) -> dict[str, Path]:
    """The short English clip in every container an app may upload."""
    out = {
        name: speech.convert(short_english.path, speech_dir / f"short-{name}.{name}")
        for name in speech.CONTAINERS
    }
    # ffmpeg puts the moov atom at the end (as phones do); also the streaming layout,
    # and an mp4 with a video track.
    out["m4a-faststart"] = speech.convert(
        short_english.path, speech_dir / "short-faststart.m4a", ["-movflags", "+faststart"]
    )
    out["mp4-video"] = speech_dir / "short-video.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "color=c=blue:s=64x64:r=5", "-i", str(short_english.path), "-shortest",
         "-c:v", "mpeg4", "-c:a", "aac", str(out["mp4-video"])],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def arctic() -> Clip:
    """Recorded human speech (CMU ARCTIC a0007), cached by its pinned sdist hash."""
    return Clip(speech.arctic_clip(), speech.ARCTIC_TEXT)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after Whisper's English normaliser (numbers, spelling, punctuation)."""
    from jiwer import wer
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return float(wer(normalise(reference), normalise(hypothesis)))


def silent_wav(seconds: float, rate: int = 16000) -> bytes:
    """A WAV of digital silence, as bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(2 * int(rate * seconds)))
    return buffer.getvalue()
