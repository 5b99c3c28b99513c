"""The quickstart's report.html, parsed and rendered in headless Chromium (Debian's package).

The page must have every section with its plot or table, reference nothing outside itself
(it opens offline), and paint a non-blank screenshot.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from algotrade.backtest.run import run_experiment
from tests.browser import FLAGS, chromium

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Page(HTMLParser):
    """Each <h2> section's images and tables, and every src/href on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, list]] = {}
        self.links: list[str] = []
        self.styles: list[str] = []
        self._current: str | None = None
        self._in_h2 = False
        self._in_style = False
        self._h2_text = ""
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href", "data", "poster", "action") and v]
        if values.get("style"):
            self.styles.append(values["style"] or "")
        if tag == "h2":
            self._in_h2, self._h2_text = True, ""
        elif tag == "style":
            self._in_style = True
        elif self._current is not None and tag == "img":
            self.sections[self._current]["img"].append(values.get("src") or "")
        elif self._current is not None and tag == "table":
            self._table = []
        elif self._table is not None and tag == "tr":
            self._table.append([])
        elif self._table is not None and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2, self._current = False, self._h2_text.strip()
            self.sections[self._current] = {"img": [], "table": []}
        elif tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._table is not None and self._current is not None:
            self.sections[self._current]["table"].append(self._table)
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self._h2_text += data
        elif self._in_style:
            self.styles.append(data)
        elif self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_experiment(str(QUICKSTART), out=tmp_path_factory.mktemp("quickstart"))
    path = result.folder / "report.html"
    assert path.is_file(), f"run_experiment wrote no {path}"
    return path


@pytest.fixture(scope="module")
def page(report: Path) -> _Page:
    parser = _Page()
    parser.feed(report.read_text(encoding="utf-8"))
    parser.close()
    return parser


def _colours(rgb: np.ndarray) -> int:
    """Distinct colours in an (..., 3) uint8 array."""
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    return len(np.unique(flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2]))


def _decode_png(data_uri: str) -> np.ndarray:
    assert data_uri.startswith("data:image/png;base64,"), data_uri[:60]
    with Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1], validate=True))) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def test_report_has_every_section_with_its_plot_or_table(page: _Page) -> None:
    for section in ("Equity", "Drawdown", "Price and trades"):
        assert section in page.sections, f"no <h2>{section}</h2>; sections: {list(page.sections)}"
        assert page.sections[section]["img"], f"section {section!r} has no <img>"
    for section in ("Metrics", "Monthly returns", "Trades"):
        assert section in page.sections, f"no <h2>{section}</h2>; sections: {list(page.sections)}"
        assert page.sections[section]["table"], f"section {section!r} has no <table>"
    monthly = page.sections["Monthly returns"]["table"][0]
    assert tuple(monthly[0][1:13]) == MONTHS
    assert [row[0] for row in monthly[1:]] == [str(y) for y in range(2005, 2013)]
    assert not any(cell == "-0.0%" for row in monthly for cell in row), "a month shows -0.0%"


def test_report_metrics_are_formatted(report: Path, page: _Page) -> None:
    stats = json.loads((report.parent / "metrics.json").read_text())
    values = [row[-1] for row in page.sections["Metrics"]["table"][0]]
    for key in ("total_return", "annual_return", "max_drawdown"):
        assert f"{stats[key]:+.2%}" in values, f"{key} {stats[key]!r} is not shown as a signed percentage"
    for key in ("annual_volatility", "exposure", "win_rate"):
        assert f"{stats[key]:.2%}" in values, f"{key} {stats[key]!r} is not shown as a percentage"
    assert f"{stats['final_equity']:,.2f}" in values
    assert f"{stats['sharpe']:.2f}" in values
    trades = page.sections["Trades"]["table"][0]
    assert len(trades) - 1 == stats["trade_count"]
    prices = [row[trades[0].index("price")] for row in trades[1:]]
    assert all(re.fullmatch(r"[\d,]+\.\d\d", p) for p in prices), prices[:5]


def test_report_is_offline(report: Path, page: _Page) -> None:
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    external = [link for link in page.links if not link.startswith(("data:", "#"))]
    assert not external, f"the report references files or URLs outside itself: {external[:3]}"
    assert not any(re.search(r"url\(|@import", s) for s in page.styles), "CSS loads something"
    assert "<script" not in text.lower()


def test_report_images_decode(page: _Page) -> None:
    images = [src for section in page.sections.values() for src in section["img"]]
    assert len(images) >= 3  # equity, drawdown, one price chart
    for src in images:
        pixels = _decode_png(src)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 400, pixels.shape
        assert _colours(pixels) > 20, "a plot is (nearly) one colour"


def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,3000",
             f"--screenshot={shot}", report.as_uri()],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert done.returncode == 0 and shot.is_file(), f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    with Image.open(shot) as im:
        assert im.size == (1200, 3000)
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    non_white = np.count_nonzero((rgb < 240).any(axis=1)) / len(rgb)
    colours = _colours(rgb)
    assert non_white > 0.05, f"the page looks blank ({non_white:.1%} non-white pixels)"
    assert colours > 200, f"only {colours} distinct colours: the plots did not render"
    r, g, b = (rgb[:, i].astype(int) for i in range(3))
    assert np.count_nonzero((b > 150) & (r < 80)) > 500, "no blue equity curve"
    assert np.count_nonzero((g > 120) & (r < 90) & (b < 90)) > 50, "no green buy markers"
    assert np.count_nonzero((r > 180) & (g < 80) & (b < 80)) > 50, "no red sell markers"
