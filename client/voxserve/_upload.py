"""Streaming multipart/form-data upload bodies.

The audio is never read whole into memory: the body is produced as a stream of
chunks (a generator for `Client`, an async generator for `AsyncClient`) that
reads the source `UPLOAD_CHUNK_SIZE` bytes at a time. A body can be produced
again for a retry when its source can be re-read: a path, bytes, or a
seekable file object.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Generator, Sequence
from typing import IO, Protocol

from ._config import UPLOAD_CHUNK_SIZE

__all__ = ["AudioInput", "FormField", "Upload"]

#: What `transcribe` accepts as audio: a path, the bytes, or a binary file object.
AudioInput = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
#: One text field of the form: (name, value).
FormField = tuple[str, str]

_CRLF = b"\r\n"
_DEFAULT_FILENAME = "audio"
_DEFAULT_MEDIA_TYPE = "application/octet-stream"
_BYTES_PER_KB = 1000
_BYTES_PER_MB = 1000 * 1000


class _Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class _MemoryReader:
    """Reads bytes already in memory, slice by slice, without copying them whole."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self._position = 0

    def read(self, size: int, /) -> bytes:
        chunk = bytes(self._view[self._position : self._position + size])
        self._position += len(chunk)
        return chunk

    def close(self) -> None:
        self._view.release()


class _BorrowedReader:
    """Reads a caller's file object; closing it leaves the caller's file open."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def read(self, size: int, /) -> bytes:
        chunk = self._file.read(size)
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(
                f"the audio file object returned {type(chunk).__name__}, not bytes: "
                "open it in binary mode ('rb')"
            )
        return bytes(chunk)

    def close(self) -> None:
        pass


class _Source(ABC):
    """Where the audio comes from: opens a fresh reader for each attempt."""

    #: The number of audio bytes, when known before reading.
    size: int | None
    #: Whether a second reader gives the same bytes again (needed to retry).
    replayable: bool
    #: Whether reading may block (disk, pipe), so async code reads in a thread.
    blocking: bool
    filename: str

    @abstractmethod
    def open(self) -> _Reader:
        """A new reader positioned at the start of the audio."""


class _BytesSource(_Source):
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = data
        self.size = memoryview(data).nbytes
        self.replayable = True
        self.blocking = False
        self.filename = _DEFAULT_FILENAME

    def open(self) -> _Reader:
        return _MemoryReader(self._data)


class _PathSource(_Source):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        # Fails here, before any request, if the file does not exist.
        self.size = os.stat(self._path).st_size
        self.replayable = True
        self.blocking = True
        self.filename = os.path.basename(self._path) or _DEFAULT_FILENAME

    def open(self) -> _Reader:
        return open(self._path, "rb")


class _FileSource(_Source):
    def __init__(self, file: IO[bytes]) -> None:
        if isinstance(file, io.TextIOBase):
            raise TypeError("the audio file object is in text mode: open it in binary mode ('rb')")
        self._file = file
        self._start = _tell_if_seekable(file)
        self.replayable = self._start is not None
        self.size = _remaining_size(file, self._start)
        self.blocking = not isinstance(file, io.BytesIO)
        name = getattr(file, "name", None)
        self.filename = (
            os.path.basename(name) if isinstance(name, str) and name else _DEFAULT_FILENAME
        )
        self._opened = False

    def open(self) -> _Reader:
        if self._start is not None:
            self._file.seek(self._start)
        elif self._opened:
            raise RuntimeError("the audio file object cannot be rewound to send it again")
        self._opened = True
        return _BorrowedReader(self._file)


class Upload:
    """A multipart/form-data body: the text fields, then the audio in ``field_name``."""

    def __init__(
        self,
        audio: AudioInput,
        fields: Sequence[FormField] = (),
        *,
        field_name: str = "file",
        chunk_size: int = UPLOAD_CHUNK_SIZE,
        boundary: str | None = None,
    ) -> None:
        self._source = _source_of(audio)
        self._chunk_size = chunk_size
        self.boundary = boundary or secrets.token_hex(16)
        self.filename = self._source.filename
        self._head = self._encode_head(fields, field_name)
        self._tail = _CRLF + b"--" + self.boundary.encode("ascii") + b"--" + _CRLF

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def content_length(self) -> int | None:
        """The body's length in bytes, or ``None`` when the audio's size is unknown."""
        if self._source.size is None:
            return None
        return len(self._head) + self._source.size + len(self._tail)

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again, for a retry."""
        return self._source.replayable

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type}
        if self.content_length is not None:
            headers["Content-Length"] = str(self.content_length)
        return headers

    def describe(self) -> str:
        """The upload in words for messages, e.g. ``'talk.mp3' (12.5 MB)``."""
        size = self._source.size
        if size is None:
            return f"'{self.filename}'"
        return f"'{self.filename}' ({_human_size(size)})"

    def iter_chunks(self) -> Generator[bytes, None, None]:
        """The body, chunk by chunk, reading the audio as it goes."""
        yield self._head
        reader = self._source.open()
        try:
            while chunk := reader.read(self._chunk_size):
                yield chunk
        finally:
            reader.close()
        yield self._tail

    async def aiter_chunks(self) -> AsyncGenerator[bytes, None]:
        """Like `iter_chunks`, reading files in a worker thread so the event loop never blocks."""
        yield self._head
        if self._source.blocking:
            reader = await asyncio.to_thread(self._source.open)
        else:
            reader = self._source.open()
        try:
            while True:
                if self._source.blocking:
                    chunk = await asyncio.to_thread(reader.read, self._chunk_size)
                else:
                    chunk = reader.read(self._chunk_size)
                if not chunk:
                    break
                yield chunk
        finally:
            reader.close()
        yield self._tail

    def _encode_head(self, fields: Sequence[FormField], field_name: str) -> bytes:
        delimiter = b"--" + self.boundary.encode("ascii") + _CRLF
        parts: list[bytes] = []
        for name, value in fields:
            parts += [
                delimiter,
                f'Content-Disposition: form-data; name="{_quote(name)}"'.encode() + _CRLF,
                _CRLF,
                value.encode("utf-8") + _CRLF,
            ]
        media_type = mimetypes.guess_type(self.filename)[0] or _DEFAULT_MEDIA_TYPE
        parts += [
            delimiter,
            (
                f'Content-Disposition: form-data; name="{_quote(field_name)}"; '
                f'filename="{_quote(self.filename)}"'
            ).encode()
            + _CRLF,
            f"Content-Type: {media_type}".encode() + _CRLF,
            _CRLF,
        ]
        return b"".join(parts)


def _source_of(audio: AudioInput) -> _Source:
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return _BytesSource(audio)
    if isinstance(audio, (str, os.PathLike)):
        return _PathSource(audio)
    if hasattr(audio, "read"):
        return _FileSource(audio)
    raise TypeError(
        f"audio must be a path, bytes, or a binary file object, not {type(audio).__name__}"
    )


def _tell_if_seekable(file: IO[bytes]) -> int | None:
    try:
        return file.tell() if file.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


def _remaining_size(file: IO[bytes], start: int | None) -> int | None:
    if start is None:
        return None
    try:
        end = file.seek(0, io.SEEK_END)
    except (AttributeError, OSError, ValueError):
        return None
    finally:
        file.seek(start)
    return end - start


def _quote(text: str) -> str:
    """Make a header parameter value safe inside double quotes."""
    return text.replace('"', "%22").replace("\r", " ").replace("\n", " ")


def _human_size(size: int) -> str:
    if size >= _BYTES_PER_MB:
        return f"{size / _BYTES_PER_MB:.1f} MB"
    if size >= _BYTES_PER_KB:
        return f"{size / _BYTES_PER_KB:.1f} kB"
    return f"{size} bytes"
