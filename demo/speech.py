"""Real speech to feed the server: espeak-ng voices, a recorded CMU ARCTIC clip, and the
same audio in the containers apps upload (m4a, webm/opus, mp3, ogg, flac, mp4...).

Everything is made offline: espeak-ng output is byte-identical run to run, ffmpeg
converts containers, and the recorded clip comes from a pinned PyPI sdist.
"""

from __future__ import annotations

import array
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
from pathlib import Path

ENGLISH = [
    "The weather today is sunny with a light breeze from the west.",
    "Please send the quarterly report to the finance team before Friday.",
    "Our train leaves the central station at half past nine in the morning.",
    "She bought fresh bread, cheese and apples at the market.",
    "The library will be closed on Monday for maintenance.",
    "He plays the piano every evening after dinner.",
    "Remember to turn off the lights when you leave the office.",
    "The children built a sandcastle near the edge of the water.",
    "A new bridge across the river will open next spring.",
    "Doctors recommend drinking plenty of water during hot days.",
    "The museum has a large collection of paintings from Italy.",
    "Our team won the football match by two goals.",
    "The restaurant on the corner serves excellent soup.",
    "Farmers harvest the wheat at the end of the summer.",
    "The meeting has been moved to the large conference room.",
    "My sister is learning to speak Japanese at night school.",
    "The bakery opens early so people can buy bread on their way to work.",
    "Heavy rain caused delays on several roads this morning.",
    "The scientist explained the results of the experiment clearly.",
    "We watched the sunset from the top of the hill.",
    "The airport bus stops in front of the hotel every hour.",
    "Students must return their library books by the end of the month.",
    "The old clock in the tower still keeps perfect time.",
    "A small cat was sleeping on the warm windowsill.",
    "The company plans to hire twenty new engineers this year.",
    "Fresh snow covered the mountains during the night.",
    "The concert starts at eight o'clock in the main hall.",
    "Please keep your ticket until the end of the journey.",
    "The garden is full of roses and tall sunflowers.",
    "The pilot announced that we would land in ten minutes.",
]

FOREIGN = {
    "de": "Guten Morgen. Heute ist das Wetter schön und wir gehen in den Park. "
    "Am Nachmittag besuchen wir meine Großmutter in der Stadt.",
    "es": "Buenos días. Hoy hace buen tiempo y vamos a caminar por la playa. "
    "Por la tarde comemos con nuestros amigos en el restaurante.",
    "fr": "Bonjour à tous. Aujourd'hui il fait beau et nous allons au marché. "
    "Ce soir nous dînons chez nos amis à la maison.",
}

CACHE = Path(os.environ.get("VOXSERVE_CACHE", Path.home() / ".cache" / "voxserve"))

ESPEAK_VOICES = {"en": "en-us", "de": "de", "es": "es", "fr": "fr"}

# Human speech: CMU ARCTIC (see the notice kept in the sdist) inside pysptk's sdist.
ARCTIC_SDIST = (
    "pysptk",
    "1.0.1",
    "78b1c9338bf795a41cdc3ff03fcd4699c401c323f54630bb71a19710078d0b3f",
)
ARCTIC_MEMBER = "pysptk/example_audio_data/arctic_a0007.wav"
ARCTIC_TEXT = "And you always want to see it in the superlative degree."

# Container name -> ffmpeg output arguments.
CONTAINERS: dict[str, list[str]] = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
}


class SpeechToolMissing(RuntimeError):
    """espeak-ng or ffmpeg is not installed (``make setup`` installs them)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechToolMissing(f"{name} is not installed; run `make setup`")
    return path


def speak(text: str, out: Path, language: str = "en", words_per_minute: int = 150) -> Path:
    """Synthesise ``text`` with espeak-ng into a WAV (22,050 Hz mono, 16-bit)."""
    voice = ESPEAK_VOICES.get(language, language)
    subprocess.run(
        [_tool("espeak-ng"), "-v", voice, "-s", str(words_per_minute), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    return out


def read_wav(path: Path) -> tuple[array.array, int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        samples = array.array("h", wav.readframes(wav.getnframes()))
        return samples, wav.getframerate()


def write_wav(path: Path, samples: array.array, rate: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def silence(seconds: float, rate: int) -> array.array:
    return array.array("h", bytes(2 * int(seconds * rate)))


def sentences_with_pauses(
    sentences: list[str], out: Path, *, pause_s: float = 0.8, language: str = "en"
) -> Path:
    """One WAV of the sentences spoken in turn with ``pause_s`` of silence between."""
    joined = array.array("h")
    rate = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(sentences):
            samples, rate = read_wav(speak(sentence, Path(tmp) / f"{i}.wav", language))
            if i:
                joined.extend(silence(pause_s, rate))
            joined.extend(samples)
    return write_wav(out, joined, rate)


def long_english(out: Path, seconds: float = 180.0, pause_s: float = 0.8) -> tuple[Path, str]:
    """At least ``seconds`` of English sentences with pauses; returns (path, reference text)."""
    chosen: list[str] = []
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        while total < seconds:
            sentence = ENGLISH[len(chosen) % len(ENGLISH)]
            samples, rate = read_wav(speak(sentence, Path(tmp) / "s.wav"))
            total += len(samples) / rate + pause_s
            chosen.append(sentence)
    sentences_with_pauses(chosen, out, pause_s=pause_s)
    return out, " ".join(chosen)


def convert(src: Path, out: Path, extra: list[str] | None = None) -> Path:
    """Re-encode ``src`` with ffmpeg; the container follows ``out``'s suffix."""
    codec = CONTAINERS.get(out.suffix.lstrip("."), [])
    subprocess.run(
        [
            _tool("ffmpeg"),
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            *codec,
            *(extra or []),
            str(out),
        ],
        check=True,
    )
    return out


def arctic_clip(out: Path | None = None) -> Path:
    """The recorded CMU ARCTIC clip (4 s, 16 kHz), from the pinned pysptk sdist.

    Kept in the cache under the sdist's hash unless ``out`` names another place.
    """
    name, version, sha256 = ARCTIC_SDIST
    out = out or CACHE / "speech" / f"arctic_a0007-{sha256[:12]}.wav"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "req.txt"
        req.write_text(f"{name}=={version} --hash=sha256:{sha256}\n")
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", f"--no-binary={name}",
             "--require-hashes", "-r", str(req), "-d", tmp, "--quiet"],
            check=True, capture_output=True,
        )  # fmt: skip
        sdist = next(Path(tmp).glob(f"{name}-{version}.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(ARCTIC_MEMBER))
            source = tar.extractfile(member)
            assert source is not None
            partial = out.with_suffix(".partial")
            partial.write_bytes(source.read())
            partial.replace(out)
    return out
