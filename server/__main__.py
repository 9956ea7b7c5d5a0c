"""``python -m server start|stop|status``: run VoxServe's TorchServe in the background."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server.process import OPS_OVERRIDES, PROJECT, Ports, ServerError, TorchServe

DEFAULT_RUN_DIR = PROJECT / ".run"
DEFAULT_MODELS = "whisper-base,whisper-tiny-en,speech-segments"


def _server(run_dir: Path, models: str = DEFAULT_MODELS, ops: bool = False) -> TorchServe:
    state = run_dir / "server.json"
    if state.exists():
        saved = json.loads(state.read_text())
        return TorchServe(run_dir, saved["models"], ports=Ports(**saved["ports"]))
    names = [m for m in models.split(",") if m]
    overrides = OPS_OVERRIDES if ops else None
    return TorchServe(run_dir, {name: f"{name}.mar" for name in names}, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server")
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated archive names")
    parser.add_argument("--ops", action="store_true", help="turn the management model API on")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()

    if args.command == "start":
        existing = _server(run_dir)
        if existing.pid() is not None:
            print(f"TorchServe already running (pid {existing.pid()}); `make stop` first")
            return 1
        (run_dir / "server.json").unlink(missing_ok=True)
        server = _server(run_dir, args.models, args.ops)
        try:
            server.start()
        except (ServerError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            server.stop()
            return 1
        print(f"TorchServe ready: {', '.join(server.models)} (all workers READY)")
        print(f"  inference  {server.inference_url}/predictions/<model>")
        print(f"  management {server.management_url}   metrics {server.metrics_url}/metrics")
        print(f"  token: key_file {server.key_file} (key 'inference'; new at every start)")
        print(f"  logs: {run_dir / 'logs'}")
        return 0
    server = _server(run_dir)
    if args.command == "stop":
        if server.pid() is None:
            print("TorchServe is not running")
            return 0
        server.stop()
        print("TorchServe stopped")
        return 0
    pid = server.pid()
    if pid is None:
        print("TorchServe is not running")
        return 1
    print(f"TorchServe running (pid {pid})")
    for model in server.models:
        print(f"  {model}: workers {server.worker_status(model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
