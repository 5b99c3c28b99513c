"""The run's JSON logs, from the outside: a paper run against a gateway process (real socket, real IB
client) with secrets in its environment, with --json-logs and --debug. Every line of its stdout,
stderr and run.log.jsonl is one JSON object carrying the run's identity, and no line holds a
secret's value, although IB's own log (--debug) does carry the account id, masked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from algotrade.core.config import load_experiment
from algotrade.live.ops.logs import Masker, secret_values
from tests import gateway_fixtures as gf
from tests.test_paper_gateway import (
    EXPERIMENT,
    START,
    STARTED,
    _no_run_left_behind,  # noqa: F401  (autouse: no paper run left running)
    start_run,
)

SECRETS = {
    "ALGOTRADE_DASHBOARD_TOKEN": "dash-token-5f2c9e7a1b",
    "ALERT_SMTP_PASSWORD": "smtp-pass-Q8w3e9r2",
    "ALERT_SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/T000/B000/XyZsecret123",
    "MY_API_KEY": "api-key-7d1e0c4b9a",
}


def _objects(text: str, where: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line in {where}: {line!r}") from None
        assert isinstance(obj, dict), line
        out.append(obj)
    return out


def test_json_logs_carry_the_run_and_never_a_secret(tmp_path: Path) -> None:
    exp = load_experiment(EXPERIMENT)
    with gf.controlled_gateway(tmp_path, EXPERIMENT, start=START) as gw:
        account = re.search(r"as account (\S+)", "".join(gw.lines)).group(1)  # type: ignore[union-attr]
        env = {**SECRETS, "ALGOTRADE_IB_ACCOUNT": account}
        proc = start_run(tmp_path, gw.port, "--sessions", "2", "--json-logs", env=env)
        stderr = gf.Lines(proc, proc.stderr, "the paper run")
        stderr.line(r"warm up")
        for _ in range(2):
            day = gw.ctl("advance").split()[3]
            stderr.line(rf"paper: {day} done")
        assert proc.stdout is not None
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 3  # two sessions: NO-GO
    err = "".join(stderr.lines)
    log = (tmp_path / "out" / "paper_quickstart" / "paper" / "run.log.jsonl").read_text()
    secrets = [*SECRETS.values(), account]
    for where, text in (("stdout", out), ("stderr", err), ("run.log.jsonl", log)):
        objects = _objects(text, where)
        assert objects, where
        for obj in objects:
            assert obj["run_id"] == exp.config_id and obj["config_id"] == exp.config_id, obj
            assert obj["experiment"] == "paper_quickstart" and obj["mode"] == "paper", obj
            assert {"timestamp", "level", "event"} <= set(obj), obj
        for secret in secrets:
            assert secret not in text, f"{where} holds a secret"
    summary = _objects(out, "stdout")[-1]
    assert summary["verdict"] == "no-go" and "verdict NO-GO" in summary["summary"]
    events = [o["event"] for o in _objects(log, "run.log.jsonl")]
    assert any(e.startswith("paper: ") and " done: session 2" in e for e in events)


def test_with_debug_ibs_own_log_has_the_account_masked(tmp_path: Path) -> None:
    with gf.controlled_gateway(tmp_path, EXPERIMENT, start=START) as gw:
        account = re.search(r"as account (\S+)", "".join(gw.lines)).group(1)  # type: ignore[union-attr]
        env = {**SECRETS, "ALGOTRADE_IB_ACCOUNT": account}
        proc = _debug_run(tmp_path, gw.port, env)
        stderr = gf.Lines(proc, proc.stderr, "the paper run")
        stderr.line(r"warm up")
        day = gw.ctl("advance").split()[3]
        stderr.line(rf"paper: {day} done")
        assert proc.stdout is not None
        out = proc.stdout.read()
        assert proc.wait(timeout=120) == 3
    err = "".join(stderr.lines)
    log = (tmp_path / "out" / "paper_quickstart" / "paper" / "run.log.jsonl").read_text()
    secrets = [*SECRETS.values(), account]
    for where, text in (("stdout", out), ("stderr", err), ("run.log.jsonl", log)):
        _objects(text, where)
        for secret in secrets:
            assert secret not in text, f"{where} holds a secret"
    # the masking is what keeps it out: IB's own (debug) log of the account is there, masked
    ib = [o for o in _objects(log, "run.log.jsonl") if str(o.get("logger", "")).startswith(gf.CLIENT)]
    assert any("***" in o["event"] for o in ib), "no IB log line had the account to mask"
    assert any(o["level"] == "debug" for o in ib)


def _debug_run(tmp_path: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    """`algotrade --debug paper ... --json-logs` (start_run has no place for the group's option)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "algotrade", "--debug", "paper", str(EXPERIMENT), "--out", str(tmp_path / "out"),
         "--sessions", "1", "--json-logs"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "ALGOTRADE_IB_PORT": str(port), **env},
    )
    STARTED.append(proc)
    return proc


def test_secret_values_and_the_masker() -> None:
    env = {**SECRETS, "ALGOTRADE_IB_ACCOUNT": "DU1234567", "HOME": "/root", "SOME_KEY_FLAG": "1",
           "ALERT_WEBHOOK_URL": "http://hook.example/x", "DB_PASSWD": "hunter22", "AWS_CREDENTIALS": "abcdefgh"}
    found = secret_values(env)
    assert set(found) == {*SECRETS.values(), "DU1234567", "http://hook.example/x", "hunter22", "abcdefgh"}
    mask = Masker(env)
    assert mask('{"event": "account DU1234567 at http://hook.example/x"}') == '{"event": "account *** at ***"}'
    assert mask(json.dumps({"event": 'pw "hunter22"'})) == json.dumps({"event": 'pw "***"'})
    assert mask("nothing here, /root stays") == "nothing here, /root stays"
