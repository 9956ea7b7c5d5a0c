"""Long audio done right: speech-aware windows, no hallucinated text, robust language.
Real weights, real speech, the real TorchServe."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import whisper

from demo import sounds, speech
from modelbuild.archive import PROJECT
from modelbuild.sources import cached_checkpoint_path
from tests.conftest import word_error_rate
from tests.integration.conftest import BASE, TINY, VAD

pytestmark = pytest.mark.slow
RATE = 16000
ARTIFACTS = PROJECT / "tests" / "artifacts"


def _at_16k(path: Path, out: Path) -> Path:
    return speech.convert(path, out, ["-ar", str(RATE), "-ac", "1"])


def test_no_word_lands_in_a_long_silence(client, speech_dir):
    first = _at_16k(
        speech.sentences_with_pauses(speech.ENGLISH[:3], speech_dir / "a.wav"),
        speech_dir / "a16.wav",
    )
    second = _at_16k(
        speech.sentences_with_pauses(speech.ENGLISH[3:6], speech_dir / "b.wav"),
        speech_dir / "b16.wav",
    )
    a, _ = speech.read_wav(first)
    b, _ = speech.read_wav(second)
    gap_start, gap_end = len(a) / RATE, len(a) / RATE + 90
    path = speech.write_wav(speech_dir / "gap.wav", a + speech.silence(90, RATE) + b, RATE)

    result = client.transcribe(path, model=BASE, language="en", word_timestamps=True)
    words = [w for s in result.segments for w in s.words]
    assert words
    inside = [w for w in words if w.end > gap_start + 0.3 and w.start < gap_end - 0.3]
    assert not inside, inside
    later = [s for s in result.segments if s.start >= gap_end - 1]
    assert later, result.text
    assert abs(later[0].start - gap_end) <= 0.5
    assert word_error_rate(" ".join(speech.ENGLISH[3:6]), " ".join(s.text for s in later)) <= 0.25
    assert result.raw["batch"]["request_windows"] == 1  # the silence was never transcribed


def test_ringtone_before_spanish_still_detects_spanish(client, speech_dir):
    spanish = _at_16k(
        speech.speak(speech.FOREIGN["es"], speech_dir / "es-ring.wav", "es"),
        speech_dir / "es16.wav",
    )
    voice, _ = speech.read_wav(spanish)
    path = speech.write_wav(speech_dir / "ring-es.wav", sounds.ringtone(40) + voice, RATE)
    result = client.transcribe(path, model=BASE)
    assert result.language == "es", (result.language, result.text)
    assert all(s.start >= 39.0 for s in result.segments), result.segments
    assert all(s.language == "es" for s in result.segments)


@pytest.mark.parametrize(
    ("name", "make"),
    [("low noise", lambda: sounds.noise(12)), ("music-like tones", lambda: sounds.melody(15))],
)
@pytest.mark.parametrize("model", [BASE, TINY])
def test_non_speech_gives_empty_text(client, speech_dir, name, make, model):
    path = speech.write_wav(speech_dir / f"{name.replace(' ', '-')}.wav", make(), RATE)
    result = client.transcribe(path, model=model)
    assert result.text == "", (name, result.text)
    assert result.segments == []


def test_speech_segments_find_padded_speech(client, speech_dir):
    spoken = _at_16k(
        speech.speak(speech.ENGLISH[4], speech_dir / "vad.wav"), speech_dir / "vad16.wav"
    )
    voice, _ = speech.read_wav(spoken)
    path = speech.write_wav(
        speech_dir / "padded.wav", speech.silence(3, RATE) + voice + speech.silence(4, RATE), RATE
    )
    # Where the voice really is: first and last samples above -40 dBFS.
    loud = [i for i, v in enumerate(voice) if abs(v) > 328]
    start, end = 3 + loud[0] / RATE, 3 + loud[-1] / RATE
    answer = client.predict(VAD, path)
    segments = answer["segments"]
    assert segments, answer
    assert abs(segments[0]["start"] - start) <= 0.2
    assert abs(segments[-1]["end"] - end) <= 0.2
    assert answer["duration"] == pytest.approx(3 + len(voice) / RATE + 4, abs=0.01)


def test_word_timestamps_are_monotonic_and_inside_their_segment(client, english):
    result = client.transcribe(english.path, model=BASE, word_timestamps=True)
    previous = 0.0
    for segment in result.segments:
        assert segment.words, segment
        for word in segment.words:
            assert word.start <= word.end
            assert word.start >= previous - 1e-6
            assert segment.start - 1e-6 <= word.start and word.end <= segment.end + 1e-6
            previous = word.start
    spoken = " ".join(w.word for s in result.segments for w in s.words)
    assert word_error_rate(english.text, spoken) <= 0.25


def test_five_minutes_match_openai_whisper(client, speech_dir):
    path, reference = speech.long_english(speech_dir / "five-minutes.wav", seconds=300, pause_s=1.5)
    started = time.perf_counter()
    result = client.transcribe(path, model=BASE)
    ours_s = time.perf_counter() - started
    ours = word_error_rate(reference, result.text)
    model = whisper.load_model(str(cached_checkpoint_path("base")), device="cpu")
    torch.set_num_threads(1)
    started = time.perf_counter()
    theirs_text = whisper.transcribe(model, str(path), fp16=False)["text"]
    theirs_s = time.perf_counter() - started
    theirs = word_error_rate(reference, theirs_text)
    figures = {
        "audio_s": result.duration, "voxserve_wer": ours, "openai_whisper_wer": theirs,
        "voxserve_s": ours_s, "openai_whisper_s": theirs_s,
        "speech_s": result.raw.get("speech_duration"), "windows": result.raw["batch"]["request_windows"],
    }  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "five_minutes.json").write_text(json.dumps(figures, indent=2))
    print(f"5-minute file: {figures}")
    assert ours <= theirs, (ours, theirs)
