"""Burn-in verdicts and the refusal to trade live without a passed burn-in of this config."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from algotrade.core.config import Experiment
from algotrade.core.errors import ConfigError
from algotrade.live.journal import Journal
from algotrade.live.live_guard import (
    ACCOUNT_ENV,
    BurnInGates,
    LiveTradingRefused,
    Secret,
    check_live_allowed,
    seal,
    slippage_bps,
    tracking_error,
    verdict,
    verdict_digest,
    write_verdict,
)

LIVE_ACCOUNT = "U7654321"


def _exp(fast: int = 10) -> Experiment:
    return Experiment.model_validate({
        "name": "guarded",
        "data": {"source": "sample", "symbols": ["SPX"]},
        "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": 30}},
        "engine": "backtrader",
    })


GOOD = {"sessions": 30, "trades": 8, "tracking_error": 0.01, "slippage_bps": 2.0, "unreconciled": 0}


def _journal(tmp_path: Path, exp: Experiment, sessions: int, trades: int) -> Path:
    """A journal that holds ``sessions`` live sessions and ``trades`` fills of run ``exp``."""
    path = tmp_path / "journal.sqlite"
    run = exp.config_id
    with Journal(path) as j:
        j.set_state(run, "live_from", "0")
        for k in range(sessions):
            j.record_bar_start(run, k, dt.date(2020, 1, 1) + dt.timedelta(days=k), 1e5, 1e5)
            j.record_bar_done(run, k)
        for seq in range(1, trades + 1):
            ref = j.record_intent(run, "sma_cross", seq, "SPX", 1 if seq % 2 else -1).order_ref
            j.record_fill(f"E{seq}", ref, "SPX", 1 if seq % 2 else -1, 100.0, 0.0, "2020-01-02")
    return path


def _burnin(tmp_path: Path, exp: Experiment, **measured: float) -> Path:
    figures = {**GOOD, **measured}
    journal = _journal(tmp_path, exp, int(figures["sessions"]), int(figures["trades"]))
    result = seal(verdict(exp, BurnInGates(), **figures), journal, exp.config_id)  # type: ignore[arg-type]
    return write_verdict(tmp_path / "burnin.json", result)


def _env(account: str = LIVE_ACCOUNT) -> dict[str, str]:
    return {ACCOUNT_ENV: account}


def test_gates_are_frozen_and_reject_unknown_keys() -> None:
    gates = BurnInGates()
    assert gates.max_unreconciled == 0
    with pytest.raises(ValidationError):
        BurnInGates.model_validate({"min_sesions": 3})
    with pytest.raises(ValidationError):
        gates.min_trades = 1  # type: ignore[misc]


def test_a_burnin_that_meets_every_gate_is_go_and_json_able() -> None:
    exp = _exp()
    result = verdict(exp, BurnInGates(), **GOOD)  # type: ignore[arg-type]
    assert result["verdict"] == "go" and result["reasons"] == []
    assert result["config_id"] == exp.config_id
    assert json.loads(json.dumps(result)) == result


def test_each_failed_gate_is_a_reason_for_no_go() -> None:
    bad = {"sessions": 3, "trades": 1, "tracking_error": 0.5, "slippage_bps": 40.0, "unreconciled": 1}
    result = verdict(_exp(), BurnInGates(), **bad)  # type: ignore[arg-type]
    assert result["verdict"] == "no-go"
    assert [r.split()[0] for r in result["reasons"]] == ["ran", "made", "tracking", "slippage", "1"]
    assert verdict(_exp(), BurnInGates(), **{**GOOD, "tracking_error": float("nan")})["verdict"] == "no-go"  # type: ignore[arg-type]


def test_tracking_error_and_slippage_measures() -> None:
    assert tracking_error([100, 101, 102, 103], [100, 101, 102, 103]) == 0.0
    assert tracking_error([100, 101, 100, 102], [100, 100, 100, 100]) > 0.1
    assert slippage_bps([(100, 10.01, 10.0), (-100, 9.99, 10.0)]) == pytest.approx(10.0)
    assert slippage_bps([]) == 0.0


def test_live_is_allowed_with_a_passed_burnin_a_live_port_an_env_account_and_confirmation(tmp_path: Path) -> None:
    exp = _exp()
    path = _burnin(tmp_path, exp)
    for port in (7496, 4001):
        approval = check_live_allowed(exp, path, port, confirm_flag=True, environ=_env())
        assert (approval.config_id, approval.port) == (exp.config_id, port)
        assert approval.account.reveal() == LIVE_ACCOUNT
    secret = Secret.from_env(ACCOUNT_ENV, _env())
    assert check_live_allowed(exp, path, 4001, secret, True).account == secret


def test_the_account_can_come_from_the_real_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = _exp()
    monkeypatch.setenv(ACCOUNT_ENV, LIVE_ACCOUNT)
    assert check_live_allowed(exp, _burnin(tmp_path, exp), 7496, confirm_flag=True).port == 7496


PAPER_COMMAND = "bin/algotrade paper experiments/guarded.yaml --set strategy.params.fast=10 --out /tmp/res"
PRODUCE = f"`{PAPER_COMMAND}`"


@pytest.mark.parametrize(
    ("case", "match", "names"),
    [
        ("missing", "no burn-in verdict at", ("--burnin", PRODUCE, "--simulate")),
        ("other_config", "is for config_id", ("--burnin", PRODUCE)),
        ("no_go", "did not pass: ran 2 sessions", ("--burnin", PRODUCE)),
        ("unreadable", "unreadable", ("--burnin", PRODUCE)),
        ("paper_port", "port 7497 .*is TWS paper", ("ALGOTRADE_IB_PORT=4001", "ib.port", "7496")),
        ("gateway_paper_port", "port 4002 .*is IB Gateway paper", ("ALGOTRADE_IB_PORT=4001", "ib.port")),
        ("odd_port", "port 1234 .*not a known IB live port", ("ALGOTRADE_IB_PORT=4001", "ib.port")),
        ("no_env", f"{ACCOUNT_ENV} is not set", ("live account id",)),
        ("paper_account", "paper account", (ACCOUNT_ENV, "live account id")),
        ("junk_account", "does not look like an IB account", (ACCOUNT_ENV, "letters then digits")),
        ("plain_string", "must come from the environment", (ACCOUNT_ENV,)),
        ("other_secret", "must come from the environment", (ACCOUNT_ENV,)),
        ("no_confirm", "explicit confirmation", ("--confirm-live",)),
    ],
)
def test_live_is_refused_unless_every_condition_holds(tmp_path: Path, case: str, match: str,
                                                       names: tuple[str, ...]) -> None:
    """Each condition alone: the refusal says what failed and names the flag, variable or field
    to change and how (for a burn-in: the command that produces it)."""
    exp = _exp()
    path = _burnin(tmp_path, exp)
    port, account, confirm, env = 7496, None, True, _env()
    if case == "missing":
        path = tmp_path / "absent.json"
    elif case == "other_config":
        path = _burnin(tmp_path, _exp(fast=5))
    elif case == "no_go":
        path = _burnin(tmp_path, exp, sessions=2)
    elif case == "unreadable":
        path.write_text("{not json")
    elif case == "paper_port":
        port = 7497
    elif case == "gateway_paper_port":
        port = 4002
    elif case == "odd_port":
        port = 1234
    elif case == "no_env":
        env = {}
    elif case == "paper_account":
        env = _env("DU1234567")
    elif case == "junk_account":
        env = _env("12-34")
    elif case == "plain_string":
        account = LIVE_ACCOUNT
    elif case == "other_secret":
        account = Secret("SOME_OTHER_VAR", LIVE_ACCOUNT)
    elif case == "no_confirm":
        confirm = False
    with pytest.raises(LiveTradingRefused, match=match) as info:
        check_live_allowed(exp, path, port, account, confirm, environ=env,  # type: ignore[arg-type]
                           paper_command=PAPER_COMMAND)
    text = str(info.value)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert LIVE_ACCOUNT not in text and "1234567" not in text
    assert "; also:" not in text, text  # only the one condition failed
    for name in names:
        assert name in text, (name, text)
    if case in ("missing", "other_config", "no_go", "unreadable"):
        assert str(path) in text


def test_one_refusal_lists_every_failed_condition(tmp_path: Path) -> None:
    """No burn-in, a paper port, no account and no flag: one attempt shows all four fixes."""
    with pytest.raises(LiveTradingRefused) as info:
        check_live_allowed(_exp(), tmp_path / "absent.json", 4002, environ={}, paper_command=PAPER_COMMAND)
    text = str(info.value)
    assert "\n" not in text and text.count("; also: ") == 3, text
    for name in ("--burnin", PRODUCE, "ALGOTRADE_IB_PORT=4001", f"{ACCOUNT_ENV} is not set", "--confirm-live"):
        assert name in text, (name, text)


def test_secrets_are_masked_in_repr_str_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret.from_env(ACCOUNT_ENV, _env())
    assert secret is not None
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"a": secret})):
        assert LIVE_ACCOUNT not in text and ACCOUNT_ENV in text
    with caplog.at_level(logging.INFO):
        logging.getLogger("algotrade.test").info("account %s / %r", secret, secret)
    assert LIVE_ACCOUNT not in caplog.text
    assert Secret.from_env(ACCOUNT_ENV, {}) is None and Secret.from_env(ACCOUNT_ENV, {ACCOUNT_ENV: "  "}) is None
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(secret)


def _refusal(exp: Experiment, path: Path) -> str:
    with pytest.raises(LiveTradingRefused) as info:
        check_live_allowed(exp, path, 4001, confirm_flag=True, environ=_env())
    return str(info.value)


def test_a_hand_edited_verdict_is_refused(tmp_path: Path) -> None:
    exp = _exp()
    path = _burnin(tmp_path, exp, sessions=3)  # NO-GO: 3 sessions < min_sessions 20
    body = json.loads(path.read_text())
    assert body["verdict"] == "no-go"
    body.update(verdict="go", reasons=[])
    path.write_text(json.dumps(body))
    assert "digest does not match" in _refusal(exp, path)
    body["digest"] = verdict_digest(body)  # even with the digest recomputed: the gates say no-go
    path.write_text(json.dumps(body))
    assert "recomputed against the burnin: gates it is no-go" in _refusal(exp, path)
    body["measured"]["sessions"] = 300  # and the journal holds 3 sessions, not 300
    body["digest"] = verdict_digest(body)
    path.write_text(json.dumps(body))
    assert "it says sessions 300, the journal holds 3" in _refusal(exp, path)


def test_a_fabricated_verdict_is_refused(tmp_path: Path) -> None:
    exp = _exp()
    path = tmp_path / "burnin.json"
    path.write_text(json.dumps({"verdict": "go", "config_id": exp.config_id}))  # two keys, by hand
    assert "is not one `algotrade paper` wrote" in _refusal(exp, path)
    good = _burnin(tmp_path, exp)
    assert check_live_allowed(exp, good, 4001, confirm_flag=True, environ=_env()).port == 4001
    with Journal(tmp_path / "journal.sqlite") as j:  # the journal changed after the verdict
        j.record_bar_start(exp.config_id, 99, "2021-01-01", 1.0, 1.0)
    assert "no longer holds what the verdict was judged on" in _refusal(exp, good)
    (tmp_path / "journal.sqlite").unlink()
    assert "is missing" in _refusal(exp, good)
