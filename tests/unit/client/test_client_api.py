"""The public surface of the package is deliberate: this pins it."""

from __future__ import annotations

import voxserve

EXPORTED = [
    "APIError",
    "AsyncClient",
    "AudioTooLongError",
    "AuthenticationError",
    "Client",
    "ConnectionError",
    "Health",
    "InferenceError",
    "InvalidAudioError",
    "InvalidOptionError",
    "Job",
    "KeyFileError",
    "Limits",
    "ModelNotFoundError",
    "ModelRef",
    "Retry",
    "Segment",
    "ServerBusyError",
    "SyncJob",
    "Timeout",
    "TimeoutError",
    "TranscriptionResult",
    "TransportError",
    "UploadTooLargeError",
    "VoxServeError",
    "Word",
    "WorkerDiedError",
    "__version__",
]


def test_exported_names_are_pinned() -> None:
    assert voxserve.__all__ == EXPORTED


def test_every_exported_name_exists() -> None:
    for name in voxserve.__all__:
        assert hasattr(voxserve, name), name


def test_public_classes_are_shown_as_voxserve() -> None:
    assert repr(voxserve.ServerBusyError) == "<class 'voxserve.ServerBusyError'>"


def test_error_tree() -> None:
    api_errors = [
        voxserve.InvalidAudioError,
        voxserve.InvalidOptionError,
        voxserve.AudioTooLongError,
        voxserve.UploadTooLargeError,
        voxserve.ModelNotFoundError,
        voxserve.AuthenticationError,
        voxserve.ServerBusyError,
        voxserve.WorkerDiedError,
        voxserve.InferenceError,
    ]
    assert all(issubclass(error, voxserve.APIError) for error in api_errors)
    assert issubclass(voxserve.ConnectionError, voxserve.TransportError)
    assert issubclass(voxserve.TimeoutError, voxserve.TransportError)
    assert issubclass(voxserve.APIError, voxserve.VoxServeError)
    assert issubclass(voxserve.TransportError, voxserve.VoxServeError)
    assert issubclass(voxserve.KeyFileError, voxserve.VoxServeError)
    assert voxserve.ConnectionError is not ConnectionError


def test_defaults_are_sized_for_long_audio() -> None:
    timeout = voxserve.Timeout()
    assert timeout.connect == 5.0
    assert timeout.read == 600.0
    client = voxserve.Client()
    try:
        assert client.max_concurrency == 8
        assert client.default_model == "whisper-base"
        assert client.base_url == "http://127.0.0.1:8080"
        assert client.management_url == "http://127.0.0.1:8081"
        assert client.metrics_url == "http://127.0.0.1:8082"
    finally:
        client.close()


def test_version() -> None:
    assert voxserve.__version__ == "0.1.0"
