"""Headless Chromium for the web page tests: Playwright driving the system's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tests need Chromium at /usr/bin/chromium"
)


@asynccontextmanager
async def chromium(extra_args: Sequence[str] = ()) -> AsyncIterator[Any]:
    """A headless Chromium, closed on exit; skips the test when Playwright is missing.
    `extra_args`: more command-line switches (e.g. fake_microphone())."""
    playwright = pytest.importorskip("playwright.async_api")
    async with playwright.async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


def fake_microphone(wav: Path) -> list[str]:
    """Switches for chromium(): getUserMedia is allowed without asking and its
    microphone plays WAV (a 16-bit PCM WAV file, e.g. tests/voice_helpers.spoken)."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]


async def record_voice(page: Any, min_bytes: int = 4000) -> str:
    """In a logged-in web chat page: press the microphone button, wait until the
    recording holds MIN_BYTES, press it again, and wait until the gateway accepted
    the upload. Returns the voice note's client id (its Inbound's external_id)."""
    from playwright.async_api import expect

    mic = page.locator("#mic")
    await mic.click()
    await expect(mic).to_have_attribute("data-state", "recording")
    await page.wait_for_function(
        "n => Number(document.querySelector('#mic').dataset.bytes || 0) >= n", arg=min_bytes
    )
    await mic.click()
    note = page.locator(".msg.user.voice").last
    await expect(note).to_have_attribute("data-upload", "accepted")
    return str(await note.get_attribute("data-client-id"))
