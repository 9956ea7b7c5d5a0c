"""Speech-aware windows: VAD spans, packing, time mapping, repetition guard."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.transcriber import drop_repeats
from handlers.vad import CHUNK, VadSettings, speech_spans
from handlers.windows import Segment, Span, Window, pack_speech, stitch

RATE = 16000


def test_spans_follow_speech_with_hysteresis():
    # 1 s silence, 2 s speech with a 0.1 s dip, 3 s silence, 0.1 s blip, 1 s silence.
    per_s = RATE / CHUNK
    probs = (
        [0.01] * int(per_s)
        + [0.9] * int(per_s)
        + [0.2] * 3  # a dip shorter than min_silence_s: still one span
        + [0.9] * int(per_s)
        + [0.01] * int(3 * per_s)
        + [0.9] * 3  # a blip shorter than min_speech_s: dropped
        + [0.01] * int(per_s)
    )
    spans = speech_spans(torch.tensor(probs), len(probs) * CHUNK, VadSettings())
    assert len(spans) == 1
    assert abs(spans[0].start / RATE - 1.0) < 0.05
    assert abs(spans[0].end / RATE - 3.1) < 0.1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.1, 40.0), st.floats(0.0, 20.0)),  # (speech length, pause after)
        min_size=1,
        max_size=12,
    )
)
def test_packed_windows_hold_all_speech_and_stay_short(parts):
    spans, cursor = [], 0
    for speech_s, pause_s in parts:
        start = cursor
        cursor += int(speech_s * RATE)
        spans.append(Span(start, cursor))
        cursor += int(pause_s * RATE)
    samples = torch.zeros(cursor + RATE)
    windows = pack_speech(spans, samples, RATE, max_window_s=28.0)
    covered = [s for w in windows for s in w.spans]
    assert all(w.length <= 28 * RATE for w in windows)
    assert covered == sorted(covered, key=lambda s: s.start)
    for before, after in itertools.pairwise(covered):
        assert before.end <= after.start  # no sample transcribed twice
    for span in spans:  # every speech sample is inside some window
        inside = sum(max(0, min(span.end, c.end) - max(span.start, c.start)) for c in covered)
        assert inside == span.length


def test_long_silences_are_left_out_and_times_map_back():
    spans = [Span(0, 5 * RATE), Span(95 * RATE, 100 * RATE)]
    (window,) = pack_speech(spans, torch.zeros(101 * RATE), RATE, pad_s=0.0, joint_s=0.3)
    assert window.length == int(10.3 * RATE)
    assert window.to_original(4.0, RATE) == 4.0
    assert window.to_original(5.3, RATE) == 95.0  # just after the joint: second span
    assert window.to_original(5.1, RATE, is_end=True) == 5.0  # a segment ending in the joint
    assert abs(window.to_original(7.3, RATE) - 97.0) < 1e-9


def test_window_audio_joins_spans_with_silence():
    samples = torch.arange(10.0)
    window = Window((Span(0, 2), Span(6, 8)), joint=3)
    assert window.audio(samples).tolist() == [0, 1, 0, 0, 0, 6, 7]


def test_stitch_maps_segments_of_a_packed_window():
    window = Window((Span(0, 5 * RATE), Span(95 * RATE, 100 * RATE)), joint=int(0.3 * RATE))
    seg = Segment(5.4, 7.0, "second part", -0.2, 0.01, 1.1)
    (placed,) = stitch([(window, [seg])], RATE)
    assert (placed.start, placed.end) == (95.1, 96.7)


def _seg(text: str) -> Segment:
    return Segment(0, 1, text, -0.2, 0.01, 1.0)


def test_phrase_loops_are_dropped_but_a_double_is_kept():
    texts = [
        "Hello.",
        "No, no.",
        "No, no.",
        "Thank you.",
        "Thank you.",
        "thank you",
        "Thank you!",
        "Bye.",
    ]
    kept = [s.text for s in drop_repeats([_seg(t) for t in texts], max_repeats=2)]
    assert kept == ["Hello.", "No, no.", "No, no.", "Thank you.", "Thank you.", "Bye."]


def test_audible_range_trims_digital_silence():
    from handlers.transcriber import audible_range

    samples = torch.zeros(RATE * 10)
    samples[RATE * 3 : RATE * 5] = 0.1
    lo, hi = audible_range(samples, RATE, -60.0)
    assert (lo, hi) == (RATE * 3, RATE * 5)
    assert audible_range(torch.zeros(RATE * 10), RATE, -60.0) == (0, 0)
