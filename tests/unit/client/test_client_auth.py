"""Bearer tokens, TorchServe's key file, and re-reading it when a key is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import voxserve
from client_fakes import SERVER_RESULT, Script, ok, respond

pytestmark = pytest.mark.anyio

AUDIO = b"RIFF....WAVEfmt "
# TorchServe 0.12 refuses a missing, wrong or expired key with 400, not 401.
REFUSED = respond(400, {"code": 400, "type": "InvalidKeyException", "message": "Token failed"})


def write_keys(path: Path, inference: str, management: str = "m-key") -> None:
    path.write_text(
        json.dumps(
            {
                "management": {"key": management, "expiration time": "2030-01-01T00:00:00Z"},
                "inference": {"key": inference, "expiration time": "2030-01-01T00:00:00Z"},
                "API": {"key": "api-key"},
            }
        )
    )


class KeyCheckingServer:
    """Accepts only the current inference key, and records what each request carried."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.seen: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return httpx.Response(
                400, json={"code": 400, "type": "InvalidKeyException", "message": "Token failed"}
            )
        return httpx.Response(200, json=SERVER_RESULT)


async def test_token_is_sent_as_bearer(make_harness: Any) -> None:
    script = Script()
    harness = make_harness(script, token="s3cret")

    await harness.call("transcribe", AUDIO)

    assert script.requests[0].headers["authorization"] == "Bearer s3cret"


async def test_no_credentials_send_no_header(make_harness: Any) -> None:
    script = Script()
    harness = make_harness(script)

    await harness.call("transcribe", AUDIO)

    assert "authorization" not in script.requests[0].headers


async def test_key_file_gives_each_api_its_key(make_harness: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "key_file.json"
    write_keys(key_file, inference="i-key", management="m-key")
    script = Script(ok, respond(200, {"models": []}))
    harness = make_harness(script, key_file=key_file)

    await harness.call("transcribe", AUDIO)
    await harness.call("list_models")

    assert script.requests[0].headers["authorization"] == "Bearer i-key"
    assert script.requests[1].headers["authorization"] == "Bearer m-key"


async def test_key_file_is_reread_when_the_key_is_refused(
    make_harness: Any, tmp_path: Path
) -> None:
    key_file = tmp_path / "key_file.json"
    write_keys(key_file, inference="old-key")
    server = KeyCheckingServer("old-key")
    harness = make_harness(server, key_file=key_file)
    await harness.call("transcribe", AUDIO)

    # TorchServe restarts: new keys in the file, the old one refused.
    write_keys(key_file, inference="new-key")
    server.key = "new-key"
    result = await harness.call("transcribe", AUDIO)

    assert result.text == SERVER_RESULT["text"]
    assert server.seen == ["Bearer old-key", "Bearer old-key", "Bearer new-key"]


async def test_unchanged_key_is_not_retried(make_harness: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "key_file.json"
    write_keys(key_file, inference="stale-key")
    script = Script(REFUSED, ok)
    harness = make_harness(script, key_file=key_file)

    with pytest.raises(voxserve.AuthenticationError) as caught:
        await harness.call("transcribe", AUDIO)

    assert script.calls == 1
    assert str(key_file) in str(caught.value)
    assert caught.value.status == 400


async def test_key_file_is_reread_only_once(make_harness: Any, tmp_path: Path) -> None:
    key_file = tmp_path / "key_file.json"
    write_keys(key_file, inference="key-1")
    keys = iter(["key-2", "key-3", "key-4"])

    def refuse_and_rotate(request: httpx.Request) -> httpx.Response:
        write_keys(key_file, inference=next(keys))
        return httpx.Response(401)

    script = Script(refuse_and_rotate)
    harness = make_harness(script, key_file=key_file)

    with pytest.raises(voxserve.AuthenticationError):
        await harness.call("transcribe", AUDIO)

    assert [r.headers["authorization"] for r in script.requests] == [
        "Bearer key-1",
        "Bearer key-2",
    ]


async def test_refused_token_says_what_to_do(make_harness: Any) -> None:
    harness = make_harness(Script(REFUSED), token="wrong")

    with pytest.raises(voxserve.AuthenticationError) as caught:
        await harness.call("transcribe", AUDIO)

    assert "token=" in str(caught.value)


async def test_metrics_carry_no_token(make_harness: Any) -> None:
    script = Script(respond(200, text="# HELP ts_inference_requests_total\n"))
    harness = make_harness(script, token="s3cret")

    text = await harness.call("metrics")

    assert text.startswith("# HELP")
    assert "authorization" not in script.requests[0].headers
    assert str(script.requests[0].url) == "http://127.0.0.1:8082/metrics"


def test_token_and_key_file_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        voxserve.Client(token="a", key_file=tmp_path / "key_file.json")


async def test_a_plain_400_is_not_mistaken_for_a_refused_key(
    make_harness: Any, tmp_path: Path
) -> None:
    key_file = tmp_path / "key_file.json"
    write_keys(key_file, inference="key-1")
    bad_option = {"error": {"status": 400, "type": "invalid_option", "message": "invalid task"}}
    script = Script(respond(400, bad_option))
    harness = make_harness(script, key_file=key_file)

    with pytest.raises(voxserve.InvalidOptionError):
        await harness.call("transcribe", AUDIO)
    assert script.calls == 1
