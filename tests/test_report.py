"""The pieces every report is built from, without a browser: time axes that fit short and long
runs, labels kept inside their plot, difference panels that tell float noise from a real
difference, the compare tables, and what the burn-in page tells the operator to do next.
(The pages themselves are rendered in Chromium by test_report_pages.py and test_report_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest

from algotrade.backtest.compare import RunFolder
from algotrade.backtest.compare_report import _metrics_table, _prices
from algotrade.core.config import load_experiment
from algotrade.live.burnin_report import live_command, next_steps
from algotrade.report import run_report as report
from algotrade.research.sweep_report import _how_it_ran

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "experiments" / "paper_quickstart.yaml"


def _sessions(n: int, end: str = "2012-12-31") -> pd.DatetimeIndex:
    return pd.bdate_range(end=end, periods=n)


def _inside(fig: Any) -> bool:
    w, h = fig.get_size_inches()
    box = fig.get_tightbbox()
    return bool(box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w and box.y1 <= h)


def _time_figure(dates: pd.DatetimeIndex, values: np.ndarray) -> Any:
    fig, ax = report._figure(2.4)
    ax.plot(dates, values)
    ax.yaxis.set_major_formatter(report._thousands)
    report.time_axis(ax, dates)
    report._header(ax, "a title", legend=False)
    return fig


@pytest.mark.parametrize("n", [2, 5, 6, 12])
def test_a_very_short_run_has_a_tick_on_each_session_and_none_between(n: int) -> None:
    dates = _sessions(n)
    fig = _time_figure(dates, np.linspace(1e5, 1.1e5, n))
    ticks = fig.axes[0].get_xticks()
    assert list(ticks) == list(mdates.date2num(dates.to_pydatetime()))
    report.plt.close(fig)


@pytest.mark.parametrize("n", [13, 30, 31, 250, 2013, 5000])
def test_longer_runs_have_a_few_calendar_ticks_and_no_hours(n: int) -> None:
    dates = _sessions(n)
    fig = _time_figure(dates, np.linspace(1e5, 1.1e5, n))
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert 3 <= len(ticks) <= 12, ticks
    assert all(float(t).is_integer() for t in ticks), "a tick falls inside a day"
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and not any(":" in label for label in labels), labels
    report.plt.close(fig)


@pytest.mark.parametrize("n", [2, 6, 31, 2013])
def test_fit_margins_keeps_every_label_inside_and_the_axes_aligned(n: int) -> None:
    dates = _sessions(n)
    small = _time_figure(dates, np.linspace(-0.2, 0.0, n))
    huge = _time_figure(dates, np.linspace(1e9, 3e9, n))  # "3,000,000,000" needs a wider left margin
    huge.axes[0].annotate("a long note at the last session", xy=(dates[-1], 3e9), xytext=(8, 0),
                          textcoords="offset points")
    assert not _inside(huge), "the test figure does not overflow: this test would prove nothing"
    report.fit_margins([small, huge])
    assert _inside(small) and _inside(huge)
    w = small.get_size_inches()[0]
    assert small.subplotpars.left * w == pytest.approx(huge.subplotpars.left * huge.get_size_inches()[0])
    assert small.subplotpars.right == pytest.approx(huge.subplotpars.right)
    for fig in (small, huge):
        report.plt.close(fig)


def _curve(values: np.ndarray, dates: pd.DatetimeIndex) -> pd.Series:
    return pd.Series(values, index=dates, dtype=float)


def test_a_difference_of_float_noise_is_identical_and_a_real_one_is_drawn() -> None:
    dates = _sessions(300)
    rng = np.random.default_rng(3)
    equity = 1e5 * np.cumprod(1 + rng.normal(0, 0.01, len(dates)))
    noise = rng.choice([-2.9e-11, 0.0, 1.5e-11], len(dates))
    same = report.equity_comparison([("a", _curve(equity, dates)), ("b", _curve(equity + noise, dates))], base=0,
                                    title="t", difference_title="d")
    assert "class='note identical'" in same and "identical within 1e-9 of equity" in same

    real = equity + noise
    real[200:] += 250.0
    differ = report.equity_comparison([("a", _curve(equity, dates)), ("b", _curve(real, dates))], base=0,
                                      title="t", difference_title="d")
    assert "identical" not in differ
    assert "largest difference +250.00 on " in differ
    assert "100 of 300 sessions differ" in differ  # the noise before session 200 counts as no difference

    diff, identical = report._differences(_curve(real, dates), _curve(equity, dates), dates)
    assert not identical and (diff[:200] == 0).all() and np.allclose(diff[200:], 250.0)


def test_a_real_difference_below_a_cent_is_drawn_with_readable_ticks() -> None:
    dates = _sessions(50)
    equity = np.full(50, 1e5)
    page = report.equity_comparison([("a", _curve(equity, dates)), ("b", _curve(equity + 5e-4, dates))], base=0,
                                    title="t", difference_title="d")
    assert "identical" not in page and "largest difference +5e-4 on " in page  # 5e-9 of equity: not float noise
    ticks = report._MoneyTicks().format_ticks([0.0, 0.0002, 0.0004, 0.0006])
    assert ticks == ["0.0000", "0.0002", "0.0004", "0.0006"]
    assert report._MoneyTicks().format_ticks([-10000.0, -5000.0, 0.0]) == ["-10,000", "-5,000", "0"]


def test_a_difference_with_no_common_session_is_not_called_identical() -> None:
    dates = _sessions(20)
    page = report.equity_comparison([("a", _curve(np.full(20, 1e5), dates)),
                                     ("b", _curve(np.full(20, np.nan), dates))], base=0, title="t", difference_title="d")
    assert "identical" not in page and "no session in common" in page


def _run(engine: str, metrics: dict[str, Any]) -> RunFolder:
    empty = pd.DataFrame()
    return RunFolder(engine, empty, empty, empty, metrics, {})


def test_compare_metrics_are_formatted_and_their_noise_is_zero() -> None:
    a = {"sessions": 2013, "final_equity": 126525.73000000005, "total_return": 0.2652573000000005,
         "sharpe": 0.3191742593100635, "alpha": None, "start": "2005-01-03"}
    b = {**a, "final_equity": 126525.73000000005 - 2.91038e-11, "total_return": 0.26525729999999983,
         "sharpe": 0.31917425931006194}
    table = _metrics_table([_run("backtrader", a), _run("zipline", b)])
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert "126,525.73" in cells and "+26.53%" in cells and "2,013" in cells and "0.32" in cells
    assert not any(re.search(r"e-\d|\d\.\d{5,}", c) for c in cells), cells
    rows = dict(re.findall(r"<td class=l title='(\w+)'>.*?</td>(?:<td>[^<]*</td>){2}<td>([^<]*)</td>", table))
    assert rows == {"sessions": "0", "final_equity": "0.00", "total_return": "0.00%", "sharpe": "0.00",
                    "alpha": "", "start": ""}
    c = {**a, "final_equity": 126000.0}
    assert "-525.73" in _metrics_table([_run("backtrader", a), _run("zipline", c)])


def test_compare_prices_show_the_decimals_that_make_a_difference_visible() -> None:
    assert _prices(1154.05, 1154.05) == ("1,154.05", "1,154.05")
    assert _prices(1154.05, 1154.0500000001) == ("1,154.05", "1,154.05")  # float noise: shown equal
    assert _prices(1154.05, 1154.05001) == ("1,154.05000", "1,154.05001")
    assert _prices(1154.05, None) == ("1,154.05", "")


def _result(verdict: str, mode: str = "simulate", **measured: Any) -> dict[str, Any]:
    gates = {"min_sessions": 250, "min_trades": 10, "max_tracking_error": 0.01, "max_slippage_bps": 5.0,
             "max_unreconciled": 0}
    values = {"sessions": 754, "trades": 25, "tracking_error": 3.4e-14, "slippage_bps": 0.0, "unreconciled": 0,
              **measured}
    return {"verdict": verdict, "mode": mode, "config_id": "540ecac6571b", "gates": gates, "measured": values,
            "reasons": [f"{k} failed" for k in measured]}


def test_the_go_page_gives_the_exact_live_command() -> None:
    exp = load_experiment(PAPER)
    default = Path(exp.output.dir) / exp.name / "paper"
    steps = " ".join(next_steps(exp, _result("go"), default, "experiments/paper_quickstart.yaml"))
    assert "<code>bin/algotrade live experiments/paper_quickstart.yaml --confirm-live</code>" in steps
    assert "ALGOTRADE_IB_ACCOUNT" in steps and not re.search(r"--confirm(?!-live)", steps)


def test_the_live_command_repeats_the_overrides_and_the_output_folder(tmp_path: Path) -> None:
    exp = load_experiment(PAPER, ("strategy.params.fast=5",))
    folder = tmp_path / "out dir" / exp.name / "paper"
    command = live_command(PAPER, ("strategy.params.fast=5",), folder, exp)
    assert command == (f"bin/algotrade live {PAPER} --set strategy.params.fast=5 --out '{tmp_path / 'out dir'}' "
                       "--confirm-live")


@pytest.mark.parametrize(("failed", "words"), [
    ({"sessions": 120}, ["<b>sessions</b>", "at least 250", "data.start", "data.end"]),
    ({"trades": 3}, ["<b>trades</b>", "at least 10", "burnin.min_trades"]),
    ({"tracking_error": 0.05}, ["<b>tracking error</b> 5.00%", "at most 1.00%", "broker.fill"]),
    ({"slippage_bps": 7.5}, ["<b>slippage</b> 7.50 bp", "at most 5.00 bp", "broker.slippage"]),
    ({"unreconciled": 2}, ["<b>unreconciled</b>", "journal.sqlite", "bin/algotrade kill experiments/paper_quickstart.yaml"]),
])
def test_the_no_go_page_says_what_to_do_about_each_failed_gate(failed: dict[str, Any], words: list[str]) -> None:
    exp = load_experiment(PAPER)
    folder = Path(exp.output.dir) / exp.name / "paper"
    steps = next_steps(exp, _result("no-go", **failed), folder, "experiments/paper_quickstart.yaml")
    text = " ".join(steps)
    for word in words:
        assert word in text, (word, text)
    assert len(steps) == 2  # the failed gate, then how to run the burn-in again
    assert "<code>bin/algotrade paper experiments/paper_quickstart.yaml --simulate</code>" in steps[-1]
    assert "--confirm-live" not in text


def test_a_no_go_paper_run_too_short_is_told_to_run_longer() -> None:
    exp = load_experiment(PAPER)
    folder = Path(exp.output.dir) / exp.name / "paper"
    steps = next_steps(exp, _result("no-go", mode="paper", sessions=120, trades=3), folder,
                       "experiments/paper_quickstart.yaml")
    assert "bin/algotrade paper experiments/paper_quickstart.yaml --sessions 250" in steps[0]
    assert "<b>trades</b>" in steps[1] and len(steps) == 3


def test_a_live_run_page_never_says_to_go_live() -> None:
    exp = load_experiment(PAPER)
    folder = Path(exp.output.dir) / exp.name / "live"
    bad = " ".join(next_steps(exp, _result("no-go", mode="live", tracking_error=0.05), folder, "x.yaml"))
    assert "bin/algotrade kill x.yaml --live" in bad and "--confirm-live" not in bad
    assert "--confirm-live" not in " ".join(next_steps(exp, _result("go", mode="live"), folder, "x.yaml"))


def test_how_a_sweep_ran_is_a_sentence_not_json() -> None:
    line = _how_it_ran({"executor": "local", "workers": 2, "ran": 137, "resumed": 0, "run_seconds": 10.6512345,
                        "runs_per_s": 12.863401})
    assert line == "local executor, 2 workers: ran 137, resumed 0 in 10.65 s (12.86 runs/s)"
    assert _how_it_ran({"executor": "ray", "workers": 4, "ran": 0, "resumed": 22, "run_seconds": None,
                        "runs_per_s": None}) == "ray executor, 4 workers: ran 0, resumed 22"


def _positions_text(page: str) -> str:
    section = page[page.index("Positions at the end"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section[:section.index("<h2>", 30)]))


def test_positions_at_the_end_show_shorts_negative_with_gross_and_net_exposure() -> None:
    from algotrade.core.data import Market
    from algotrade.core.results import TRADE_COLUMNS, Tables

    dates = pd.bdate_range("2021-03-01", periods=3)
    frames = {s: pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1e3}, index=dates)
              for s, c in (("LONGCO", [9.0, 10.0, 11.0]), ("SHORTCO", [21.0, 20.0, 19.0]), ("FLAT", [5.0] * 3))}
    trades = pd.DataFrame([("2021-03-01", "LONGCO", 100, 9.0, 0.0, 1), ("2021-03-01", "SHORTCO", -60, 21.0, 0.0, 2),
                           ("2021-03-01", "FLAT", 10, 5.0, 0.0, 3), ("2021-03-02", "FLAT", -10, 5.0, 0.0, 4)],
                          columns=TRADE_COLUMNS)
    equity = pd.DataFrame({"date": [str(d.date()) for d in dates], "cash": 1_000.0,
                           "positions_value": 0.0, "equity": [2_000.0, 2_000.0, 2_000.0]})
    text = _positions_text("<h2>Positions at the end</h2>" + report.positions_table(
        Market(frames, "XNYS"), Tables(trades, pd.DataFrame(), equity)) + "<h2>next</h2>")
    # at the last close: long 100 x 11 = 1,100, short 60 x 19 = 1,140 of equity 2,000; FLAT is closed
    assert "LONGCO long +100 11.00 1,100.00 +55.0%" in text
    assert "SHORTCO short -60 19.00 -1,140.00 -57.0%" in text
    assert "FLAT" not in text
    assert "gross 112.0%, net -2.0% of equity (long 1,100.00, short 1,140.00)" in text


def test_the_report_of_a_run_ending_short_lists_the_short_and_its_borrow_fees(tmp_path: Path) -> None:
    from algotrade.backtest.run import run_experiment

    result = run_experiment(ROOT / "experiments" / "longshort_sma.yaml", out=tmp_path,
                            overrides=("data.start=2008-01-02", "data.end=2008-11-28"))
    held = int(result.tables.trades["quantity"].sum())
    assert held < 0
    page = (result.folder / "report.html").read_text()
    text = _positions_text(page)
    assert f"SPX short {held:+,} " in text and "net -" in text
    fees = result.metrics["total_borrow_fees"]
    assert fees > 0 and f"Borrow fees paid (shorts) {fees:,.2f}" in re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
