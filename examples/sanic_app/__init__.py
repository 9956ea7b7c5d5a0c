"""VoxServe example app: a Sanic API for uploads and a page that transcribes the microphone live.

Run it against a running VoxServe (``make serve``)::

    python -m examples.sanic_app --voxserve-url http://127.0.0.1:8080 \\
        --key-file .run/key_file.json --port 8000
"""

from .app import AppConfig, create_app

__all__ = ["AppConfig", "create_app"]
