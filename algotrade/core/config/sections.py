"""The experiment file's sections for the account and its execution model (commission, slippage),
sizing, risk checks, output, the IB connection, the strategy reference and the burn-in gates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from algotrade.core.config.base import Model


class PerShareCommission(Model):
    per_share: float = Field(ge=0, description="Commission per share traded, in dollars.")
    minimum: float = Field(0.0, ge=0, description="Minimum commission per order, in dollars.")


class PercentCommission(Model):
    percent: float = Field(ge=0, le=0.1, description="Commission as a fraction of notional (0.001 = 10 bp).")


class BpsSlippage(Model):
    bps: float = Field(ge=0, le=1000, description="Fill price moved against the order by this many basis points.")


class TargetPercentSizing(Model):
    target_percent: float = Field(
        gt=0, le=1.0, description="Enter with this fraction of portfolio value (shares floored)."
    )


class FixedSharesSizing(Model):
    fixed_shares: int = Field(gt=0, description="Enter with this many shares.")


class FixedCashSizing(Model):
    fixed_cash: float = Field(gt=0, description="Enter with this many dollars (x the entry's weight; shares truncated).")


def _at_least_two(value: int) -> int:
    if value < 2:
        raise ValueError(f"{value} is too short; use at least 2 bars")
    return value


class VolTargetParams(Model):
    annual: float = Field(gt=0, le=5.0, description="Target annual volatility of the position (0.15 = 15%).")
    window: int = Field(20, description="Trailing daily returns used for realized volatility (at least 2).")
    max_leverage: float = Field(1.0, gt=0, le=10.0, description="Largest fraction of equity one position may hold.")
    _window = field_validator("window")(_at_least_two)


class VolTargetSizing(Model):
    vol_target: VolTargetParams = Field(description="{annual: 0.15, window: 20, max_leverage: 1.0}.")


class KellyParams(Model):
    fraction: float = Field(0.5, gt=0, le=1.0, description="Share of the full Kelly bet (0.5 = half Kelly).")
    window: int = Field(60, description="Trailing daily returns for the mean and variance (at least 2).")
    cap: float = Field(1.0, gt=0, le=10.0, description="Largest fraction of equity (f is clipped to [0, cap]).")
    _window = field_validator("window")(_at_least_two)


class KellySizing(Model):
    kelly: KellyParams = Field(description="{fraction: 0.5, window: 60, cap: 1.0}: f = fraction * mean / var.")


class RiskPerTradeParams(Model):
    risk: float = Field(gt=0, le=0.2, description="Fraction of equity lost if the ATR stop is hit (0.01 = 1%).")
    atr_window: int = Field(14, ge=1, description="Bars of Wilder's average true range.")
    atr_mult: float = Field(2.0, gt=0, description="The stop sits atr_mult x ATR below the entry.")
    max_leverage: float = Field(1.0, gt=0, le=10.0, description="Cap: shares x price never above equity x this.")


class RiskPerTradeSizing(Model):
    risk_per_trade: RiskPerTradeParams = Field(description="{risk: 0.01, atr_window: 14, atr_mult: 2.0}.")


#: every union-branch tag: pydantic puts them in an error's location, messages leave them out
TAGS: set[str] = {"Plain"}


def _tagged(kinds: dict[str, str]) -> Any:
    """A discriminator: 'none' or a mapping told apart by which key it has."""
    TAGS.update(kinds.values())

    def pick(value: Any) -> str | None:
        if isinstance(value, str):
            return "Plain"
        if isinstance(value, dict):
            for key, tag in kinds.items():
                if key in value:
                    return tag
        if isinstance(value, BaseModel):
            return type(value).__name__
        return None

    return Discriminator(pick, custom_error_type="invalid_choice", custom_error_message=(
        "use none or a mapping with one of: " + ", ".join(kinds)))


Commission = Annotated[
    Annotated[Literal["none"], Tag("Plain")]
    | Annotated[PerShareCommission, Tag("PerShareCommission")]
    | Annotated[PercentCommission, Tag("PercentCommission")],
    _tagged({"per_share": "PerShareCommission", "percent": "PercentCommission"}),
]
Slippage = Annotated[
    Annotated[Literal["none"], Tag("Plain")] | Annotated[BpsSlippage, Tag("BpsSlippage")],
    _tagged({"bps": "BpsSlippage"}),
]
_METHODS = {"target_percent": "TargetPercentSizing", "fixed_shares": "FixedSharesSizing",
            "fixed_cash": "FixedCashSizing", "vol_target": "VolTargetSizing", "kelly": "KellySizing",
            "risk_per_trade": "RiskPerTradeSizing"}
MethodSizing = Annotated[
    Annotated[TargetPercentSizing, Tag("TargetPercentSizing")]
    | Annotated[FixedSharesSizing, Tag("FixedSharesSizing")]
    | Annotated[FixedCashSizing, Tag("FixedCashSizing")]
    | Annotated[VolTargetSizing, Tag("VolTargetSizing")]
    | Annotated[KellySizing, Tag("KellySizing")]
    | Annotated[RiskPerTradeSizing, Tag("RiskPerTradeSizing")],
    _tagged(_METHODS),
]
#: one sizing method, the same for every symbol
SizingMethod = TargetPercentSizing | FixedSharesSizing | FixedCashSizing | VolTargetSizing | KellySizing | RiskPerTradeSizing


class PerSymbolSizing(Model):
    default: MethodSizing = Field(description="The method for symbols not in per_symbol, e.g. {target_percent: 0.3}.")
    per_symbol: dict[str, MethodSizing] = Field(
        default_factory=dict, description="Symbol -> its own method, e.g. {SPX: {vol_target: {annual: 0.1}}}."
    )


Sizing = Annotated[
    Annotated[TargetPercentSizing, Tag("TargetPercentSizing")]
    | Annotated[FixedSharesSizing, Tag("FixedSharesSizing")]
    | Annotated[FixedCashSizing, Tag("FixedCashSizing")]
    | Annotated[VolTargetSizing, Tag("VolTargetSizing")]
    | Annotated[KellySizing, Tag("KellySizing")]
    | Annotated[RiskPerTradeSizing, Tag("RiskPerTradeSizing")]
    | Annotated[PerSymbolSizing, Tag("PerSymbolSizing")],
    _tagged({**_METHODS, "default": "PerSymbolSizing", "per_symbol": "PerSymbolSizing"}),
]
#: what a host sizes entries with: one method, or a default with per-symbol overrides
AnySizing = SizingMethod | PerSymbolSizing


class BrokerConfig(Model):
    """The simulated account and its execution model, the same on every engine."""

    cash: float = Field(100_000.0, gt=0, description="Starting cash in dollars.")
    fill: Literal["next_close", "next_open"] = Field(
        "next_close",
        description="A decision made on bar T fills at the close (next_close) or open (next_open) of bar T+1.",
    )
    commission: Commission = Field(
        "none", description="none, {per_share: 0.005, minimum: 1.0} or {percent: 0.001}."
    )
    slippage: Slippage = Field("none", description="none or {bps: 5}.")
    short_margin: float | None = Field(
        None, gt=0, le=10.0,
        description="Reg T initial margin of shorts, a fraction of their value (0.5): a fill that opens or enlarges "
        "a short is refused when equity after it is below short_margin x gross short value. None: no short margin.",
    )
    borrow_fee_bps: float = Field(
        0.0, ge=0, le=10_000,
        description="Stock borrow fee of shorts, bps per year: each session's close accrues "
        "|short market value| x bps / 10000 / 252.",
    )


class VarLimitConfig(Model):
    """A 1-day value-at-risk limit on the portfolio an order would leave (algotrade/core/var.py)."""

    limit: float = Field(gt=0, lt=1, description="Largest 1-day VaR allowed, as a fraction of equity (0.02 = 2%).")
    confidence: float = Field(0.99, gt=0.5, lt=1, description="VaR confidence level (0.99: the loss exceeded on 1 day in 100).")
    method: Literal["historical", "parametric", "monte_carlo"] = Field(
        "historical", description="historical (empirical quantile), parametric (normal) or monte_carlo (seeded normal draws).",
    )
    window: int = Field(250, ge=20, le=5000, description="Trailing daily returns the VaR is estimated from.")
    draws: int = Field(100_000, ge=1000, le=10_000_000, description="Monte Carlo scenarios (method monte_carlo).")
    seed: int = Field(7, ge=0, description="Monte Carlo random seed (method monte_carlo).")


class RiskConfig(Model):
    """Engine-neutral checks applied to every order before it reaches an engine or broker."""

    long_only: bool = Field(False, description="Block any order that would leave a short position.")
    max_position_pct: float | None = Field(
        None, gt=0, description="Block orders that make one position exceed this fraction of equity."
    )
    max_gross_leverage: float | None = Field(
        None, gt=0, description="Block orders that make gross exposure / equity exceed this."
    )
    max_order_notional: float | None = Field(
        None, gt=0, description="Block any single order worth more than this many dollars."
    )
    max_drawdown_pct: float | None = Field(
        None, gt=0, lt=1, description="Halt new risk once equity falls this far below its peak."
    )
    daily_loss_limit_pct: float | None = Field(
        None, gt=0, lt=1, description="Halt new risk for the rest of a day that lost this fraction."
    )
    max_positions: int | None = Field(
        None, ge=1, description="Largest number of symbols held at once; an order opening one more is refused.",
    )
    max_net_exposure: float | None = Field(
        None, ge=0, description="Largest |sum of signed position values| / equity (1.0 = fully net long or short).",
    )
    var: VarLimitConfig | None = Field(None, description="1-day VaR (and optionally CVaR) limit on the portfolio.")
    on_breach: Literal["resize", "refuse"] = Field(
        "resize", description="An order that would breach a limit: resize (largest size within every limit) or refuse.",
    )
    profile: str | None = Field(
        None, description="Overlay a risk profile under this file's keys (which win): conservative, moderate, "
        "aggressive, or a profile .yaml path relative to the experiment file (docs/risk.md).",
    )

    def identity(self) -> dict[str, Any]:
        """This section as the config id hashes it: the keys added with the portfolio limits count
        only when set, so the ids of experiments written before them stay what they were."""
        out = self.model_dump(mode="json", exclude={"profile"})  # its values count, merged in
        for key in ("max_positions", "max_net_exposure", "var", "on_breach"):
            if out[key] == RiskConfig.model_fields[key].default:
                del out[key]
        return out


class StopsConfig(Model):
    """Protective exits the core places after each entry, the same on every engine and live
    (docs/engine-parity.md, "Stops"): one resting order per position, filled at its level, or at
    the open when a bar gaps through it."""

    stop_loss: float | None = Field(
        None, gt=0, lt=1, description="Stop this fraction below the entry fill price (above, for a short).",
    )
    take_profit: float | None = Field(
        None, gt=0, description="Take profit this fraction above the entry fill price (below, for a short).",
    )
    trailing: float | None = Field(
        None, gt=0, lt=1,
        description="Stop this fraction below the highest close since entry (lowest, for a short); never loosens.",
    )
    atr_stop: float | None = Field(
        None, gt=0, description="Instead of stop_loss: stop atr_stop x ATR(atr_window) below the entry fill price, "
        "the ATR taken on the bar the entry was decided.",
    )
    atr_window: int = Field(14, ge=1, le=500, description="Bars of the ATR that atr_stop multiplies.")

    @model_validator(mode="after")
    def _one_stop_rule(self) -> StopsConfig:
        if self.stop_loss is not None and self.atr_stop is not None:
            raise ValueError("set either stop_loss or atr_stop, not both (atr_stop replaces stop_loss)")
        if self.stop_loss is None and self.take_profit is None and self.trailing is None and self.atr_stop is None:
            raise ValueError("set at least one of stop_loss, take_profit, trailing, atr_stop (or remove stops:)")
        return self


class OutputConfig(Model):
    dir: str = Field("results", description="Results folder, relative to the working directory.")
    report: bool = Field(True, description="Write report.html with plots.")


class IbConfig(Model):
    """Where the IB client connects for paper and live runs. The account id and any credentials
    come only from the environment (ALGOTRADE_IB_ACCOUNT), never from this file."""

    host: str = Field("127.0.0.1", description="TWS / IB Gateway host (ALGOTRADE_IB_HOST overrides).")
    port: int = Field(
        7497, ge=1, le=65535,
        description="7497 TWS paper, 4002 Gateway paper (defaults); 7496 / 4001 are live (ALGOTRADE_IB_PORT overrides).",
    )
    client_id: int = Field(17, ge=0, description="The API client id of this run.")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for a connection or a request.")
    history: str = Field(
        "2 Y", pattern=r"^\d+ [DWMY]$",
        description="Daily history requested on start to warm indicators up (an IB duration: '250 D', '2 Y').",
    )
    bar_settle_minutes: float = Field(
        10.0, ge=0, le=720, description="Minutes after the session close at which the day's bar is taken as final.",
    )
    stale_after_minutes: float = Field(
        120.0, gt=0, description="Minutes past a bar's due time before the data is called stale and trading halts.",
    )
    reconnect_initial_s: float = Field(1.0, gt=0, description="First reconnect delay; doubled after each failure.")
    reconnect_max_s: float = Field(60.0, gt=0, description="Longest reconnect delay.")
    max_outage_minutes: float = Field(
        30.0, gt=0, description="Minutes IB may stay unreachable before the run gives up: it halts, the burn-in "
        "counts an outage (burnin.max_outages), and paper/live exit 5 with one line.",
    )


class OpsConfig(Model):
    """The operating layer of a paper or live run: its HTTP server (Prometheus metrics, health,
    the dashboard), its JSON logs and the thresholds its alerts read. Not part of the config id."""

    host: str = Field("127.0.0.1", description="Address the ops server listens on (metrics, health, dashboard).")
    port: int | None = Field(
        None, ge=0, le=65535,
        description="Port of the ops server (0: any free port, printed at start; null: no server). --ops-port overrides.",
    )
    json_logs: bool = Field(False, description="Log JSON lines to stderr too (run.log.jsonl always is). --json-logs sets it.")
    disconnect_alert_after_s: float = Field(
        300.0, ge=0, description="Seconds disconnected from IB before the disconnect alert fires "
        "(exported as algotrade_disconnected_alert_after_seconds).",
    )
    max_divergence: float = Field(
        0.02, ge=0, description="Largest |paper - shadow| / shadow equity before the divergence alert fires.",
    )


class StrategyRef(Model):
    name: str = Field(description="A short alias (`algotrade strategies`) or package.module:Class.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters, checked against the strategy's own config."
    )
    sizing: Sizing | None = Field(
        default=None, description="This strategy's own sizing (same forms as the experiment's sizing); wins over it."
    )


class BurnInGates(BaseModel):
    """What a paper burn-in must show before the same configuration may trade live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_sessions: int = Field(20, ge=1, description="Sessions the burn-in must have run.")
    min_trades: int = Field(5, ge=0, description="Fills the burn-in must have produced.")
    max_tracking_error: float = Field(
        0.02, ge=0, description="Largest annualised tracking error of paper equity against the backtest."
    )
    max_slippage_bps: float = Field(
        10.0, ge=0, description="Largest mean slippage of paper fills against the backtest's prices, in bps."
    )
    max_unreconciled: int = Field(0, ge=0, description="Reconcile mismatches allowed (none by default).")
    max_restarts: int = Field(
        3, ge=0, description="Process restarts (crashes, kill -9, reboots) the burn-in may have had, counted in its "
        "journal across every run of it.")
    max_outages: int = Field(
        0, ge=0, description="Outages longer than ib.max_outage_minutes (after which the run gave up) allowed.")
    max_disconnects: int | None = Field(
        None, ge=0, description="Lost connections to IB allowed (null: no limit, since IB's own daily restart "
        "disconnects every day).")
