"""`create_app`: the Sanic app in front of VoxServe, built from an `AppConfig`.

Routes: ``POST /uploads`` and ``GET /uploads/<id>`` (uploads.py), the ``/sock``
websocket (live.py), ``GET /`` and ``/static/`` (the realtime page), ``GET /languages``
(the picker's list) and ``GET /health``.

Two `voxserve.AsyncClient`s are opened when the server starts and closed when it
stops: one for uploads, capped low so a burst of long files cannot take every
connection, and one for live windows, which are short and wanted now. Run the app in
one process (as ``python -m examples.sanic_app`` does): uploads left pending are sent
again at start, and two processes would each send them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Final, TypeAlias

import voxserve
from sanic import Request, Sanic, file, json
from sanic.config import Config
from sanic.response import HTTPResponse

from .flags import flag_for
from .languages import WHISPER_LANGUAGES
from .live import serve_socket
from .realtime import AUTO_LANGUAGE, CutPolicy
from .store import UploadStore
from .uploads import UploadQueue, upload_routes

log = logging.getLogger(__name__)

#: The app's type: default config, and a namespace ``ctx`` the listeners fill in.
App: TypeAlias = "Sanic[Config, SimpleNamespace]"

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
APP_NAME: Final = "voxserve_example"
# A live window is at most CutPolicy.max_window_s of audio: if its answer takes minutes,
# the speaker has long moved on, so give up sooner than the upload client does.
LIVE_READ_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True)
class AppConfig:
    """Where VoxServe is, which model to use, and where uploads are kept."""

    voxserve_url: str = "http://127.0.0.1:8080"
    #: TorchServe's key_file.json (a new key at every TorchServe start; re-read on refusal).
    key_file: Path | None = None
    #: Multilingual by default: the page offers language detection and translation.
    model: str = "whisper-base"
    db_path: Path = Path(".run/sanic_app/uploads.sqlite3")
    upload_dir: Path = Path(".run/sanic_app/uploads")
    #: Uploads sent to VoxServe at once; the rest wait in the client, not in TorchServe.
    upload_concurrency: int = 4
    cut_policy: CutPolicy = field(default_factory=CutPolicy)


def create_app(config: AppConfig, name: str = APP_NAME) -> App:
    """Build the app; the clients and the store are opened by the server's start."""
    app = Sanic(name)
    app.ctx.config = config
    app.ctx.live_sessions = 0
    app.blueprint(upload_routes())
    app.add_websocket_route(serve_socket, "/sock")
    app.static("/static", STATIC_DIR, name="static")

    @app.before_server_start
    async def open_clients(app: App) -> None:
        config.upload_dir.mkdir(parents=True, exist_ok=True)
        uploads_client = voxserve.AsyncClient(
            config.voxserve_url,
            key_file=config.key_file,
            max_concurrency=config.upload_concurrency,
            default_model=config.model,
        )
        app.ctx.uploads = UploadQueue(
            UploadStore(config.db_path), uploads_client, config.upload_dir, config.model
        )
        app.ctx.live_client = voxserve.AsyncClient(
            config.voxserve_url,
            key_file=config.key_file,
            timeout=voxserve.Timeout(read=LIVE_READ_TIMEOUT_S),
            default_model=config.model,
        )

    @app.after_server_start
    async def resume_uploads(app: App) -> None:
        resumed = app.ctx.uploads.resume_pending()
        if resumed:
            log.info("sent %d pending upload(s) from the last run again", resumed)

    @app.after_server_stop
    async def close_clients(app: App) -> None:
        # Unfinished uploads stay pending in the store and are sent again at next start.
        await app.ctx.uploads.client.aclose(cancel_jobs=True)
        await app.ctx.live_client.aclose(cancel_jobs=True)
        app.ctx.uploads.store.close()

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        # Answered from memory: a health check must not wait behind the work it watches.
        return json(
            {
                "status": "ok",
                "model": config.model,
                "uploads_in_flight": request.app.ctx.uploads.in_flight,
                "live_sessions": request.app.ctx.live_sessions,
            }
        )

    @app.get("/")
    async def index(request: Request) -> HTTPResponse:
        return await file(STATIC_DIR / "index.html")

    @app.get("/languages")
    async def languages(request: Request) -> HTTPResponse:
        choices = [{"code": AUTO_LANGUAGE, "name": "auto-detect", "flag": flag_for(None)}]
        choices += [
            {"code": code, "name": name, "flag": flag_for(code)}
            for code, name in sorted(WHISPER_LANGUAGES.items(), key=lambda item: item[1])
        ]
        return json({"model": config.model, "languages": choices}, ensure_ascii=False)

    return app
