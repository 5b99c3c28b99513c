"""Experiment files: YAML parsed once into typed, frozen models that reject unknown keys.

Every field carries a description; ``algotrade schema`` prints them. Validation errors are turned
into one :class:`ConfigError` that names the field (and its line in the file), the bad value and
the fix, with a "did you mean" for misspelt keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from algotrade.core.errors import ConfigError
from algotrade.core.registry import check_engine_name, resolve_strategy, suggest


class Model(BaseModel):
    """Base of every config model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# data


class SyntheticConfig(Model):
    """Parameters of the deterministic multi-asset generator (``source: synthetic``)."""

    seed: int = Field(7, ge=0, description="Random seed (0 or more): the same seed gives the same bars everywhere.")
    correlation: float = Field(
        0.3, ge=-0.99, le=0.99,
        description=(
            "Pairwise correlation of daily returns between symbols; with n symbols it must "
            "exceed -1/(n-1) (e.g. -0.0909 for 12), or no such set of series exists."
        ),
    )
    regimes: int = Field(
        3, ge=1, le=50, description="Number of alternating bull/bear regimes over the range."
    )
    start_price: float = Field(
        100.0, gt=0, le=1_000_000,
        description="First close of every symbol, in dollars (prices are written in cents; none falls below 0.01).",
    )
    annual_vol: float = Field(0.2, gt=0, le=2.0, description="Annualised volatility of returns.")

    @field_validator("start_price")
    @classmethod
    def _at_least_a_cent(cls, value: float) -> float:
        if value < 0.01:
            raise ValueError(f"{value!r} is below one cent (prices are written in cents); use 0.01 or more")
        return value

    def check_symbol_count(self, n: int) -> None:
        """Equal pairwise correlations ``rho`` between ``n`` series exist only for
        ``rho > -1/(n-1)``: below, the correlation matrix is not positive definite."""
        if correlation_possible(self.correlation, n):
            return
        most = max(k for k in range(2, n) if correlation_possible(self.correlation, k))
        raise ValueError(
            f"correlation {self.correlation} cannot hold between {n} symbols: equal pairwise "
            f"correlations of {n} series must exceed -1/({n}-1) = {-1 / (n - 1):.4g}; set "
            f"data.synthetic.correlation above {-1 / (n - 1):.4g}, or use at most {most} symbols"
        )


def correlation_possible(rho: float, n: int) -> bool:
    """Whether ``n`` series can all have pairwise correlation ``rho`` (given -1 <= rho <= 1)."""
    return n < 3 or rho > -1 / (n - 1)


class DataConfig(Model):
    """Where the bars come from and which part of them to use."""

    source: Literal["sample", "synthetic", "csv", "csvdir", "parquet"] = Field(
        "sample",
        description=(
            "sample: real daily bars shipped with the install (SPX, IXIC 1999-2018, from the "
            "arch package); synthetic: the deterministic generator; csv: one file (Yahoo or "
            "Backtrader layout); csvdir: Zipline's folder of SYMBOL.csv files with dividend and "
            "split columns; parquet: one file, long (with a symbol column) or one symbol."
        ),
    )
    symbols: tuple[str, ...] = Field(
        ("SPX",), min_length=1, description="Symbols to load; `algotrade data list` shows the sample ones."
    )
    path: str | None = Field(
        None, description="File (csv, parquet) or folder (csvdir), relative to the experiment file."
    )
    start: dt.date | None = Field(
        None,
        description=(
            "First day to use, any calendar date: the run starts at the first session on or after it "
            "(default: the first bar). Refused when the data begins later by more than a weekend or holiday."
        ),
    )
    end: dt.date | None = Field(
        None,
        description=(
            "Last day to use, any calendar date: the run ends at the last session on or before it "
            "(default: the last bar). Refused when the data ends earlier by more than a weekend or holiday."
        ),
    )
    calendar: str = Field(
        "XNYS",
        description='An exchange_calendars name such as XNYS, or "none" to use the data\'s own dates.',
    )
    adjust: bool = Field(
        True,
        description="Scale OHLC by Adj Close / Close when the file has an Adj Close column.",
    )
    repair: Literal["engine_safe", "none"] = Field(
        "engine_safe",
        description=(
            "engine_safe: fill missing sessions from the previous close (volume 0), round prices "
            "to 3 decimals and clip volume below 2**32, the same for every engine, recorded in "
            "run.json; none: report those problems as errors instead."
        ),
    )
    synthetic: SyntheticConfig = Field(
        default_factory=SyntheticConfig,  # type: ignore[arg-type]
        description="Generator settings, used when source is synthetic.",
    )

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        dupes = sorted({s for s in value if value.count(s) > 1})
        if dupes:
            raise ValueError(f"symbols are listed twice: {', '.join(dupes)}; list each once")
        return value

    @field_validator("synthetic")
    @classmethod
    def _synthetic_possible(cls, value: SyntheticConfig, info: ValidationInfo) -> SyntheticConfig:
        if info.data.get("source") == "synthetic" and "symbols" in info.data:
            value.check_symbol_count(len(info.data["symbols"]))
        return value

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(
                f"start {self.start} is after end {self.end}; set start before end"
            )
        if self.source in ("csv", "csvdir", "parquet") and not self.path:
            raise ValueError(f"source {self.source!r} needs data.path (a file or folder)")
        return self


# --------------------------------------------------------------------------------------------
# broker


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


def _tagged(kinds: dict[str, str]) -> Any:
    """A discriminator: 'none' or a mapping told apart by which key it has."""

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
Sizing = Annotated[
    Annotated[TargetPercentSizing, Tag("TargetPercentSizing")]
    | Annotated[FixedSharesSizing, Tag("FixedSharesSizing")],
    _tagged({"target_percent": "TargetPercentSizing", "fixed_shares": "FixedSharesSizing"}),
]


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


class StrategyRef(Model):
    name: str = Field(description="A short alias (`algotrade strategies`) or package.module:Class.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters, checked against the strategy's own config."
    )


# --------------------------------------------------------------------------------------------
# sweeps and walk-forward

#: metrics a sweep can rank by (keys of metrics.json)
RANK_METRICS = (
    "sharpe", "sortino", "calmar", "total_return", "annual_return", "annual_volatility", "max_drawdown",
    "final_equity", "win_rate", "exposure", "trade_count", "round_trips", "total_commission",
)

#: top-level keys a sweep does not vary: they do not change results, or they describe the sweep
NOT_SWEPT = ("name", "output", "ib", "burnin", "sweep", "walkforward", "window", "engines")


class RandomRange(Model):
    """A range to draw from in a random search: integers when low and high are both integers."""

    low: int | float = Field(description="Smallest value.")
    high: int | float = Field(description="Largest value (inclusive for integers).")
    log: bool = Field(False, description="Draw uniformly on a log scale (low must be above 0).")

    @model_validator(mode="after")
    def _check(self) -> RandomRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low above 0 (got {self.low})")
        return self

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


class SweepConfig(Model):
    """A parameter sweep (`algotrade sweep`): every point is the experiment with some fields set."""

    space: dict[str, tuple[Any, ...] | RandomRange] = Field(
        min_length=1,
        description=(
            "Each swept field as a dotted path with the values it takes, e.g. "
            "strategy.params.fast: [5, 10, 20], data.symbols: [[SPX], [IXIC]], engine: [backtrader, zipline]. "
            "A random search may also give {low, high[, log]}."
        ),
    )
    method: Literal["grid", "random"] = Field(
        "grid", description="grid: every combination; random: `samples` combinations drawn with `seed`."
    )
    samples: int | None = Field(None, ge=1, description="Points drawn by a random search.")
    seed: int = Field(7, description="Seed of the random search and of the data-snooping bootstrap.")
    constraints: tuple[str, ...] = Field(
        (),
        description=(
            "Points must satisfy these expressions over the swept names, e.g. 'fast < slow' "
            "(comparisons, and/or/not, + - * / // %, abs/min/max/len; nothing else is evaluated)."
        ),
    )
    metric: str = Field("sharpe", description=f"Rank runs by this metric: {', '.join(RANK_METRICS)}.")
    goal: Literal["max", "min"] = Field("max", description="Whether a larger or a smaller metric is better.")
    min_trades: int = Field(0, ge=0, description="Runs with fewer trades cannot be chosen as the best.")
    heatmap: tuple[str, str] | None = Field(
        None, description="Two swept names for the report's heatmap (default: the first two swept)."
    )
    reports: bool = Field(False, description="Also write each run's report.html (slower; off by default).")
    benchmark: Literal["buy_and_hold", "cash"] = Field(
        "buy_and_hold",
        description=(
            "What the data-snooping test (Hansen's SPA) measures the runs against: holding the "
            "symbols equally weighted, or cash (zero return)."
        ),
    )

    @field_validator("space")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path, values in value.items():
            _check_swept_path(path)
            if isinstance(values, tuple) and not values:
                raise ValueError(f"{path!r} has no values; list at least one")
            if isinstance(values, tuple):
                seen: list[Any] = []
                for v in values:
                    if v in seen:
                        raise ValueError(f"{path!r} lists {v!r} twice; list each value once")
                    seen.append(v)
        short = [p.rsplit(".", 1)[-1] for p in value]
        dupes = sorted({s for s in short if short.count(s) > 1})
        if dupes:
            raise ValueError(
                f"two swept keys end in {dupes[0]!r}; sweep fields whose last names differ "
                "(constraints and the heatmap name fields by their last name)"
            )
        return value

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from algotrade.core.constraints import ConstraintSyntaxError, parse_constraint

        for text in value:
            try:
                parse_constraint(text)
            except ConstraintSyntaxError as exc:
                raise ValueError(f"{text!r}: {exc}") from None
        return value

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in RANK_METRICS:
            raise ValueError(
                f"{value!r} is not a metric to rank by{suggest(value, RANK_METRICS)} "
                f"use one of: {', '.join(RANK_METRICS)}"
            )
        return value

    @model_validator(mode="after")
    def _method(self) -> SweepConfig:
        ranges = [p for p, v in self.space.items() if isinstance(v, RandomRange)]
        if self.method == "grid" and ranges:
            raise ValueError(
                f"{ranges[0]!r} is a range, which only a random search can draw from; "
                "list its values, or set method: random with samples: N"
            )
        if self.method == "random" and self.samples is None:
            raise ValueError("method: random needs samples: N (how many points to draw)")
        return self

    @property
    def short_names(self) -> tuple[str, ...]:
        """The last part of each swept path (``fast`` for strategy.params.fast), in order."""
        return tuple(p.rsplit(".", 1)[-1] for p in self.space)

    @property
    def names(self) -> dict[str, str]:
        """Every name a constraint or the heatmap may use -> its dotted path."""
        out = {p.rsplit(".", 1)[-1]: p for p in self.space}
        out.update({p: p for p in self.space})
        return out


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    for c in candidates:
        for inner in (c, *getattr(c, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _check_swept_path(path: str) -> None:
    """A swept dotted path must name a field of the experiment (strategy params are checked later)."""
    parts = path.split(".")
    model: type[BaseModel] = Experiment
    for i, part in enumerate(parts):
        where = ".".join(parts[:i]) or "the top level"
        if model is StrategyRef and part == "params":
            if len(parts) != i + 2:
                raise ValueError(f"{path!r}: name one parameter, e.g. strategy.params.fast")
            return
        fields = tuple(f for f in model.model_fields if not (i == 0 and f in NOT_SWEPT))
        if i == 0 and part in NOT_SWEPT:
            raise ValueError(f"{path!r}: {part} cannot be swept; sweep fields that change results (sweepable: {', '.join(fields)})")
        if part not in fields:
            raise ValueError(f"{path!r}: {part!r} is not a key of {where}{suggest(part, fields)} keys there: {', '.join(fields)}")
        if i == len(parts) - 1:
            return
        nested = _nested_model(model.model_fields[part].annotation)
        if nested is None:
            raise ValueError(f"{path!r}: {'.'.join(parts[: i + 1])} is a value, not a section; sweep it whole")
        model = nested


class WalkForwardConfig(Model):
    """Walk-forward analysis: choose parameters on each train window, evaluate them on the next test window."""

    train: int = Field(ge=20, description="Sessions in each train (in-sample) window.")
    test: int = Field(ge=5, description="Sessions in each test (out-of-sample) window.")
    step: int | None = Field(
        None, ge=1, description="Sessions between the starts of consecutive windows (default: test, so test windows tile)."
    )
    purge: int = Field(
        5, ge=0, description="Sessions between a train window and what follows it, seen by no run of that window."
    )
    warmup: int | None = Field(
        None,
        ge=0,
        description=(
            "Sessions of indicator warm-up before each test window, after the purge gap, that are not "
            "evaluated (default: the largest indicator lookback in the sweep, plus one)."
        ),
    )
    mode: Literal["rolling", "anchored"] = Field(
        "rolling", description="rolling: train windows of fixed length; anchored: every train window starts at the first session."
    )

    @model_validator(mode="after")
    def _check(self) -> WalkForwardConfig:
        if self.step is not None and self.step < self.test:
            raise ValueError(
                f"step ({self.step}) is shorter than test ({self.test}): test windows would overlap; "
                f"use step >= {self.test} (or leave it out)"
            )
        return self


class WindowConfig(Model):
    """A part of the loaded sessions to run on (written by `algotrade sweep` for walk-forward runs)."""

    start: dt.date | None = Field(
        None, description="First day of the run, cut to the first loaded session on or after it (default: the first loaded)."
    )
    end: dt.date | None = Field(
        None, description="Last day of the run, cut to the last loaded session on or before it (default: the last loaded)."
    )
    evaluate_from: dt.date | None = Field(
        None,
        description="Results count from this session; the sessions before it only warm up indicators.",
    )

    @model_validator(mode="after")
    def _order(self) -> WindowConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}; set start before end")
        if self.evaluate_from and (
            (self.start and self.evaluate_from < self.start) or (self.end and self.evaluate_from > self.end)
        ):
            raise ValueError(f"evaluate_from {self.evaluate_from} is outside start..end; set it between them")
        return self


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


class Experiment(Model):
    """One experiment file."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Names the results folder: letters, digits, _ . -",
    )
    data: DataConfig = Field(default_factory=DataConfig, description="The bars.")  # type: ignore[arg-type]
    strategy: StrategyRef = Field(description="What trades.")
    engine: str = Field(
        "backtrader",
        description="The engine `algotrade run` uses: backtrader (the default) or zipline (`algotrade engines`).",
    )
    engines: tuple[str, ...] | None = Field(
        None,
        description="Several engines, for `algotrade compare` (instead of engine; `run` uses the first).",
    )
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="Account and execution.")  # type: ignore[arg-type]
    sizing: Sizing = Field(
        TargetPercentSizing(target_percent=0.95),
        description="How entries are sized: {target_percent: 0.95} or {fixed_shares: 100}.",
    )
    risk: RiskConfig = Field(default_factory=RiskConfig, description="Risk checks.")  # type: ignore[arg-type]
    benchmark: str | None = Field(
        None,
        description="A symbol of data.symbols to measure alpha and beta against (none by default: no benchmark).",
    )
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where results go.")  # type: ignore[arg-type]
    ib: IbConfig = Field(default_factory=IbConfig, description="The IB connection for paper and live runs.")  # type: ignore[arg-type]
    burnin: BurnInGates = Field(
        default_factory=BurnInGates,  # type: ignore[arg-type]
        description="Gates a paper burn-in must pass before `algotrade live` accepts this configuration.",
    )
    sweep: SweepConfig | None = Field(
        None, description="A parameter sweep for `algotrade sweep` (ignored by `algotrade run`)."
    )
    walkforward: WalkForwardConfig | None = Field(
        None, description="Walk-forward windows for `algotrade sweep` (needs sweep:, which gives the parameters)."
    )
    window: WindowConfig | None = Field(
        None,
        description="Run on part of the loaded sessions, counting results from evaluate_from (set by `algotrade sweep` for walk-forward runs).",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_engine_key(cls, data: Any) -> Any:
        """engine: null is the default engine; engine and engines together are refused."""
        if isinstance(data, dict) and "engine" in data:
            if data["engine"] is None:
                data = {k: v for k, v in data.items() if k != "engine"}
            elif data.get("engines"):
                raise ValueError("set either engine or engines, not both")
        return data

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        return check_engine_name(value)

    @field_validator("engines")
    @classmethod
    def _engines(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            for name in value:
                check_engine_name(name)
        return value

    @model_validator(mode="after")
    def _benchmark_in_data(self) -> Experiment:
        if self.benchmark is not None and self.benchmark not in self.data.symbols:
            raise ValueError(
                f"benchmark {self.benchmark!r} is not in data.symbols ({symbols_text(self.data.symbols)}); "
                "add it to data.symbols or remove benchmark"
            )
        return self

    @property
    def engine_names(self) -> tuple[str, ...]:
        return tuple(self.engines) if self.engines else (self.engine,)

    @property
    def config_id(self) -> str:
        """Stable hash of everything that changes results (not the name, output, engine, IB
        connection or burn-in gates: a paper burn-in and the live run of one file share it; not
        the sweep or walkforward sections: the base run of a sweep file is an ordinary run)."""
        exclude = {"name", "output", "engine", "engines", "ib", "burnin", "sweep", "walkforward"}
        if self.window is None:
            exclude.add("window")  # ids of experiments without a window stay what they always were
        payload = self.model_dump(mode="json", exclude=exclude)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def symbols_text(symbols: tuple[str, ...] | list[str], limit: int = 5) -> str:
    """Symbols for a one-line summary: all of a few, else the first few and the count
    ('A, B, C, D, E and 495 more: 500 symbols')."""
    if len(symbols) <= limit + 1:
        return ", ".join(symbols)
    return f"{', '.join(symbols[:limit])} and {len(symbols) - limit} more: {len(symbols)} symbols"


def check_engine_list(names: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a --engines list: known names, at least two, no repeats."""
    try:
        for name in names:
            check_engine_name(name)
    except ValueError as exc:
        raise ConfigError(f"--engines: {exc}") from None
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"--engines: give two different engines to compare, e.g. backtrader,zipline (got {','.join(names)})")
    return names


# --------------------------------------------------------------------------------------------
# loading


def _node_lines(node: yaml.Node | None, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML document to its 1-based line."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            lines[path] = key.start_mark.line + 1
            lines.update(_node_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            lines[(*prefix, str(i))] = value.start_mark.line + 1
            lines.update(_node_lines(value, (*prefix, str(i))))
    return lines


_FIXES = {
    "date_from_datetime_parsing": "write a date that exists, as YYYY-MM-DD",
    "date_parsing": "write a date that exists, as YYYY-MM-DD",
    "date_type": "write a date that exists, as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date without a time, as YYYY-MM-DD",
    "literal_error": "use one of the values listed",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a value that is not negative",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
}


def _model_at(path: tuple[str | int, ...], model: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that owns the last key of ``path`` (for did-you-mean on unknown keys)."""
    current: type[BaseModel] | None = model
    for part in path[:-1]:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return current


#: key path -> the command-line flag that set it (``--set broker.cash=1``, ``--engine zipline``)
Origins = dict[tuple[str, ...], str]


def _where(
    path: tuple[str, ...], lines: dict[tuple[str, ...], int] | None, source: str, origins: Origins | None
) -> str:
    """Who to blame for a problem at ``path``: the flag that set it or a section above it, else
    the file (and line); a flag that set something inside ``path`` is named next to the file."""
    origins = origins or {}
    for k in range(len(path), 0, -1):
        if path[:k] in origins:
            return f"{origins[path[:k]]}: "
    line = (lines or {}).get(path)
    inside = next((flag for key, flag in origins.items() if key[: len(path)] == path), None)
    here = f"{source}:{line}" if source and line else source
    if inside:
        return f"{here} with {inside}: " if here else f"{inside}: "
    return f"{here}: " if here else ""


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    prefix: tuple[str, ...] = (),
    lines: dict[tuple[str, ...], int] | None = None,
    source: str = "",
    origins: Origins | None = None,
) -> ConfigError:
    """One readable ConfigError from a pydantic ValidationError (all problems, one per line)."""
    messages: list[str] = []
    seen: set[str] = set()
    for err in exc.errors():
        # drop union-branch tags such as 'PerShareCommission' from the location
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        field = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
        where = _where(tuple(str(p) for p in (*prefix, *loc)), lines, source, origins)
        kind = err["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc, model)
            allowed = sorted(owner.model_fields) if owner else []
            key = str(loc[-1])
            hint = suggest(key, allowed)
            msg = f"{where}unknown key {field!r}{hint or ';'} allowed keys here: {', '.join(allowed)}"
        elif kind == "missing":
            from algotrade.core.shell import command

            msg = f"{where}{field}: this key is required; add it (see `{command('schema')}`)"
        else:
            value = err.get("input")
            text = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(kind, "")
            if kind in ("literal_error", "invalid_choice"):
                msg = f"{where}{field}: {value!r} is not allowed; {text[0].lower()}{text[1:]}"
            elif kind == "value_error":
                msg = f"{where}{field}: {text}"
            else:
                msg = f"{where}{field}: {text} (got {value!r})" + (f"; {fix}" if fix else "")
        if msg not in seen:
            seen.add(msg)
            messages.append(msg)
    return ConfigError("\n".join(messages))


def _set_path(raw: dict[str, Any], dotted: str, value: Any, flag: str = "", origins: Origins | None = None) -> None:
    """Set ``a.b.c`` in the raw document; record in ``origins`` that ``flag`` set it (and any
    section it had to create)."""
    flag = flag or f"--set {dotted}"
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict):
            raise ConfigError(f"{flag}: {parts[i - 1]!r} is not a section; check the field name")
        if part not in node and origins is not None:
            origins[tuple(parts[: i + 1])] = flag
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"{flag}: {'.'.join(parts[:-1])} is a value, not a section; set it whole")
    node[parts[-1]] = value
    if origins is not None:
        origins[tuple(parts)] = flag


class _Loader(yaml.SafeLoader):
    """YAML as safe_load reads it, except that a date that does not exist (2010-02-30) stays a
    string, so the field it belongs to reports it like any other bad value."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)  # type: ignore[arg-type]


def load_yaml(text: str) -> Any:
    """Parse YAML text the one way experiment files and --set values are parsed."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def parse_override(text: str) -> tuple[str, Any]:
    """``strategy.params.fast=5`` -> ('strategy.params.fast', 5); the value is read as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: write it as field.path=value, e.g. strategy.params.fast=5")
    try:
        return key.strip(), load_yaml(value) if value.strip() else None
    except yaml.YAMLError:
        return key.strip(), value


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    if not path.exists():
        raise ConfigError(f"experiment file {str(path)!r} does not exist; check the path (try `ls experiments/`)")
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a folder; give the path of an experiment .yaml file")
    text = path.read_text(encoding="utf-8")
    try:
        raw = load_yaml(text)
        lines = _node_lines(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the indentation or quoting there") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; start from experiments/quickstart.yaml")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys (name:, data:, strategy:, ...), got {type(raw).__name__}")
    return raw, lines


def validate_strategy_params(
    ref: StrategyRef,
    lines: dict[tuple[str, ...], int] | None = None,
    source: str = "",
    origins: Origins | None = None,
) -> StrategyRef:
    """Check params against the strategy's own config class; return them with defaults filled."""
    try:
        strategy_cls = resolve_strategy(ref.name)
    except ConfigError as exc:
        raise ConfigError(f"{_where(('strategy', 'name'), lines, source, origins)}strategy.name: {exc}") from None
    config_cls: type[BaseModel] | None = getattr(strategy_cls, "config_class", None)
    if config_cls is None:
        raise ConfigError(
            f"{_where(('strategy', 'name'), lines, source, origins)}strategy {ref.name!r} has no config_class; "
            "is it an algotrade Strategy?"
        )
    try:
        cfg = config_cls.model_validate(ref.params)
    except ValidationError as exc:
        raise format_validation_error(
            exc, config_cls, prefix=("strategy", "params"), lines=lines, source=source, origins=origins
        ) from None
    return StrategyRef(name=ref.name, params=cfg.model_dump())


def load_experiment(path: str | Path, overrides: tuple[str, ...] = (), engine: str | None = None) -> Experiment:
    """Read, override and validate an experiment file: the one way configs come in.

    ``overrides`` are ``--set field.path=value`` items; ``engine`` is ``--engine NAME`` (the run's
    one engine, replacing the file's engine or engines). A problem with either is blamed on the flag.
    """
    path = Path(path)
    raw, lines = read_yaml(path)
    origins: Origins = {}
    for item in overrides:
        key, value = parse_override(item)
        _set_path(raw, key, value, f"--set {item}", origins)
    if engine is not None:
        _set_path(raw, "engine", engine, f"--engine {engine}", origins)
        _set_path(raw, "engines", None, f"--engine {engine}", origins)
    exp = experiment_from_dict(raw, lines=lines, source=str(path), origins=origins)
    data = exp.data
    if data.path and not Path(data.path).is_absolute():
        data = data.model_copy(update={"path": str((path.parent / data.path).resolve())})
    return exp.model_copy(update={"data": data})


def experiment_from_dict(
    raw: dict[str, Any], lines: dict[tuple[str, ...], int] | None = None, source: str = "",
    origins: Origins | None = None,
) -> Experiment:
    try:
        exp = Experiment.model_validate(raw)
    except ValidationError as exc:
        raise format_validation_error(exc, Experiment, lines=lines, source=source, origins=origins) from None
    exp = exp.model_copy(update={"strategy": validate_strategy_params(exp.strategy, lines, source, origins)})
    if exp.walkforward is not None and exp.sweep is None:
        where = _where(("walkforward",), lines, source, origins)
        raise ConfigError(f"{where}walkforward: needs a sweep: section, whose space gives the parameters to choose from")
    if exp.sweep is not None:
        check_sweep_names(exp, lines or {}, source, origins)
    return exp


def _config_fields(ref: StrategyRef) -> tuple[str, ...]:
    return tuple(resolve_strategy(ref.name).config_class.model_fields)


def check_sweep_names(
    exp: Experiment, lines: dict[tuple[str, ...], int], source: str = "", origins: Origins | None = None
) -> None:
    """Swept strategy parameters exist, and constraints name only known fields (did you mean ...)."""
    assert exp.sweep is not None
    sweep = exp.sweep

    def where(*path: str) -> str:
        return _where(("sweep", *path), lines, source, origins)

    params = _config_fields(exp.strategy)
    for path in sweep.space:
        if path.startswith("strategy.params."):
            name = path.removeprefix("strategy.params.")
            if name not in params:
                raise ConfigError(
                    f"{where('space', path)}sweep.space: {path!r}: {name!r} is not a parameter of strategy "
                    f"{exp.strategy.name}{suggest(name, params)} parameters: {', '.join(params)}"
                )
    known = {**{p: p for p in params}, **sweep.names}
    from algotrade.core.constraints import parse_constraint

    for i, text in enumerate(sweep.constraints):
        for name in sorted(parse_constraint(text).names - set(known)):
            raise ConfigError(
                f"{where('constraints', str(i))}sweep.constraints[{i}]: {text!r} uses {name!r}, which is not swept "
                f"or a strategy parameter{suggest(name, tuple(known))} names: {', '.join(sorted(set(known)))}"
            )
    if sweep.heatmap is not None:
        names = sweep.names
        for name in sweep.heatmap:
            if name not in names:
                raise ConfigError(
                    f"{where('heatmap')}sweep.heatmap: {name!r} is not swept{suggest(name, tuple(names))} "
                    f"swept: {', '.join(sweep.short_names)}"
                )
        if names[sweep.heatmap[0]] == names[sweep.heatmap[1]]:
            raise ConfigError(f"{where('heatmap')}sweep.heatmap: name two different swept fields")


#: optional sections left out of a dump when unset (a run's config.yaml stays as it was)
_OMIT_UNSET = ("sweep", "walkforward", "window")


def dump_experiment(exp: Experiment) -> str:
    omit = {k for k in _OMIT_UNSET if getattr(exp, k) is None}
    if exp.engines:
        omit.add("engine")  # the engines list says which engines; engine would be the unused default
    return yaml.safe_dump(exp.model_dump(mode="json", exclude=omit), sort_keys=False)


def explain(model: type[BaseModel] = Experiment, indent: int = 0) -> str:
    """Every field with its type, default and description, as an indented tree."""
    out: list[str] = []
    pad = "  " * indent
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = [
            a
            for a in (annotation, *getattr(annotation, "__args__", ()))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        default = "" if field.is_required() else f" = {_default_text(field)}"
        typename = _type_text(annotation)
        out.append(f"{pad}{name}: {typename}{default}")
        if field.description:
            out.append(f"{pad}    {field.description}")
        for sub in nested:
            if len(nested) > 1:
                out.append(f"{pad}  as {sub.__name__}:")
            out.append(explain(sub, indent + 1))
    return "\n".join(x for x in out if x)


def _type_text(annotation: Any) -> str:
    """`sample | synthetic | ...` for a Literal, the class name for a model, else a readable form."""
    import typing

    if typing.get_origin(annotation) is Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is Annotated:
        return _type_text(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if args and typing.get_origin(annotation) in (typing.Union, __import__("types").UnionType):
        return " | ".join(_type_text(a) for a in args)
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        return "{...}"
    value = field.default
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json"))
    return json.dumps(value, default=str)
