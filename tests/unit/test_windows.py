"""Windowing: exact cover, bounded length, cuts at pauses; stitching offsets."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.windows import Segment, Window, micro_batches, split_into_windows, stitch

RATE = 1000  # a low rate keeps the property tests fast; the logic is rate-agnostic


@settings(max_examples=200, deadline=None)
@given(
    total_s=st.floats(min_value=0.001, max_value=400),
    max_window_s=st.floats(min_value=1.0, max_value=30.0),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_windows_cover_the_audio_exactly_once(total_s, max_window_s, seed):
    generator = torch.Generator().manual_seed(seed)
    samples = torch.randn(max(1, int(total_s * RATE)), generator=generator)
    windows = split_into_windows(
        samples, RATE, max_window_s=max_window_s, min_window_s=max_window_s / 2
    )
    assert windows[0].start == 0
    assert windows[-1].end == samples.shape[0]
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start  # no gap, no overlap
    assert all(0 < w.length <= int(max_window_s * RATE) for w in windows)


def test_empty_audio_has_no_windows():
    assert split_into_windows(torch.zeros(0), RATE) == []


def test_cuts_land_in_pauses_not_in_speech():
    rate = 16000
    # 10 "sentences" of 6 s tone separated by 0.7 s of silence: 67 s in all.
    sentence = torch.sin(torch.arange(6 * rate) * 0.05) * 0.3
    pause = torch.zeros(int(0.7 * rate))
    parts = []
    for _ in range(10):
        parts += [sentence, pause]
    audio = torch.cat(parts)
    windows = split_into_windows(audio, rate, max_window_s=28.0)
    assert len(windows) == 3
    for w in windows[:-1]:
        cut = w.end
        assert audio[cut - 800 : cut + 800].abs().max() == 0, (
            f"cut at {cut / rate:.2f}s is in speech"
        )
        assert w.length < 30 * rate


def test_long_audio_without_pauses_is_still_cut_below_the_limit():
    audio = torch.ones(16000 * 100) * 0.5
    windows = split_into_windows(audio, 16000, max_window_s=28.0)
    assert all(w.length <= 28 * 16000 for w in windows)
    assert sum(w.length for w in windows) == audio.shape[0]


@given(st.lists(st.integers(), max_size=50), st.integers(min_value=1, max_value=9))
def test_micro_batches_keep_order_and_bound_size(items, size):
    batches = list(micro_batches(items, size))
    assert [x for b in batches for x in b] == items
    assert all(1 <= len(b) <= size for b in batches)


def _seg(start: float, end: float, text: str = "x") -> Segment:
    return Segment(start, end, text, -0.1, 0.01, 1.0)


def test_stitch_shifts_segments_by_their_window_offset():
    stitched = stitch(
        [
            (Window.of(0, 27_500), [_seg(0.0, 3.0, "a"), _seg(3.0, 27.0, "b")]),
            (Window.of(27_500, 37_500), [_seg(0.5, 4.0, "c")]),
        ],
        RATE,
    )
    assert [(s.start, s.end, s.text) for s in stitched] == [
        (0.0, 3.0, "a"),
        (3.0, 27.0, "b"),
        (28.0, 31.5, "c"),
    ]


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=1, max_value=30),
            st.lists(st.tuples(st.floats(0, 40), st.floats(0, 40)), max_size=5),
        ),
        max_size=6,
    )
)
def test_stitched_segments_stay_inside_their_windows(windows):
    offset = 0
    spec = []
    bounds = []
    for length_s, raw in windows:
        length = int(length_s * RATE)
        spec.append((Window.of(offset, offset + length), [_seg(a, b) for a, b in raw]))
        bounds += [(offset / RATE, (offset + length) / RATE)] * len(raw)
        offset += length
    stitched = stitch(spec, RATE)
    assert len(stitched) == len(bounds)
    for seg, (lo, hi) in zip(stitched, bounds, strict=False):
        assert lo - 1e-3 <= seg.start <= seg.end <= hi + 1e-3
