"""Burn-in verdicts, and the refusal to trade live without one.

A strategy goes live only after a paper **burn-in** of exactly its configuration passed the
:class:`BurnInGates`: :func:`verdict` turns a burn-in's measurements into a JSON-able verdict
tied to the experiment's ``config_id``, and :func:`check_live_allowed` refuses (with
:class:`LiveTradingRefused`, naming what to do) unless

* a ``go`` verdict for this very ``config_id`` is on file,
* the port is a live one (TWS 7496, Gateway 4001), not paper (7497, 4002),
* the account id comes from the environment (``ALGOTRADE_IB_ACCOUNT``) and is not a paper
  account (``DU…``),
* and the operator passed the explicit confirmation flag (``--confirm-live``).

Secrets are read only from the environment and held in :class:`Secret`, whose ``repr`` and
``str`` never show the value; messages never include it either.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.core.config import BurnInGates
from algotrade.core.errors import ConfigError
from algotrade.core.shell import command

ACCOUNT_ENV = "ALGOTRADE_IB_ACCOUNT"
PORT_ENV = "ALGOTRADE_IB_PORT"
LIVE_PORTS = {7496: "TWS live", 4001: "IB Gateway live"}
PAPER_PORTS = {7497: "TWS paper", 4002: "IB Gateway paper"}


class LiveTradingRefused(ConfigError):
    """Live trading is not allowed yet: the message says which condition failed and the fix."""

    template = "live trading refused: {message}"


class Secret:
    """A value read from the environment, masked wherever it could be printed or logged."""

    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> Secret | None:
        value = (os.environ if environ is None else environ).get(name, "").strip()
        return cls(name, value) if value else None

    def reveal(self) -> str:
        """The value, for the one call that needs it (never log the result)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name}=**********)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and (self.name, self._value) == (other.name, other._value)

    def __hash__(self) -> int:
        return hash((self.name, self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not picklable; read it from the environment where it is needed")


def tracking_error(paper_equity: Sequence[float], backtest_equity: Sequence[float]) -> float:
    """Annualised standard deviation of the daily return difference (252 sessions a year)."""
    n = min(len(paper_equity), len(backtest_equity))
    if n < 3:
        return 0.0
    diffs = [
        paper_equity[i] / paper_equity[i - 1] - backtest_equity[i] / backtest_equity[i - 1] for i in range(1, n)
    ]
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return math.sqrt(var) * math.sqrt(252)


def slippage_bps(fills: Sequence[tuple[int, float, float]]) -> float:
    """Mean slippage in bps over ``(signed quantity, fill price, reference price)``, positive
    when fills were worse than the reference, weighted by shares."""
    shares = sum(abs(q) for q, _, _ in fills)
    if not shares:
        return 0.0
    cost = sum(q * (price - ref) / ref for q, price, ref in fills if ref)
    return cost / shares * 10_000


def verdict(
    exp: Any,
    gates: BurnInGates,
    *,
    sessions: int,
    trades: int,
    tracking_error: float,
    slippage_bps: float,
    unreconciled: int,
    restarts: int = 0,
    disconnects: int = 0,
    outages: int = 0,
) -> dict[str, Any]:
    """The burn-in verdict of ``exp`` (an Experiment): ``go`` when every gate passed."""
    measured = {
        "sessions": sessions,
        "trades": trades,
        "tracking_error": tracking_error,
        "slippage_bps": slippage_bps,
        "unreconciled": unreconciled,
        "restarts": restarts,
        "disconnects": disconnects,
        "outages": outages,
    }
    return judge(exp.config_id, exp.name, gates, measured)


def judge(config_id: str, name: str, gates: BurnInGates, measured: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict of ``measured`` against ``gates`` (also what ``live`` recomputes from a
    burn-in's file, so that an edited verdict never passes)."""
    sessions, trades = int(measured["sessions"]), int(measured["trades"])
    tracking_error, slippage_bps = float(measured["tracking_error"]), float(measured["slippage_bps"])
    unreconciled = int(measured["unreconciled"])
    restarts, disconnects = int(measured.get("restarts", 0)), int(measured.get("disconnects", 0))
    outages = int(measured.get("outages", 0))
    reasons = []
    if sessions < gates.min_sessions:
        reasons.append(f"ran {sessions} sessions, fewer than min_sessions {gates.min_sessions}")
    if trades < gates.min_trades:
        reasons.append(f"made {trades} trades, fewer than min_trades {gates.min_trades}")
    if not math.isfinite(tracking_error) or tracking_error > gates.max_tracking_error:
        reasons.append(f"tracking error {tracking_error:.4f} exceeds max_tracking_error {gates.max_tracking_error:.4f}")
    if not math.isfinite(slippage_bps) or slippage_bps > gates.max_slippage_bps:
        reasons.append(f"slippage {slippage_bps:.2f} bps exceeds max_slippage_bps {gates.max_slippage_bps:.2f}")
    if unreconciled > gates.max_unreconciled:
        reasons.append(f"{unreconciled} unreconciled mismatches, more than max_unreconciled {gates.max_unreconciled}")
    if restarts > gates.max_restarts:
        reasons.append(f"{restarts} process restarts, more than max_restarts {gates.max_restarts}")
    if outages > gates.max_outages:
        reasons.append(f"{outages} outages longer than ib.max_outage_minutes, more than max_outages {gates.max_outages}")
    if gates.max_disconnects is not None and disconnects > gates.max_disconnects:
        reasons.append(f"{disconnects} disconnects from IB, more than max_disconnects {gates.max_disconnects}")
    return {
        "verdict": "no-go" if reasons else "go",
        "config_id": config_id,
        "experiment": name,
        "reasons": reasons,
        "measured": dict(measured),
        "gates": gates.model_dump(),
    }


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def verdict_digest(result: Mapping[str, Any]) -> str:
    """sha256 over a verdict's every field but ``digest`` itself."""
    return hashlib.sha256(_canonical({k: v for k, v in result.items() if k != "digest"})).hexdigest()


def journal_digest(journal_path: str | Path, run_id: str) -> str:
    """sha256 over what a run's journal recorded: its intents, fills and bars."""
    from algotrade.live.journal import Journal

    with Journal(journal_path) as j:
        intents = [(i.order_ref, i.symbol, i.quantity, i.type, i.limit, i.stop, i.created) for i in j.intents(run_id)]
        fills = [(f.order_ref, f.exec_id, f.symbol, f.quantity, f.price, f.commission, f.date)
                 for f in j.fills(run_id=run_id)]
        bars = [(b.idx, b.date, b.cash, b.value) for b in j.bars(run_id).values()]
    return hashlib.sha256(_canonical([intents, fills, bars])).hexdigest()


def journal_measures(journal_path: str | Path, run_id: str) -> dict[str, int]:
    """What a verdict's ``sessions`` and ``trades`` must be, counted in the journal itself."""
    from algotrade.live.journal import Journal

    with Journal(journal_path) as j:
        live_from = int(j.state(run_id, "live_from") or 0)
        sessions = sum(1 for k in j.bars(run_id) if k >= live_from)
        strategy_refs = {i.order_ref for i in j.intents(run_id) if i.strategy != "kill"}
        trades = sum(1 for f in j.fills(run_id=run_id) if f.order_ref in strategy_refs)
    return {"sessions": sessions, "trades": trades}


def seal(result: dict[str, Any], journal_path: str | Path, run_id: str) -> dict[str, Any]:
    """Tie a verdict to the journal it was judged on (kept next to burnin.json): its run id, the
    journal's file name and digest. ``live`` refuses a verdict whose journal no longer matches."""
    result.update({"run_id": run_id, "journal": Path(journal_path).name,
                   "journal_digest": journal_digest(journal_path, run_id)})
    return result


def write_verdict(path: str | Path, result: Mapping[str, Any]) -> Path:
    """Write a verdict with its ``digest`` (which ``live`` checks, with the journal it names)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = dict(result)
    body["digest"] = verdict_digest(body)
    path.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")
    return path


@dataclass(frozen=True)
class LiveApproval:
    config_id: str
    port: int
    account: Secret


def check_live_allowed(
    exp: Any,
    burnin_path: str | Path,
    port: int,
    account: Secret | None = None,
    confirm_flag: bool = False,
    environ: Mapping[str, str] | None = None,
    paper_command: str | None = None,
) -> LiveApproval:
    """Refuse live trading unless every condition in the module docstring holds.

    ``account`` must be the :class:`Secret` read from ``ALGOTRADE_IB_ACCOUNT`` (read here when
    None); a plain string, from a file or a flag, is refused. Every condition is checked, and the
    refusal names each one that failed with its flag, variable or field and the fix, so that one
    attempt shows everything to do. ``paper_command`` is the `algotrade paper` command that
    produces the burn-in this start looks for (the same file, --set and --out).
    """
    problems = [p for p in (
        _burnin_problem(exp, Path(burnin_path), paper_command or command("paper", "EXPERIMENT.yaml")),
        _port_problem(port),
    ) if p]
    if account is None:
        account = Secret.from_env(ACCOUNT_ENV, environ)
    problems += [p for p in (_account_problem(account), _confirm_problem(confirm_flag)) if p]
    if problems:
        raise LiveTradingRefused("; also: ".join(problems))
    assert account is not None
    return LiveApproval(exp.config_id, port, account)


def _burnin_problem(exp: Any, path: Path, paper_command: str) -> str | None:
    config_id = exp.config_id
    produce = (f"run the burn-in with `{paper_command}` (against a paper TWS / IB Gateway; add --simulate to run "
               "it offline), or give its burnin.json with --burnin")
    if not path.is_file():
        return f"no burn-in verdict at {path} (--burnin) for config_id {config_id}; {produce}"
    try:
        burnin = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return f"the burn-in verdict {path} (--burnin) is unreadable ({exc}); {produce}"
    found = burnin.get("config_id") if isinstance(burnin, dict) else None
    if found != config_id:
        return (f"the burn-in {path} (--burnin) is for config_id {found!r}, this experiment is {config_id!r}: any "
                f"change to the strategy, data or broker settings needs its own burn-in; {produce}")
    if burnin.get("verdict") != "go":
        why = "; ".join(burnin.get("reasons") or []) or f"verdict is {burnin.get('verdict')!r}"
        return f"the burn-in {path} (--burnin) did not pass: {why}; fix that, then {produce}"
    forged = _forged(exp, path, burnin)
    if forged:
        return (f"the burn-in {path} (--burnin) is not one `algotrade paper` wrote: {forged}; a verdict is "
                f"recomputed from its journal and the experiment's burnin: gates, never trusted as written; {produce}")
    return None


def _forged(exp: Any, path: Path, burnin: Mapping[str, Any]) -> str | None:
    """Why a ``go`` verdict cannot be trusted, or None: its digest, the journal it names, the
    sessions and trades that journal holds, and the verdict recomputed from the gates."""
    if burnin.get("digest") != verdict_digest(burnin):
        return "its digest does not match its content (edited by hand?)"
    measured = burnin.get("measured")
    journal_name = burnin.get("journal")
    if not isinstance(measured, dict) or not isinstance(journal_name, str) or "/" in journal_name:
        return "it has no measurements or no journal"
    journal = path.parent / journal_name
    if not journal.is_file():
        return f"the journal it was judged on, {journal}, is missing"
    run_id = str(burnin.get("run_id") or exp.config_id)
    if journal_digest(journal, run_id) != burnin.get("journal_digest"):
        return f"the journal {journal} no longer holds what the verdict was judged on"
    counted = journal_measures(journal, run_id)
    for key, value in counted.items():
        if measured.get(key) != value:
            return f"it says {key} {measured.get(key)!r}, the journal holds {value}"
    try:
        again = judge(exp.config_id, exp.name, exp.burnin, measured)
    except (KeyError, TypeError, ValueError):
        return "its measurements are incomplete"
    if again["verdict"] != "go":
        return "recomputed against the burnin: gates it is no-go (" + "; ".join(again["reasons"]) + ")"
    return None


def _port_problem(port: int) -> str | None:
    fix = f"live trading connects to 7496 (TWS) or 4001 (IB Gateway): set {PORT_ENV}=4001 or ib.port in the file"
    if port in PAPER_PORTS:
        return f"port {port} ({PORT_ENV} or ib.port) is {PAPER_PORTS[port]}; {fix}"
    if port not in LIVE_PORTS:
        return f"port {port} ({PORT_ENV} or ib.port) is not a known IB live port; {fix}"
    return None


def _account_problem(account: Secret | None) -> str | None:
    if account is None:
        return f"{ACCOUNT_ENV} is not set: set it to the live account id in the environment (never in the file)"
    if not isinstance(account, Secret) or account.name != ACCOUNT_ENV:
        return f"the account id must come from the environment variable {ACCOUNT_ENV}, not from a file or a flag"
    value = account.reveal()
    if value.upper().startswith("DU"):
        return f"{ACCOUNT_ENV} holds a paper account (DU...); set it to the live account id (such as U plus 7 digits)"
    if not (value[:1].isalpha() and value[1:].strip() and value.isalnum()):
        return (f"{ACCOUNT_ENV} does not look like an IB account id; set it to letters then digits, such as U plus "
                "7 digits")
    return None


def _confirm_problem(confirm_flag: bool) -> str | None:
    if confirm_flag is not True:
        return "pass --confirm-live: it is the explicit confirmation that real money will trade, never implied"
    return None


__all__ = [
    "ACCOUNT_ENV",
    "LIVE_PORTS",
    "PAPER_PORTS",
    "PORT_ENV",
    "BurnInGates",
    "LiveApproval",
    "LiveTradingRefused",
    "Secret",
    "check_live_allowed",
    "journal_digest",
    "journal_measures",
    "judge",
    "seal",
    "slippage_bps",
    "tracking_error",
    "verdict",
    "verdict_digest",
    "write_verdict",
]
