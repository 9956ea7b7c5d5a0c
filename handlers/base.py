"""AudioHandler: the thin TorchServe layer over the audio pipeline.

``handle`` keeps TorchServe's batch contract: a list of N requests in, a list of N
responses out. Each request that fails (bad upload, bad option, too long) gets its own
status through ``context.set_response_status`` while the others go on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from handlers.audio import SAMPLE_RATE, DecodedAudio, decode_audio
from handlers.errors import InferenceError, RequestError
from handlers.requests import UploadedAudio, read_upload

logger = logging.getLogger(__name__)

DEFAULT_MAX_AUDIO_S = 1800.0


@dataclass
class AudioRequest:
    """One decoded request on its way through the model."""

    index: int
    upload: UploadedAudio
    audio: DecodedAudio
    options: Any = None
    timings: dict[str, float] = field(default_factory=dict)


class AudioHandler(BaseHandler):
    """Parse uploads, decode audio, run the model on the good ones, answer each one."""

    def initialize(self, context: Any) -> None:
        self.context = context
        properties = context.system_properties
        self.model_yaml_config = getattr(context, "model_yaml_config", {}) or {}
        self.settings: dict[str, Any] = dict(self.model_yaml_config.get("handler", {}) or {})
        gpu_id = properties.get("gpu_id")
        if torch.cuda.is_available() and gpu_id is not None:
            self.device = torch.device(f"cuda:{gpu_id}")
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
            torch.set_num_threads(int(self.settings.get("cpu_threads", 1)))
        self.max_audio_s = float(self.settings.get("max_audio_s", DEFAULT_MAX_AUDIO_S))
        manifest = getattr(context, "manifest", {}) or {}
        model_info = manifest.get("model", {})
        self.model_name = model_info.get("modelName") or getattr(context, "model_name", "model")
        self.model_version = str(model_info.get("modelVersion") or "1.0")
        self.load(properties.get("model_dir", "."), model_info.get("serializedFile"))
        self.initialized = True
        logger.info(
            "%s %s ready on %s (max audio %ss)",
            self.model_name,
            self.model_version,
            self.device,
            self.max_audio_s,
        )

    @abstractmethod
    def load(self, model_dir: str, serialized_file: str | None) -> None:
        """Load the model's weights from the archive's directory."""

    @abstractmethod
    def parse_options(self, raw: dict[str, str]) -> Any:
        """Validate a request's options; raise InvalidOptionError."""

    @abstractmethod
    def run(self, requests: Sequence[AudioRequest]) -> tuple[list[Any], dict[str, Any]]:
        """Run the model on decoded requests: one result each, and batch facts."""

    def handle(self, data: list[dict], context: Any) -> list[Any]:
        self.context = context
        started = time.perf_counter()
        items = self.preprocess(data)
        results = self.inference(items)
        outputs = self.postprocess(results)
        self._metric(
            "HandlerSeconds", time.perf_counter() - started, "Seconds", MetricTypes.HISTOGRAM
        )
        return outputs

    def preprocess(self, data: list[dict]) -> list[AudioRequest | RequestError]:
        items: list[AudioRequest | RequestError] = []
        for index, row in enumerate(data):
            began = time.perf_counter()
            try:
                headers = {k.lower(): v for k, v in self._headers(index).items()}
                upload = read_upload(row, headers.get, headers)
                options = self.parse_options(upload.options)
                audio = decode_audio(
                    upload.audio, max_duration_s=self.max_audio_s, sample_rate=SAMPLE_RATE
                )
            except RequestError as error:
                items.append(error)
                continue
            except Exception as exc:  # never let one upload fail its batch
                logger.exception("request %d could not be prepared", index)
                items.append(InferenceError(f"could not read the request: {exc}"))
                continue
            decode_s = time.perf_counter() - began
            self._metric("DecodeSeconds", decode_s, "Seconds", MetricTypes.HISTOGRAM)
            items.append(
                AudioRequest(index, upload, audio, options, {"decode_s": round(decode_s, 4)})
            )
        return items

    def inference(self, items: list[AudioRequest | RequestError]) -> list[Any]:
        good = [item for item in items if isinstance(item, AudioRequest)]
        results: dict[int, Any] = {}
        if good:
            began = time.perf_counter()
            try:
                outputs, facts = self.run(good)
                results.update(
                    {req.index: (out, facts) for req, out in zip(good, outputs, strict=True)}
                )
            except Exception:
                # One poisoned item must not sink the batch: retry each alone.
                logger.exception("batch of %d failed; retrying one by one", len(good))
                for req in good:
                    try:
                        (out,), facts = self.run([req])
                        results[req.index] = (out, facts)
                    except Exception as exc:
                        logger.exception("request %d failed", req.index)
                        results[req.index] = InferenceError(f"inference failed: {exc}")
            elapsed = time.perf_counter() - began
            self._metric("InferenceSeconds", elapsed, "Seconds", MetricTypes.HISTOGRAM)
            for req in good:
                req.timings["inference_s"] = round(elapsed, 4)
        ordered: list[Any] = []
        for index, item in enumerate(items):
            if isinstance(item, RequestError):
                ordered.append(item)
            elif isinstance(results[index], RequestError):
                ordered.append(results[index])
            else:
                ordered.append((item, *results[index]))
        return ordered

    @abstractmethod
    def respond(self, request: AudioRequest, output: Any, facts: dict[str, Any]) -> Any:
        """Build one response body and set its content type."""

    def postprocess(self, results: list[Any]) -> list[Any]:
        responses = []
        for index, result in enumerate(results):
            if isinstance(result, RequestError):
                self._set_status(index, result.status, result.message)
                self._metric("RequestErrors", 1, "Count", MetricTypes.COUNTER, error=result.type)
                self._set_content_type(index, "application/json")
                responses.append(result.to_body())
                continue
            request, output, facts = result
            request.timings["total_s"] = round(sum(request.timings.values()), 4)
            responses.append(self.respond(request, output, facts))
        return responses

    # --- TorchServe context helpers (tolerant of minimal test contexts) ---

    def _headers(self, index: int) -> dict[str, str]:
        getter = getattr(self.context, "get_all_request_header", None)
        try:
            return dict(getter(index) or {}) if getter else {}
        except (AttributeError, IndexError, TypeError):
            return {}

    def _set_status(self, index: int, status: int, message: str) -> None:
        self.context.set_response_status(status, reason_phrase(message), idx=index)

    def _set_content_type(self, index: int, value: str) -> None:
        setter = getattr(self.context, "set_response_content_type", None)
        if setter is not None:
            with contextlib.suppress(AttributeError, IndexError, TypeError):
                setter(index, value)

    def _metric(self, name: str, value: float, unit: str, kind: MetricTypes, **dims: str) -> None:
        metrics = getattr(self.context, "metrics", None)
        if metrics is None:
            return
        dimensions = [Dimension("ModelName", self.model_name), Dimension("Level", "Model")]
        dimensions += [Dimension(_camel(k), v) for k, v in dims.items()]
        try:
            metrics.add_metric(f"VoxServe{name}", value, unit, None, dimensions, kind)
        except Exception:  # metrics must never fail a request
            logger.debug("metric %s not recorded", name, exc_info=True)


MAX_PHRASE = 400


def reason_phrase(message: str) -> str:
    """The message as an HTTP reason phrase: one line, ASCII, bounded.

    TorchServe frames the phrase by its length in characters but sends UTF-8 bytes, so
    a single non-ASCII character would corrupt the frame and kill the worker.
    """
    line = " ".join(message.split())
    return line.encode("ascii", "backslashreplace").decode("ascii")[:MAX_PHRASE]


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
