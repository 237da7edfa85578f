"""A viewer page in headless Chromium (Debian's `chromium`, driven by Playwright's Python API, which the test tools
install): the browser tests, the benchmark and the README's screenshot use it.

`browser_or_skip()` says why a page cannot be opened here (no Playwright, no Chromium), for `pytest.skip`; the
project's install step for tests (`make test-tools`) installs both where it can.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# a closed network: no background connections, no sandbox (root in CI), software rendering, sound without a gesture
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    """The Chromium binary (`$CHROMIUM` first), or None."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def browser_or_skip() -> str | None:
    """None when a browser test can run, else why not (and how to get it)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-dev.txt)"
    if chromium_path() is None:
        return "no Chromium on this machine (make test-tools installs Debian's chromium as root; or set $CHROMIUM)"
    return None


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright `Browser`), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class ViewerPage:
    """A viewer page open in a tab, with what it logged and asked for.

    Args:
        browser: from `chromium()`.
        path: the page file; `fragment` is appended to its file URL (e.g. "#t=2").
    """

    def __init__(self, browser, path: Path, fragment: str = "", size: tuple[int, int] = (1200, 700)) -> None:
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]}, device_scale_factor=1)
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = Path(path).resolve().as_uri()
        self.page.goto(self.url + fragment)
        # a selector, not wait_for_function: the page's CSP forbids evaluating strings
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=60_000)

    def seek(self, t: float) -> dict:
        """Seek (paused) and wait until that frame is drawn; returns the drawn state (frame, lane cameras)."""
        return self.page.evaluate("t => window.soulViewer.seek(t)", t)

    def state(self) -> dict:
        return self.page.evaluate("() => window.soulViewer.state()")

    def screenshot(self) -> np.ndarray:
        """The page as RGB (H, W, 3) uint8."""
        import imageio.v3 as iio

        return iio.imread(self.page.screenshot(type="png"))[..., :3]

    def errors(self) -> list[str]:
        return [m for m in self.console if m.startswith(("error", "pageerror"))]

    def network(self) -> list[str]:
        """Requests for anything but the page's own file and the blobs it made from its own data."""
        return [u for u in self.requests if u.split("#")[0] != self.url and not u.startswith("blob:")]

    def canvas_origin(self) -> tuple[float, float]:
        """Where the lanes' canvas sits in the page (CSS pixels)."""
        box = self.page.evaluate("() => { const r = view.getBoundingClientRect(); return [r.left, r.top]; }")
        return float(box[0]), float(box[1])
