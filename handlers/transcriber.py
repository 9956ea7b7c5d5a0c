"""Batched Whisper transcription over many requests' windows, free of TorchServe.

Flow for one TorchServe batch: a voice activity detector finds speech in every request
(all requests in one batched pass) and the speech is packed into windows, leaving long
non-speech stretches out (without a detector, audio is cut at its quiet points and
silent windows are skipped); all windows are flattened and encoded in bounded
micro-batches; requests that did not fix a language vote on one over their windows;
windows are decoded greedily in micro-batches grouped by task (each window carrying
its request's language, so languages mix freely in one pass); windows that
look like hallucinations are decoded again at higher temperatures; segments are
stitched back per request on its own timeline.
"""

from __future__ import annotations

import base64
import gzip
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import whisper
from whisper.decoding import DecodingTask
from whisper.timing import add_word_timestamps
from whisper.tokenizer import LANGUAGES, Tokenizer, get_tokenizer

from handlers.vad import SileroVAD, VadSettings, speech_spans
from handlers.windows import (
    Segment,
    Span,
    Window,
    Word,
    micro_batches,
    pack_speech,
    split_into_windows,
    stitch,
)

N_SAMPLES = whisper.audio.N_SAMPLES  # 30 s at 16 kHz: Whisper's fixed input length
TIME_PRECISION = 0.02  # seconds per timestamp token step


@dataclass(frozen=True)
class DecodeSettings:
    """Thresholds and sizes, read from the model's yaml ``handler`` section."""

    micro_batch_size: int = 8
    max_window_s: float = 28.0
    silence_db: float = -60.0
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    temperature_fallback: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
    max_repeats: int = 2  # identical consecutive segments kept before the rest are dropped

    @classmethod
    def from_mapping(cls, values: dict) -> DecodeSettings:
        known = {f: values[f] for f in cls.__dataclass_fields__ if f in values}
        if "temperature_fallback" in known:
            known["temperature_fallback"] = tuple(float(t) for t in known["temperature_fallback"])
        return cls(**known)


@dataclass
class TranscriptionJob:
    """One request's audio and options inside a batch."""

    samples: torch.Tensor
    language: str | None = None
    task: str = "transcribe"
    word_timestamps: bool = False


@dataclass
class TranscriptionOutput:
    text: str
    language: str | None
    language_probability: float | None
    duration: float
    segments: list[Segment]
    windows: int
    speech_s: float | None = None  # speech the detector found; None without a detector


@dataclass
class BatchStats:
    requests: int = 0
    windows: int = 0
    skipped_silent: int = 0
    skipped_seconds: float = 0.0
    forward_passes: int = 0
    windows_per_pass: list[int] = field(default_factory=list)


@dataclass
class _WindowWork:
    job: int
    window: Window
    features: torch.Tensor | None = None
    language: str | None = None
    detected: str | None = None  # this window's own most likely language
    segment_tokens: list[list[int]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    result: whisper.DecodingResult | None = None


class _PresetLanguageDecoding(DecodingTask):
    """Greedy decoding where each window carries its own, already chosen language.

    Whisper's decoder takes one language per call; writing each window's language token
    here (where Whisper would write a detected one) lets windows of requests in
    different languages share one forward pass.
    """

    def __init__(
        self, model: whisper.Whisper, options: whisper.DecodingOptions, languages: list[str]
    ) -> None:
        super().__init__(model, options)
        self.languages = languages

    def _detect_language(
        self, audio_features: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[list[str], None]:
        ids = [self.tokenizer.to_language_token(language) for language in self.languages]
        tokens[:, self.sot_index + 1] = torch.tensor(ids, device=tokens.device)
        return self.languages, None


def _alignment_mask(heads: Sequence[Sequence[int]], layers: int, per_layer: int) -> bytes:
    mask = torch.zeros(layers, per_layer, dtype=torch.bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.numpy().tobytes()))


def load_whisper(checkpoint: Path, device: torch.device) -> whisper.Whisper:
    """Load an openai-whisper checkpoint; fp16 weights on CUDA, fp32 on CPU."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    dims = whisper.model.ModelDimensions(**ckpt["dims"])
    model = whisper.Whisper(dims)
    model.load_state_dict(ckpt["model_state_dict"])
    if ckpt.get("alignment_heads"):
        model.set_alignment_heads(
            _alignment_mask(ckpt["alignment_heads"], dims.n_text_layer, dims.n_text_head)
        )
    model = model.float()
    if device.type == "cuda":
        model = model.half()
        for module in model.modules():  # whisper runs layer norms in fp32
            if isinstance(module, torch.nn.LayerNorm):
                module.float()
    return model.to(device).eval()


AUDIBLE_FRAME_S = 0.1


def audible_range(samples: torch.Tensor, sample_rate: int, floor_db: float) -> tuple[int, int]:
    """First and last sample of the part louder than ``floor_db`` (empty if none)."""
    frame = max(1, int(AUDIBLE_FRAME_S * sample_rate))
    usable = samples.shape[-1] // frame * frame
    if usable == 0:
        return (0, int(samples.shape[-1])) if _rms_db(samples) >= floor_db else (0, 0)
    power = samples[:usable].reshape(-1, frame).double().pow(2).mean(dim=1)
    loud = torch.nonzero(power >= 10 ** (floor_db / 10)).flatten()
    tail_loud = usable < samples.shape[-1] and _rms_db(samples[usable:]) >= floor_db
    if loud.numel() == 0:
        return (usable, int(samples.shape[-1])) if tail_loud else (0, 0)
    end = int(samples.shape[-1]) if tail_loud else (int(loud[-1]) + 1) * frame
    return int(loud[0]) * frame, end


def _rms_db(samples: torch.Tensor) -> float:
    power = float(samples.double().pow(2).mean()) if samples.numel() else 0.0
    return 10 * math.log10(power) if power > 0 else -math.inf


class WhisperTranscriber:
    """Run Whisper over the windows of many requests at once."""

    def __init__(
        self,
        model: whisper.Whisper,
        settings: DecodeSettings,
        vad: SileroVAD | None = None,
        vad_settings: VadSettings | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.vad = vad
        self.vad_settings = vad_settings or VadSettings()
        self.device = next(model.parameters()).device
        self.fp16 = self.device.type == "cuda"
        self.multilingual = model.is_multilingual
        self.tokenizer: Tokenizer = get_tokenizer(
            self.multilingual, num_languages=model.num_languages
        )

    @property
    def languages(self) -> dict[str, str]:
        return dict(LANGUAGES) if self.multilingual else {"en": LANGUAGES["en"]}

    def transcribe(
        self, jobs: Sequence[TranscriptionJob], sample_rate: int = whisper.audio.SAMPLE_RATE
    ) -> tuple[list[TranscriptionOutput], BatchStats]:
        stats = BatchStats(requests=len(jobs))
        per_job = self._windows(jobs, sample_rate, stats)
        work = [
            _WindowWork(job=index, window=window)
            for index, (windows, _) in enumerate(per_job)
            for window in windows
        ]
        stats.windows = len(work)

        with torch.inference_mode():
            self._encode(jobs, work)
            votes = self._choose_languages(jobs, work)
            self._decode(jobs, work, stats)
            self._add_words(jobs, work)

        outputs = []
        for index, job in enumerate(jobs):
            mine = [(w.window, w.segments) for w in work if w.job == index]
            segments = drop_repeats(stitch(mine, sample_rate), self.settings.max_repeats)
            language, probability = votes.get(index, (job.language, None))
            outputs.append(
                TranscriptionOutput(
                    text=" ".join(s.text for s in segments).strip(),
                    language=language,
                    language_probability=probability,
                    duration=round(job.samples.shape[-1] / sample_rate, 3),
                    segments=segments,
                    windows=len(mine),
                    speech_s=per_job[index][1],
                )
            )
        for w in work:  # free encoder outputs early; they are large on big models
            w.features = None
        return outputs, stats

    def _windows(
        self, jobs: Sequence[TranscriptionJob], sample_rate: int, stats: BatchStats
    ) -> list[tuple[list[Window], float | None]]:
        """Each request's windows, and the seconds of speech found (None without VAD)."""
        max_window_s = self.settings.max_window_s
        if self.vad is not None:
            # Digital silence at either end is cut off before the detector runs: an hour
            # of silence compresses to a tiny upload but would cost the VAD minutes.
            bounds = [
                audible_range(job.samples, sample_rate, self.settings.silence_db) for job in jobs
            ]
            probs = self.vad.probabilities(
                [job.samples[lo:hi] for job, (lo, hi) in zip(jobs, bounds, strict=True)]
            )
            out: list[tuple[list[Window], float | None]] = []
            for job, p, (lo, hi) in zip(jobs, probs, bounds, strict=True):
                spans = (
                    [
                        Span(lo + s.start, lo + s.end)
                        for s in speech_spans(p, hi - lo, self.vad_settings)
                    ]
                    if hi > lo
                    else []
                )
                windows = pack_speech(spans, job.samples, sample_rate, max_window_s=max_window_s)
                covered = sum(s.length for w in windows for s in w.spans)
                stats.skipped_seconds += (job.samples.shape[-1] - covered) / sample_rate
                out.append((windows, round(sum(s.length for s in spans) / sample_rate, 3)))
            return out
        plain: list[tuple[list[Window], float | None]] = []
        for job in jobs:
            kept = []
            for window in split_into_windows(job.samples, sample_rate, max_window_s=max_window_s):
                if _rms_db(window.audio(job.samples)) < self.settings.silence_db:
                    stats.skipped_silent += 1
                    stats.skipped_seconds += window.length / sample_rate
                else:
                    kept.append(window)
            plain.append((kept, None))
        return plain

    def _mel(self, jobs: Sequence[TranscriptionJob], batch: Sequence[_WindowWork]) -> torch.Tensor:
        mels = []
        for w in batch:
            audio = whisper.pad_or_trim(w.window.audio(jobs[w.job].samples), N_SAMPLES)
            mels.append(whisper.log_mel_spectrogram(audio, self.model.dims.n_mels))
        mel = torch.stack(mels).to(self.device)
        return mel.half() if self.fp16 else mel

    def _encode(self, jobs: Sequence[TranscriptionJob], work: list[_WindowWork]) -> None:
        for batch in micro_batches(work, self.settings.micro_batch_size):
            features = self.model.embed_audio(self._mel(jobs, batch))
            for w, feat in zip(batch, features, strict=True):
                w.features = feat

    def _choose_languages(
        self, jobs: Sequence[TranscriptionJob], work: list[_WindowWork]
    ) -> dict[int, tuple[str, float]]:
        """Fix each request's language: the caller's, or a duration-weighted vote."""
        votes: dict[int, tuple[str, float]] = {}
        pending = [w for w in work if jobs[w.job].language is None and self.multilingual]
        for w in work:
            if jobs[w.job].language is not None:
                w.language = jobs[w.job].language
            elif not self.multilingual:
                w.language = "en"
        totals: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for batch in micro_batches(pending, self.settings.micro_batch_size):
            features = torch.stack([w.features for w in batch])  # type: ignore[misc]
            _, probs = self.model.detect_language(features, self.tokenizer)
            for w, p in zip(batch, probs, strict=True):
                w.detected = max(p, key=p.get)
                weight = w.window.length
                for lang, value in p.items():
                    totals[w.job][lang] += value * weight
        for index, scores in totals.items():
            total = sum(scores.values())
            best = max(scores, key=scores.__getitem__)
            votes[index] = (best, round(scores[best] / total, 4))
        for w in pending:
            w.language = votes[w.job][0]
        for index, job in enumerate(jobs):
            if index not in votes and not self.multilingual and job.language is None:
                votes[index] = ("en", 1.0)
        return votes

    def _decode(
        self, jobs: Sequence[TranscriptionJob], work: list[_WindowWork], stats: BatchStats
    ) -> None:
        groups: dict[str, list[_WindowWork]] = defaultdict(list)
        for w in work:
            groups[jobs[w.job].task].append(w)
        for task, members in groups.items():
            todo = members
            for temperature in (0.0, *self.settings.temperature_fallback):
                for batch in micro_batches(todo, self.settings.micro_batch_size):
                    self._decode_batch(batch, task, temperature, stats)
                todo = [w for w in todo if self._needs_fallback(w.result)]
                if not todo:
                    break
        for w in work:
            w.segments = self._accepted_segments(w)

    def _decode_batch(
        self,
        batch: Sequence[_WindowWork],
        task: str,
        temperature: float,
        stats: BatchStats,
    ) -> None:
        features = torch.stack([w.features for w in batch])  # type: ignore[misc]
        if self.multilingual:
            options = whisper.DecodingOptions(
                task=task, temperature=temperature, without_timestamps=False, fp16=self.fp16
            )
            languages = [w.language or "en" for w in batch]
            results = _PresetLanguageDecoding(self.model, options, languages).run(features)
        else:
            options = whisper.DecodingOptions(
                task=task, language="en", temperature=temperature, without_timestamps=False,
                fp16=self.fp16,
            )  # fmt: skip
            results = DecodingTask(self.model, options).run(features)
        stats.forward_passes += 1
        stats.windows_per_pass.append(len(batch))
        for w, result in zip(batch, results, strict=True):
            if w.result is None or self._quality(result) > self._quality(w.result):
                w.result = result  # a hotter retry only replaces a worse answer

    def _quality(self, result: whisper.DecodingResult) -> tuple[bool, float]:
        """Ordering of attempts: no repetition loop first, then the model's confidence."""
        looping = result.compression_ratio > self.settings.compression_ratio_threshold
        return (not looping, result.avg_logprob)

    def _is_silence(self, result: whisper.DecodingResult) -> bool:
        """Whisper's rule: the model says no speech and is unsure of what it wrote."""
        s = self.settings
        return (
            result.no_speech_prob > s.no_speech_threshold
            and result.avg_logprob < s.logprob_threshold
        )

    def _needs_fallback(self, result: whisper.DecodingResult | None) -> bool:
        """Whisper's rule: retry hotter when the answer loops or the model is unsure."""
        if result is None:
            return False
        s = self.settings
        if (
            result.no_speech_prob > s.no_speech_threshold
            and result.avg_logprob < s.logprob_threshold
        ):
            return False  # silence: dropped below, no point in sampling
        return (
            result.compression_ratio > s.compression_ratio_threshold
            or result.avg_logprob < s.logprob_threshold
        )

    def _accepted_segments(self, w: _WindowWork) -> list[Segment]:
        result = w.result
        s = self.settings
        if result is None:
            return []
        if self._is_silence(result):
            return []
        if result.compression_ratio > s.compression_ratio_threshold:
            return []  # a repetition loop even after fallback: not speech
        pieces = self._segments_from_tokens(
            result, w.window.length / whisper.audio.SAMPLE_RATE, w.detected or w.language
        )
        w.segment_tokens = [tokens for _, tokens in pieces]
        return [segment for segment, _ in pieces]

    def _segments_from_tokens(
        self, result: whisper.DecodingResult, length_s: float, language: str | None
    ) -> list[tuple[Segment, list[int]]]:
        """Split a window's tokens at Whisper's timestamp tokens into timed segments."""
        begin = self.tokenizer.timestamp_begin
        eot = self.tokenizer.eot
        segments: list[tuple[Segment, list[int]]] = []
        start = 0.0
        text_tokens: list[int] = []

        def close(end: float) -> None:
            text = self.tokenizer.decode(text_tokens).strip()
            if text:
                segment = Segment(
                    start=start,
                    end=max(end, start),
                    text=text,
                    avg_logprob=round(result.avg_logprob, 4),
                    no_speech_prob=round(result.no_speech_prob, 4),
                    compression_ratio=round(result.compression_ratio, 4),
                    language=language,
                )
                segments.append((segment, list(text_tokens)))

        for token in result.tokens:
            if token >= begin:
                stamp = (token - begin) * TIME_PRECISION
                if text_tokens:
                    close(stamp)
                    text_tokens = []
                start = stamp
            elif token < eot:
                text_tokens.append(token)
        if text_tokens:
            close(length_s)
        return segments

    def _add_words(self, jobs: Sequence[TranscriptionJob], work: list[_WindowWork]) -> None:
        """Word timings from the alignment heads' cross-attention (on request only)."""
        for w in work:
            job = jobs[w.job]
            if not job.word_timestamps or not w.segments:
                continue
            audio = w.window.audio(job.samples)
            frames = int(audio.shape[-1]) // whisper.audio.HOP_LENGTH
            mel = whisper.log_mel_spectrogram(
                whisper.pad_or_trim(audio, N_SAMPLES), self.model.dims.n_mels
            ).to(self.device)
            tokenizer = get_tokenizer(
                self.multilingual,
                num_languages=self.model.num_languages,
                language=w.language or "en",
                task=job.task,
            )
            raw: list[dict[str, Any]] = [
                {"seek": 0, "start": seg.start, "end": seg.end, "tokens": tokens}
                for seg, tokens in zip(w.segments, w.segment_tokens, strict=True)
            ]
            try:
                add_word_timestamps(
                    segments=raw,
                    model=self.model,
                    tokenizer=tokenizer,
                    mel=mel,
                    num_frames=frames,
                    last_speech_timestamp=0.0,
                )
            finally:
                # Whisper's alignment hooks are not removed when it raises; left in place
                # they would break every later decode of this worker.
                for block in self.model.decoder.blocks:
                    block.cross_attn._forward_hooks.clear()
            w.segments = [
                replace(
                    seg,
                    start=float(item["start"]),
                    end=float(item["end"]),
                    words=tuple(
                        Word(
                            start=float(word["start"]),
                            end=float(word["end"]),
                            word=str(word["word"]),
                            probability=round(float(word["probability"]), 4),
                        )
                        for word in item.get("words", [])
                    ),
                )
                for seg, item in zip(w.segments, raw, strict=True)
            ]


def _normalised(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def drop_repeats(segments: list[Segment], max_repeats: int) -> list[Segment]:
    """Drop segments that repeat the previous text in a loop (a Whisper hallucination).

    Up to ``max_repeats`` identical consecutive segments are kept (people do say
    "no, no"); further copies are dropped.
    """
    kept: list[Segment] = []
    run = 0
    for segment in segments:
        same = bool(kept) and _normalised(segment.text) == _normalised(kept[-1].text)
        run = run + 1 if same else 1
        if run <= max_repeats:
            kept.append(segment)
    return kept
