"""Risk profiles: risk.profile overlays a shipped or user profile under the file's keys, which win."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from algotrade.cli import cli
from algotrade.core.config import RiskConfig, dump_experiment, load_experiment
from algotrade.core.config.profiles import PROFILE_DIR, PROFILE_SECTIONS, shipped_profiles
from algotrade.core.errors import ConfigError
from tests.stubs import write_experiment


def _profile(name: str) -> dict:
    return yaml.safe_load((PROFILE_DIR / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["conservative", "moderate", "aggressive"])
def test_each_shipped_profile_sets_its_values_where_the_file_is_silent(tmp_path: Path, name: str) -> None:
    exp = load_experiment(write_experiment(tmp_path, risk={"profile": name}))
    doc = _profile(name)
    assert set(doc) <= set(PROFILE_SECTIONS)
    dumped = exp.model_dump(mode="json")
    for key, value in doc["risk"].items():
        if isinstance(value, dict):
            assert {k: dumped["risk"][key][k] for k in value} == value
        else:
            assert dumped["risk"][key] == value
    for section in ("sizing", "stops"):
        if section in doc:
            assert {k: dumped[section][k] for k in doc[section]} == doc[section]


def test_shipped_profiles_are_the_three_and_in_the_wheel_data() -> None:
    assert shipped_profiles() == ("aggressive", "conservative", "moderate")
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"core/config/profiles/*.yaml"' in text


def test_explicit_keys_win_key_by_key_in_risk_and_whole_in_other_sections(tmp_path: Path) -> None:
    path = write_experiment(
        tmp_path,
        risk={"profile": "conservative", "max_position_pct": 0.3, "var": {"limit": 0.04}},
        sizing={"fixed_shares": 7},
    )
    exp = load_experiment(path)
    assert exp.risk.max_position_pct == 0.3  # the file's
    assert exp.risk.max_drawdown_pct == _profile("conservative")["risk"]["max_drawdown_pct"]  # the profile's
    assert exp.risk.var is not None and exp.risk.var.limit == 0.04
    assert exp.risk.var.confidence == _profile("conservative")["risk"]["var"]["confidence"]
    assert exp.sizing.model_dump() == {"fixed_shares": 7}  # one sizing method: the file's, whole
    assert exp.stops is not None and exp.stops.stop_loss == _profile("conservative")["stops"]["stop_loss"]


def test_set_overrides_win_and_can_choose_the_profile(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, risk={"profile": "conservative"})
    exp = load_experiment(path, ("risk.profile=aggressive", "risk.max_gross_leverage=1.2", "stops.atr_stop=2"))
    aggressive = _profile("aggressive")
    assert exp.risk.profile == "aggressive"
    assert exp.risk.max_position_pct == aggressive["risk"]["max_position_pct"]
    assert exp.risk.max_gross_leverage == 1.2
    assert exp.stops is not None and exp.stops.atr_stop == 2 and exp.stops.trailing is None


def test_a_user_profile_file_is_relative_to_the_experiment(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "tight.yaml").write_text("risk:\n  max_positions: 2\n  on_breach: refuse\nstops: {trailing: 0.03}\n")
    sub = tmp_path / "exp"
    sub.mkdir()
    exp = load_experiment(write_experiment(sub, risk={"profile": "../mine/tight.yaml"}))
    assert exp.risk.max_positions == 2 and exp.risk.on_breach == "refuse"
    assert exp.stops is not None and exp.stops.trailing == 0.03
    assert exp.sizing.model_dump() == {"target_percent": 0.95}  # the profile left sizing alone
    # a run's config.yaml names the profile file absolutely, so it loads from the results folder too
    assert exp.risk.profile == str((tmp_path / "mine" / "tight.yaml").resolve())
    (tmp_path / "results").mkdir()
    again = tmp_path / "results" / "config.yaml"
    again.write_text(dump_experiment(exp))
    assert load_experiment(again).config_id == exp.config_id


def test_config_id_follows_the_merged_values(tmp_path: Path) -> None:
    plain = load_experiment(write_experiment(tmp_path, name="a"))
    cons = load_experiment(write_experiment(tmp_path, name="b", risk={"profile": "conservative"}))
    mod = load_experiment(write_experiment(tmp_path, name="c", risk={"profile": "moderate"}))
    assert len({plain.config_id, cons.config_id, mod.config_id}) == 3
    # the same values written out by hand are the same configuration
    doc = _profile("conservative")
    spelled = load_experiment(write_experiment(tmp_path, name="d", **doc))
    assert spelled.config_id == cons.config_id
    # a profile file's edit changes the id
    (tmp_path / "p.yaml").write_text("risk: {max_positions: 3}\n")
    first = load_experiment(write_experiment(tmp_path, name="e", risk={"profile": "p.yaml"})).config_id
    (tmp_path / "p.yaml").write_text("risk: {max_positions: 4}\n")
    assert load_experiment(tmp_path / "e.yaml").config_id != first


def test_unknown_profile_is_one_line_listing_the_shipped_ones_exit_2(tmp_path: Path) -> None:
    path = write_experiment(tmp_path, risk={"profile": "wild"})
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    text = str(err.value)
    assert "\n" not in text and "'wild'" in text and "risk.profile" in text
    assert all(name in text for name in shipped_profiles()) and ".yaml" in text
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("data: {source: sample}\n", ["'data'", "risk, sizing, stops"]),
        ("risk: {profile: moderate}\n", ["another profile"]),
        ("risk: [1, 2]\n", ["risk", "mapping"]),
        ("risk: {max_positions: 0}\n", ["profile bad.yaml line 1", "max_positions"]),
        ("risk: {max_postions: 3}\n", ["profile bad.yaml line 1", "max_postions"]),
    ],
)
def test_a_bad_profile_file_is_blamed_on_the_profile(tmp_path: Path, content: str, words: list[str]) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    with pytest.raises(ConfigError) as err:
        load_experiment(write_experiment(tmp_path, risk={"profile": "bad.yaml"}))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_a_missing_profile_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(write_experiment(tmp_path, risk={"profile": "nope/mine.yaml"}))


def test_the_risk_bench_sets_every_risk_check() -> None:
    from bench.risk_overhead import RISK, missing_checks

    assert missing_checks() == []
    RiskConfig.model_validate(RISK)  # every value it sets is a valid check
