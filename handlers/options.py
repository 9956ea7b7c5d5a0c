"""Request options, named as in OpenAI's transcription API, and their validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

from handlers.errors import InvalidOptionError

TASKS = ("transcribe", "translate")
RESPONSE_FORMATS = ("json", "verbose_json", "text", "srt", "vtt")
GRANULARITIES = ("segment", "word")
OPTION_NAMES = (
    "language",
    "task",
    "response_format",
    "word_timestamps",
    "timestamp_granularities",
    "timestamp_granularities[]",  # how OpenAI's clients spell the list field
)
# Raw-body uploads carry options in headers named like this one.
HEADER_PREFIX = "x-voxserve-"


@dataclass(frozen=True)
class TranscriptionOptions:
    language: str | None = None
    task: str = "transcribe"
    response_format: str = "json"
    word_timestamps: bool = False


MAX_SHOWN = 40  # characters of a rejected value echoed back in an error


def shown(value: str) -> str:
    """A rejected value as quoted in an error message, shortened if long."""
    return repr(value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…")


def _choice(name: str, value: str, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise InvalidOptionError(f"invalid {name} {shown(value)}; valid values: {', '.join(valid)}")
    return value


def normalise_language(value: str, allowed: Mapping[str, str]) -> str:
    code = value.strip().lower()
    code = TO_LANGUAGE_CODE.get(code, code)
    if code not in allowed:
        listing = ", ".join(sorted(allowed))
        raise InvalidOptionError(
            f"invalid language {shown(value)}; valid values: {listing} (or omit it to detect)"
        )
    return code


def parse_options(
    raw: Mapping[str, str], *, languages: Mapping[str, str] = LANGUAGES, multilingual: bool = True
) -> TranscriptionOptions:
    """Validate option strings; ``languages`` is what the served model knows."""
    language = raw.get("language") or None
    task = _choice("task", (raw.get("task") or "transcribe").strip().lower(), TASKS)
    fmt = _choice(
        "response_format",
        (raw.get("response_format") or "json").strip().lower(),
        RESPONSE_FORMATS,
    )
    if language is not None:
        language = normalise_language(language, languages)
    granularities = raw.get("timestamp_granularities") or raw.get("timestamp_granularities[]") or ""
    for granularity in granularities.replace(",", " ").split():
        _choice("timestamp_granularities", granularity.lower(), GRANULARITIES)
    words = _flag("word_timestamps", raw.get("word_timestamps")) or "word" in granularities.lower()
    if task == "translate" and not multilingual:
        raise InvalidOptionError(
            "invalid task 'translate': this model is English-only; valid values: transcribe"
        )
    return TranscriptionOptions(
        language=language, task=task, response_format=fmt, word_timestamps=words
    )


def _flag(name: str, value: str | None) -> bool:
    if value is None or value == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidOptionError(f"invalid {name} {shown(value)}; valid values: true, false")
