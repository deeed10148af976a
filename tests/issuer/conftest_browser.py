"""Shared Playwright fixtures: Debian's headless Chromium, launched once per test module.

Make the fixtures visible to a test module (or a conftest.py) by naming them there::

    from tests.issuer import conftest_browser

    browser = conftest_browser.browser
    browser_page = conftest_browser.browser_page
    chromium_path = conftest_browser.chromium_path

``chromium_path`` skips the test, with the reason, when ``/usr/bin/chromium`` is missing on a
developer's machine (``apt-get install chromium fonts-noto-core``), and fails it inside CI
(the environment variable ``CI`` set), where a missing browser is a broken set-up rather
than a test to leave out. Playwright's own browser downloads are never used.

``browser`` is the module's Chromium (sync API); ``browser_page`` a fresh page in its own
context, A4 wide at 96 dpi (794 x 1123 CSS pixels) and rendered at twice that density so
screenshots of printed matter, QR codes included, stay sharp.

Why per module and not per session: while Playwright's sync API is open it leaves an event
loop marked as running in the main thread, so every later ``asyncio.run`` (the verifier's
fetch tests) and every other ``sync_playwright()`` (the verifier's web tests) fails with
"cannot be called from a running event loop". Closing the browser with the module keeps
other modules unaffected, for about 0.5 s of start-up each. Inside a module that uses
these fixtures, run coroutines with :func:`run_in_thread`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from issuer.certificate import CHROMIUM_ARGS, CHROMIUM_PATH

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

__all__ = [
    "A4_VIEWPORT",
    "browser",
    "browser_page",
    "chromium_path",
    "in_ci",
    "run_in_thread",
]

#: An A4 sheet at CSS's 96 pixels per inch.
A4_VIEWPORT: ViewportSize = {"width": 794, "height": 1123}

T = TypeVar("T")


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The path of Debian's Chromium; skips (fails in CI) when it or Playwright is missing."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM_PATH).is_file() and os.access(CHROMIUM_PATH, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM_PATH} (apt-get install chromium fonts-noto-core)")
    return CHROMIUM_PATH


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """The module's headless Chromium (see the module docstring for why not the session's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A new page in its own context, closed after the test."""
    context = browser.new_context(viewport=A4_VIEWPORT, device_scale_factor=2)
    try:
        yield context.new_page()
    finally:
        context.close()


def run_in_thread(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``coroutine()`` to completion with ``asyncio.run`` on a helper thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result()
