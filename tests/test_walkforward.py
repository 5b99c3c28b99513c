"""Walk-forward: the window layout, the in-sample choice, stitching, and that no out-of-sample
result uses data the parameters were chosen on (the purge gap is tested by poisoning it)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from algotrade.core.config import DataConfig, WalkForwardConfig
from algotrade.core.data import load_market
from algotrade.core.errors import ConfigError
from algotrade.research.sweep import run_sweep
from algotrade.research.walkforward import chain, choose, windows
from tests.stubs import write_experiment

DAYS = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(1000)]


def test_rolling_windows_lay_out_train_purge_warmup_test_in_order() -> None:
    ws = windows(DAYS, WalkForwardConfig(train=200, test=100, purge=5), warmup=20)
    assert len(ws) == 7
    w0 = ws[0]
    assert (w0.train, w0.purge, w0.warmup, w0.test) == ((0, 199), (200, 204), (205, 224), (225, 324))
    for a, b in itertools.pairwise(ws):
        assert b.train[0] == a.train[0] + 100 and b.train[1] - b.train[0] == 199  # rolling, fixed length
        assert b.test[0] == a.test[1] + 1  # test windows tile
    for w in ws:
        assert w.train[1] < w.purge[0] <= w.purge[1] < w.warmup[0] <= w.warmup[1] < w.test[0] <= w.test[1] < 1000
        assert w.run_start == DAYS[w.warmup[0]] and w.test_dates == (DAYS[w.test[0]], DAYS[w.test[1]])


def test_anchored_windows_start_at_the_first_session_and_grow() -> None:
    ws = windows(DAYS, WalkForwardConfig(train=300, test=150, step=200, purge=0, mode="anchored"), warmup=0)
    assert [w.train for w in ws] == [(0, 299), (0, 499), (0, 699)]
    assert [w.test for w in ws] == [(300, 449), (500, 649), (700, 849)]  # step > test: gaps between tests
    assert all(w.purge[0] > w.purge[1] and w.run_start == DAYS[w.test[0]] for w in ws)  # no purge, no warm-up


def test_too_little_data_for_one_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"train 900 \+ purge 5 \+ warm-up 50 \+ test 100 = 1055 sessions, but the data has 1000"):
        windows(DAYS, WalkForwardConfig(train=900, test=100), warmup=50)


def test_choose_takes_the_best_eligible_run_and_breaks_ties_by_order() -> None:
    runs = [(0, {"sharpe": 0.5, "trade_count": 9}), (1, {"sharpe": 0.9, "trade_count": 2}),
            (2, {"sharpe": None, "trade_count": 9}), (3, None), (4, {"sharpe": 0.7, "trade_count": 9}),
            (5, {"sharpe": 0.7, "trade_count": 9})]
    assert choose(runs, "sharpe", "max", min_trades=0) == 1
    assert choose(runs, "sharpe", "max", min_trades=5) == 4  # 1 traded too little; 4 and 5 tie: the first
    assert choose(runs, "sharpe", "min", min_trades=5) == 0
    assert choose([(0, None), (1, {"sharpe": float("nan"), "trade_count": 3})], "sharpe", "max", 0) is None


def test_chain_compounds_each_segment_from_the_equity_before_it() -> None:
    d = [dt.date(2020, 1, i) for i in range(1, 5)]
    dates, values = chain([(d[:2], [100.0, 110.0, 121.0]), (d[2:], [50.0, 25.0, 50.0])], cash=1000.0)
    assert dates == d
    assert values == pytest.approx([1100.0, 1210.0, 605.0, 1210.0])


# --------------------------------------------------------------------------------------------
# on real data: no out-of-sample evaluation on train data, and the purge gap is seen by no run

# a short warm-up on purpose: SMA(50) then needs bars from before the test run's first session, so a
# test run that saw the purge gap (or the train window) would trade differently on poisoned bars
WF = {"train": 252, "test": 126, "purge": 5, "warmup": 10}
SPACE = {"strategy.params.fast": [5, 10], "strategy.params.slow": [20, 50]}


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    market = load_market(DataConfig(source="sample", symbols=("SPX",), start=dt.date(2010, 1, 4), end=dt.date(2012, 12, 31)))
    return market.frames["SPX"]


def _sweep(folder: Path, bars: pd.DataFrame) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "spx.csv"
    bars.rename_axis("Date").rename(columns=str.capitalize).to_csv(csv, float_format="%.3f")
    path = write_experiment(
        folder, "wf", data={"source": "csv", "symbols": ["SPX"], "path": "spx.csv"},
        sweep={"space": SPACE, "constraints": ["fast < slow"], "min_trades": 1}, walkforward=WF,
    )
    return run_sweep(path, out=folder / "out", workers=2)


def _test_row(result: Any, window: int) -> dict[str, Any]:
    return next(r for r in result.rows if r["phase"] == "test" and r["window"] == window)


def _evaluated(result: Any, row: dict[str, Any]) -> tuple[list[str], str]:
    folder = result.folder / row["folder"]
    equity = pd.read_csv(folder / "equity.csv")
    metrics = json.loads((folder / "metrics.json").read_text())
    return equity["date"].tolist()[metrics["warmup_sessions"]:], (folder / "trades.csv").read_text()


def _seen(result: Any, row: dict[str, Any]) -> str:
    """The hash of every bar the run was given (run.json's data_hash)."""
    return str(json.loads((result.folder / row["folder"] / "run.json").read_text())["data_hash"])


@pytest.fixture(scope="module")
def clean(spx: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _sweep(tmp_path_factory.mktemp("clean"), spx)


def test_no_out_of_sample_result_uses_data_the_parameters_were_chosen_on(clean: Any) -> None:
    ws = clean.plan.windows
    assert len(ws) == 3
    for w in ws:
        row = _test_row(clean, w.index)
        dates, _ = _evaluated(clean, row)
        first_seen = json.loads((clean.folder / row["folder"] / "run.json").read_text())["data"]["first"]
        purge_end = w.dates[w.purge[1]]
        assert dates[0] == str(w.test_dates[0]) and dates[-1] == str(w.test_dates[1])
        assert dt.date.fromisoformat(first_seen) > purge_end  # not even the warm-up touches train or purge
        for earlier in ws[: w.index + 1]:  # nor the train window (or purge) of this or any earlier window
            assert all(dt.date.fromisoformat(d) > earlier.dates[earlier.purge[1]] for d in dates)
        for train in (r for r in clean.rows if r["phase"] == "train" and r["window"] == w.index):
            seen = json.loads((clean.folder / train["folder"] / "run.json").read_text())["data"]
            assert (seen["first"], seen["last"]) == tuple(map(str, w.train_dates))  # train runs stop before the purge


def _poisoned(bars: pd.DataFrame, rows: range, factor: float) -> pd.DataFrame:
    out = bars.copy()
    cols = ["open", "high", "low", "close"]
    out.iloc[list(rows), [out.columns.get_loc(c) for c in cols]] *= factor
    return out


def test_poisoning_the_purge_gap_changes_nothing_but_poisoning_the_test_window_does(
    clean: Any, spx: pd.DataFrame, tmp_path: Path
) -> None:
    w0 = clean.plan.windows[0]
    def window0(result: Any) -> tuple[Any, ...]:
        test = _test_row(result, 0)
        train = [(r["point"], r["sharpe"], r["trade_count"], _seen(result, r)) for r in result.rows
                 if r["phase"] == "train" and r["window"] == 0]
        return _evaluated(result, test), test["sharpe"], _seen(result, test), train

    baseline = window0(clean)
    gap = _sweep(tmp_path / "gap", _poisoned(spx, range(w0.purge[0], w0.purge[1] + 1), 10.0))
    assert gap.summary["data_hashes"] != clean.summary["data_hashes"]  # the sweep did read the poisoned bars
    # window 0's runs were given exactly the same bars, and chose and traded exactly the same
    assert window0(gap) == baseline

    test = _sweep(tmp_path / "test", _poisoned(spx, range(w0.test[0], w0.test[0] + 20), 1.5))
    poisoned = window0(test)
    assert poisoned[3] == baseline[3]  # the train runs did not see the test window either
    assert poisoned[2] != baseline[2] and poisoned[0] != baseline[0]  # but the test run did, and traded otherwise
