"""Errors a single request can end with; each carries its HTTP status and a stable type."""

from __future__ import annotations


class RequestError(Exception):
    """One request failed; the rest of its batch is unaffected."""

    status = 400
    type = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_body(self) -> dict:
        return {"error": {"status": self.status, "type": self.type, "message": self.message}}


class EmptyAudioError(RequestError):
    status = 400
    type = "empty_audio"


class InvalidOptionError(RequestError):
    status = 400
    type = "invalid_option"


class AudioTooLongError(RequestError):
    status = 413
    type = "audio_too_long"


class InvalidAudioError(RequestError):
    status = 415
    type = "invalid_audio"


class InferenceError(RequestError):
    status = 500
    type = "inference_error"
