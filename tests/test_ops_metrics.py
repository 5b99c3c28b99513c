"""The operating layer of a whole simulated burn-in: the incremental shadow equals the end-of-run
shadow backtest session for session, and /metrics carries the documented series with their values."""

from __future__ import annotations

import math
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "experiments" / "paper_quickstart.yaml"
DOC = ROOT / "docs" / "metrics.md"


def _run(tmp_path: Path):  # type: ignore[no-untyped-def]
    from algotrade.live.paper import paper_simulated

    return paper_simulated(EXPERIMENT, out=tmp_path, sessions=120)


def test_the_incremental_shadow_equals_the_end_of_run_shadow_backtest(tmp_path: Path) -> None:
    result = _run(tmp_path)
    state = result.ops.state.snapshot()
    backtest = [(d, value) for d, _cash, value in result.shadow.equity[result.shadow.live_from:]]
    live = state["equity"]
    assert len(live) == len(backtest) == 120
    for point, (day, value) in zip(live, backtest, strict=True):
        assert point["date"] == str(day)[:10]
        assert math.isclose(point["shadow"], value, rel_tol=0, abs_tol=1e-6), (point, day, value)
    assert result.burnin["fills_equal_backtest"] is True
    assert state["divergence"] is not None and state["divergence"] < 1e-9  # paper = shadow here
    assert state["sessions"] == 120 and state["fills"], state["orders"]


def test_metrics_carry_every_documented_series_with_the_runs_values(tmp_path: Path) -> None:
    result = _run(tmp_path)
    text = result.ops.metrics.render().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    documented = set(re.findall(r"^\| `(algotrade_[a-z_]+)`", DOC.read_text(), re.M))
    documented |= set(re.findall(r"\| `algotrade_[a-z_]+` / `(algotrade_[a-z_]+)`", DOC.read_text()))
    names = {n.removesuffix("_total") for n in documented}
    # the limits of unset risk rules are absent by design (paper_quickstart sets none of them)
    optional = {"algotrade_drawdown_limit_ratio", "algotrade_daily_loss_limit_ratio"}
    missing = {n for n in names - optional if n not in families}
    assert not missing, missing
    for family in families.values():
        for sample in family.samples:
            assert sample.labels.get("experiment") == "paper_quickstart" and sample.labels.get("mode") == "simulate"
    state = result.ops.state.snapshot()
    equity = families["algotrade_equity_dollars"].samples[0].value
    assert math.isclose(equity, state["equity"][-1]["paper"])
    filled = {s.labels["status"]: s.value for s in families["algotrade_orders"].samples if s.name.endswith("_total")}
    assert filled["filled"] == state["orders"]["filled"] > 0
    latency = [s for s in families["algotrade_bar_to_order_seconds"].samples if s.name.endswith("_count")]
    assert latency[0].value > 0
