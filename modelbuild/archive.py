"""Pack a checkpoint, the handler package and the model's yaml into a TorchServe .mar."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
HANDLERS = PROJECT / "handlers"
HANDLER_ENTRY = "handlers/speech_to_text.py"
VAD_HANDLER_ENTRY = "handlers/speech_segments.py"


def build_archive(
    *,
    model_name: str,
    version: str,
    checkpoint: Path,
    config_file: Path,
    export_path: Path,
    handler: str = HANDLER_ENTRY,
    extra_files: dict[str, Path] | None = None,
) -> Path:
    """Run torch-model-archiver; returns the .mar path (replaced if it exists).

    ``extra_files`` maps a name in the archive's root to the file to put there.
    """
    export_path.mkdir(parents=True, exist_ok=True)
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    with tempfile.TemporaryDirectory() as tmp:
        # The archiver copies a folder's contents flat into the archive root, so the
        # package is staged inside a folder of its own to keep ``handlers/`` importable.
        stage = Path(tmp) / "extra"
        shutil.copytree(
            HANDLERS, stage / "handlers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        for name, source in (extra_files or {}).items():
            shutil.copy2(source, stage / name)
        command = [
            str(archiver),
            "--model-name", model_name,
            "--version", version,
            "--serialized-file", str(checkpoint),
            "--handler", str(PROJECT / handler),
            "--extra-files", str(stage),
            "--config-file", str(config_file),
            "--export-path", str(export_path),
            "--archive-format", "default",
            "--force",
        ]  # fmt: skip
        subprocess.run(command, check=True)
    return export_path / f"{model_name}.mar"
