"""Every error status and body shape maps to the typed error a caller can act on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import Script, respond

pytestmark = pytest.mark.anyio

AUDIO = b"RIFF....WAVEfmt "


def handler_error(status: int, kind: str, message: str) -> httpx.Response:
    return respond(status, {"error": {"status": status, "type": kind, "message": message}})


def torchserve_error(status: int, kind: str, message: str) -> httpx.Response:
    return respond(status, {"code": status, "type": kind, "message": message})


CASES: list[tuple[str, httpx.Response, type[voxserve.APIError], str]] = [
    (
        "empty audio",
        handler_error(400, "empty_audio", "no audio in the request"),
        voxserve.InvalidAudioError,
        "empty",
    ),
    (
        "undecodable audio",
        handler_error(415, "invalid_audio", "could not decode audio: bad header"),
        voxserve.InvalidAudioError,
        "could not decode",
    ),
    (
        "bad option",
        handler_error(400, "invalid_option", "task must be one of transcribe, translate"),
        voxserve.InvalidOptionError,
        "transcribe, translate",
    ),
    (
        "audio too long",
        handler_error(413, "audio_too_long", "audio is 7260.0 s long; max_audio_s is 7200"),
        voxserve.AudioTooLongError,
        "max_audio_s",
    ),
    (
        "upload over max_request_size (empty body)",
        respond(413),
        voxserve.UploadTooLargeError,
        "max_request_size",
    ),
    (
        "model not registered",
        torchserve_error(404, "ModelNotFoundException", "Model not found: whisper-huge"),
        voxserve.ModelNotFoundError,
        "not registered",
    ),
    (
        "missing token",
        torchserve_error(401, "InvalidKeyException", "Token Authorization failed"),
        voxserve.AuthenticationError,
        "token=",
    ),
    (
        "forbidden",
        respond(403, text="Forbidden"),
        voxserve.AuthenticationError,
        "Forbidden",
    ),
    (
        "job queue full",
        torchserve_error(
            503,
            "ServiceUnavailableException",
            'Model "whisper-base" has no worker to serve inference request.',
        ),
        voxserve.ServerBusyError,
        "queue",
    ),
    (
        "worker died",
        torchserve_error(500, "InternalServerException", "Worker died."),
        voxserve.WorkerDiedError,
        "restarts",
    ),
    (
        "worker died, plain text body",
        respond(500, text="Worker died."),
        voxserve.WorkerDiedError,
        "Worker died",
    ),
    (
        "model failed on the item",
        handler_error(500, "inference_error", "CUDA error: device-side assert"),
        voxserve.InferenceError,
        "CUDA error",
    ),
    (
        "prediction failed is not 'busy'",
        torchserve_error(503, "ServiceUnavailableException", "Prediction failed"),
        voxserve.InferenceError,
        "Prediction failed",
    ),
    ("bad gateway, empty body", respond(502), voxserve.InferenceError, "502"),
]


@pytest.mark.parametrize(
    ("answer", "expected", "says"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_status_maps_to_typed_error(
    make_harness: Any,
    answer: httpx.Response,
    expected: type[voxserve.APIError],
    says: str,
) -> None:
    harness = make_harness(Script(answer), retry=False)

    with pytest.raises(expected) as caught:
        await harness.call("transcribe", AUDIO)

    error = caught.value
    assert type(error) is expected
    assert error.status == answer.status_code
    assert says in str(error)


async def test_upload_too_large_names_the_file_and_size(make_harness: Any, tmp_path: Any) -> None:
    path = tmp_path / "lecture.flac"
    path.write_bytes(b"x" * 2_500_000)
    harness = make_harness(Script(respond(413)), retry=False)

    with pytest.raises(voxserve.UploadTooLargeError) as caught:
        await harness.call("transcribe", path)

    message = str(caught.value)
    assert "'lecture.flac' (2.5 MB)" in message
    assert "exceeds the server's max_request_size" in message
    assert caught.value.body is None


async def test_handler_error_keeps_type_and_body(make_harness: Any) -> None:
    answer = handler_error(415, "invalid_audio", "could not decode audio: EBML header")
    harness = make_harness(Script(answer), retry=False)

    with pytest.raises(voxserve.InvalidAudioError) as caught:
        await harness.call("transcribe", AUDIO)

    assert caught.value.error_type == "invalid_audio"
    assert caught.value.body["error"]["message"] == "could not decode audio: EBML header"


async def test_not_found_names_model_and_version(make_harness: Any) -> None:
    answer = torchserve_error(404, "ModelNotFoundException", "Model version not found: 9.9")
    harness = make_harness(Script(answer), retry=False)

    with pytest.raises(voxserve.ModelNotFoundError) as caught:
        await harness.call("transcribe", AUDIO, model="whisper-tiny", version="9.9")

    assert "model 'whisper-tiny' version '9.9'" in str(caught.value)


async def test_errors_share_the_base_classes(make_harness: Any) -> None:
    harness = make_harness(Script(respond(503)), retry=False)

    with pytest.raises(voxserve.VoxServeError) as caught:
        await harness.call("transcribe", AUDIO)

    assert isinstance(caught.value, voxserve.APIError)
    assert caught.value.retryable


async def test_connection_refused_is_connection_error(make_harness: Any) -> None:
    harness = make_harness(Script(httpx.ConnectError("Connection refused")), retry=False)

    with pytest.raises(voxserve.ConnectionError) as caught:
        await harness.call("transcribe", AUDIO)

    assert "cannot connect to http://127.0.0.1:8080" in str(caught.value)
    assert caught.value.request_sent is False
    assert isinstance(caught.value, voxserve.TransportError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_read_timeout_is_timeout_error_with_advice(make_harness: Any) -> None:
    harness = make_harness(
        Script(httpx.ReadTimeout("timed out")), timeout=voxserve.Timeout(read=42)
    )

    with pytest.raises(voxserve.TimeoutError) as caught:
        await harness.call("transcribe", AUDIO)

    assert caught.value.phase == "read"
    assert "42 s" in str(caught.value)
    assert "Timeout(read=...)" in str(caught.value)


async def test_missing_key_file_is_reported(make_harness: Any, tmp_path: Any) -> None:
    script = Script()
    harness = make_harness(script, key_file=tmp_path / "key_file.json")

    with pytest.raises(voxserve.KeyFileError) as caught:
        await harness.call("transcribe", AUDIO)

    assert "key_file.json" in str(caught.value)
    assert script.calls == 0


async def test_bad_argument_fails_before_sending(make_harness: Any) -> None:
    script = Script()
    harness = make_harness(script)

    with pytest.raises(ValueError, match="task must be one of transcribe, translate"):
        await harness.call("transcribe", AUDIO, task="summarize")
    with pytest.raises(TypeError, match="path, bytes, or a binary file object"):
        await harness.call("transcribe", 12345)
    with pytest.raises(FileNotFoundError):
        await harness.call("transcribe", "/nonexistent/talk.wav")

    assert script.calls == 0
