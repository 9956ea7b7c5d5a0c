"""VoxServe client: send audio to a VoxServe (TorchServe) server without blocking.

    import voxserve

    async with voxserve.AsyncClient(key_file="key_file.json") as vs:
        result = await vs.transcribe("talk.mp3")
        print(result.text)

`Client` is the blocking twin of `AsyncClient`. Errors are `VoxServeError`
subclasses (see `voxserve._errors` for the tree).
"""

from ._client import AsyncClient, Client
from ._config import Limits, Retry, Timeout
from ._errors import (
    APIError,
    AudioTooLongError,
    AuthenticationError,
    ConnectionError,  # noqa: A004 - voxserve.ConnectionError, not the builtin
    InferenceError,
    InvalidAudioError,
    InvalidOptionError,
    KeyFileError,
    ModelNotFoundError,
    ServerBusyError,
    TimeoutError,  # noqa: A004 - voxserve.TimeoutError, not the builtin
    TransportError,
    UploadTooLargeError,
    VoxServeError,
    WorkerDiedError,
)
from ._models import Health, ModelRef, Segment, TranscriptionResult, Word
from ._submit import Job, SyncJob
from ._version import __version__

__all__ = [
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

# Show public classes as `voxserve.X` in reprs and tracebacks, not `voxserve._module.X`.
for _name in __all__:
    if _name != "__version__":
        globals()[_name].__module__ = __name__
del _name
