"""The /sock websocket: microphone PCM in, transcripts and status lines out.

Binary frames are 16 kHz mono int16 PCM; text frames are JSON commands:
``{"type": "settings", "language": "de" | "auto", "translate": true}`` (applies to
the next window cut) and ``{"type": "flush"}`` (the speaker stopped: send what is
left). Answers are JSON text frames:

- ``{"type": "status", "text": "[listening]"}`` or ``"[can't hear anything]"``
- ``{"type": "transcript", "text": "🇩🇪 Guten Morgen", "language": "de", ...}``
- ``{"type": "settings", ...}`` (what the next windows will use), ``{"type": "error", ...}``
- ``{"type": "flushed"}``: every window cut before the flush has been answered

Windows are submitted through the client and the socket goes straight back to
reading, so audio keeps flowing while Whisper works; a sender task awaits the jobs
in order, so transcripts arrive in the order they were spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Final

import voxserve
from sanic import Request, Websocket
from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed

from .flags import flag_for
from .realtime import (
    AUTO_LANGUAGE,
    ConfidenceGate,
    CutPolicy,
    LiveSettings,
    SpeechBuffer,
    Status,
    Window,
    to_wav,
)

log = logging.getLogger(__name__)

_CLOSED: Final = (ConnectionClosed, WebsocketClosed)


@dataclass(frozen=True)
class _Submitted:
    """A window on its way through the server, with the settings it was sent with."""

    number: int
    window: Window
    settings: LiveSettings
    job: voxserve.Job[voxserve.TranscriptionResult]


class LiveSession:
    """One browser's stream: buffer, cut, submit, and report back in order."""

    def __init__(
        self,
        ws: Websocket,
        client: voxserve.AsyncClient,
        *,
        model: str,
        policy: CutPolicy | None = None,
        gate: ConfidenceGate | None = None,
    ) -> None:
        self.ws = ws
        self.client = client
        self.model = model
        self.gate = gate or ConfidenceGate()
        self.settings = LiveSettings()
        self._buffer = SpeechBuffer(policy)
        # Windows in the order they were cut; None marks where a flush was asked for.
        self._submitted: asyncio.Queue[_Submitted | None] = asyncio.Queue()
        self._windows = 0
        # Status lines (receive loop) and transcripts (sender task) share the socket.
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        """Serve the socket until the page goes away; pending windows are then dropped."""
        sender = asyncio.create_task(self._send_transcripts(), name="live transcripts")
        try:
            while True:
                message = await self.ws.recv()
                if message is None:
                    continue
                if isinstance(message, bytes | bytearray | memoryview):
                    await self._handle(self._buffer.feed(bytes(message)))
                else:
                    await self._command(message)
        except _CLOSED:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_CLOSED):
                await sender
            while not self._submitted.empty():
                item = self._submitted.get_nowait()
                if item is not None:
                    item.job.cancel()

    async def _command(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("a command is a JSON object")
            kind = message.get("type", "settings")
            if kind == "settings":
                self.settings = self.settings.updated(message)
                await self._send(self._settings_message())
            elif kind == "flush":
                await self._handle(self._buffer.flush())
                self._submitted.put_nowait(None)
            else:
                raise ValueError(f"unknown command type {kind!r}: use 'settings' or 'flush'")
        except ValueError as error:  # json.JSONDecodeError is one too
            await self._send({"type": "error", "text": str(error)})

    async def _handle(self, events: list[Window | Status]) -> None:
        for event in events:
            if isinstance(event, Status):
                await self._send({"type": "status", "text": event.value})
            else:
                self._submit(event)

    def _submit(self, window: Window) -> None:
        self._windows += 1
        job = self.client.submit(
            to_wav(window.pcm),
            model=self.model,
            language=self.settings.language,
            task="translate" if self.settings.translate else "transcribe",
        )
        self._submitted.put_nowait(_Submitted(self._windows, window, self.settings, job))

    async def _send_transcripts(self) -> None:
        while True:
            item = await self._submitted.get()
            if item is None:
                await self._send({"type": "flushed"})  # every window before it is answered
                continue
            try:
                result = await item.job
            except voxserve.VoxServeError as error:
                await self._send({"type": "error", "text": error.message, "window": item.number})
                continue
            text = self.gate.text(result.segments)
            dropped = [s for s in result.segments if not self.gate.keeps(s)]
            if dropped:
                log.info(
                    "window %d: left out %s",
                    item.number,
                    [(s.text, s.avg_logprob, s.no_speech_prob) for s in dropped],
                )
            if not text:
                continue  # no speech, or words the model was unsure of: show nothing
            language = result.language or item.settings.language
            flag = flag_for(language)
            await self._send(
                {
                    "type": "transcript",
                    "text": f"{flag} {text}",
                    "language": language,
                    "flag": flag,
                    "task": item.settings.task,
                    "window": item.number,
                    "start": round(item.window.start_s, 2),
                    "end": round(item.window.end_s, 2),
                }
            )

    def _settings_message(self) -> dict[str, Any]:
        return {
            "type": "settings",
            "language": self.settings.language or AUTO_LANGUAGE,
            "translate": self.settings.translate,
            "model": self.model,
        }

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send(json.dumps(message, ensure_ascii=False))


async def serve_socket(request: Request, ws: Websocket) -> None:
    """The /sock handler; uses ``app.ctx.live_client`` and the app's config."""
    app = request.app
    session = LiveSession(
        ws, app.ctx.live_client, model=app.ctx.config.model, policy=app.ctx.config.cut_policy
    )
    app.ctx.live_sessions += 1
    try:
        await session.run()
    finally:
        app.ctx.live_sessions -= 1
