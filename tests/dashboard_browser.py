"""Headless Debian chromium through playwright for the dashboard tests, and where their screenshots go."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: every wait on the page, in milliseconds
WAIT_MS = 30_000


@contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium (skips with the reason when it or playwright is missing)."""
    if not (Path(CHROMIUM).is_file() or shutil.which("chromium")):
        pytest.skip("Debian's chromium is not installed here (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed in this venv")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
                              args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def save(page: Any, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot in the test's folder, and in docs/img/ with ALGOTRADE_WRITE_SCREENSHOTS=1."""
    out = tmp_path / f"{name}.png"
    page.screenshot(path=str(out), full_page=True)
    if os.environ.get("ALGOTRADE_WRITE_SCREENSHOTS") == "1":
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, ROOT / "docs" / "img" / out.name)
    return out


def overflow(page: Any) -> list[str]:
    """Elements wider than the viewport that are not inside a scrolling box."""
    return page.evaluate("""() => {
      const vw = document.documentElement.clientWidth, out = [];
      const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
      for (const el of document.body.querySelectorAll('*')) { const r = el.getBoundingClientRect();
        if ((r.right > vw + 0.5 || r.left < -0.5) && !scrolls(el)) out.push(el.tagName + '#' + el.id); }
      return out; }""")  # type: ignore[no-any-return]
