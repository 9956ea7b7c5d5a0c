"""Uploads and their state in SQLite, so that an app restart loses nothing.

A row is written (and committed) before the upload is answered with 202; its audio
file is already on disk by then. A row still ``pending`` when the app starts again
was cut off mid-transcription and is sent again. The finished result is kept as the
server's JSON, so any format (json, srt, vtt) can be rendered from it later.

The calls are synchronous: each is one short statement on a local file (WAL
journal), far quicker than handing it to a thread would be.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id          TEXT PRIMARY KEY,
    filename    TEXT NOT NULL,
    path        TEXT NOT NULL,
    language    TEXT,
    task        TEXT NOT NULL,
    status      TEXT NOT NULL,
    result      TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_status ON uploads (status, created_at);
"""


class UploadStatus(str, Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Upload:
    """One stored upload: where its audio is, what was asked, and how it ended."""

    id: str
    filename: str
    path: Path
    language: str | None
    task: str
    status: UploadStatus
    created_at: float
    updated_at: float
    #: The server's JSON answer, once done.
    result: dict[str, Any] | None = None
    #: The server's (or the client's) message, once failed.
    error: str | None = None


class UnknownUploadError(KeyError):
    """No upload has that id."""


class UploadStore:
    """The uploads table; one instance per process, used from the event loop's thread."""

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        self._db = sqlite3.connect(db_path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # WAL: readers never wait for the writer; NORMAL sync is still crash-safe in WAL.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def add(
        self, upload_id: str, filename: str, path: Path, *, language: str | None, task: str
    ) -> Upload:
        """Record a new pending upload whose audio is already saved at ``path``."""
        now = time.time()
        self._db.execute(
            "INSERT INTO uploads (id, filename, path, language, task, status, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (upload_id, filename, str(path), language, task, UploadStatus.PENDING.value, now, now),
        )
        return self.get(upload_id)

    def get(self, upload_id: str) -> Upload:
        """The upload with that id; raises `UnknownUploadError`."""
        row = self._db.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        if row is None:
            raise UnknownUploadError(upload_id)
        return _upload_from_row(row)

    def mark_done(self, upload_id: str, result: dict[str, Any]) -> None:
        self._finish(upload_id, UploadStatus.DONE, result=json.dumps(result), error=None)

    def mark_failed(self, upload_id: str, message: str) -> None:
        self._finish(upload_id, UploadStatus.FAILED, result=None, error=message)

    def pending(self) -> list[Upload]:
        """Uploads not finished yet, oldest first (the order they are sent again in)."""
        rows = self._db.execute(
            "SELECT * FROM uploads WHERE status = ? ORDER BY created_at",
            (UploadStatus.PENDING.value,),
        ).fetchall()
        return [_upload_from_row(row) for row in rows]

    def close(self) -> None:
        self._db.close()

    def _finish(
        self, upload_id: str, status: UploadStatus, *, result: str | None, error: str | None
    ) -> None:
        cursor = self._db.execute(
            "UPDATE uploads SET status = ?, result = ?, error = ?, updated_at = ? WHERE id = ?",
            (status.value, result, error, time.time(), upload_id),
        )
        if cursor.rowcount == 0:
            raise UnknownUploadError(upload_id)


def _upload_from_row(row: sqlite3.Row) -> Upload:
    return Upload(
        id=row["id"],
        filename=row["filename"],
        path=Path(row["path"]),
        language=row["language"],
        task=row["task"],
        status=UploadStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=row["error"],
    )
