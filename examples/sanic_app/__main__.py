"""``python -m examples.sanic_app``: serve the example app in one process."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .app import AppConfig, create_app

_DEFAULTS = AppConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m examples.sanic_app",
        description="Serve the VoxServe example app (uploads API + live page) in one process.",
    )
    parser.add_argument("--voxserve-url", default=_DEFAULTS.voxserve_url)
    parser.add_argument(
        "--key-file",
        type=Path,
        default=None,
        help="TorchServe's key_file.json (make serve: .run/key_file.json)",
    )
    parser.add_argument("--model", default=_DEFAULTS.model)
    parser.add_argument("--db", type=Path, default=_DEFAULTS.db_path, help="SQLite file of uploads")
    parser.add_argument("--upload-dir", type=Path, default=_DEFAULTS.upload_dir)
    parser.add_argument("--upload-concurrency", type=int, default=_DEFAULTS.upload_concurrency)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Sanic logs its own lines; this shows the app's (resumed uploads...) beside them.
    app_log = logging.getLogger(__package__)
    app_log.setLevel(logging.INFO)
    app_log.addHandler(logging.StreamHandler())
    config = AppConfig(
        voxserve_url=args.voxserve_url,
        key_file=args.key_file,
        model=args.model,
        db_path=args.db,
        upload_dir=args.upload_dir,
        upload_concurrency=args.upload_concurrency,
    )
    app = create_app(config)
    # One process: pending uploads are resumed at start, which two workers would each do.
    app.run(host=args.host, port=args.port, single_process=True, motd=False, access_log=False)


if __name__ == "__main__":
    main()
