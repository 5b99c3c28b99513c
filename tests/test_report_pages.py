"""Every kind of report page, rendered in headless Chromium at a laptop's and a phone's width.

Pages: report.html of the quickstart, of very short runs (6 and 31 sessions) and of a run with risk
events (run_risk; compare_risk its compare.html), compare.html of
engines that agree (their difference is float noise) and of engines that differ, burnin.html with
a GO and a NO-GO verdict, and sweep.html of a grid and of a random search. For each: the page
never scrolls sideways (wide tables scroll inside their own box), no number is a raw float, no
image is cut off by the page or has a label cut off at its own edge, and a difference panel of
pure float noise is a flat line that says so, while a real difference is still drawn.

Set ALGOTRADE_SCREENSHOTS=DIR to keep the screenshots for a look.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from algotrade.backtest.compare import RunFolder, compare_runs
from algotrade.backtest.compare_report import write_comparison
from algotrade.backtest.run import compare_experiment, run_experiment, run_loaded
from algotrade.core.config import load_experiment
from algotrade.core.data import load_market
from algotrade.live.burnin_report import write_burnin_html
from algotrade.live.paper import burnin_report, paper_simulated
from algotrade.report.run_report import DIFF_COLOUR
from algotrade.research.sweep import run_sweep
from tests import browser
from tests.stubs import write_experiment

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"
PAPER = ROOT / "experiments" / "paper_quickstart.yaml"
SHORT = {"run_6": ("data.start=2012-12-21", "data.end=2012-12-31"),
         "run_31": ("data.start=2012-11-15", "data.end=2012-12-31", "strategy.params.fast=3", "strategy.params.slow=5")}
PAGES = ("run", "run_6", "run_31", "compare_same", "compare_differ", "burnin_go", "burnin_nogo", "sweep",
         "sweep_random", "run_risk", "compare_risk")
RISK = ROOT / "experiments" / "risk_limits.yaml"  # risk events of every action but a halt, exposure, VaR

#: what a number must never look like on a page
RAW = {
    "scientific notation with a long mantissa": re.compile(r"\d\.\d{2,}e[-+]?\d", re.I),
    "more than 4 decimals": re.compile(r"\d\.\d{5,}"),
    "a signed zero": re.compile(r"(?<![\w.,])[-+\u2212]0(?:\.0+)?(?![\d.,])"),
    "nan or inf": re.compile(r"\b(?:nan|inf|infinity)\b", re.I),
}
#: a table cell holding only a number of 4+ integer digits and no thousands separator
UNSEPARATED = re.compile(r"^[-+\u2212]?\d{5,}(?:\.\d+)?$|^[-+\u2212]?\d{4,}\.\d+$")


def _compare_differ(out: Path, zipline: Path) -> Path:
    """Backtrader filling at the next open against Zipline's run at the next close: a real equity difference."""
    base = load_experiment(QUICKSTART)
    market = load_market(base.data)
    shifted = base.model_copy(update={"broker": base.broker.model_copy(update={"fill": "next_open"})})
    a = RunFolder.read(run_loaded(shifted, market, "backtrader", out).folder)
    b = RunFolder.read(zipline)
    bars = {s: f.set_axis(f.index.strftime("%Y-%m-%d")) for s, f in market.frames.items()}
    comparison = compare_runs(a, b, bars)
    assert not comparison.agree
    write_comparison(comparison, [a, b], out / "compare", "quickstart: next_open vs next_close")
    return out / "compare" / "compare.html"


def _burnins(out: Path) -> tuple[Path, Path]:
    go = paper_simulated(PAPER, out=out / "go")
    assert go.burnin["verdict"] == "go", go.burnin["reasons"]
    strict = ("burnin.min_sessions=1000", "burnin.min_trades=40")
    exp = load_experiment(PAPER, strict)
    result = burnin_report(exp, go.paper, go.shadow, disconnects=0, missed_bars=0, unreconciled=0, mode="simulate")
    assert result["verdict"] == "no-go"
    nogo = out / "nogo" / "burnin.html"
    nogo.parent.mkdir(parents=True)
    write_burnin_html(nogo, exp, result, go.paper, go.shadow, experiment_file=PAPER, overrides=strict)
    return go.folder / "burnin.html", nogo


def _sweep(out: Path, name: str, strategy: dict[str, Any], **section: Any) -> Path:
    out.mkdir(parents=True)
    walkforward = section.pop("walkforward", None)
    extra = {"walkforward": walkforward} if walkforward else {}
    path = write_experiment(out, name, data={"source": "sample", "symbols": ["SPX"], "start": "2010-01-04",
                                             "end": "2012-12-31"},
                            strategy=strategy, sweep={"min_trades": 1, **section}, **extra)
    return run_sweep(path, out=out / "out", workers=1).report_path


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    browser.chromium()  # skip before building anything when there is no browser
    out = tmp_path_factory.mktemp("pages")
    found = {"run": run_experiment(str(QUICKSTART), out=out / "run").report_path}
    for name, overrides in SHORT.items():
        found[name] = run_experiment(str(QUICKSTART), overrides, out=out / name).report_path
    same = compare_experiment(QUICKSTART, ("backtrader", "zipline"), out=out / "same")
    found["compare_same"] = same.folder / "compare.html"
    found["compare_differ"] = _compare_differ(out / "differ", same.runs[1].folder)
    found["burnin_go"], found["burnin_nogo"] = _burnins(out / "burnin")
    found["sweep"] = _sweep(out / "sweep", "grid", {"name": "sma_cross"},
                            space={"strategy.params.fast": [5, 10], "strategy.params.slow": [20, 50]},
                            constraints=["fast < slow"], metric="sharpe",
                            walkforward={"train": 252, "test": 126, "purge": 5})
    # drawn floats (nbdev 1.1882634567...) must show as a person would write them
    found["sweep_random"] = _sweep(out / "random", "drawn", {"name": "bollinger_breakout"}, method="random",
                                   samples=6, seed=3, metric="total_return",
                                   space={"strategy.params.period": {"low": 10, "high": 40},
                                          "strategy.params.nbdev": {"low": 1.0, "high": 3.0}})
    risk = compare_experiment(RISK, ("backtrader", "zipline"), out=out / "risk")
    found["run_risk"], found["compare_risk"] = risk.runs[0].folder / "report.html", risk.folder / "compare.html"
    assert set(found) == set(PAGES)
    return found


@pytest.fixture(scope="module")
def layout(pages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, Any]]:
    return browser.measure(pages, tmp_path_factory.mktemp("measure"))


@pytest.fixture(scope="module")
def shots(pages: dict[str, Path], layout: dict[str, dict[int, Any]],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, np.ndarray]]:
    folder = tmp_path_factory.mktemp("shots")
    keep = os.environ.get("ALGOTRADE_SCREENSHOTS")
    out = {}
    for name, page in pages.items():
        png = folder / f"{name}.png"
        out[name] = browser.screenshot(page, {w: layout[name][w]["height"] for w in browser.WIDTHS}, png)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(png, Path(keep) / png.name)
    return out


@pytest.mark.parametrize("width", browser.WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_never_scrolls_sideways(layout: dict[str, dict[int, Any]], name: str, width: int) -> None:
    m = layout[name][width]
    assert m["vw"] == width
    assert m["scrollWidth"] <= width, f"{name} at {width} px is {m['scrollWidth']} px wide: {m['overflowing'][:5]}"
    assert not m["overflowing"], f"{name} at {width} px: outside the page: {m['overflowing'][:5]}"
    for t in m["tables"]:
        assert t["inBox"], f"{name}: table {t['head']!r} is not in a scrolling box"
        assert t["box"]["right"] <= width + 0.5, f"{name}: the box of table {t['head']!r} leaves the page"
    for img in m["images"]:
        assert img["left"] >= 0 and img["right"] <= width + 0.5, f"{name}: image {img['alt']!r} leaves the page"


def test_wide_tables_scroll_inside_their_box_on_a_phone(layout: dict[str, dict[int, Any]]) -> None:
    """The check above is not empty: on a phone, the wide tables are wider than their box and scroll in it."""
    for name in ("compare_same", "compare_differ", "sweep", "run"):
        wide = [t for t in layout[name][390]["tables"] if t["table"]["width"] > 390]
        assert wide and all(t["scrolls"] for t in wide), f"{name}: {[(t['head'], t['scrolls']) for t in wide]}"
    assert not any(t["scrolls"] for t in layout["compare_same"][1280]["tables"]), "a table scrolls on a laptop"


@pytest.mark.parametrize("name", PAGES)
def test_no_raw_float_on_the_page(layout: dict[str, dict[int, Any]], name: str) -> None:
    m = layout[name][1280]
    for what, pattern in RAW.items():
        found = pattern.findall(m["text"])
        assert not found, f"{name}: {what}: {found[:5]}"
    unseparated = [c for c in m["cells"] if UNSEPARATED.match(c)]
    assert not unseparated, f"{name}: numbers without thousands separators: {unseparated[:5]}"


@pytest.mark.parametrize("name", PAGES)
def test_no_plot_label_is_cut_off(shots: dict[str, dict[int, np.ndarray]], layout: dict[str, dict[int, Any]],
                                  name: str) -> None:
    """A label cut by the edge of its image leaves ink on that edge: every image's 3 px frame is blank."""
    images = layout[name][1280]["images"]
    assert images, f"{name} has no plot"
    for img in images:
        assert img["natural"][0] > 0, f"{name}: image {img['alt']!r} did not decode"
        pixels = browser.crop(shots[name][1280], img).astype(int)
        assert pixels.shape[0] > 50 and pixels.shape[1] > 200, (img["alt"], pixels.shape)
        frame = np.concatenate([pixels[:3].reshape(-1, 3), pixels[-3:].reshape(-1, 3),
                                pixels[:, :3].reshape(-1, 3), pixels[:, -3:].reshape(-1, 3)])
        ink = np.count_nonzero(frame.min(axis=1) < 200)
        assert ink == 0, f"{name}: {ink} dark pixels on the edge of image {img['alt']!r}: a label is cut off"
        inner = pixels[3:-3, 3:-3]
        assert np.count_nonzero(inner.min(axis=2) < 200) > 500, f"{name}: image {img['alt']!r} is blank"


def _line_rows(pixels: np.ndarray, colour: str) -> np.ndarray:
    """The rows of an image in which a line of ``colour`` is drawn."""
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    near = np.abs(pixels.astype(int) - target).sum(axis=2) < 90
    return np.flatnonzero(near.sum(axis=1) >= 3)


def _difference(layout: dict[str, dict[int, Any]], shots: dict[str, dict[int, np.ndarray]],
                name: str) -> tuple[np.ndarray, list[dict[str, str]]]:
    m = layout[name][1280]
    panels = [i for i in m["images"] if i["alt"] == "equity difference"]
    assert len(panels) == 1, f"{name}: {[i['alt'] for i in m['images']]}"
    return _line_rows(browser.crop(shots[name][1280], panels[0]), DIFF_COLOUR), m["notes"]


@pytest.mark.parametrize("name", ["compare_same", "burnin_go", "burnin_nogo"])
def test_a_difference_of_float_noise_is_a_flat_line_that_says_identical(
        layout: dict[str, dict[int, Any]], shots: dict[str, dict[int, np.ndarray]], name: str) -> None:
    rows, notes = _difference(layout, shots, name)
    assert len(rows), f"{name}: no difference line drawn"
    assert rows.max() - rows.min() <= 4, f"{name}: the difference line spans rows {rows.min()}..{rows.max()}"
    assert notes and all("identical" in n["cls"] and "identical within 1e-9" in n["text"] for n in notes), notes


def test_a_real_difference_is_still_drawn(layout: dict[str, dict[int, Any]],
                                          shots: dict[str, dict[int, np.ndarray]]) -> None:
    rows, notes = _difference(layout, shots, "compare_differ")
    assert rows.max() - rows.min() > 40, f"the difference line spans rows {rows.min()}..{rows.max()} only"
    assert notes and not any("identical" in n["cls"] for n in notes), notes
    assert "largest difference" in notes[0]["text"]


@pytest.mark.parametrize("name", PAGES)
def test_page_is_self_contained_and_sized_for_any_screen(pages: dict[str, Path], name: str) -> None:
    text = pages[name].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "the page loads something"
    assert "<script" not in text.lower()
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in text


def test_the_burnin_pages_say_what_to_do_next(layout: dict[str, dict[int, Any]]) -> None:
    go, nogo = layout["burnin_go"][1280]["text"], layout["burnin_nogo"][1280]["text"]
    assert re.search(r"algotrade live \S+paper_quickstart\.yaml --out \S+ --confirm-live", go), go[:600]
    assert not re.search(r"--confirm(?!-live)", go + nogo)
    assert "--confirm-live" not in nogo
    assert "754 ran, at least 1,000 needed" in nogo and "25 made, at least 40 needed" in nogo
    assert re.search(r"Then run the burn-in again: \S*algotrade paper \S+paper_quickstart\.yaml --set "
                     r"burnin\.min_sessions=1000 --set burnin\.min_trades=40 --out \S+ --simulate", nogo), nogo[:900]
