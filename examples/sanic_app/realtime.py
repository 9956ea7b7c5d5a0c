"""Turning a live microphone stream into windows worth transcribing: pure logic, no I/O.

The browser sends 16 kHz mono int16 PCM in small chunks. `SpeechBuffer` keeps what has
not been sent yet and cuts it into a `Window` when the speaker pauses, or when the
buffer is full (then at its quietest recent frame, so a word is rarely split). Audio
without speech is never sent: it is trimmed to a short pre-roll, and a long stretch of
it is reported once as `Status.CANT_HEAR`. Time is counted in samples, not on the
clock, so a stream sent faster than realtime cuts exactly as a live one would.

`LiveSettings` holds the picker's choice (language, translate), `ConfidenceGate`
decides which returned segments are shown, and `to_wav` wraps a window for upload.
"""

from __future__ import annotations

import array
import io
import math
import sys
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Final, Protocol

from .languages import WHISPER_LANGUAGES

SAMPLE_RATE: Final = 16_000
SAMPLE_WIDTH: Final = 2  # int16
FRAME_SAMPLES: Final = 480  # 30 ms: the unit levels are measured and cuts are made in
FRAME_BYTES: Final = FRAME_SAMPLES * SAMPLE_WIDTH
AUTO_LANGUAGE: Final = "auto"
_FULL_SCALE: Final = 32768.0
_SILENT_DB: Final = -120.0  # level of an all-zero frame (log of zero is undefined)


@dataclass(frozen=True)
class CutPolicy:
    """Where the stream is cut into windows; the defaults suit a close microphone."""

    #: Frames louder than this (dBFS) count as speech. With the browser's gain control
    #: off, a speaking voice sits well above it and a quiet room well below.
    speech_db: float = -45.0
    #: This much quiet after speech ends the window: a pause between phrases.
    pause_s: float = 0.5
    #: A window is cut here even without a pause, so results keep coming.
    max_window_s: float = 15.0
    #: When the buffer is full, cut at the quietest frame within this last stretch.
    full_cut_search_s: float = 3.0
    #: Less speech than this in a window is a click or a cough: dropped, not sent.
    min_speech_s: float = 0.2
    #: Quiet kept before speech starts so that its first sound is not clipped.
    pre_roll_s: float = 0.3
    #: This long without any speech is reported as `Status.CANT_HEAR`.
    quiet_report_s: float = 4.0

    def frames(self, seconds: float) -> int:
        """Seconds as a whole number of frames (at least one)."""
        return max(1, round(seconds * SAMPLE_RATE / FRAME_SAMPLES))


class Status(str, Enum):
    """What the listener tells the page besides transcripts."""

    LISTENING = "[listening]"
    CANT_HEAR = "[can't hear anything]"


@dataclass(frozen=True)
class Window:
    """A stretch of the stream to transcribe: PCM bytes and where it sits in the stream."""

    pcm: bytes
    start_sample: int

    @property
    def start_s(self) -> float:
        return self.start_sample / SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


Event = Window | Status


def frame_level_db(frame: bytes) -> float:
    """RMS level of little-endian int16 PCM in dBFS (0 is full scale)."""
    samples = array.array("h", frame)
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return _SILENT_DB
    mean_square = sum(s * s for s in samples) / len(samples)
    if mean_square == 0:
        return _SILENT_DB
    return max(_SILENT_DB, 10.0 * math.log10(mean_square / (_FULL_SCALE * _FULL_SCALE)))


class SpeechBuffer:
    """Collects PCM chunks and hands back windows cut at pauses (see the module doc).

    ``feed`` and ``flush`` return the events they caused, in order: a `Status` when
    the listening state changes, a `Window` when one is ready to send.
    """

    def __init__(self, policy: CutPolicy | None = None) -> None:
        self.policy = policy or CutPolicy()
        self._pause_frames = self.policy.frames(self.policy.pause_s)
        self._max_frames = self.policy.frames(self.policy.max_window_s)
        self._search_frames = min(
            self._max_frames, self.policy.frames(self.policy.full_cut_search_s)
        )
        self._min_speech_frames = self.policy.frames(self.policy.min_speech_s)
        self._pre_roll_frames = self.policy.frames(self.policy.pre_roll_s)
        self._quiet_report_frames = self.policy.frames(self.policy.quiet_report_s)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._carry = b""  # bytes short of a whole frame, kept for the next chunk
        self._frames: list[bytes] = []  # whole frames not yet cut
        self._levels: list[float] = []  # their levels, in dBFS
        self._first_frame = 0  # index in the stream of self._frames[0]
        self._speech_frames = 0  # speech frames among self._frames
        self._trailing_quiet = 0  # quiet frames since the last speech frame in the buffer
        self._quiet_run = 0  # quiet frames since any speech at all (for CANT_HEAR)
        self._listening = False
        self._reported_quiet = False

    @property
    def buffered_s(self) -> float:
        """Seconds of audio held and not yet cut into a window."""
        return len(self._frames) * FRAME_SAMPLES / SAMPLE_RATE

    def feed(self, pcm: bytes) -> list[Event]:
        """Add a chunk of 16 kHz mono int16 PCM; any chunk size, odd bytes included."""
        events: list[Event] = []
        if not self._listening and pcm:
            self._listening = True
            events.append(Status.LISTENING)
        data = self._carry + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._carry = data[whole:]
        for offset in range(0, whole, FRAME_BYTES):
            events.extend(self._add_frame(data[offset : offset + FRAME_BYTES]))
        return events

    def flush(self) -> list[Event]:
        """End of the stream (the page pressed stop): send what speech is left.

        The next `feed` starts a fresh stream, so it says `Status.LISTENING` again.
        """
        if self._carry:
            self._add_level(self._carry + bytes(FRAME_BYTES - len(self._carry)))
            self._carry = b""
        events: list[Event] = []
        window = self._cut(len(self._frames))
        if window is not None:
            events.append(window)
        next_frame = self._first_frame
        self._reset_stream()
        self._first_frame = next_frame
        return events

    def _add_frame(self, frame: bytes) -> list[Event]:
        events: list[Event] = []
        is_speech = self._add_level(frame)
        if is_speech:
            if self._reported_quiet:
                self._reported_quiet = False
                events.append(Status.LISTENING)
        elif self._quiet_run >= self._quiet_report_frames and not self._reported_quiet:
            self._reported_quiet = True
            events.append(Status.CANT_HEAR)

        if self._speech_frames == 0:
            self._drop_front(len(self._frames) - self._pre_roll_frames)
        elif self._trailing_quiet >= self._pause_frames:
            window = self._cut(len(self._frames))
            if window is not None:
                events.append(window)
        elif len(self._frames) >= self._max_frames:
            window = self._cut(self._quietest_recent_frame() + 1)
            if window is not None:
                events.append(window)
        return events

    def _add_level(self, frame: bytes) -> bool:
        level = frame_level_db(frame)
        is_speech = level >= self.policy.speech_db
        self._frames.append(frame)
        self._levels.append(level)
        if is_speech:
            self._speech_frames += 1
            self._trailing_quiet = 0
            self._quiet_run = 0
        else:
            self._trailing_quiet += 1
            self._quiet_run += 1
        return is_speech

    def _quietest_recent_frame(self) -> int:
        start = len(self._levels) - self._search_frames
        recent = self._levels[start:]
        return start + min(range(len(recent)), key=recent.__getitem__)

    def _cut(self, end: int) -> Window | None:
        """Take frames [0, end) out of the buffer; a window if they hold enough speech."""
        taken = self._frames[:end]
        speech = sum(1 for level in self._levels[:end] if level >= self.policy.speech_db)
        window = (
            Window(b"".join(taken), self._first_frame * FRAME_SAMPLES)
            if speech >= self._min_speech_frames
            else None
        )
        self._drop_front(end)
        return window

    def _drop_front(self, count: int) -> None:
        if count <= 0:
            return
        dropped_speech = sum(1 for level in self._levels[:count] if level >= self.policy.speech_db)
        del self._frames[:count]
        del self._levels[:count]
        self._first_frame += count
        self._speech_frames -= dropped_speech
        # Quiet frames counted as trailing may have left with the cut.
        self._trailing_quiet = min(self._trailing_quiet, len(self._frames))


def to_wav(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Wrap mono int16 PCM in a WAV container, the simplest upload the server decodes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()


@dataclass(frozen=True)
class LiveSettings:
    """The page's choice for the next windows: language (``None`` detects) and task."""

    language: str | None = None
    translate: bool = False
    #: Languages accepted from the page; Whisper's by default.
    known_languages: frozenset[str] = field(
        default=frozenset(WHISPER_LANGUAGES), repr=False, compare=False
    )

    @property
    def task(self) -> str:
        return "translate" if self.translate else "transcribe"

    def updated(self, message: Mapping[str, Any]) -> LiveSettings:
        """These settings with the page's changes applied; raises ValueError if invalid.

        ``message`` may carry ``language`` (a code, or ``"auto"`` / null to detect)
        and ``translate`` (a boolean); keys it lacks keep their value.
        """
        changes: dict[str, Any] = {}
        if "language" in message:
            language = message["language"]
            if language in (None, "", AUTO_LANGUAGE):
                changes["language"] = None
            elif isinstance(language, str) and language.lower() in self.known_languages:
                changes["language"] = language.lower()
            else:
                raise ValueError(f"unknown language {language!r}: use 'auto' or a Whisper code")
        if "translate" in message:
            translate = message["translate"]
            if not isinstance(translate, bool):
                raise ValueError(f"translate must be true or false, not {translate!r}")
            changes["translate"] = translate
        return replace(self, **changes)


class ScoredSegment(Protocol):
    """What the gate needs of a returned segment (`voxserve.Segment` has it)."""

    @property
    def text(self) -> str: ...

    @property
    def no_speech_prob(self) -> float | None: ...

    @property
    def avg_logprob(self) -> float | None: ...


@dataclass(frozen=True)
class ConfidenceGate:
    """Which segments of a live window are worth showing.

    Live windows are short, and Whisper given a breath or a door slam invents text
    ("Thank you."). The server already drops windows that are clearly silent; the
    page is stricter: a segment the model thinks is probably not speech, or whose
    words it was unsure of, is left out.
    """

    #: Above this no-speech probability (with middling confidence) a segment is noise.
    max_no_speech_prob: float = 0.6
    #: ... where middling means an average log-probability below this.
    no_speech_logprob: float = -0.5
    #: Below this average log-probability the words are guesses, whatever no_speech says.
    #: Lower than Whisper's -1.0 retry threshold: a fair translation can score -1.1.
    min_avg_logprob: float = -1.5

    def keeps(self, segment: ScoredSegment) -> bool:
        if not segment.text.strip():
            return False
        logprob = segment.avg_logprob
        no_speech = segment.no_speech_prob
        if logprob is not None and logprob < self.min_avg_logprob:
            return False
        return not (
            no_speech is not None
            and no_speech > self.max_no_speech_prob
            and (logprob is None or logprob < self.no_speech_logprob)
        )

    def text(self, segments: Iterable[ScoredSegment]) -> str:
        """The kept segments' text, joined; empty when nothing is worth showing."""
        return " ".join(s.text.strip() for s in segments if self.keeps(s))
