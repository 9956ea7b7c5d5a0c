"""Pull the audio bytes and option strings out of one TorchServe request row.

A multipart upload arrives as ``{"file": bytes, "language": "de", ...}`` (or ``data``
instead of ``file``); a raw upload as ``{"body": bytes}`` with options in request
headers ``X-VoxServe-<Option>``. TorchServe decodes text parts to ``str`` and JSON parts
to objects, so every value is normalised here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from handlers.errors import EmptyAudioError, InvalidAudioError, InvalidOptionError
from handlers.options import HEADER_PREFIX, OPTION_NAMES, shown

AUDIO_FIELDS = ("file", "data", "body")


@dataclass(frozen=True)
class UploadedAudio:
    audio: bytes
    options: dict[str, str]


def _as_text(name: str, value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise InvalidOptionError(f"option {name!r} is not UTF-8 text") from exc
    if isinstance(value, str):
        return value.strip()
    raise InvalidOptionError(f"option {name!r} must be a plain string")


def _as_audio(field: str, value: object) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):  # uploaded with a text/* content type
        return value.encode("utf-8")
    raise InvalidAudioError(
        f"field {field!r} holds JSON, not audio; upload the file as multipart field 'file' "
        "or as a raw body with Content-Type: application/octet-stream"
    )


def read_upload(
    row: Mapping[str, object], header: Callable[[str], str | None], header_names: Iterable[str] = ()
) -> UploadedAudio:
    """Return the upload's audio and its options (form fields win over headers).

    ``header_names`` are the request's header names, so that a misspelt
    ``X-VoxServe-*`` header is refused as a misspelt form field is.
    """
    fields = [name for name in AUDIO_FIELDS if row.get(name) is not None]
    if not fields:
        present = ", ".join(shown(name) for name in sorted(row)) or "none"
        raise EmptyAudioError(
            f"no audio in the request: send field 'file' (fields seen: {present})"
        )
    if len(fields) > 1:
        raise InvalidOptionError(
            f"the request carries audio in several fields ({', '.join(fields)}); send one 'file'"
        )
    audio = _as_audio(fields[0], row[fields[0]])
    if not audio:
        raise EmptyAudioError("the upload is empty (0 bytes)")
    unknown = sorted(set(row) - set(AUDIO_FIELDS) - set(OPTION_NAMES))
    known_headers = {HEADER_PREFIX + name.replace("_", "-") for name in OPTION_NAMES}
    unknown += sorted(
        name
        for name in (h.lower() for h in header_names)
        if name.startswith(HEADER_PREFIX) and name not in known_headers
    )
    if unknown:
        raise InvalidOptionError(
            f"unknown field(s) {', '.join(shown(u) for u in unknown)}; "
            f"valid options: {', '.join(OPTION_NAMES)}"
        )
    options: dict[str, str] = {}
    for name in OPTION_NAMES:
        if row.get(name) is not None:
            options[name] = _as_text(name, row[name])
        else:
            value = header(HEADER_PREFIX + name.replace("_", "-"))
            if value is not None:
                options[name] = value.strip()
    return UploadedAudio(audio=audio, options=options)
