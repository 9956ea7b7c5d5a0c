"""A real TorchServe (Java frontend, Python workers, the built .mar archives) started
once per test session on free ports, in a run directory of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import voxserve

from server.process import MODEL_STORE, OPS_OVERRIDES, Ports, TorchServe

BASE = "whisper-base"
TINY = "whisper-tiny-en"
VAD = "speech-segments"
MODELS = (BASE, TINY, VAD)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServe]:
    for name in MODELS:
        if not (MODEL_STORE / f"{name}.mar").exists():
            pytest.fail(f"model_store/{name}.mar missing: run `make setup` (make test does)")
    # A model store of the session's own (links to the built archives), so tests can
    # add versions without touching model_store/. The model API is on for the test
    # session so the MLOps helpers can be exercised; management stays on loopback and
    # needs its key.
    store = tmp_path_factory.mktemp("model_store")
    for name in MODELS:
        (store / f"{name}.mar").symlink_to(MODEL_STORE / f"{name}.mar")
    ts = TorchServe(
        tmp_path_factory.mktemp("torchserve"),
        {name: f"{name}.mar" for name in MODELS},
        ports=Ports.free(),
        model_store=store,
        overrides=OPS_OVERRIDES,
    )
    try:
        ts.start()
    except Exception:
        ts.stop()
        raise
    yield ts
    ts.stop()


def client_kwargs(server: TorchServe) -> dict:
    return {
        "management_url": server.management_url,
        "metrics_url": server.metrics_url,
        "key_file": server.key_file,
    }


@pytest.fixture
def client(server: TorchServe) -> Iterator[voxserve.Client]:
    with voxserve.Client(server.inference_url, **client_kwargs(server)) as vs:
        yield vs


@pytest.fixture
async def aclient(server: TorchServe):
    async with voxserve.AsyncClient(server.inference_url, **client_kwargs(server)) as vs:
        yield vs


def corrupt_copy(clip: Path, out: Path) -> Path:
    """A plausible-looking upload whose audio is garbage after the first bytes."""
    data = bytearray(clip.read_bytes())
    data[64:] = bytes((i * 37 + 11) % 256 for i in range(len(data) - 64))
    out.write_bytes(b"OggS" + bytes(data[4:]))
    return out
