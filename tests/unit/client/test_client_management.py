"""Management helpers, health and metrics speak TorchServe's management API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import Script, respond

pytestmark = pytest.mark.anyio

MGMT = "http://127.0.0.1:8081"


def description(*statuses: str, version: str = "1.0") -> dict[str, Any]:
    return {
        "modelName": "whisper-base",
        "modelVersion": version,
        "batchSize": 8,
        "maxBatchDelay": 50,
        "workers": [{"id": str(9000 + n), "status": status} for n, status in enumerate(statuses)],
    }


async def test_list_models_follows_pages(make_harness: Any) -> None:
    script = Script(
        respond(200, {"models": [{"modelName": "a", "modelUrl": "a.mar"}], "nextPageToken": "1"}),
        respond(200, {"models": [{"modelName": "b", "modelUrl": "b.mar"}]}),
    )
    harness = make_harness(script)

    models = await harness.call("list_models")

    assert [m["modelName"] for m in models] == ["a", "b"]
    assert script.requests[0].url.path == "/models"
    assert script.requests[1].url.params["next_page_token"] == "1"


@pytest.mark.parametrize(
    ("version", "path"),
    [
        (None, "/models/whisper-base"),
        ("2.0", "/models/whisper-base/2.0"),
        ("all", "/models/whisper-base/all"),
    ],
)
async def test_describe_model(make_harness: Any, version: str | None, path: str) -> None:
    script = Script(respond(200, [description("READY")]))
    harness = make_harness(script)

    described = await harness.call("describe_model", "whisper-base", version)

    assert described[0]["batchSize"] == 8
    assert script.requests[0].method == "GET"
    assert str(script.requests[0].url) == MGMT + path


async def test_register_model_sends_its_settings(make_harness: Any) -> None:
    script = Script(respond(200, {"status": 'Model "whisper-base" Version: 2.0 registered'}))
    harness = make_harness(script)

    answer = await harness.call(
        "register_model",
        "whisper-base-2.0.mar",
        model_name="whisper-base",
        batch_size=8,
        max_batch_delay=50,
        initial_workers=2,
    )

    request = script.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/models"
    assert dict(request.url.params) == {
        "url": "whisper-base-2.0.mar",
        "model_name": "whisper-base",
        "batch_size": "8",
        "max_batch_delay": "50",
        "initial_workers": "2",
        "synchronous": "true",
    }
    assert "registered" in answer["status"]


async def test_set_default(make_harness: Any) -> None:
    script = Script(respond(200, {"status": "Default version succsesfully updated"}))
    harness = make_harness(script)

    await harness.call("set_default", "whisper-base", "2.0")

    assert script.requests[0].method == "PUT"
    assert str(script.requests[0].url) == MGMT + "/models/whisper-base/2.0/set-default"


async def test_scale_workers(make_harness: Any) -> None:
    script = Script(respond(200, {"status": "Workers updated"}))
    harness = make_harness(script)

    await harness.call("scale_workers", "whisper-base", 2, 4, version="2.0")

    request = script.requests[0]
    assert request.method == "PUT"
    assert request.url.path == "/models/whisper-base/2.0"
    assert dict(request.url.params) == {"min_worker": "2", "max_worker": "4", "synchronous": "true"}


async def test_unregister_model(make_harness: Any) -> None:
    script = Script(respond(200, {"status": "Model unregistered"}))
    harness = make_harness(script)

    await harness.call("unregister_model", "whisper-base", "1.0")

    assert script.requests[0].method == "DELETE"
    assert str(script.requests[0].url) == MGMT + "/models/whisper-base/1.0"


async def test_management_not_found(make_harness: Any) -> None:
    answer = respond(
        404, {"code": 404, "type": "ModelNotFoundException", "message": "Model not found: x"}
    )
    harness = make_harness(Script(answer))

    with pytest.raises(voxserve.ModelNotFoundError, match="model 'x'"):
        await harness.call("describe_model", "x")


async def test_health_of_the_server(make_harness: Any) -> None:
    script = Script(respond(200, {"status": "Healthy"}))
    harness = make_harness(script)

    health = await harness.call("health")

    assert health
    assert health.status == "Healthy"
    assert str(script.requests[0].url) == "http://127.0.0.1:8080/ping"


async def test_health_of_a_model_needs_a_ready_worker(make_harness: Any) -> None:
    script = Script(
        respond(200, {"status": "Healthy"}),
        respond(200, [description("READY", "UNLOADING")]),
        respond(200, {"status": "Healthy"}),
        respond(200, [description("UNLOADING")]),
    )
    harness = make_harness(script)

    ready = await harness.call("health", "whisper-base")
    not_ready = await harness.call("health", "whisper-base")

    assert ready and ready.ready_workers == 1
    assert not not_ready
    assert not_ready.ready_workers == 0
    assert "no worker in state READY" in not_ready.detail
    assert str(script.requests[1].url) == MGMT + "/models/whisper-base"


async def test_health_never_raises(make_harness: Any) -> None:
    script = Script(httpx.ConnectError("Connection refused"))
    harness = make_harness(script)

    health = await harness.call("health")

    assert not health
    assert "cannot connect" in health.detail
    assert script.calls == 1, "a health check answers at once, without retries"


async def test_metrics(make_harness: Any) -> None:
    text = "# TYPE ts_queue_latency_microseconds counter\nts_queue_latency_microseconds 12.0\n"
    harness = make_harness(Script(respond(200, text=text)))

    assert await harness.call("metrics") == text


async def test_urls_are_configurable(make_harness: Any) -> None:
    script = Script(respond(200, {"status": "Healthy"}), respond(200, {"models": []}))
    harness = make_harness(
        script,
        base_url="https://asr.example.com/voxserve/",
        management_url="http://10.0.0.5:9081",
    )

    await harness.call("health")
    await harness.call("list_models")

    assert str(script.requests[0].url) == "https://asr.example.com/voxserve/ping"
    assert script.requests[1].url.host == "10.0.0.5"
