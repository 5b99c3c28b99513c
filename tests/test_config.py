from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from algotrade.core.config import (
    BpsSlippage,
    Experiment,
    PerShareCommission,
    dump_experiment,
    experiment_from_dict,
    explain,
    load_experiment,
)
from algotrade.core.errors import ConfigError
from tests.stubs import write_experiment

QUICKSTART = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.yaml"


def test_quickstart_parses_into_frozen_typed_models() -> None:
    exp = load_experiment(QUICKSTART)
    assert exp.name == "quickstart"
    assert exp.data.symbols == ("SPX",)
    assert exp.strategy.params == {"fast": 10, "slow": 30}
    assert exp.broker.fill == "next_close"
    with pytest.raises(Exception, match="frozen"):
        exp.name = "other"  # type: ignore[misc]


def test_schema_round_trip_is_identical() -> None:
    exp = load_experiment(QUICKSTART)
    again = experiment_from_dict(yaml.safe_load(dump_experiment(exp)))
    assert again == exp
    assert again.config_id == exp.config_id


def test_round_trip_of_an_engines_file_and_of_the_default_engine(tmp_path: Path) -> None:
    for sections in ({"engines": ["zipline", "backtrader"], "engine": None}, {"engine": None}):
        exp = load_experiment(write_experiment(tmp_path, **sections))
        again = experiment_from_dict(yaml.safe_load(dump_experiment(exp)))
        assert again == exp and again.engine_names == exp.engine_names
    assert exp.engine_names == ("backtrader",)


def test_config_id_is_stable_and_tracks_what_changes_results(tmp_path: Path) -> None:
    exp = load_experiment(QUICKSTART)
    assert exp.config_id == load_experiment(QUICKSTART).config_id
    assert len(exp.config_id) == 12
    renamed = load_experiment(QUICKSTART, ("name=other", "output.dir=elsewhere"))
    assert renamed.config_id == exp.config_id
    assert load_experiment(QUICKSTART, ("strategy.params.fast=5",)).config_id != exp.config_id


def test_set_override_is_validated_like_the_file() -> None:
    exp = load_experiment(QUICKSTART, ("strategy.params.fast=5", "broker.fill=next_open"))
    assert exp.strategy.params["fast"] == 5
    assert exp.broker.fill == "next_open"
    with pytest.raises(ConfigError, match=r"strategy.params.*fast"):
        load_experiment(QUICKSTART, ("strategy.params.fast=abc",))


def test_cost_models_parse() -> None:
    exp = load_experiment(
        QUICKSTART,
        ("broker.commission={per_share: 0.005, minimum: 1.0}", "broker.slippage={bps: 5}", "sizing={fixed_shares: 10}"),
    )
    assert exp.broker.commission == PerShareCommission(per_share=0.005, minimum=1.0)
    assert exp.broker.slippage == BpsSlippage(bps=5)


def test_strategy_params_get_defaults_filled(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, strategy={"name": "sma_cross"})
    assert load_experiment(path).strategy.params == {"fast": 10, "slow": 30}


def test_strategy_by_import_path(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, strategy={"name": "algotrade.strategies.sma_cross:SmaCross"})
    assert load_experiment(path).strategy.params["slow"] == 30


def test_data_path_is_relative_to_the_experiment_file(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, data={"source": "csv", "symbols": ["A"], "path": "a.csv"})
    assert load_experiment(path).data.path == str((tmp_path / "a.csv").resolve())


def test_explain_documents_every_field() -> None:
    text = explain()
    for key in ("data:", "source:", "symbols:", "calendar:", "strategy:", "broker:", "fill:", "commission:",
                "sizing:", "risk:", "max_drawdown_pct:", "output:"):
        assert key in text
    for name, field in Experiment.model_fields.items():
        assert field.description, name
