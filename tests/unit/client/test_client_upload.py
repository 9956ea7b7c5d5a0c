"""Uploads stream as multipart/form-data, chunk by chunk, never read whole."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import SERVER_RESULT, Harness, Script, parse_multipart
from voxserve._config import UPLOAD_CHUNK_SIZE

pytestmark = pytest.mark.anyio

BIG = UPLOAD_CHUNK_SIZE * 5 + 123  # larger than one chunk, not a multiple of it


class ChunkRecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A fake server that records the request body as the chunks it arrives in."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.request: httpx.Request | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.request = request
        self.chunks = list(request.stream)  # type: ignore[arg-type]
        return httpx.Response(200, json=SERVER_RESULT)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.request = request
        self.chunks = [chunk async for chunk in request.stream]  # type: ignore[union-attr]
        return httpx.Response(200, json=SERVER_RESULT)


class ReadRecorder(io.RawIOBase):
    """A binary file that records the size of every read asked of it."""

    def __init__(self, data: bytes, *, seekable: bool = True) -> None:
        self._data = io.BytesIO(data)
        self._seekable = seekable
        self.reads: list[int] = []
        self.name = "/uploads/voice-note.ogg"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._data.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._data.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        return self._data.read(size)


def recording_client(mode: str, **options: Any) -> tuple[Any, ChunkRecordingTransport]:
    transport = ChunkRecordingTransport()
    client_class = voxserve.Client if mode == "sync" else voxserve.AsyncClient
    return client_class(transport=transport, retry=False, **options), transport


async def call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(client, method)(*args, **kwargs)
    return await result if isinstance(client, voxserve.AsyncClient) else result


async def close(client: Any) -> None:
    await call(client, "aclose" if isinstance(client, voxserve.AsyncClient) else "close")


async def test_multipart_carries_file_and_options(make_harness: Any, tmp_path: Path) -> None:
    audio = os.urandom(200_000) + b"\r\n--not-a-boundary\r\n"
    path = tmp_path / "meeting.wav"
    path.write_bytes(audio)
    script = Script()
    harness: Harness = make_harness(script)

    await harness.call(
        "transcribe", path, language="de", task="translate", model="whisper-small", version="2.0"
    )

    request = script.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:8080/predictions/whisper-small/2.0"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["content-length"]) == len(request.content)
    fields = parse_multipart(request.content, request.headers["content-type"])
    assert set(fields) == {"language", "task", "response_format", "file"}
    assert fields["language"][0].data == b"de"
    assert fields["task"][0].data == b"translate"
    assert fields["response_format"][0].data == b"json"
    (file_part,) = fields["file"]
    assert file_part.data == audio
    assert 'filename="meeting.wav"' in file_part.disposition
    assert file_part.headers["content-type"] in ("audio/wav", "audio/x-wav")


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "BytesIO"])
async def test_in_memory_audio_is_uploaded_exactly(make_harness: Any, kind: str) -> None:
    audio = os.urandom(UPLOAD_CHUNK_SIZE + 7)
    source = {
        "bytes": audio,
        "bytearray": bytearray(audio),
        "memoryview": memoryview(audio),
        "BytesIO": io.BytesIO(audio),
    }[kind]
    script = Script()
    harness = make_harness(script)

    await harness.call("transcribe", source)

    request = script.requests[0]
    fields = parse_multipart(request.content, request.headers["content-type"])
    assert fields["file"][0].data == audio
    assert "language" not in fields, "no language means: detect it"
    assert int(request.headers["content-length"]) == len(request.content)


async def test_upload_arrives_in_chunks(mode: str, anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "long.mp3"
    path.write_bytes(os.urandom(BIG))
    client, transport = recording_client(mode)

    await call(client, "transcribe", path)
    await close(client)

    audio_chunks = transport.chunks[1:-1]  # between the form head and the closing boundary
    assert len(audio_chunks) == 6
    assert all(len(chunk) <= UPLOAD_CHUNK_SIZE for chunk in transport.chunks)
    assert b"".join(audio_chunks) == path.read_bytes()


async def test_file_object_is_read_in_chunks(mode: str, anyio_backend: str) -> None:
    audio = os.urandom(BIG)
    upload = ReadRecorder(audio)
    client, transport = recording_client(mode)

    await call(client, "transcribe", upload)
    await close(client)

    assert upload.reads, "the file was read"
    assert all(0 < size <= UPLOAD_CHUNK_SIZE for size in upload.reads)
    assert len(upload.reads) >= BIG // UPLOAD_CHUNK_SIZE
    assert transport.request is not None
    assert b"".join(transport.chunks[1:-1]) == audio
    assert 'filename="voice-note.ogg"' in transport.chunks[0].decode()
    assert not upload.closed, "the caller's file stays open"


async def test_unknown_size_is_sent_chunked(mode: str, anyio_backend: str) -> None:
    audio = os.urandom(BIG)
    client, transport = recording_client(mode)

    await call(client, "transcribe", ReadRecorder(audio, seekable=False))
    await close(client)

    assert transport.request is not None
    assert "content-length" not in transport.request.headers
    assert transport.request.headers["transfer-encoding"] == "chunked"
    assert b"".join(transport.chunks[1:-1]) == audio


async def test_predict_sends_any_options(make_harness: Any) -> None:
    script = Script()
    harness = make_harness(script)

    await harness.call(
        "predict",
        "silero-vad",
        b"audio",
        version="1.1",
        threshold=0.5,
        merge=True,
        timestamp_granularities=["word", "segment"],
        language=None,
    )

    request = script.requests[0]
    assert str(request.url) == "http://127.0.0.1:8080/predictions/silero-vad/1.1"
    fields = parse_multipart(request.content, request.headers["content-type"])
    assert fields["threshold"][0].data == b"0.5"
    assert fields["merge"][0].data == b"true"
    assert [part.data for part in fields["timestamp_granularities"]] == [b"word", b"segment"]
    assert "language" not in fields
    assert fields["file"][0].data == b"audio"


async def test_text_file_object_is_refused(make_harness: Any) -> None:
    harness = make_harness(Script())

    with pytest.raises(TypeError, match="binary mode"):
        await harness.call("transcribe", io.StringIO("not audio"))
