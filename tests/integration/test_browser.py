"""The example app's live page end to end in headless Chromium: real speech played as the
microphone, captured by the AudioWorklet, streamed over the websocket, transcribed by the
real TorchServe, and shown on the page."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import word_error_rate
from tests.integration.test_sanic_app import ARTIFACTS, SanicAppProcess

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
TRANSCRIPT_TIMEOUT_MS = 90_000
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def microphone_wav(clip: Path, out: Path) -> Path:
    """The clip as the fake microphone plays it: 48 kHz like a real device, with quiet
    before (the first captured milliseconds may be zeros) and after (so the last words
    end at a pause and get cut)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip),
         "-af", "adelay=500:all=1,apad=pad_dur=1.5", "-ar", "48000", "-ac", "1",
         "-c:a", "pcm_s16le", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make setup` (it installs Debian's chromium)")
    with sync_playwright() as pw:
        yield pw


def open_browser(playwright: Playwright, profile: Path, microphone: Path | None) -> BrowserContext:
    flags = list(CHROMIUM_FLAGS)
    if microphone is not None:
        flags.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=flags
    )


def shown_text(page: Page) -> str:
    """The transcript lines as shown, without their time and flag."""
    lines = page.eval_on_selector_all(
        "#transcript .line", "lines => lines.map(line => line.lastChild.textContent)"
    )
    return " ".join(line.split(maxsplit=1)[1] for line in lines)


@pytest.mark.parametrize("capture_rate", [None, 48000], ids=["16k-context", "48k-resampled"])
def test_page_shows_what_the_microphone_hears(
    playwright, server, short_english, tmp_path, capture_rate
):
    microphone = microphone_wav(short_english.path, tmp_path / "microphone.wav")
    with SanicAppProcess(server, tmp_path / "app") as app:
        context = open_browser(playwright, tmp_path / "profile", microphone)
        try:
            context.grant_permissions(["microphone"], origin=app.url)
            page = context.new_page()
            page.goto(f"{app.url}/" + (f"?capture_rate={capture_rate}" if capture_rate else ""))
            expect(page.locator("#connection")).to_contain_text("connected ·")
            expect(page.locator("#language option")).to_have_count(101)  # auto + Whisper's
            page.click("#start")
            expect(page.locator("#capture")).to_have_text(
                f"capturing at {capture_rate or 16000} Hz"
            )
            first_line = page.locator("#transcript .line").first
            first_line.wait_for(timeout=TRANSCRIPT_TIMEOUT_MS)
            # The file has ended and the quiet after it has been noticed: all was heard.
            expect(page.locator("#status")).to_have_text(
                "[can't hear anything]", timeout=TRANSCRIPT_TIMEOUT_MS
            )
            text = shown_text(page)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = f"sanic_app_browser_{capture_rate or 16000}.png"
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            expect(first_line).to_contain_text("🇬🇧")
            assert first_line.get_attribute("data-language") == "en"
        finally:
            context.close()
    print(f"page shows ({capture_rate or 16000} Hz capture): {text!r}")
    assert word_error_rate(short_english.text, text) <= 0.35, text


def test_page_reconnects_when_the_socket_drops(playwright, server, tmp_path):
    app = SanicAppProcess(server, tmp_path / "app")
    with app:
        context = open_browser(playwright, tmp_path / "profile", None)
        try:
            page = context.new_page()
            page.goto(f"{app.url}/")
            expect(page.locator("#connection")).to_contain_text("connected ·")
            app.stop()
            expect(page.locator("#connection")).to_contain_text("reconnecting")
            app.start()  # same port
            expect(page.locator("#connection")).to_contain_text("connected ·", timeout=20_000)
        finally:
            context.close()
