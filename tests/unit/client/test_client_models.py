"""The typed result: parsed from the server's JSON, rendered as SRT and WebVTT."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import SERVER_RESULT, Script, respond
from voxserve import ModelRef, Segment, TranscriptionResult

pytestmark = pytest.mark.anyio

AUDIO = b"RIFF....WAVEfmt "


def test_result_parses_every_field() -> None:
    result = TranscriptionResult.from_dict(SERVER_RESULT)

    assert result.text == "Hello world. How are you?"
    assert result.language == "en"
    assert result.language_probability == 0.98
    assert result.duration == 4.21
    assert result.task == "transcribe"
    assert result.model == ModelRef(name="whisper-base", version="1.0")
    assert result.segments[0] == Segment(
        id=0,
        start=0.0,
        end=1.8,
        text=" Hello world.",
        avg_logprob=-0.21,
        no_speech_prob=0.01,
        compression_ratio=0.9,
    )
    assert len(result.segments) == 2
    assert result.batch["windows"] == 5
    assert result.timings["total_s"] == 1.25
    assert result.raw == SERVER_RESULT


def test_silence_gives_an_empty_result() -> None:
    result = TranscriptionResult.from_dict({"text": "", "segments": [], "duration": 3.0})

    assert result.text == ""
    assert result.segments == []
    assert result.model is None
    assert result.to_srt() == ""
    assert result.to_vtt() == "WEBVTT\n"


def test_to_srt() -> None:
    result = TranscriptionResult.from_dict(SERVER_RESULT)

    assert result.to_srt() == (
        "1\n"
        "00:00:00,000 --> 00:00:01,800\n"
        "Hello world.\n"
        "\n"
        "2\n"
        "00:00:01,800 --> 00:00:04,210\n"
        "How are you?\n"
    )


def test_to_vtt() -> None:
    result = TranscriptionResult.from_dict(SERVER_RESULT)

    assert result.to_vtt() == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.800\n"
        "Hello world.\n"
        "\n"
        "00:00:01.800 --> 00:00:04.210\n"
        "How are you?\n"
    )


def test_timestamps_past_an_hour() -> None:
    result = TranscriptionResult(
        text="late",
        segments=[Segment(id=0, start=3725.5, end=3727.0004, text="late")],
    )

    assert "01:02:05,500 --> 01:02:07,000" in result.to_srt()
    assert "01:02:05.500 --> 01:02:07.000" in result.to_vtt()


def test_text_without_segments_is_one_cue() -> None:
    result = TranscriptionResult.from_dict({"text": "Hi there.", "duration": 2.5})

    assert result.to_srt() == "1\n00:00:00,000 --> 00:00:02,500\nHi there.\n"


async def test_transcribe_returns_the_typed_result(make_harness: Any) -> None:
    harness = make_harness(Script())

    result = await harness.call("transcribe", AUDIO)

    assert result == TranscriptionResult.from_dict(SERVER_RESULT)


@pytest.mark.parametrize(
    ("response_format", "content_type", "body"),
    [
        ("text", "text/plain", "Hello world. How are you?"),
        ("srt", "application/x-subrip", "1\n00:00:00,000 --> 00:00:01,800\nHello world.\n"),
        ("vtt", "text/vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.800\nHello world.\n"),
    ],
)
async def test_text_formats_return_the_server_text(
    make_harness: Any, response_format: str, content_type: str, body: str
) -> None:
    script = Script(httpx.Response(200, text=body, headers={"content-type": content_type}))
    harness = make_harness(script)

    text = await harness.call("transcribe", AUDIO, response_format=response_format)

    assert text == body


async def test_predict_returns_json_or_text(make_harness: Any) -> None:
    script = Script(
        respond(200, {"speech": [[0.0, 1.5]]}),
        httpx.Response(200, text="plain answer", headers={"content-type": "text/plain"}),
    )
    harness = make_harness(script)

    assert await harness.call("predict", "silero-vad", AUDIO) == {"speech": [[0.0, 1.5]]}
    assert await harness.call("predict", "echo", AUDIO) == "plain answer"


async def test_non_json_answer_is_an_error(make_harness: Any) -> None:
    harness = make_harness(Script(respond(200, text="<html>proxy login</html>")))

    with pytest.raises(voxserve.APIError, match="without the expected JSON object"):
        await harness.call("transcribe", AUDIO)
