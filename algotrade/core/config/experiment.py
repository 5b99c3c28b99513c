"""One experiment file as a model: its top-level keys and its ``sweep:`` section (which names
fields of the experiment, so it lives beside it), and the check of an ``--engines`` list."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from algotrade.core.config.base import Model, symbols_text
from algotrade.core.config.data_section import DataConfig
from algotrade.core.config.sections import (
    BrokerConfig,
    BurnInGates,
    IbConfig,
    OpsConfig,
    OutputConfig,
    RiskConfig,
    Sizing,
    StopsConfig,
    StrategyRef,
    TargetPercentSizing,
)
from algotrade.core.config.windows import WalkForwardConfig, WindowConfig
from algotrade.core.errors import ConfigError
from algotrade.core.registry import check_engine_name, suggest

#: metrics a sweep can rank by (keys of metrics.json)
RANK_METRICS = (
    "sharpe", "sortino", "calmar", "total_return", "annual_return", "annual_volatility", "max_drawdown",
    "final_equity", "win_rate", "exposure", "trade_count", "round_trips", "total_commission",
)

#: top-level keys a sweep does not vary: they do not change results, or they describe the sweep
NOT_SWEPT = ("name", "output", "ib", "ops", "burnin", "sweep", "walkforward", "window", "engines")


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
        description="How entries are sized: {target_percent: 0.95}, {fixed_shares: 100}, {fixed_cash: 10000}, "
        "{vol_target: {annual: 0.15}}, {kelly: {fraction: 0.5}}, {risk_per_trade: {risk: 0.01}}, or "
        "{default: <one of those>, per_symbol: {SYMBOL: <one of those>}} (algotrade/core/sizing.py).",
    )
    risk: RiskConfig = Field(default_factory=RiskConfig, description="Risk checks.")  # type: ignore[arg-type]
    stops: StopsConfig | None = Field(
        None, description="Protective exits after each entry: stop_loss, take_profit, trailing, atr_stop (none by default).",
    )
    benchmark: str | None = Field(
        None,
        description="A symbol of data.symbols to measure alpha and beta against (none by default: no benchmark).",
    )
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where results go.")  # type: ignore[arg-type]
    ib: IbConfig = Field(default_factory=IbConfig, description="The IB connection for paper and live runs.")  # type: ignore[arg-type]
    ops: OpsConfig = Field(
        default_factory=OpsConfig,  # type: ignore[arg-type]
        description="The operating layer of paper and live runs: metrics, health and dashboard server, JSON logs.",
    )
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
        exclude = {"name", "output", "engine", "engines", "ib", "ops", "burnin", "sweep", "walkforward"}
        if self.window is None:
            exclude.add("window")  # ids of experiments without a window stay what they always were
        if self.stops is None:
            exclude.add("stops")  # likewise for experiments without stops
        payload = self.model_dump(mode="json", exclude=exclude)
        payload["risk"] = self.risk.identity()
        for key in ("pairs", "independent"):  # ids of synthetic data without planted pairs stay the same
            if not payload["data"]["synthetic"][key]:
                del payload["data"]["synthetic"][key]
        for key, default in (("short_margin", None), ("borrow_fee_bps", 0.0)):  # ids without shorts' costs stay the same
            if payload["broker"][key] == default:
                del payload["broker"][key]
        if self.strategy.sizing is None:
            del payload["strategy"]["sizing"]  # ids of experiments without a strategy sizing stay the same
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


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
