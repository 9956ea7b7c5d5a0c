"""One TorchServe instance in a run directory of its own.

Each instance gets its own working directory (logs, key_file.json), its own TMPDIR
(TorchServe keeps its pid file there, so two instances never stop each other) and a
runtime copy of config/config.properties with absolute paths and the chosen ports.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CONFIG = PROJECT / "config" / "config.properties"
# Operators turn the management model API on to register, canary and roll back.
OPS_OVERRIDES = {"enable_model_api": "true"}
METRICS_CONFIG = PROJECT / "config" / "metrics.yaml"
MODEL_STORE = PROJECT / "model_store"
READY_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0


class ServerError(RuntimeError):
    """TorchServe did not start, did not get ready, or did not stop."""


WORKER_SOCKETS = 32  # worker socket names reserved per instance


@dataclass(frozen=True)
class Ports:
    inference: int = 8080
    management: int = 8081
    metrics: int = 8082
    grpc_inference: int = 7070
    grpc_management: int = 7071
    # Workers talk to the frontend over /tmp/.ts.sock.<n> from this number up; two
    # instances sharing it would steal each other's worker sockets.
    worker_base: int = 9000

    @classmethod
    def free(cls) -> Ports:
        """Ports the OS reports free right now (for tests and side-by-side runs)."""
        sockets = []
        for _ in range(5):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        ports = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.close()
        return cls(*ports, worker_base=_free_worker_base())

    def tcp(self) -> tuple[int, ...]:
        return (
            self.inference, self.management, self.metrics, self.grpc_inference,
            self.grpc_management,
        )  # fmt: skip


def _free_worker_base() -> int:
    """A worker numbering no running TorchServe uses (no socket files in the range)."""
    tmp = Path(tempfile.gettempdir())
    for _ in range(200):
        base = random.randrange(20_000, 60_000, WORKER_SOCKETS)
        if not any((tmp / f".ts.sock.{base + i}").exists() for i in range(WORKER_SOCKETS)):
            return base
    raise ServerError("no free worker socket range found in the temp directory")


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def read_properties(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


class TorchServe:
    """A TorchServe process serving ``models`` (name -> .mar file in ``model_store``)."""

    def __init__(
        self,
        run_dir: Path,
        models: dict[str, str],
        *,
        ports: Ports | None = None,
        model_store: Path = MODEL_STORE,
        config: Path = CONFIG,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.run_dir = run_dir.resolve()
        self.models = models
        self.ports = ports or Ports()
        self.model_store = model_store.resolve()
        self.config = config
        self.overrides = overrides or {}

    # --- addresses and keys ---

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.inference}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.management}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.metrics}"

    @property
    def key_file(self) -> Path:
        return self.run_dir / "key_file.json"

    def keys(self) -> dict[str, str]:
        """The current keys: ``inference``, ``management``, ``API`` (empty if auth is off)."""
        if not self.key_file.exists():
            return {}
        data = json.loads(self.key_file.read_text())
        return {name: entry["key"] for name, entry in data.items()}

    # --- lifecycle ---

    def write_config(self) -> Path:
        props = read_properties(self.config)
        props.update(
            {
                "inference_address": self.inference_url,
                "management_address": self.management_url,
                "metrics_address": self.metrics_url,
                "grpc_inference_port": str(self.ports.grpc_inference),
                "grpc_management_port": str(self.ports.grpc_management),
                "initial_worker_port": str(self.ports.worker_base),
                "model_store": str(self.model_store),
                "metrics_config": str(METRICS_CONFIG),
                "allowed_urls": f"file://{self.model_store}/.*\\\\.mar",
            }
        )
        props.update(self.overrides)
        path = self.run_dir / "config.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        tmp = self.run_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        env.update(
            TMPDIR=str(tmp),
            LOG_LOCATION=str(self.run_dir / "logs"),
            METRICS_LOCATION=str(self.run_dir / "logs"),
            # Workers use this Python; keep them on one thread each unless told otherwise.
            OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
        )
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        return env

    def _torchserve(self) -> str:
        found = Path(sys.executable).with_name("torchserve")
        return str(found) if found.exists() else (shutil.which("torchserve") or "torchserve")

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Start and return once every model has a READY worker."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _name, mar in self.models.items():
            if not (self.model_store / mar).exists():
                raise ServerError(f"{self.model_store / mar} is missing: run `make setup` first")
        busy = [port for port in self.ports.tcp() if _port_in_use(port)]
        if busy:
            raise ServerError(
                f"port(s) {', '.join(map(str, busy))} already in use (another TorchServe? "
                "`make stop`, or pick other ports)"
            )
        self.key_file.unlink(missing_ok=True)
        config = self.write_config()
        models = [f"{name}={mar}" for name, mar in self.models.items()]
        command = [
            self._torchserve(), "--start", "--ncs",
            "--model-store", str(self.model_store),
            "--ts-config", str(config),
            "--models", *models,
        ]  # fmt: skip
        with open(self.run_dir / "torchserve.out", "ab") as out:
            subprocess.run(
                command, cwd=self.run_dir, env=self._env(), stdout=out, stderr=out, check=True
            )
        (self.run_dir / "server.json").write_text(
            json.dumps({"ports": asdict(self.ports), "models": self.models}, indent=2)
        )
        self.wait_ready(timeout)

    def _get(self, url: str, key: str | None) -> tuple[int, str]:
        request = urllib.request.Request(url)
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def worker_status(self, model: str) -> list[str]:
        code, body = self._get(
            f"{self.management_url}/models/{model}", self.keys().get("management")
        )
        if code != 200:
            return []
        return [w.get("status", "") for entry in json.loads(body) for w in entry.get("workers", [])]

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.models)
        while pending:
            for model in list(pending):
                try:
                    if "READY" in self.worker_status(model):
                        pending.discard(model)
                except (urllib.error.URLError, OSError, json.JSONDecodeError, ValueError):
                    pass
            if not pending:
                return
            if self.pid() is None:
                raise ServerError(
                    f"TorchServe exited during start-up; see {self.run_dir / 'logs'}\n"
                    f"{self.log_tail(name='ts_log.log')}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"workers of {sorted(pending)} not READY after {timeout:.0f} s; "
                    f"see {self.run_dir / 'logs' / 'model_log.log'}\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def pid(self) -> int | None:
        pid_file = self.run_dir / "tmp" / ".model_server.pid"
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop and wait until the frontend process is gone (ports free again)."""
        pid = self.pid()
        if pid is None:
            return
        subprocess.run(
            [self._torchserve(), "--stop"], cwd=self.run_dir, env=self._env(),
            capture_output=True, check=False,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 40, name: str = "model_log.log") -> str:
        log = self.run_dir / "logs" / name
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
