"""The ``voxserve transcribe`` command, against a fake server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from client_fakes import SERVER_RESULT
from voxserve._cli import main

BAD_AUDIO = b"this is not audio"


def fake_server(request: httpx.Request) -> httpx.Response:
    """Transcribes anything but ``BAD_AUDIO``, which it cannot decode."""
    if BAD_AUDIO in request.content:
        return httpx.Response(
            415,
            json={"error": {"status": 415, "type": "invalid_audio", "message": "no audio stream"}},
        )
    return httpx.Response(200, json=SERVER_RESULT)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    good = tmp_path / "good.wav"
    good.write_bytes(b"RIFF....WAVEfmt " * 100)
    other = tmp_path / "other.mp3"
    other.write_bytes(b"ID3...." * 100)
    return [good, other]


def run(*args: str | Path) -> int:
    return main([str(arg) for arg in args], transport=httpx.MockTransport(fake_server))


def test_writes_results_beside_each_file(
    files: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run("transcribe", *files, "--concurrency", "2")

    assert status == 0
    for path in files:
        written = json.loads(Path(f"{path}.json").read_text())
        assert written == SERVER_RESULT
    progress = capsys.readouterr().err
    assert "[1/2] done: " in progress
    assert "[2/2] done: " in progress


@pytest.mark.parametrize(
    ("output_format", "suffix", "expected"),
    [
        ("text", ".txt", "Hello world. How are you?\n"),
        ("srt", ".srt", "1\n00:00:00,000 --> 00:00:01,800\nHello world.\n"),
        ("vtt", ".vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.800\nHello world.\n"),
    ],
)
def test_formats(
    files: list[Path], tmp_path: Path, output_format: str, suffix: str, expected: str
) -> None:
    out = tmp_path / "out"

    status = run("transcribe", files[0], "--format", output_format, "--output-dir", out)

    assert status == 0
    assert (out / f"good.wav{suffix}").read_text().startswith(expected)


def test_stdout(files: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    status = run("transcribe", files[0], "--format", "text", "--stdout")

    assert status == 0
    assert capsys.readouterr().out == "Hello world. How are you?\n"
    assert not Path(f"{files[0]}.txt").exists()


def test_one_failure_fails_the_run_and_is_named(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.ogg"
    bad.write_bytes(BAD_AUDIO)

    status = run("transcribe", files[0], bad, files[1], "--token", "t")

    assert status == 1
    err = capsys.readouterr().err
    assert f"failed: {bad}: InvalidAudioError: the server could not decode 'broken.ogg'" in err
    assert "1 of 3 files failed:" in err
    assert Path(f"{files[0]}.json").exists()
    assert Path(f"{files[1]}.json").exists()
    assert not Path(f"{bad}.json").exists()


def test_missing_file_is_a_named_failure(
    files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.wav"

    status = run("transcribe", files[0], missing)

    assert status == 1
    assert f"{missing}: FileNotFoundError" in capsys.readouterr().err


def test_usage_errors_exit_with_argparse_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["transcribe", "a.wav", "--format", "docx"])

    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
