"""The ``voxserve`` command: transcribe files from a shell.

    voxserve transcribe talk.mp3 interview.wav --format srt --concurrency 4

All files run at once through one `AsyncClient`, at most ``--concurrency``
requests in flight. A progress line per finished file goes to stderr; the
exit status is non-zero when any file failed, and each failure is named.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Final, TextIO

import httpx

from ._client import AsyncClient
from ._config import DEFAULT_BASE_URL, DEFAULT_MAX_CONCURRENCY, DEFAULT_MODEL
from ._models import TranscriptionResult
from ._submit import Job

__all__ = ["main"]

#: Output file suffix for each ``--format``.
SUFFIXES: Final = {"json": ".json", "text": ".txt", "srt": ".srt", "vtt": ".vtt"}

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130

_ENV_URL: Final = "VOXSERVE_URL"
_ENV_KEY_FILE: Final = "VOXSERVE_KEY_FILE"
_ENV_TOKEN: Final = "VOXSERVE_TOKEN"


def main(
    argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Run the command line; returns the exit status. ``transport`` is for tests."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_transcribe_files(args, transport, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voxserve", description="VoxServe client.")
    commands = parser.add_subparsers(dest="command", required=True)
    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe audio files",
        description="Transcribe audio files; results go beside each file (FILE.json, ...).",
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    transcribe.add_argument("--format", choices=tuple(SUFFIXES), default="json")
    transcribe.add_argument("--language", help="ISO 639-1 code, e.g. en (default: detect)")
    transcribe.add_argument("--task", choices=("transcribe", "translate"), default="transcribe")
    transcribe.add_argument("--model", default=DEFAULT_MODEL)
    transcribe.add_argument("--version", help="model version (default: the server's default)")
    transcribe.add_argument(
        "--url",
        default=os.environ.get(_ENV_URL, DEFAULT_BASE_URL),
        help=f"inference API address (env {_ENV_URL}; default {DEFAULT_BASE_URL})",
    )
    auth = transcribe.add_mutually_exclusive_group()
    auth.add_argument(
        "--key-file",
        default=os.environ.get(_ENV_KEY_FILE),
        help=f"TorchServe's key_file.json (env {_ENV_KEY_FILE})",
    )
    auth.add_argument(
        "--token", default=os.environ.get(_ENV_TOKEN), help=f"inference key (env {_ENV_TOKEN})"
    )
    transcribe.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_MAX_CONCURRENCY,
        help=f"requests in flight at once (default {DEFAULT_MAX_CONCURRENCY})",
    )
    where = transcribe.add_mutually_exclusive_group()
    where.add_argument("--output-dir", help="write results here instead of beside each file")
    where.add_argument("--stdout", action="store_true", help="print results instead of saving")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def _transcribe_files(
    args: argparse.Namespace,
    transport: httpx.AsyncBaseTransport | None,
    out: TextIO,
    err: TextIO,
) -> int:
    files: list[str] = args.files
    failures: list[tuple[str, BaseException]] = []
    async with AsyncClient(
        args.url,
        token=None if args.key_file else args.token,
        key_file=args.key_file,
        max_concurrency=args.concurrency,
        transport=transport,
    ) as client:
        jobs = [
            client.submit(
                path,
                language=args.language,
                task=args.task,
                model=args.model,
                version=args.version,
            )
            for path in files
        ]
        settled = [_settle(path, job) for path, job in zip(files, jobs, strict=True)]
        for finished, next_settled in enumerate(asyncio.as_completed(settled), start=1):
            path, outcome = await next_settled
            failure = (
                outcome
                if isinstance(outcome, BaseException)
                else _save(path, outcome, args, out, many=len(files) > 1)
            )
            if failure is None:
                print(f"[{finished}/{len(files)}] done: {path}", file=err)
            else:
                failures.append((path, failure))
                print(f"[{finished}/{len(files)}] failed: {path}: {_describe(failure)}", file=err)
    if not failures:
        return EXIT_OK
    print(f"{len(failures)} of {len(files)} files failed:", file=err)
    for path, error in failures:
        print(f"  {path}: {_describe(error)}", file=err)
    return EXIT_FAILED


async def _settle(
    path: str, job: Job[TranscriptionResult]
) -> tuple[str, TranscriptionResult | BaseException]:
    """Wait for one job; its failure becomes a value so the others keep going."""
    try:
        return path, await job
    except Exception as error:  # noqa: BLE001 - every failure is reported per file
        return path, error


def _save(
    path: str, result: TranscriptionResult, args: argparse.Namespace, out: TextIO, *, many: bool
) -> OSError | None:
    rendered = _render(result, args.format)
    if args.stdout:
        if many:
            out.write(f"==> {path} <==\n")
        out.write(rendered)
        out.flush()
        return None
    target = path + SUFFIXES[args.format]
    if args.output_dir:
        os.makedirs(args.output_dir, exist_ok=True)
        target = os.path.join(args.output_dir, os.path.basename(target))
    try:
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(rendered)
    except OSError as error:
        return error
    return None


def _render(result: TranscriptionResult, output_format: str) -> str:
    if output_format == "text":
        return result.text.strip() + "\n"
    if output_format == "srt":
        return result.to_srt()
    if output_format == "vtt":
        return result.to_vtt()
    return json.dumps(result.raw, ensure_ascii=False, indent=2) + "\n"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


if __name__ == "__main__":
    sys.exit(main())
