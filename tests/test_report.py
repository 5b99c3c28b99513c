"""report.html and compare.html: self-contained pages, rendered in a real headless browser."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from algotrade.run import run_experiment

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Equity", "Drawdown", "Price and trades", "Metrics", "Monthly returns", "Trades")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_experiment(ROOT / "experiments" / "quickstart.yaml", out=tmp_path_factory.mktemp("out"))
    return result.report_path


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


def test_report_is_self_contained_with_every_section(report: Path) -> None:
    text = report.read_text()
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in text, section
    assert not re.search(r"""(src|href)=["']?https?://""", text), "the report must open offline"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) >= 3  # equity, drawdown, price with trades
    for data in images:
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 400


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    pixels = _screenshot(report, tmp_path / "report.png")
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    non_white = np.count_nonzero((rgb < 240).any(axis=1)) / len(rgb)
    colours = len(np.unique(rgb[:: max(1, len(rgb) // 200_000)], axis=0))
    assert non_white > 0.05, f"the page looks blank ({non_white:.1%} non-white pixels)"
    assert colours > 50, f"only {colours} distinct colours: the plots did not render"
    # the blue equity line and the green/red trade markers are on the page
    assert np.any((rgb[:, 2] > 150) & (rgb[:, 0] < 80)), "no blue equity curve"
    assert np.any((rgb[:, 1] > 120) & (rgb[:, 0] < 90) & (rgb[:, 2] < 90)), "no green buy markers"


def test_compare_page_renders(tmp_path: Path) -> None:
    from algotrade.run import compare_experiment

    result = compare_experiment(ROOT / "experiments" / "quickstart.yaml", ("backtrader", "zipline"), out=tmp_path)
    page = result.folder / "compare.html"
    text = page.read_text()
    assert "The engines agree" in text and not re.search(r"""(src|href)=["']?https?://""", text)
    pixels = _screenshot(page, tmp_path / "compare.png", height=1600)
    rgb = (pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    assert np.count_nonzero((rgb < 240).any(axis=1)) / len(rgb) > 0.05
