"""The example app's pure parts: cutting the live stream, the upload store, flags."""

from __future__ import annotations

import array
import io
import itertools
import math
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

from examples.sanic_app.flags import FALLBACK_FLAG, flag_for, region_flag
from examples.sanic_app.languages import WHISPER_LANGUAGES
from examples.sanic_app.realtime import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    ConfidenceGate,
    CutPolicy,
    LiveSettings,
    SpeechBuffer,
    Status,
    Window,
    frame_level_db,
    to_wav,
)
from examples.sanic_app.store import UnknownUploadError, UploadStatus, UploadStore


def tone(seconds: float, amplitude: float = 0.3, hz: float = 220.0) -> bytes:
    """A sine well above the speech threshold; a stand-in for a voice."""
    count = round(seconds * SAMPLE_RATE)
    peak = amplitude * 32767
    return array.array(
        "h", (round(peak * math.sin(2 * math.pi * hz * i / SAMPLE_RATE)) for i in range(count))
    ).tobytes()


def quiet(seconds: float) -> bytes:
    return bytes(2 * round(seconds * SAMPLE_RATE))


def windows(events: list[Window | Status]) -> list[Window]:
    return [e for e in events if isinstance(e, Window)]


def statuses(events: list[Window | Status]) -> list[Status]:
    return [e for e in events if isinstance(e, Status)]


def feed_in_chunks(buffer: SpeechBuffer, pcm: bytes, size: int) -> list[Window | Status]:
    events: list[Window | Status] = []
    for offset in range(0, len(pcm), size):
        events += buffer.feed(pcm[offset : offset + size])
    return events


# -- levels ---------------------------------------------------------------------------


def test_levels_of_full_scale_and_zero_frames():
    full = array.array("h", [32767, -32768] * (FRAME_SAMPLES // 2)).tobytes()
    assert frame_level_db(full) == pytest.approx(0.0, abs=0.01)
    assert frame_level_db(quiet(0.03)) == -120.0
    assert -20 < frame_level_db(tone(0.03)) < -10  # 0.3 of full scale, sine: about -13.5 dB


# -- cutting at pauses ----------------------------------------------------------------


def test_speech_then_a_pause_gives_one_window_covering_the_speech():
    buffer = SpeechBuffer()
    events = buffer.feed(tone(1.2) + quiet(0.6))
    [window] = windows(events)
    assert window.start_s == 0.0
    # The speech and the pause that ended it (0.5 s), nothing more.
    assert window.duration_s == pytest.approx(1.2 + 0.5, abs=0.03)
    assert statuses(events) == [Status.LISTENING]


def test_chunk_size_does_not_change_where_cuts_fall():
    pcm = quiet(1.0) + tone(1.0) + quiet(0.7) + tone(2.0) + quiet(0.7)
    whole = windows(SpeechBuffer().feed(pcm))
    for size in (1, 333, 3200, 4097):  # odd sizes split samples and frames
        assert windows(feed_in_chunks(SpeechBuffer(), pcm, size)) == whole
    assert len(whole) == 2


def test_leading_silence_is_trimmed_to_the_pre_roll():
    policy = CutPolicy(pre_roll_s=0.3)
    [window] = windows(SpeechBuffer(policy).feed(quiet(3.0) + tone(1.0) + quiet(0.6)))
    assert window.start_s == pytest.approx(3.0 - 0.3, abs=0.03)
    assert window.pcm[:100] == bytes(100)  # the pre-roll is the quiet before the voice


def test_window_positions_count_stream_time():
    pcm = tone(1.0) + quiet(2.0) + tone(1.0) + quiet(0.6)
    first, second = windows(SpeechBuffer().feed(pcm))
    assert first.start_s == 0.0
    assert second.start_s == pytest.approx(3.0 - 0.3, abs=0.03)
    assert second.end_s == pytest.approx(4.5, abs=0.05)


def test_a_click_is_not_sent():
    assert windows(SpeechBuffer().feed(tone(0.06) + quiet(1.0))) == []


def test_full_buffer_is_cut_at_its_quietest_recent_moment():
    policy = CutPolicy(max_window_s=15.0, full_cut_search_s=3.0)
    # Non-stop speech with a softer stretch (still speech) at 13.0-13.3 s.
    pcm = tone(13.0) + tone(0.3, amplitude=0.05) + tone(6.0)
    events = SpeechBuffer(policy).feed(pcm)
    [window] = windows(events)
    assert window.start_s == 0.0
    assert 13.0 < window.duration_s <= 13.3 + 0.03


def test_endless_speech_still_yields_windows_no_longer_than_the_limit():
    policy = CutPolicy(max_window_s=5.0)
    buffer = SpeechBuffer(policy)
    cut = windows(buffer.feed(tone(17.0)))
    # Each cut falls within the last 3 s searched: between 2 and 5 s long.
    assert 3 <= len(cut) <= 8
    assert all(5.0 - 3.0 <= w.duration_s <= 5.0 + 0.001 for w in cut)
    # Contiguous: each window starts where the previous one ended.
    for before, after in itertools.pairwise(cut):
        assert after.start_sample == before.start_sample + len(before.pcm) // 2
    assert sum(w.duration_s for w in cut) + buffer.buffered_s == pytest.approx(17.0, abs=0.03)


def test_flush_sends_the_rest_and_starts_a_new_stream():
    buffer = SpeechBuffer()
    assert windows(buffer.feed(tone(1.0))) == []  # no pause yet
    [window] = windows(buffer.flush())
    assert window.duration_s == pytest.approx(1.0, abs=0.03)
    assert buffer.buffered_s == 0.0
    events = buffer.feed(tone(0.5) + quiet(0.6))
    assert statuses(events) == [Status.LISTENING]
    [later] = windows(events)
    assert later.start_s == pytest.approx(window.end_s, abs=0.03)


def test_flush_of_silence_sends_nothing():
    buffer = SpeechBuffer()
    buffer.feed(quiet(2.0))
    assert windows(buffer.flush()) == []


def test_long_quiet_is_reported_once_and_speech_clears_it():
    buffer = SpeechBuffer(CutPolicy(quiet_report_s=4.0))
    events = buffer.feed(quiet(3.9))
    assert statuses(events) == [Status.LISTENING]
    events = buffer.feed(quiet(6.0))
    assert statuses(events) == [Status.CANT_HEAR]
    events = buffer.feed(tone(1.0) + quiet(0.6))
    assert statuses(events) == [Status.LISTENING]
    assert len(windows(events)) == 1


def test_windows_are_valid_wav_uploads():
    [window] = windows(SpeechBuffer().feed(tone(1.0) + quiet(0.6)))
    with wave.open(io.BytesIO(to_wav(window.pcm)), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        assert wav.readframes(wav.getnframes()) == window.pcm


# -- settings and the confidence gate -------------------------------------------------


def test_settings_changes_are_checked_and_partial():
    settings = LiveSettings()
    assert (settings.language, settings.task) == (None, "transcribe")
    german = settings.updated({"language": "DE"})
    assert german.language == "de"
    translating = german.updated({"translate": True})
    assert (translating.language, translating.task) == ("de", "translate")
    assert translating.updated({"language": "auto"}).language is None
    with pytest.raises(ValueError, match="unknown language"):
        settings.updated({"language": "klingon"})
    with pytest.raises(ValueError, match="true or false"):
        settings.updated({"translate": "yes"})


@dataclass(frozen=True)
class Seg:
    text: str
    avg_logprob: float | None = -0.3
    no_speech_prob: float | None = 0.05


def test_gate_drops_no_speech_and_guesses_and_keeps_the_rest():
    gate = ConfidenceGate()
    kept = Seg(" The weather is sunny.")
    assert gate.keeps(kept)
    assert not gate.keeps(Seg(" Thank you.", avg_logprob=-0.8, no_speech_prob=0.9))
    assert not gate.keeps(Seg(" mumble", avg_logprob=-1.8, no_speech_prob=0.1))
    assert gate.keeps(Seg(" Good morning.", avg_logprob=-1.1, no_speech_prob=0.04))
    assert not gate.keeps(Seg("   "))
    # Sure of its words despite a high no-speech score: keep (Whisper's own rule).
    assert gate.keeps(Seg(" Yes.", avg_logprob=-0.2, no_speech_prob=0.7))
    assert gate.keeps(Seg(" no scores", avg_logprob=None, no_speech_prob=None))
    segments = [kept, Seg(" noise", avg_logprob=-2.0), Seg(" Bring a coat.")]
    assert gate.text(segments) == "The weather is sunny. Bring a coat."


# -- flags ----------------------------------------------------------------------------


def test_flags_for_languages_and_the_fallback():
    assert flag_for("de") == "🇩🇪"
    assert flag_for("EN") == "🇬🇧"
    assert flag_for("pt") == region_flag("PT") == "🇵🇹"
    assert flag_for(None) == flag_for("xx") == flag_for("") == FALLBACK_FLAG
    assert flag_for("cy").startswith("\U0001f3f4")  # Wales: a subdivision flag
    for code in WHISPER_LANGUAGES:
        assert flag_for(code)  # every language the picker offers shows something
    with pytest.raises(ValueError):
        region_flag("DEU")


# -- upload store ---------------------------------------------------------------------


def test_store_keeps_uploads_and_results_across_a_restart(tmp_path: Path):
    db = tmp_path / "uploads.sqlite3"
    store = UploadStore(db)
    first = store.add("a1", "talk.m4a", tmp_path / "a1.m4a", language=None, task="transcribe")
    store.add("b2", "rede.webm", tmp_path / "b2.webm", language="de", task="translate")
    store.add("c3", "bad.ogg", tmp_path / "c3.ogg", language=None, task="transcribe")
    assert first.status is UploadStatus.PENDING
    assert first.path == tmp_path / "a1.m4a"
    store.mark_done("a1", {"text": "Hello there.", "language": "en", "segments": []})
    store.close()

    reopened = UploadStore(db)
    done = reopened.get("a1")
    assert done.status is UploadStatus.DONE
    assert done.result == {"text": "Hello there.", "language": "en", "segments": []}
    assert [u.id for u in reopened.pending()] == ["b2", "c3"]  # oldest first
    assert reopened.get("b2").language == "de"
    assert reopened.get("b2").task == "translate"

    reopened.mark_failed("c3", "could not decode audio: invalid data")
    failed = reopened.get("c3")
    assert (failed.status, failed.error, failed.result) == (
        UploadStatus.FAILED,
        "could not decode audio: invalid data",
        None,
    )
    assert [u.id for u in reopened.pending()] == ["b2"]
    reopened.close()


def test_store_refuses_unknown_ids(tmp_path: Path):
    store = UploadStore(tmp_path / "db" / "uploads.sqlite3")  # makes the folder
    with pytest.raises(UnknownUploadError):
        store.get("nope")
    with pytest.raises(UnknownUploadError):
        store.mark_done("nope", {})
    store.close()
