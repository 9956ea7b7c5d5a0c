"""The handler keeps TorchServe's batch contract: N requests in, N answers out, each
with its own status, and good requests succeed beside bad ones (real tiny.en weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jiwer import wer
from ts.torch_handler.unit_tests.test_utils.mock_context import MockContext
from whisper.normalizers import EnglishTextNormalizer

from handlers.speech_to_text import SpeechToTextHandler
from modelbuild.sources import cached_checkpoint_path, resolve_checkpoint
from tests.conftest import silent_wav

PROJECT = Path(__file__).resolve().parents[2]


class BatchContext(MockContext):
    """TorchServe's MockContext plus the per-request calls a real Context has."""

    def __init__(self, model_dir: Path, headers: list[dict[str, str]] | None = None) -> None:
        super().__init__(
            model_pt_file="model.pt",
            model_dir=str(model_dir),
            model_file=None,
            model_name="whisper-tiny-en",
        )
        self.manifest["model"].update(modelName="whisper-tiny-en", modelVersion="1.0")
        self.model_yaml_config = yaml.safe_load(
            (PROJECT / "config/models/whisper-tiny-en.yaml").read_text()
        )
        self.headers = headers or []
        self.statuses: dict[int, tuple[int, str]] = {}
        self.content_types: dict[int, str] = {}

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.statuses[idx] = (code, phrase)

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_types[idx] = value

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return self.headers[idx] if idx < len(self.headers) else {}

    def status(self, idx: int) -> int:
        return self.statuses.get(idx, (200, ""))[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-en")
    checkpoint = resolve_checkpoint("tiny.en", cached_checkpoint_path("tiny.en"))
    (directory / "model.pt").symlink_to(checkpoint)
    return directory


@pytest.fixture(scope="module")
def handler(model_dir) -> SpeechToTextHandler:
    handler = SpeechToTextHandler()
    handler.initialize(BatchContext(model_dir))
    return handler


def _words_ok(text: str, reference: str) -> bool:
    normalise = EnglishTextNormalizer()
    return wer(normalise(reference), normalise(text)) <= 0.35


def test_mixed_batch_answers_every_item_with_its_own_status(
    handler, model_dir, short_english, containers
):
    good = short_english.read()
    batch = [
        {"file": good},
        {"file": b"definitely not audio" * 50},
        {"file": b""},
        {"data": good, "language": "fr"},
        {"file": containers["m4a"].read_bytes(), "response_format": "text"},
        {"body": good},
        {"file": good, "task": "translate"},
    ]
    headers = [{}, {}, {}, {}, {}, {"X-VoxServe-Response-Format": "srt"}, {}]
    context = BatchContext(model_dir, headers)
    outputs = handler.handle(batch, context)

    assert len(outputs) == len(batch)
    assert [context.status(i) for i in range(len(batch))] == [200, 415, 400, 400, 200, 200, 400]
    assert _words_ok(outputs[0]["text"], short_english.text)
    assert outputs[0]["batch"]["requests"] == 3  # the three good uploads ran together
    assert outputs[0]["batch"]["max_windows_per_pass"] == 3  # the srt one, the text one, and this
    assert outputs[1]["error"]["type"] == "invalid_audio"
    assert "not a recognised audio file" in context.statuses[1][1]
    assert outputs[2]["error"]["type"] == "empty_audio"
    assert "valid values: en" in outputs[3]["error"]["message"]
    assert _words_ok(outputs[4], short_english.text) and context.content_types[4].startswith(
        "text/plain"
    )
    assert (
        outputs[5].startswith("1\n00:00:00,000 --> ")
        and "application/x-subrip" in context.content_types[5]
    )
    assert "English-only" in outputs[6]["error"]["message"]
    json.dumps(outputs[0])  # what TorchServe will serialise


def test_silence_gives_empty_text_not_hallucinations(handler, model_dir):
    context = BatchContext(model_dir)
    (output,) = handler.handle([{"file": silent_wav(7)}], context)
    assert context.status(0) == 200
    assert output["text"] == "" and output["segments"] == []
    assert output["duration"] == pytest.approx(7.0)


def test_a_failing_model_call_fails_only_its_own_request(
    handler, model_dir, short_english, monkeypatch
):
    """If the batched pass raises, requests are retried alone: one poison item, one 500."""
    original = handler.transcriber.transcribe
    poison = 3.0  # the poisoned upload is the only one exactly 3 s long

    def flaky(jobs, *args, **kwargs):
        if any(abs(job.samples.shape[-1] / 16000 - poison) < 1e-6 for job in jobs):
            raise RuntimeError("simulated kernel failure")
        return original(jobs, *args, **kwargs)

    monkeypatch.setattr(handler.transcriber, "transcribe", flaky)
    context = BatchContext(model_dir)
    outputs = handler.handle(
        [{"file": short_english.read()}, {"file": silent_wav(poison)}], context
    )
    assert [context.status(0), context.status(1)] == [200, 500]
    assert _words_ok(outputs[0]["text"], short_english.text)
    assert "simulated kernel failure" in outputs[1]["error"]["message"]


def test_a_failed_word_alignment_does_not_poison_the_worker(
    handler, model_dir, short_english, monkeypatch
):
    import whisper.timing

    import handlers.transcriber as transcriber

    def broken(**kwargs):
        block = kwargs["model"].decoder.blocks[0]
        block.cross_attn.register_forward_hook(lambda *a: None)  # as whisper does, then fails
        raise RuntimeError("alignment failed")

    monkeypatch.setattr(transcriber, "add_word_timestamps", broken)
    context = BatchContext(model_dir)
    (failed,) = handler.handle([{"file": short_english.read(), "word_timestamps": "true"}], context)
    assert context.status(0) == 500 and "alignment failed" in failed["error"]["message"]

    monkeypatch.setattr(transcriber, "add_word_timestamps", whisper.timing.add_word_timestamps)
    context = BatchContext(model_dir)
    (output,) = handler.handle([{"file": short_english.read(), "word_timestamps": "true"}], context)
    assert context.status(0) == 200
    assert _words_ok(output["text"], short_english.text)
    words = [w for s in output["segments"] for w in s["words"]]
    assert _words_ok(" ".join(w["word"] for w in words), short_english.text)
