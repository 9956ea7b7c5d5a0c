"""The upload API: take a file, answer 202 at once, transcribe it in the background.

A 3-minute recording takes minutes to transcribe on a CPU server; the request that
brought it must not wait for that, and neither must anything else the app serves.
`UploadQueue.accept` saves the audio, records it in the `UploadStore` and starts a
`voxserve` job; the job's callback writes the result (or the server's error message)
back to the store. Jobs cut off by a stop stay ``pending`` and `resume_pending` sends
them again at the next start.
"""

from __future__ import annotations

import asyncio
import string
import uuid
from pathlib import Path, PurePath
from typing import Any, Final

import voxserve
from sanic import Blueprint, Request, json, text
from sanic.response import HTTPResponse

from .store import UnknownUploadError, Upload, UploadStatus, UploadStore

#: ``?format=`` values of GET /uploads/{id} and their content types; json is the default.
SUBTITLE_TYPES: Final = {"srt": "application/x-subrip", "vtt": "text/vtt", "text": "text/plain"}
_TASKS: Final = ("transcribe", "translate")
_SAFE_NAME_CHARS: Final = frozenset(string.ascii_letters + string.digits + "._-")
_MAX_NAME_CHARS: Final = 100


class UploadQueue:
    """Saves uploads, sends them through the client, and records how they ended."""

    def __init__(
        self, store: UploadStore, client: voxserve.AsyncClient, upload_dir: Path, model: str
    ) -> None:
        self.store = store
        self.client = client
        self.upload_dir = upload_dir
        self.model = model
        # Running jobs by upload id, for /health and so a stop can tell them apart.
        self._jobs: dict[str, voxserve.Job[voxserve.TranscriptionResult]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    async def accept(
        self, filename: str, audio: bytes, *, language: str | None, task: str
    ) -> Upload:
        """Store the audio and start transcribing it; returns as soon as both are recorded."""
        upload_id = uuid.uuid4().hex
        # A folder per upload keeps the sender's file name, which the client sends on
        # and the server's error messages quote back ("'talk.m4a' ...").
        path = self.upload_dir / upload_id / _safe_name(filename)
        # A large upload's write would hold the loop for a moment; a thread does not.
        await asyncio.to_thread(_write_new_file, path, audio)
        upload = self.store.add(upload_id, filename, path, language=language, task=task)
        self._start(upload)
        return upload

    def resume_pending(self) -> int:
        """Send again every upload a previous run left pending; returns how many."""
        pending = self.store.pending()
        for upload in pending:
            if upload.path.exists():
                self._start(upload)
            else:
                self.store.mark_failed(upload.id, f"the stored audio {upload.path} is gone")
        return len(pending)

    def _start(self, upload: Upload) -> None:
        job = self.client.submit(
            upload.path,
            model=self.model,
            language=upload.language,
            task="translate" if upload.task == "translate" else "transcribe",
        )
        self._jobs[upload.id] = job
        job.add_done_callback(lambda job: self._finish(upload.id, job))

    def _finish(self, upload_id: str, job: voxserve.Job[voxserve.TranscriptionResult]) -> None:
        self._jobs.pop(upload_id, None)
        if job.cancelled():
            return  # the app is stopping: it stays pending and is sent again at start
        error = job.exception()
        if error is None:
            self.store.mark_done(upload_id, job.result().raw)
        elif isinstance(error, voxserve.VoxServeError):
            self.store.mark_failed(upload_id, error.message)
        else:
            self.store.mark_failed(upload_id, f"{type(error).__name__}: {error}")


def upload_routes() -> Blueprint:
    """POST /uploads and GET /uploads/<id>; they use ``app.ctx.uploads`` (an `UploadQueue`)."""
    routes = Blueprint("uploads")

    @routes.post("/uploads")
    async def create_upload(request: Request) -> HTTPResponse:
        upload = request.files.get("file") if request.files else None
        if upload is None or not upload.body:
            return _error(400, "send the audio as a non-empty multipart field named 'file'")
        language = _form_field(request, "language") or None
        task = _form_field(request, "task") or "transcribe"
        if task not in _TASKS:
            return _error(400, f"task must be one of {', '.join(_TASKS)}, not {task!r}")
        queue: UploadQueue = request.app.ctx.uploads
        stored = await queue.accept(
            upload.name or "upload", upload.body, language=language, task=task
        )
        return json(
            _describe(stored),
            status=202,
            headers={"Location": request.app.url_for("uploads.get_upload", upload_id=stored.id)},
        )

    @routes.get("/uploads/<upload_id:str>")
    async def get_upload(request: Request, upload_id: str) -> HTTPResponse:
        queue: UploadQueue = request.app.ctx.uploads
        try:
            upload = queue.store.get(upload_id)
        except UnknownUploadError:
            return _error(404, f"no upload {upload_id!r}")
        wanted = request.args.get("format", "json")
        if wanted != "json" and wanted not in SUBTITLE_TYPES:
            formats = ", ".join(["json", *SUBTITLE_TYPES])
            return _error(400, f"format must be one of {formats}, not {wanted!r}")
        if wanted == "json" or upload.status is not UploadStatus.DONE or upload.result is None:
            return json(_describe(upload))
        return text(
            _render(upload.result, wanted), content_type=f"{SUBTITLE_TYPES[wanted]}; charset=utf-8"
        )

    return routes


def _describe(upload: Upload) -> dict[str, Any]:
    """The JSON an API client sees: state, and the transcript or the error once known."""
    described: dict[str, Any] = {
        "id": upload.id,
        "status": upload.status.value,
        "filename": upload.filename,
        "created_at": upload.created_at,
        "updated_at": upload.updated_at,
    }
    if upload.status is UploadStatus.DONE and upload.result is not None:
        result = upload.result
        described["transcript"] = {
            key: result.get(key)
            for key in ("text", "language", "duration", "task", "segments", "model")
        }
    elif upload.status is UploadStatus.FAILED:
        described["error"] = upload.error
    return described


def _form_field(request: Request, name: str) -> str:
    """A text field of the multipart form, trimmed and lower-cased ("" when absent)."""
    value = request.form.get(name) if request.form else None
    return str(value or "").strip().lower()


def _render(result: dict[str, Any], wanted: str) -> str:
    """A stored result as subtitles or plain text, rendered by the client's own model."""
    transcription = voxserve.TranscriptionResult.from_dict(result)
    if wanted == "srt":
        return transcription.to_srt()
    if wanted == "vtt":
        return transcription.to_vtt()
    return transcription.text


def _error(status: int, message: str) -> HTTPResponse:
    return json({"error": {"status": status, "message": message}}, status=status)


def _safe_name(filename: str) -> str:
    """The sender's file name, reduced to characters safe in any file system."""
    name = PurePath(filename.replace("\\", "/")).name
    safe = "".join(c if c in _SAFE_NAME_CHARS else "_" for c in name).strip("._")
    return safe[-_MAX_NAME_CHARS:] or "upload"


def _write_new_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
