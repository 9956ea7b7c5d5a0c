"""Errors raised by the VoxServe client.

Every failure the client reports on purpose is a `VoxServeError`::

    VoxServeError                 anything this package raises on purpose
    ├── KeyFileError              TorchServe's key_file.json could not be read
    ├── APIError                  the server answered with an error status
    │   │                         (.status, .message, .error_type, .body)
    │   ├── InvalidAudioError     400 empty_audio, 415 invalid_audio
    │   ├── InvalidOptionError    400 invalid_option (the message lists valid values)
    │   ├── AudioTooLongError     413 audio_too_long: longer than the model's max_audio_s
    │   ├── UploadTooLargeError   413 with an empty body: over TorchServe's max_request_size
    │   ├── ModelNotFoundError    404: model or version not registered
    │   ├── AuthenticationError   401 / 403, or TorchServe's 400 InvalidKeyException:
    │   │                         token missing, wrong or expired
    │   ├── ServerBusyError       503: job queue full or no worker  (retried)
    │   ├── WorkerDiedError       500 "Worker died.": the worker crashed  (retried)
    │   └── InferenceError        any other 5xx: the model failed on this input
    └── TransportError            no usable answer came back
        ├── ConnectionError       refused, or reset mid-request  (retried)
        └── TimeoutError          no answer within the client's `Timeout`

`ConnectionError` and `TimeoutError` are this package's classes, not the
builtins of the same name; catch them as ``voxserve.TimeoutError``.

Error bodies come in three shapes, and all are understood: the handler's
``{"error": {"status", "type", "message"}}``, TorchServe's own
``{"code", "type", "message"}``, and an empty body (TorchServe's 413).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AudioTooLongError",
    "AuthenticationError",
    "ConnectionError",
    "ErrorContext",
    "InferenceError",
    "InvalidAudioError",
    "InvalidOptionError",
    "KeyFileError",
    "ModelNotFoundError",
    "ServerBusyError",
    "TimeoutError",
    "TransportError",
    "UploadTooLargeError",
    "VoxServeError",
    "WorkerDiedError",
    "error_from_response",
]

_AUDIO_FORMATS = "wav, flac, mp3, ogg, opus, m4a, webm or mp4"
_WORKER_DIED = "worker died"
_PREDICTION_FAILED = "prediction failed"


class VoxServeError(Exception):
    """Base class of every error the client raises on purpose."""

    #: Whether repeating the same request may succeed (see `Retry`).
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _append(self, note: str) -> None:
        """Add a sentence to the message (e.g. how many retries were made)."""
        self.message = f"{self.message} {note}"
        self.args = (self.message,)


class KeyFileError(VoxServeError):
    """TorchServe's key file is missing, unreadable, or lacks the needed key."""


class APIError(VoxServeError):
    """The server answered with an error status.

    ``status`` is the HTTP status, ``error_type`` the ``type`` of the error
    body when it had one (``"invalid_audio"``, ``"ModelNotFoundException"``…),
    ``body`` the parsed JSON body, its text, or ``None`` when it was empty.
    """

    def __init__(
        self, message: str, *, status: int, body: Any = None, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.error_type = error_type


class InvalidAudioError(APIError):
    """The upload is empty (400 ``empty_audio``) or not decodable audio (415)."""


class InvalidOptionError(APIError):
    """An option has a value the server does not accept (400 ``invalid_option``)."""


class AudioTooLongError(APIError):
    """The audio is longer than the model allows (413 ``audio_too_long``)."""


class UploadTooLargeError(APIError):
    """The upload is larger than TorchServe's ``max_request_size`` (413, empty body)."""


class ModelNotFoundError(APIError):
    """The model, or that version of it, is not registered (404)."""


class AuthenticationError(APIError):
    """The server refused the token (401/403): missing, wrong, or expired."""


class ServerBusyError(APIError):
    """The model's job queue is full or it has no ready worker (503). Retried."""

    retryable = True


class WorkerDiedError(APIError):
    """The worker crashed while serving the request (500 "Worker died."). Retried.

    TorchServe restarts a dead worker within seconds.
    """

    retryable = True


class InferenceError(APIError):
    """The server failed to process the request (5xx other than the above)."""


class TransportError(VoxServeError):
    """No usable answer came back from the server."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class ConnectionError(TransportError):  # noqa: A001 - the name callers expect
    """The connection was refused, or broke before the answer arrived. Retried.

    ``request_sent`` is false when the server never saw the request
    (connection refused), which makes even a non-idempotent call safe to retry.
    """

    retryable = True

    def __init__(self, message: str, *, url: str, request_sent: bool) -> None:
        super().__init__(message, url=url)
        self.request_sent = request_sent


class TimeoutError(TransportError):  # noqa: A001 - the name callers expect
    """No answer within the client's `Timeout`; ``phase`` says which limit hit."""

    def __init__(self, message: str, *, url: str, phase: str) -> None:
        super().__init__(message, url=url)
        self.phase = phase


@dataclass(frozen=True)
class ErrorContext:
    """What the request was about, so an error message can name it."""

    #: What was asked for, e.g. ``"model 'whisper-base'"`` or ``"the server"``.
    subject: str
    #: Where, e.g. ``"http://127.0.0.1:8080"``.
    server: str
    #: The uploaded file, e.g. ``"'talk.mp3' (12.5 MB)"``, if there was one.
    upload: str | None = None
    #: How to fix a refused token, for this client's auth setup.
    auth_hint: str = "Pass token= or key_file= to the client."


def _parse_body(content: bytes) -> tuple[Any, str | None, str]:
    """Return (body, error type, server message) from any error body shape."""
    if not content.strip():
        return None, None, ""
    try:
        data = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", "replace").strip()
        return text, None, text
    if isinstance(data, dict):
        inner = data.get("error")
        fields = inner if isinstance(inner, dict) else data
        kind = fields.get("type")
        message = fields.get("message")
        return (
            data,
            str(kind) if kind is not None else None,
            str(message) if message is not None else json.dumps(data),
        )
    return data, None, json.dumps(data)


_INVALID_KEY = "InvalidKeyException"


def is_auth_rejection(status: int, content: bytes) -> bool:
    """True when the server refused the token.

    TorchServe 0.12 answers a missing, wrong or expired key with 400 and a body of
    type ``InvalidKeyException`` rather than 401.
    """
    if status in (401, 403):
        return True
    return status == 400 and _parse_body(content)[1] == _INVALID_KEY


def error_from_response(status: int, content: bytes, context: ErrorContext) -> APIError:
    """Map an error status and body to the most specific `APIError`."""
    body, kind, said = _parse_body(content)
    told = f" (server said: {said.rstrip('.')})" if said else ""
    upload = context.upload or "the upload"
    known: dict[str, Any] = {"status": status, "body": body, "error_type": kind}

    if is_auth_rejection(status, content):
        return AuthenticationError(
            f"{context.server} refused the request as unauthorized ({status}){told}. "
            f"{context.auth_hint}",
            **known,
        )
    if status == 404:
        return ModelNotFoundError(
            f"{context.subject} is not registered on {context.server}{told}. "
            "Check list_models(), or register it with register_model().",
            **known,
        )
    if status == 413:
        if kind == "audio_too_long":
            return AudioTooLongError(
                f"{upload} is longer than {context.subject} accepts{told}. "
                "Split the audio into shorter parts, or raise the model's max_audio_s.",
                **known,
            )
        return UploadTooLargeError(
            f"{upload} exceeds the server's max_request_size (TorchServe answered 413"
            f"{' with an empty body' if body is None else ''}). Raise max_request_size "
            "(and max_response_size) in the server's config.properties, or send a smaller "
            "or compressed file.",
            **known,
        )
    if status == 415 or kind in ("empty_audio", "invalid_audio"):
        if kind == "empty_audio":
            return InvalidAudioError(
                f"the server found no audio in {upload}{told}. "
                "Send a non-empty audio file in form field 'file'.",
                **known,
            )
        return InvalidAudioError(
            f"the server could not decode {upload} as audio{told}. "
            f"Send a common audio format: {_AUDIO_FORMATS}.",
            **known,
        )
    if status == 400 and kind == "invalid_option":
        return InvalidOptionError(f"the server rejected an option{told}.", **known)
    if status == 500 and (_WORKER_DIED in said.lower() or _WORKER_DIED in str(body).lower()):
        return WorkerDiedError(
            f"the worker serving {context.subject} died during the request{told}. "
            "TorchServe restarts it within seconds, so a retry should succeed; if it keeps "
            "dying, the worker may be running out of memory (see the server log).",
            **known,
        )
    if status == 503 and _PREDICTION_FAILED not in said.lower():
        return ServerBusyError(
            f"{context.server} is busy: {context.subject} has a full job queue or no ready "
            f"worker{told}. Despite the wording, this usually means the queue is full: retry "
            "later, lower the client's max_concurrency, or scale workers up.",
            **known,
        )
    if status >= 500:
        return InferenceError(
            f"{context.subject} failed to process {context.upload or 'the request'} "
            f"({status}){told}. "
            "See the server log for details.",
            **known,
        )
    return APIError(f"{context.server} rejected the request ({status}){told}.", **known)
