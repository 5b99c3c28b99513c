"""The sweep:, walkforward: and window: sections: validation, safe constraints, points, config ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from algotrade.core.config import dump_experiment, experiment_from_dict, load_experiment
from algotrade.core.constraints import ConstraintSyntaxError, parse_constraint
from algotrade.core.errors import ConfigError
from algotrade.research.sweep_plan import plan_grid, point_values

ROOT = Path(__file__).resolve().parents[1]
SWEEP_SMA = ROOT / "experiments" / "sweep_sma.yaml"
BASE: dict[str, Any] = {"name": "t", "strategy": {"name": "sma_cross"}, "engine": "backtrader"}


def _exp(sweep: dict[str, Any] | None, **more: Any) -> Any:
    return experiment_from_dict({**BASE, "sweep": sweep, **more})


@pytest.mark.parametrize(
    ("space", "words"),
    [
        ({"strategy.params.fsat": [5]}, ["sweep.space", "'strategy.params.fsat'", "did you mean 'fast'", "parameters: fast, slow"]),
        ({"data.symbls": [["SPX"]]}, ["sweep.space", "'symbls'", "did you mean 'symbols'"]),
        ({"brokr.cash": [1e5]}, ["'brokr'", "did you mean 'broker'"]),
        ({"output.dir": ["x"]}, ["output cannot be swept"]),
        ({"broker.cash.x": [1]}, ["broker.cash is a value, not a section"]),
        ({"strategy.params.fast": []}, ["has no values"]),
        ({"strategy.params.fast": [5, 5]}, ["lists 5 twice"]),
        ({"strategy.params.fast": {"low": 5, "high": 50}}, ["only a random search"]),
    ],
)
def test_swept_fields_are_checked_with_did_you_mean(space: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        _exp({"space": space})
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_other_sweep_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match="did you mean 'sharpe'"):
        _exp({"space": {"strategy.params.fast": [5]}, "metric": "sharp"})
    with pytest.raises(ConfigError, match="samples: N"):
        _exp({"space": {"strategy.params.fast": [5]}, "method": "random"})
    with pytest.raises(ConfigError, match=r"sweep.heatmap: 'slw' is not swept; did you mean 'slow'"):
        _exp({"space": {"strategy.params.fast": [5], "strategy.params.slow": [50]}, "heatmap": ["fast", "slw"]})
    with pytest.raises(ConfigError, match=r"unknown key 'sweep.metrc'; did you mean 'metric'"):
        _exp({"space": {"strategy.params.fast": [5]}, "metrc": "sharpe"})
    with pytest.raises(ConfigError, match="walkforward: needs a sweep: section"):
        _exp(None, walkforward={"train": 100, "test": 50})
    with pytest.raises(ConfigError, match=r"step \(10\) is shorter than test \(50\)"):
        _exp({"space": {"strategy.params.fast": [5]}}, walkforward={"train": 100, "test": 50, "step": 10})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('__import__("os").system("true")', "the only functions are"),
        ("(lambda: 1)()", "the only functions are"),
        ("fast[0] < slow", "Subscript is not allowed"),
        ("[x for x in (1, 2)]", "ListComp is not allowed"),
        ("fast ** 99999 > slow", "are allowed in arithmetic"),
        ("fast <", "not an expression"),
    ],
)
def test_constraints_are_parsed_by_a_whitelist_never_evaluated_as_code(text: str, words: str) -> None:
    with pytest.raises(ConstraintSyntaxError, match=words):
        parse_constraint(text)
    with pytest.raises(ConfigError, match=r"sweep\.constraints"):
        _exp({"space": {"strategy.params.fast": [5]}, "constraints": [text]})


def test_constraint_names_are_checked_and_expressions_evaluate() -> None:
    with pytest.raises(ConfigError, match=r"uses 'slwo'.*did you mean 'slow'"):
        _exp({"space": {"strategy.params.fast": [5]}, "constraints": ["fast < slwo"]})
    with pytest.raises(ConfigError, match=r"uses 'fast.__class__'"):
        _exp({"space": {"strategy.params.fast": [5]}, "constraints": ["fast.__class__ == 1"]})
    c = parse_constraint("fast < slow and slow - fast >= 10 or len(symbols) > 1")
    assert c.names == {"fast", "slow", "symbols"}
    assert c.holds({"fast": 5, "slow": 20, "symbols": ["SPX"]})
    assert not c.holds({"fast": 15, "slow": 20, "symbols": ["SPX"]})
    assert c.holds({"fast": 15, "slow": 20, "symbols": ["SPX", "IXIC"]})
    assert parse_constraint("engine in ('backtrader', 'zipline') and not -fast > 0").holds({"engine": "zipline", "fast": 3})
    assert parse_constraint("strategy.params.fast * 2 <= 20").holds({"strategy.params.fast": 10})


def test_sweep_and_walkforward_do_not_change_the_config_id_and_a_window_does() -> None:
    quickstart = load_experiment(ROOT / "experiments" / "quickstart.yaml")
    assert quickstart.config_id == "bbdacd88ce67"  # ids of existing experiments are unchanged by the new sections
    exp = load_experiment(SWEEP_SMA)
    plain = load_experiment(SWEEP_SMA, ("sweep=null", "walkforward=null"))
    assert exp.config_id == plain.config_id
    windowed = load_experiment(SWEEP_SMA, ("window={start: 2006-01-03, evaluate_from: 2006-06-01}",))
    assert windowed.config_id != exp.config_id
    assert "sweep" not in yaml.safe_load(dump_experiment(plain)) and "window" not in yaml.safe_load(dump_experiment(plain))
    with pytest.raises(ConfigError, match=r"evaluate_from 2005-06-01 is outside start\.\.end"):
        load_experiment(SWEEP_SMA, ("window={start: 2006-01-03, evaluate_from: 2005-06-01}",))


def test_grid_points_keep_only_those_the_constraints_allow() -> None:
    exp = load_experiment(SWEEP_SMA)
    points = point_values(exp)
    pairs = [(p.values["strategy.params.fast"], p.values["strategy.params.slow"]) for p in points]
    assert len(pairs) == 22 and all(f < s for f, s in pairs)
    assert pairs[:3] == [(5, 20), (5, 30), (5, 50)] and [p.index for p in points] == list(range(22))
    plan = plan_grid(exp)
    runs = {r.config_id for r in plan.grid}
    assert len(runs) == 22 and all(r.experiment.sweep is None and r.experiment.name == r.config_id for r in plan.grid)
    base = next(r for r in plan.grid if plan.points[r.point].values == {"strategy.params.fast": 10, "strategy.params.slow": 50})
    assert base.config_id == exp.config_id  # the point at the file's own parameters is the file's own run


def test_random_search_is_seeded_and_draws_within_ranges() -> None:
    sweep = {"space": {"strategy.params.fast": {"low": 2, "high": 40}, "strategy.params.slow": [50, 100, 200],
                       "broker.cash": {"low": 1e4, "high": 1e6, "log": True}},
             "method": "random", "samples": 12, "seed": 3, "constraints": ["fast < slow"]}
    first = [p.values for p in point_values(_exp(sweep))]
    assert first == [p.values for p in point_values(_exp(sweep))]
    assert len(first) == 12 and len({str(v) for v in first}) == 12
    for v in first:
        assert isinstance(v["strategy.params.fast"], int) and 2 <= v["strategy.params.fast"] <= 40
        assert 1e4 <= v["broker.cash"] <= 1e6 and v["strategy.params.slow"] in (50, 100, 200)
    assert first != [p.values for p in point_values(_exp({**sweep, "seed": 4}))]
