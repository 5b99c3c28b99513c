"""compare.html: a self-contained page, rendered in a real headless browser (report.html: test_report_browser.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Equity", "Drawdown", "Price and trades", "Metrics", "Monthly returns", "Trades")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Debian's chromium is not installed here; .ci/run installs it (apt-get install chromium)")


def _screenshot(page: Path, out: Path, height: int = 3000) -> np.ndarray:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size=1200,{height}", f"--screenshot={out}", page.as_uri()],
            capture_output=True, timeout=90, check=True,
        )
    return mpimg.imread(out)


def test_compare_page_renders(tmp_path: Path) -> None:
    from algotrade.run import compare_experiment

    result = compare_experiment(ROOT / "experiments" / "quickstart.yaml", ("backtrader", "zipline"), out=tmp_path)
    page = result.folder / "compare.html"
    text = page.read_text()
    assert "The engines agree" in text and not re.search(r"""(src|href)=["']?https?://""", text)
    pixels = _screenshot(page, tmp_path / "compare.png", height=1600)
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert np.count_nonzero((rgb < 240).any(axis=1)) / len(rgb) > 0.05
