"""Options: OpenAI names, clear 400s listing the valid values, raw-body headers."""

from __future__ import annotations

import pytest

from handlers.errors import EmptyAudioError, InvalidAudioError, InvalidOptionError
from handlers.formats import to_srt, to_vtt
from handlers.options import TranscriptionOptions, parse_options
from handlers.requests import read_upload
from handlers.windows import Segment


def test_defaults_detect_language_and_answer_json():
    assert parse_options({}) == TranscriptionOptions(
        language=None, task="transcribe", response_format="json"
    )


def test_language_accepts_codes_and_names():
    assert parse_options({"language": "DE"}).language == "de"
    assert parse_options({"language": "german"}).language == "de"


@pytest.mark.parametrize(
    ("raw", "listed"),
    [
        ({"language": "xx"}, "de, "),
        ({"task": "summarise"}, "transcribe, translate"),
        ({"response_format": "xml"}, "json, verbose_json, text, srt, vtt"),
    ],
)
def test_bad_option_lists_valid_values(raw, listed):
    with pytest.raises(InvalidOptionError) as raised:
        parse_options(raw)
    assert raised.value.status == 400
    assert listed in raised.value.message


def test_english_only_model_refuses_translate_and_other_languages():
    with pytest.raises(InvalidOptionError, match="English-only"):
        parse_options({"task": "translate"}, languages={"en": "english"}, multilingual=False)
    with pytest.raises(InvalidOptionError, match="valid values: en"):
        parse_options({"language": "fr"}, languages={"en": "english"}, multilingual=False)


def test_multipart_fields_and_raw_body_headers():
    form = read_upload(
        {"file": bytearray(b"RIFF"), "language": "fr", "task": b"translate"}, lambda _: None
    )
    assert form.audio == b"RIFF" and form.options == {"language": "fr", "task": "translate"}
    headers = {"x-voxserve-language": "es", "x-voxserve-response-format": "srt"}
    raw = read_upload({"body": b"OggS"}, headers.get)
    assert raw.audio == b"OggS" and raw.options == {"language": "es", "response_format": "srt"}
    assert read_upload({"data": b"fLaC"}, lambda _: None).audio == b"fLaC"


def test_upload_problems_are_named():
    with pytest.raises(EmptyAudioError, match="send field 'file'"):
        read_upload({"language": "en"}, lambda _: None)
    with pytest.raises(EmptyAudioError, match="0 bytes"):
        read_upload({"file": b""}, lambda _: None)
    with pytest.raises(InvalidAudioError, match="JSON"):
        read_upload({"body": {"audio": "..."}}, lambda _: None)
    with pytest.raises(InvalidOptionError, match="langauge"):
        read_upload({"file": b"x", "langauge": "en"}, lambda _: None)


def test_subtitles():
    segments = [Segment(0.0, 1.5, "Hello there.", 0, 0, 1), Segment(61.25, 3725.0, "Bye.", 0, 0, 1)]
    assert to_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:01:01,250 --> 01:02:05,000\nBye.\n"
    )
    assert to_vtt(segments).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n")


def test_reason_phrase_is_one_ascii_line():
    from handlers.base import MAX_PHRASE, reason_phrase

    phrase = reason_phrase("invalid language 'é日本🙂'\nvalid values: en")
    assert phrase.isascii() and "\n" not in phrase
    assert "\\xe9" in phrase
    assert len(reason_phrase("x" * 10_000)) == MAX_PHRASE


def test_misspelt_headers_and_ambiguous_fields_are_refused():
    with pytest.raises(InvalidOptionError, match="x-voxserve-langage"):
        read_upload({"body": b"RIFF"}, lambda _: None, ["X-VoxServe-Langage", "Content-Type"])
    with pytest.raises(InvalidOptionError, match="several fields"):
        read_upload({"file": b"RIFF", "data": b"RIFF"}, lambda _: None)


def test_a_huge_bad_value_is_not_echoed_whole():
    with pytest.raises(InvalidOptionError) as raised:
        parse_options({"response_format": "x" * 1_000_000})
    assert len(raised.value.message) < 200
