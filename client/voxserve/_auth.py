"""Bearer-token auth for TorchServe's inference and management APIs.

TorchServe writes fresh keys to ``key_file.json`` at every start, and keys
expire, so a key read from the file is cached only until the server refuses
it: then the file is read again, and the request is retried once if the key
in the file changed.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Literal

from ._errors import KeyFileError

__all__ = ["Api", "Credentials"]

#: Which TorchServe API a request goes to; each has its own key.
Api = Literal["inference", "management", "metrics"]

_AUTHORIZATION = "Authorization"


class Credentials:
    """The token, or the key file, that authorizes this client's requests."""

    def __init__(self, token: str | None, key_file: str | os.PathLike[str] | None) -> None:
        if token is not None and key_file is not None:
            raise ValueError("pass token= or key_file=, not both")
        self._token = token
        self._key_file = os.fspath(key_file) if key_file is not None else None
        self._keys: dict[str, str] | None = None
        self._lock = threading.Lock()

    def key_for(self, api: Api) -> str | None:
        """The key to send to ``api`` now, or ``None`` when none is configured."""
        if api == "metrics":
            return None
        if self._key_file is None:
            return self._token
        with self._lock:
            if self._keys is None:
                self._keys = self._read_key_file()
            keys = self._keys
        if api not in keys:
            raise KeyFileError(
                f"the key file {self._key_file} has no {api!r} key; it should hold "
                '{"inference": {"key": ...}, "management": {"key": ...}} as TorchServe writes it.'
            )
        return keys[api]

    def headers_for(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {_AUTHORIZATION: f"Bearer {key}"}

    def refresh(self, api: Api, rejected: str | None) -> bool:
        """Re-read the key file after ``rejected`` was refused; true if its key changed."""
        if self._key_file is None or api == "metrics":
            return False
        with self._lock:
            self._keys = self._read_key_file()
        return self._keys.get(api) != rejected

    def rejection_hint(self, api: Api) -> str:
        """How to fix a refused token, phrased for this client's setup."""
        if self._key_file is not None:
            return (
                f"The {api} key in {self._key_file} was refused even after re-reading the file: "
                "TorchServe writes new keys to key_file.json in its working directory at every "
                "start, and keys expire. Point key_file= at the running server's file."
            )
        if self._token is not None:
            return f"The token was refused: pass the server's current {api} key as token=."
        return "The server requires a token: pass token= or key_file= (TorchServe's key_file.json)."

    def _read_key_file(self) -> dict[str, str]:
        path = self._key_file
        try:
            with open(path or "", encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as exc:
            raise KeyFileError(
                f"cannot read the key file {path}: {exc.strerror or exc}. TorchServe writes "
                "key_file.json to its working directory when it starts with token auth on."
            ) from exc
        except ValueError as exc:
            raise KeyFileError(f"the key file {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise KeyFileError(f"the key file {path} should hold a JSON object")
        return {
            name: str(entry["key"])
            for name, entry in data.items()
            if isinstance(entry, dict) and "key" in entry
        }
