"""`Client` and `AsyncClient`: one shared core, two kinds of I/O.

Everything a call does is written once, in `BaseClient`, as a *flow*: a
generator that yields the I/O it needs (`_Send` a request, `_Sleep` before a
retry) and receives the outcome. Building requests, auth, error mapping and
the retry policy all live there. `Client` runs a flow with blocking I/O,
`AsyncClient` with ``await``; those drivers, ``close`` and the context
managers are all that differs between them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, TypeVar, overload
from urllib.parse import quote

import httpx

from . import _errors
from ._auth import Api, Credentials
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_LIMITS,
    DEFAULT_MANAGEMENT_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_METRICS_URL,
    DEFAULT_MODEL,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    NO_RETRY,
    Limits,
    Retry,
    Timeout,
)
from ._errors import (
    APIError,
    ErrorContext,
    TransportError,
    VoxServeError,
    error_from_response,
    is_auth_rejection,
)
from ._models import Health, TranscriptionResult
from ._retry import RetryState
from ._submit import Job, SyncJob
from ._upload import AudioInput, FormField, Upload
from ._version import __version__

__all__ = ["AsyncClient", "BaseClient", "Client"]

T = TypeVar("T")

Task = Literal["transcribe", "translate"]
ResponseFormat = Literal["json", "verbose_json", "text", "srt", "vtt"]
JsonFormat = Literal["json", "verbose_json"]
TextFormat = Literal["text", "srt", "vtt"]
#: A value for `predict`'s options; a sequence is sent as a repeated form field.
OptionValue = str | int | float | bool | Sequence[str] | None

TASKS: Final = ("transcribe", "translate")
RESPONSE_FORMATS: Final = ("json", "verbose_json", "text", "srt", "vtt")
JSON_FORMATS: Final = ("json", "verbose_json")

# Page size when listing registered models (TorchServe's maximum is 1000).
_MODELS_PAGE_SIZE: Final = 100
_HEALTHY: Final = "Healthy"
_READY: Final = "READY"
_USER_AGENT: Final = f"voxserve-python/{__version__}"
_TIMEOUT_PHASES: Final[Mapping[type[httpx.TimeoutException], str]] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}
_TIMEOUT_MESSAGES: Final[Mapping[str, str]] = {
    "connect": "could not connect to {server}{within} (connect timeout). "
    "Is the server up and reachable?",
    "read": "{server} did not answer{within} (read timeout) for {subject}. "
    "Long audio takes long to transcribe: raise Timeout(read=...).",
    "write": "sending to {server} stalled{within} (write timeout). "
    "The network is too slow for this upload: raise Timeout(write=...).",
    "pool": "no free connection to {server}{within} (pool timeout). "
    "Too many requests at once: lower max_concurrency or raise Limits(max_connections=...).",
}


@dataclass(frozen=True)
class _Call:
    """One HTTP call, described fully enough to be sent again for a retry."""

    method: str
    url: str
    api: Api
    #: What the call is about, for error messages: "model 'whisper-base'".
    subject: str
    params: Mapping[str, str] | None = None
    upload: Upload | None = None
    #: False for calls that must not be repeated once the server saw them.
    idempotent: bool = True
    retry: bool = True


@dataclass(frozen=True)
class _Send:
    """A flow's request to send ``call`` with ``headers``."""

    call: _Call
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Sleep:
    """A flow's request to wait before retrying."""

    seconds: float


_Step = _Send | _Sleep
_Outcome = httpx.Response | httpx.TransportError | None
#: A call's logic: yields I/O steps, receives their outcomes, returns the result.
_Flow = Generator[_Step, _Outcome, T]


class BaseClient:
    """Everything `Client` and `AsyncClient` share: configuration and the call flows."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        management_url: str = DEFAULT_MANAGEMENT_URL,
        metrics_url: str = DEFAULT_METRICS_URL,
        token: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        retry: Retry | bool | None = DEFAULT_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        default_model: str = DEFAULT_MODEL,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = base_url.rstrip("/")
        self.management_url = management_url.rstrip("/")
        self.metrics_url = metrics_url.rstrip("/")
        self.timeout = Timeout.of(timeout)
        self.limits = limits
        self.retry = Retry.of(retry)
        self.max_concurrency = max_concurrency
        self.default_model = default_model
        self._credentials = Credentials(token, key_file)
        # Seams for tests: time and randomness of the retry policy.
        self._clock: Callable[[], float] = time.monotonic
        self._random = random.Random()
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """Whether `close` (or `aclose`) was called."""
        return self._closed

    # -- inference -------------------------------------------------------------------

    def _transcribe_flow(
        self,
        audio: AudioInput,
        *,
        language: str | None,
        task: str,
        model: str | None,
        version: str | None,
        response_format: str,
        word_timestamps: bool = False,
    ) -> _Flow[TranscriptionResult | str]:
        _check_choice("task", task, TASKS)
        _check_choice("response_format", response_format, RESPONSE_FORMATS)
        fields: list[FormField] = [("task", task), ("response_format", response_format)]
        if language:
            fields.insert(0, ("language", language))
        if word_timestamps:
            fields.append(("word_timestamps", "true"))
        call = self._prediction_call(model or self.default_model, version, Upload(audio, fields))
        response = yield from self._exchange(call)
        if response_format in JSON_FORMATS:
            return TranscriptionResult.from_dict(_json_object(response, call))
        return response.text

    def _predict_flow(
        self,
        model: str,
        audio: AudioInput,
        version: str | None,
        options: Mapping[str, OptionValue],
    ) -> _Flow[Any]:
        call = self._prediction_call(model, version, Upload(audio, _form_fields(options)))
        response = yield from self._exchange(call)
        return _decode(response)

    def _prediction_call(self, model: str, version: str | None, upload: Upload) -> _Call:
        return _Call(
            "POST",
            f"{self.base_url}/predictions/{_model_path(model, version)}",
            "inference",
            subject=_model_subject(model, version),
            upload=upload,
        )

    # -- management ------------------------------------------------------------------

    def _list_models_flow(self) -> _Flow[list[dict[str, Any]]]:
        models: list[dict[str, Any]] = []
        params = {"limit": str(_MODELS_PAGE_SIZE)}
        while True:
            call = self._management_call("GET", "/models", "the model list", params=params)
            page = _json_object((yield from self._exchange(call)), call)
            models += page.get("models", [])
            next_page = page.get("nextPageToken")
            if not next_page:
                return models
            params = {"limit": str(_MODELS_PAGE_SIZE), "next_page_token": str(next_page)}

    def _describe_model_flow(self, name: str, version: str | None) -> _Flow[list[dict[str, Any]]]:
        call = self._management_call(
            "GET", f"/models/{_model_path(name, version)}", _model_subject(name, version)
        )
        description = _decode((yield from self._exchange(call)))
        return description if isinstance(description, list) else [description]

    def _register_model_flow(
        self,
        url: str,
        model_name: str | None,
        batch_size: int | None,
        max_batch_delay: int | None,
        initial_workers: int,
        synchronous: bool,
    ) -> _Flow[dict[str, Any]]:
        params = _query(
            url=url,
            model_name=model_name,
            batch_size=batch_size,
            max_batch_delay=max_batch_delay,
            initial_workers=initial_workers,
            synchronous=synchronous,
        )
        subject = f"model archive {url!r}"
        # Registering twice fails (409), so a call the server may have seen is not repeated.
        call = self._management_call("POST", "/models", subject, params=params, idempotent=False)
        return _json_object((yield from self._exchange(call)), call)

    def _set_default_flow(self, name: str, version: str) -> _Flow[dict[str, Any]]:
        call = self._management_call(
            "PUT",
            f"/models/{_model_path(name, version)}/set-default",
            _model_subject(name, version),
        )
        return _json_object((yield from self._exchange(call)), call)

    def _scale_workers_flow(
        self,
        name: str,
        min_workers: int,
        max_workers: int | None,
        version: str | None,
        synchronous: bool,
    ) -> _Flow[dict[str, Any]]:
        params = _query(min_worker=min_workers, max_worker=max_workers, synchronous=synchronous)
        call = self._management_call(
            "PUT", f"/models/{_model_path(name, version)}", _model_subject(name, version), params
        )
        return _json_object((yield from self._exchange(call)), call)

    def _unregister_model_flow(self, name: str, version: str | None) -> _Flow[dict[str, Any]]:
        call = self._management_call(
            "DELETE",
            f"/models/{_model_path(name, version)}",
            _model_subject(name, version),
            idempotent=False,
        )
        return _json_object((yield from self._exchange(call)), call)

    def _management_call(
        self,
        method: str,
        path: str,
        subject: str,
        params: Mapping[str, str] | None = None,
        *,
        idempotent: bool = True,
    ) -> _Call:
        return _Call(
            method,
            f"{self.management_url}{path}",
            "management",
            subject=subject,
            params=params,
            idempotent=idempotent,
        )

    # -- health and metrics ----------------------------------------------------------

    def _health_flow(self, model: str | None) -> _Flow[Health]:
        ping = _Call("GET", f"{self.base_url}/ping", "inference", "the server", retry=False)
        try:
            answer = _decode((yield from self._exchange(ping)))
        except VoxServeError as error:
            return Health(healthy=False, status="unreachable", model=model, detail=str(error))
        status = str(answer.get("status", "")) if isinstance(answer, dict) else str(answer)
        if status != _HEALTHY:
            return Health(False, status, model, detail=f"the server reports {status!r}")
        if model is None:
            return Health(True, status)
        try:
            versions = yield from self._describe_model_flow(model, None)
        except VoxServeError as error:
            return Health(False, status, model, detail=str(error))
        ready = sum(
            worker.get("status") == _READY
            for description in versions
            for worker in description.get("workers", [])
        )
        detail = "" if ready else f"model {model!r} has no worker in state {_READY}"
        return Health(ready > 0, status, model, ready_workers=ready, detail=detail)

    def _metrics_flow(self) -> _Flow[str]:
        call = _Call("GET", f"{self.metrics_url}/metrics", "metrics", "the metrics endpoint")
        response = yield from self._exchange(call)
        return response.text

    # -- one exchange: auth, errors, retries -------------------------------------------

    def _exchange(self, call: _Call) -> _Flow[httpx.Response]:
        """Send ``call`` until it succeeds or fails for good; return the response."""
        replayable = call.upload is None or call.upload.replayable
        attempts = RetryState(
            self.retry if call.retry else NO_RETRY,
            started=self._clock(),
            idempotent=call.idempotent,
            replayable=replayable,
        )
        key_refreshed = False
        while True:
            key = self._credentials.key_for(call.api)
            outcome = yield _Send(call, self._credentials.headers_for(key))
            cause: BaseException | None = None
            if isinstance(outcome, httpx.Response):
                if outcome.is_success:
                    return outcome
                if (
                    is_auth_rejection(outcome.status_code, outcome.content)
                    and replayable
                    and not key_refreshed
                    and self._credentials.refresh(call.api, key)
                ):
                    # The server restarted or the key expired: try once with the new key.
                    key_refreshed = True
                    continue
                error: VoxServeError = error_from_response(
                    outcome.status_code, outcome.content, self._error_context(call)
                )
            else:
                assert outcome is not None, "a _Send step always gets an outcome"
                error = self._transport_error(outcome, call)
                cause = outcome
            delay = attempts.next_delay(error, now=self._clock(), uniform=self._random.uniform)
            if delay is None:
                raise error from cause
            yield _Sleep(delay)

    def _request(self, step: _Send, content: Any = None) -> httpx.Request:
        call = step.call
        headers = {"User-Agent": _USER_AGENT, "Accept": "application/json, */*", **step.headers}
        if call.upload is not None:
            headers.update(call.upload.headers())
        return httpx.Request(
            call.method,
            call.url,
            params=call.params,
            headers=headers,
            content=content,
            extensions={"timeout": self.timeout.to_httpx().as_dict()},
        )

    def _error_context(self, call: _Call) -> ErrorContext:
        return ErrorContext(
            subject=call.subject,
            server=_origin(call.url),
            upload=call.upload.describe() if call.upload is not None else None,
            auth_hint=self._credentials.rejection_hint(call.api),
        )

    def _transport_error(self, exc: httpx.TransportError, call: _Call) -> TransportError:
        server = _origin(call.url)
        if isinstance(exc, httpx.TimeoutException):
            phase = _TIMEOUT_PHASES.get(type(exc), "read")
            limit = getattr(self.timeout, phase)
            message = _TIMEOUT_MESSAGES[phase].format(
                server=server,
                subject=call.subject,
                within=f" within {limit:g} s" if limit is not None else "",
            )
            return _errors.TimeoutError(message, url=call.url, phase=phase)
        if isinstance(exc, httpx.ConnectError):
            return _errors.ConnectionError(
                f"cannot connect to {server} ({exc or 'connection refused'}). "
                "Is TorchServe running and listening there?",
                url=call.url,
                request_sent=False,
            )
        if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return _errors.ConnectionError(
                f"the connection to {server} broke before the answer arrived "
                f"({exc or type(exc).__name__}).",
                url=call.url,
                request_sent=True,
            )
        return TransportError(f"the request to {server} failed: {exc!r}", url=call.url)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the client is closed: create a new one")


class Client(BaseClient):
    """Blocking client. Thread-safe: one instance can serve a whole app.

    `submit` runs transcriptions in worker threads and returns a `SyncJob`
    at once. Close the client with `close` or use it as a context manager.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        management_url: str = DEFAULT_MANAGEMENT_URL,
        metrics_url: str = DEFAULT_METRICS_URL,
        token: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        retry: Retry | bool | None = DEFAULT_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        default_model: str = DEFAULT_MODEL,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            management_url=management_url,
            metrics_url=metrics_url,
            token=token,
            key_file=key_file,
            timeout=timeout,
            limits=limits,
            retry=retry,
            max_concurrency=max_concurrency,
            default_model=default_model,
        )
        self._http = httpx.Client(
            transport=transport, timeout=self.timeout.to_httpx(), limits=limits.to_httpx()
        )
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._sleep: Callable[[float], None] = time.sleep

    # -- inference -------------------------------------------------------------------

    @overload
    def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: JsonFormat = ...,
        word_timestamps: bool = ...,
    ) -> TranscriptionResult: ...

    @overload
    def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: TextFormat,
        word_timestamps: bool = ...,
    ) -> str: ...

    def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        model: str | None = None,
        version: str | None = None,
        response_format: ResponseFormat = "json",
        word_timestamps: bool = False,
    ) -> TranscriptionResult | str:
        """Transcribe (or, with ``task="translate"``, translate to English) one audio file.

        ``audio`` is a path, the file's bytes, or a binary file object; it is
        streamed, never read whole. ``language`` is an ISO 639-1 code (``None``
        detects it). With ``response_format`` ``"json"`` or ``"verbose_json"``
        the answer is a `TranscriptionResult`; with ``"text"``, ``"srt"`` or
        ``"vtt"`` it is the text the server rendered. Raises a `VoxServeError`.
        """
        flow = self._transcribe_flow(
            audio,
            language=language,
            task=task,
            model=model,
            version=version,
            response_format=response_format,
            word_timestamps=word_timestamps,
        )
        return self._run(flow, limited=True)

    def predict(
        self, model: str, audio: AudioInput, *, version: str | None = None, **options: OptionValue
    ) -> Any:
        """Send ``audio`` to any model with ``options`` as form fields.

        Returns the parsed JSON answer, or its text when the server answers
        with text. Raises a `VoxServeError`.
        """
        return self._run(self._predict_flow(model, audio, version, options), limited=True)

    @overload
    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: JsonFormat = ...,
        word_timestamps: bool = ...,
    ) -> SyncJob[TranscriptionResult]: ...

    @overload
    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: TextFormat,
        word_timestamps: bool = ...,
    ) -> SyncJob[str]: ...

    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        model: str | None = None,
        version: str | None = None,
        response_format: ResponseFormat = "json",
        word_timestamps: bool = False,
    ) -> SyncJob[Any]:
        """Start `transcribe` in a worker thread and return its `SyncJob` at once.

        Any failure, including a bad argument, is kept on the job and raised
        by ``job.result()``. At most ``max_concurrency`` requests run at once.
        """
        self._check_open()
        flow = self._transcribe_flow(
            audio,
            language=language,
            task=task,
            model=model,
            version=version,
            response_format=response_format,
            word_timestamps=word_timestamps,
        )
        future = self._workers().submit(self._run, flow, limited=True)
        return SyncJob(future, _label_of(audio))

    # -- management ------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """The registered models, as TorchServe lists them (``modelName``, ``modelUrl``)."""
        return self._run(self._list_models_flow())

    def describe_model(self, name: str, version: str | None = None) -> list[dict[str, Any]]:
        """TorchServe's description of a model: one dict per version described.

        Each has ``modelName``, ``modelVersion``, ``batchSize``,
        ``maxBatchDelay`` and ``workers`` (each with a ``status``).
        ``version="all"`` describes every version.
        """
        return self._run(self._describe_model_flow(name, version))

    def register_model(
        self,
        url: str,
        *,
        model_name: str | None = None,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
        initial_workers: int = 1,
        synchronous: bool = True,
    ) -> dict[str, Any]:
        """Register a model archive (a ``.mar`` name in the model store, or a URL).

        With ``synchronous=True`` the call returns once the workers are up.
        """
        return self._run(
            self._register_model_flow(
                url, model_name, batch_size, max_batch_delay, initial_workers, synchronous
            )
        )

    def set_default(self, name: str, version: str) -> dict[str, Any]:
        """Make ``version`` the one ``/predictions/{name}`` serves."""
        return self._run(self._set_default_flow(name, version))

    def scale_workers(
        self,
        name: str,
        min_workers: int,
        max_workers: int | None = None,
        version: str | None = None,
        synchronous: bool = True,
    ) -> dict[str, Any]:
        """Set how many workers serve the model (or one version of it)."""
        return self._run(
            self._scale_workers_flow(name, min_workers, max_workers, version, synchronous)
        )

    def unregister_model(self, name: str, version: str | None = None) -> dict[str, Any]:
        """Unregister the model's default version, or ``version``."""
        return self._run(self._unregister_model_flow(name, version))

    def health(self, model: str | None = None) -> Health:
        """Whether the server answers its ping (and ``model`` has a READY worker).

        Never raises for an unreachable or unhealthy server: the `Health` says why.
        """
        return self._run(self._health_flow(model))

    def metrics(self) -> str:
        """The server's Prometheus metrics, as text."""
        return self._run(self._metrics_flow())

    # -- I/O ----------------------------------------------------------------------------

    def close(self, *, cancel_jobs: bool = False) -> None:
        """Wait for submitted jobs (or cancel those not started) and close the connections."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=cancel_jobs)
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _workers(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix="voxserve"
                )
            return self._executor

    def _run(self, flow: _Flow[T], *, limited: bool = False) -> T:
        if limited:
            with self._slots:
                return self._drive(flow)
        return self._drive(flow)

    def _drive(self, flow: _Flow[T]) -> T:
        outcome: _Outcome = None
        try:
            while True:
                try:
                    step = flow.send(outcome)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                if isinstance(step, _Sleep):
                    self._sleep(step.seconds)
                    outcome = None
                else:
                    outcome = self._send(step)
        finally:
            flow.close()

    def _send(self, step: _Send) -> _Outcome:
        upload = step.call.upload
        body = upload.iter_chunks() if upload is not None else None
        try:
            return self._http.send(self._request(step, body))
        except httpx.TransportError as exc:
            return exc
        finally:
            if body is not None:
                body.close()


class AsyncClient(BaseClient):
    """Non-blocking client for asyncio apps (Sanic, FastAPI…); use one per event loop.

    `submit` starts a transcription as a task and returns its `Job` at once,
    so a request handler can answer without waiting. Close the client with
    `aclose` or use it as an async context manager.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        management_url: str = DEFAULT_MANAGEMENT_URL,
        metrics_url: str = DEFAULT_METRICS_URL,
        token: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        limits: Limits = DEFAULT_LIMITS,
        retry: Retry | bool | None = DEFAULT_RETRY,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        default_model: str = DEFAULT_MODEL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            management_url=management_url,
            metrics_url=metrics_url,
            token=token,
            key_file=key_file,
            timeout=timeout,
            limits=limits,
            retry=retry,
            max_concurrency=max_concurrency,
            default_model=default_model,
        )
        self._http = httpx.AsyncClient(
            transport=transport, timeout=self.timeout.to_httpx(), limits=limits.to_httpx()
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        # Running jobs, held strongly: asyncio keeps only weak references to tasks.
        self._jobs: set[asyncio.Task[Any]] = set()
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    # -- inference -------------------------------------------------------------------

    @overload
    async def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: JsonFormat = ...,
        word_timestamps: bool = ...,
    ) -> TranscriptionResult: ...

    @overload
    async def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: TextFormat,
        word_timestamps: bool = ...,
    ) -> str: ...

    async def transcribe(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        model: str | None = None,
        version: str | None = None,
        response_format: ResponseFormat = "json",
        word_timestamps: bool = False,
    ) -> TranscriptionResult | str:
        """Transcribe (or, with ``task="translate"``, translate to English) one audio file.

        ``audio`` is a path, the file's bytes, or a binary file object; it is
        streamed, never read whole, and files are read in a worker thread.
        ``language`` is an ISO 639-1 code (``None`` detects it). With
        ``response_format`` ``"json"`` or ``"verbose_json"`` the answer is a
        `TranscriptionResult`; with ``"text"``, ``"srt"`` or ``"vtt"`` it is the
        text the server rendered. Raises a `VoxServeError`.
        """
        flow = self._transcribe_flow(
            audio,
            language=language,
            task=task,
            model=model,
            version=version,
            response_format=response_format,
            word_timestamps=word_timestamps,
        )
        return await self._run(flow, limited=True)

    async def predict(
        self, model: str, audio: AudioInput, *, version: str | None = None, **options: OptionValue
    ) -> Any:
        """Send ``audio`` to any model with ``options`` as form fields.

        Returns the parsed JSON answer, or its text when the server answers
        with text. Raises a `VoxServeError`.
        """
        return await self._run(self._predict_flow(model, audio, version, options), limited=True)

    @overload
    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: JsonFormat = ...,
        word_timestamps: bool = ...,
    ) -> Job[TranscriptionResult]: ...

    @overload
    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = ...,
        task: Task = ...,
        model: str | None = ...,
        version: str | None = ...,
        response_format: TextFormat,
        word_timestamps: bool = ...,
    ) -> Job[str]: ...

    def submit(
        self,
        audio: AudioInput,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        model: str | None = None,
        version: str | None = None,
        response_format: ResponseFormat = "json",
        word_timestamps: bool = False,
    ) -> Job[Any]:
        """Start `transcribe` as a task and return its `Job` at once (call from the loop).

        The job can be awaited, polled with ``done()``/``result()``, cancelled,
        or given a callback. Any failure, including a bad argument, is kept on
        the job. At most ``max_concurrency`` requests run at once.
        """
        self._check_open()
        flow = self._transcribe_flow(
            audio,
            language=language,
            task=task,
            model=model,
            version=version,
            response_format=response_format,
            word_timestamps=word_timestamps,
        )
        label = _label_of(audio)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            flow.close()
            raise RuntimeError(
                "AsyncClient.submit() needs a running event loop: call it from async code, "
                "or use Client.submit() in synchronous code"
            ) from None
        task_ = loop.create_task(self._run(flow, limited=True), name=f"voxserve: {label}")
        self._jobs.add(task_)
        task_.add_done_callback(self._jobs.discard)
        return Job(task_, label)

    # -- management ------------------------------------------------------------------

    async def list_models(self) -> list[dict[str, Any]]:
        """The registered models, as TorchServe lists them (``modelName``, ``modelUrl``)."""
        return await self._run(self._list_models_flow())

    async def describe_model(self, name: str, version: str | None = None) -> list[dict[str, Any]]:
        """TorchServe's description of a model: one dict per version described.

        Each has ``modelName``, ``modelVersion``, ``batchSize``,
        ``maxBatchDelay`` and ``workers`` (each with a ``status``).
        ``version="all"`` describes every version.
        """
        return await self._run(self._describe_model_flow(name, version))

    async def register_model(
        self,
        url: str,
        *,
        model_name: str | None = None,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
        initial_workers: int = 1,
        synchronous: bool = True,
    ) -> dict[str, Any]:
        """Register a model archive (a ``.mar`` name in the model store, or a URL).

        With ``synchronous=True`` the call returns once the workers are up.
        """
        return await self._run(
            self._register_model_flow(
                url, model_name, batch_size, max_batch_delay, initial_workers, synchronous
            )
        )

    async def set_default(self, name: str, version: str) -> dict[str, Any]:
        """Make ``version`` the one ``/predictions/{name}`` serves."""
        return await self._run(self._set_default_flow(name, version))

    async def scale_workers(
        self,
        name: str,
        min_workers: int,
        max_workers: int | None = None,
        version: str | None = None,
        synchronous: bool = True,
    ) -> dict[str, Any]:
        """Set how many workers serve the model (or one version of it)."""
        return await self._run(
            self._scale_workers_flow(name, min_workers, max_workers, version, synchronous)
        )

    async def unregister_model(self, name: str, version: str | None = None) -> dict[str, Any]:
        """Unregister the model's default version, or ``version``."""
        return await self._run(self._unregister_model_flow(name, version))

    async def health(self, model: str | None = None) -> Health:
        """Whether the server answers its ping (and ``model`` has a READY worker).

        Never raises for an unreachable or unhealthy server: the `Health` says why.
        """
        return await self._run(self._health_flow(model))

    async def metrics(self) -> str:
        """The server's Prometheus metrics, as text."""
        return await self._run(self._metrics_flow())

    # -- I/O ----------------------------------------------------------------------------

    async def aclose(self, *, cancel_jobs: bool = False) -> None:
        """Wait for submitted jobs (or cancel them) and close the connections."""
        self._closed = True
        if cancel_jobs:
            for task_ in self._jobs:
                task_.cancel()
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, flow: _Flow[T], *, limited: bool = False) -> T:
        if limited:
            async with self._slots:
                return await self._drive(flow)
        return await self._drive(flow)

    async def _drive(self, flow: _Flow[T]) -> T:
        outcome: _Outcome = None
        try:
            while True:
                try:
                    step = flow.send(outcome)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                if isinstance(step, _Sleep):
                    await self._sleep(step.seconds)
                    outcome = None
                else:
                    outcome = await self._send(step)
        finally:
            flow.close()

    async def _send(self, step: _Send) -> _Outcome:
        upload = step.call.upload
        body = upload.aiter_chunks() if upload is not None else None
        try:
            return await self._http.send(self._request(step, body))
        except httpx.TransportError as exc:
            return exc
        finally:
            if body is not None:
                await body.aclose()


# -- helpers: pure functions of the request and response ---------------------------------


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _model_path(name: str, version: str | None) -> str:
    path = quote(name, safe="")
    return f"{path}/{quote(version, safe='')}" if version else path


def _model_subject(name: str, version: str | None) -> str:
    return f"model {name!r} version {version!r}" if version else f"model {name!r}"


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"


def _query(**values: str | int | bool | None) -> dict[str, str]:
    """Query parameters in TorchServe's spelling; ``None`` values are left out."""
    return {name: _text(value) for name, value in values.items() if value is not None}


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _form_fields(options: Mapping[str, OptionValue]) -> list[FormField]:
    fields: list[FormField] = []
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, (str, int, float, bool)):
            fields.append((name, _text(value)))
        else:
            fields += [(name, str(item)) for item in value]
    return fields


def _decode(response: httpx.Response) -> Any:
    """The answer as JSON when it is JSON, else as text."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type.startswith("text/") and "json" not in media_type:
        return response.text
    try:
        return response.json()
    except ValueError:
        return response.text


def _json_object(response: httpx.Response, call: _Call) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise APIError(
            f"{_origin(call.url)} answered {response.status_code} for {call.subject} without "
            f"the expected JSON object (got {response.text[:80]!r}). Is the URL a VoxServe "
            "(TorchServe) API?",
            status=response.status_code,
            body=data if data is not None else response.text,
        )
    return data


def _label_of(audio: AudioInput) -> str:
    """A short name for the audio, for job labels and messages."""
    if isinstance(audio, (str, os.PathLike)):
        return os.path.basename(os.fspath(audio)) or os.fspath(audio)
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return f"<{memoryview(audio).nbytes} bytes>"
    name = getattr(audio, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else "<file object>"
