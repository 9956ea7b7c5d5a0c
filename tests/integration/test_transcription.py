"""Real speech through the client, the real TorchServe and the real Whisper weights."""

from __future__ import annotations

import pytest
import torch
import voxserve
import whisper

from demo import speech
from modelbuild.sources import cached_checkpoint_path
from tests.conftest import silent_wav, word_error_rate
from tests.integration.conftest import BASE, TINY

pytestmark = pytest.mark.slow


def test_english_speech_is_transcribed_by_base(client, english):
    result = client.transcribe(english.path, model=BASE)
    error = word_error_rate(english.text, result.text)
    print(f"base WER on {result.duration:.1f} s of English: {error:.3f}")
    assert error <= 0.25, result.text
    assert result.language == "en"
    assert result.model.name == BASE
    assert result.segments and result.segments[-1].end <= result.duration + 0.01


@pytest.mark.parametrize("language", ["de", "es", "fr"])
def test_language_is_detected(client, foreign, language):
    result = client.transcribe(foreign[language].path, model=BASE)
    assert result.language == language, result.text
    assert result.text


def test_translate_german_returns_english_words(client, foreign):
    result = client.transcribe(foreign["de"].path, model=BASE, task="translate")
    words = set(result.text.lower().replace(".", " ").replace(",", " ").split())
    assert words & {"good", "morning", "today", "weather", "park", "grandmother", "city", "the"}, (
        result.text
    )
    assert not words & {"heute", "wetter", "morgen", "und"}, result.text


def test_recorded_human_speech_gives_english_text(client, arctic):
    result = client.transcribe(arctic.path, model=BASE)
    print(f"arctic a0007: {result.text!r}")
    assert result.language == "en"
    assert word_error_rate(arctic.text, result.text) <= 0.5, result.text


@pytest.mark.parametrize("model", [BASE, TINY])
def test_silence_gives_empty_text(client, model):
    result = client.transcribe(silent_wav(7), model=model)
    assert result.text == ""
    assert result.segments == []
    assert result.duration == pytest.approx(7.0)


def test_every_container_is_accepted_by_the_server(client, containers, short_english):
    for name, path in containers.items():
        result = client.transcribe(path, model=TINY)
        assert word_error_rate(short_english.text, result.text) <= 0.35, (name, result.text)


def test_three_minutes_lose_and_double_no_words_at_window_boundaries(client, speech_dir):
    path, reference = speech.long_english(speech_dir / "three-minutes.wav", seconds=180)
    result = client.transcribe(path, model=BASE)
    ours = word_error_rate(reference, result.text)
    # openai-whisper's own sequential transcribe, same weights, same file.
    model = whisper.load_model(str(cached_checkpoint_path("base")), device="cpu")
    torch.set_num_threads(1)
    theirs = word_error_rate(reference, whisper.transcribe(model, str(path), fp16=False)["text"])
    print(f"3-minute file: VoxServe WER {ours:.3f}, openai-whisper transcribe WER {theirs:.3f}, "
          f"windows {result.raw['batch']['request_windows']}")  # fmt: skip
    assert result.duration >= 180
    assert result.raw["batch"]["request_windows"] >= 7
    assert ours <= theirs + 0.02, result.text


def test_bad_option_names_the_valid_values(client, short_english):
    with pytest.raises(voxserve.InvalidOptionError) as raised:
        client.transcribe(short_english.path, model=BASE, language="klingon")
    assert raised.value.status == 400
    assert "valid values" in str(raised.value)


def test_subtitle_formats(client, short_english):
    srt = client.predict(TINY, short_english.path, response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:0")
    vtt = client.predict(TINY, short_english.path, response_format="vtt")
    assert vtt.startswith("WEBVTT")
