"""Report pages in headless Chromium (Debian's package): measure their layout, take screenshots.

Each page is loaded in iframes of exact widths (a phone's 390 px and a laptop's 1280 px) inside
a small harness page; a script in the harness measures every iframe's document once all of them
have loaded, and ``--dump-dom`` returns the result. Screenshots show the same iframes side by
side at their full heights, so a test can crop any element by the rectangle it measured.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--allow-file-access-from-files",
)
WIDTHS = (1280, 390)
_GAP = 20

#: runs in the harness after every iframe has loaded; one JSON object per iframe
_MEASURE = r"""
const scrollBox = (el) => {
  for (let p = el.parentElement; p && p.tagName !== 'BODY'; p = p.parentElement) {
    const o = p.ownerDocument.defaultView.getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') return p;
  }
  return null;
};
const box = (el) => { const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
const measure = (doc) => {
  const root = doc.documentElement, vw = root.clientWidth;
  const overflowing = [];
  for (const el of doc.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.right > vw + 0.5 || r.left < -0.5) && !scrollBox(el))
      overflowing.push(`${el.tagName.toLowerCase()}.${el.className}: ${(el.textContent || '').trim().slice(0, 80)}`);
  }
  const tables = [...doc.querySelectorAll('table')].map((t) => { const b = scrollBox(t);
    return {inBox: !!b, box: b ? box(b) : null, scrolls: b ? b.scrollWidth > b.clientWidth + 0.5 : false,
            table: box(t), head: (t.querySelector('tr') || t).innerText.slice(0, 60)}; });
  const images = [...doc.images].map((i) => ({alt: i.alt, natural: [i.naturalWidth, i.naturalHeight], ...box(i)}));
  const cells = [...doc.querySelectorAll('td, th, .kpi > b')]
    .filter((c) => !c.querySelector('code') && !c.classList.contains('id')).map((c) => c.innerText.trim());
  const notes = [...doc.querySelectorAll('.note')].map((n) => ({cls: n.className, text: n.innerText}));
  return {vw, scrollWidth: root.scrollWidth, height: Math.ceil(doc.body.getBoundingClientRect().bottom) + 24,
          overflowing, tables, images, cells, notes, text: doc.body.innerText};
};
addEventListener('load', () => {
  const out = {};
  for (const f of document.querySelectorAll('iframe')) out[f.id] = measure(f.contentDocument);
  const pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Debian's chromium is not installed here; .ci/run installs it (apt-get install chromium)")


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def _iframe(key: str, page: Path, width: int, height: int, left: int = 0) -> str:
    return (f'<iframe id="{html.escape(key)}" src="{page.as_uri()}" scrolling="no" '
            f'style="position:absolute;top:0;left:{left}px;width:{width}px;height:{height}px;border:0"></iframe>')


def measure(pages: dict[str, Path], folder: Path, widths: tuple[int, ...] = WIDTHS) -> dict[str, dict[int, Any]]:
    """Each page's layout at each width: ``{name: {width: {...}}}`` (see _MEASURE for the fields)."""
    frames = "".join(_iframe(f"{name}@{w}", page, w, 900) for name, page in pages.items() for w in widths)
    harness = folder / "measure.html"
    harness.write_text(f"<!doctype html><html><body style='margin:0'>{frames}<script>{_MEASURE}</script></body></html>")
    dom = _run(["--window-size=1400,900", "--dump-dom", harness.as_uri()]).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script did not run: {dom[-500:]}"
    raw = json.loads(html.unescape(found.group(1)))
    out: dict[str, dict[int, Any]] = {}
    for key, value in raw.items():
        name, width = key.rsplit("@", 1)
        out.setdefault(name, {})[int(width)] = value
    return out


def screenshot(page: Path, heights: dict[int, int], out: Path) -> dict[int, np.ndarray]:
    """The page at each width, side by side at full height; returns each width's RGB pixels."""
    lefts, x = {}, 0
    for width in heights:
        lefts[width] = x
        x += width + _GAP
    height = min(max(heights.values()), 16000)
    frames = "".join(_iframe(f"w{w}", page, w, h, lefts[w]) for w, h in heights.items())
    harness = out.with_suffix(".html")
    harness.write_text(f"<!doctype html><html><body style='margin:0;background:#fff'>{frames}</body></html>")
    _run([f"--window-size={x},{height}", f"--screenshot={out}", harness.as_uri()])
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("RGB"))
    return {w: rgb[: min(h, height), lefts[w]: lefts[w] + w] for w, h in heights.items()}


def crop(pixels: np.ndarray, rect: dict[str, float]) -> np.ndarray:
    """The pixels inside a measured rectangle (CSS px are device px here)."""
    top, bottom = round(rect["top"]), round(rect["bottom"])
    left, right = round(rect["left"]), round(rect["right"])
    return pixels[top:bottom, left:right]
