"""The naive baseline the original users had: a Sanic handler that runs openai-whisper's
``transcribe`` inline, one request at a time, blocking its own event loop.

    python -m bench.baseline_app --checkpoint PATH --port 8100
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import whisper
from sanic import Sanic, json
from sanic.request import Request
from sanic.response import HTTPResponse


def create_app(checkpoint: str) -> Sanic:
    app = Sanic("naive_whisper_baseline")
    torch.set_num_threads(1)  # the same CPU share a VoxServe worker gets
    model = whisper.load_model(checkpoint, device="cpu")

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    @app.post("/transcribe")
    async def transcribe(request: Request) -> HTTPResponse:
        upload = request.files.get("file")
        if upload is None:
            return json({"error": "no file"}, status=400)
        with tempfile.NamedTemporaryFile(suffix=upload.name or ".wav") as handle:
            handle.write(upload.body)
            handle.flush()
            language = "en" if not model.is_multilingual else None
            result = whisper.transcribe(model, handle.name, fp16=False, language=language)
        return json({"text": result["text"], "language": result["language"]})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    create_app(args.checkpoint).run(
        host="127.0.0.1", port=args.port, single_process=True, access_log=False, motd=False
    )


if __name__ == "__main__":
    main()
