"""The ``data:`` section of an experiment file: where the bars come from, which part of them to
use, and the synthetic generator's settings."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from algotrade.core.config.base import Model


class PlantedPair(Model):
    """A cointegrated pair the generator plants: ``y = alpha + beta * x + s``, where ``x`` is the
    generator's ordinary price path and ``s`` an AR(1) (discretely sampled Ornstein-Uhlenbeck)
    spread in dollars that starts at 0 and decays halfway back to 0 in ``half_life`` sessions."""

    y: str = Field(description="The dependent symbol, written from x and the spread (one of data.symbols).")
    x: str = Field(description="The independent symbol, an ordinary generated price path (one of data.symbols).")
    beta: float = Field(1.0, gt=0, le=100, description="Hedge ratio: shares of x per share of y.")
    alpha: float = Field(0.0, ge=-1_000_000, le=1_000_000, description="Intercept of y on x, in dollars.")
    half_life: float = Field(
        10.0, gt=0, le=1000, description="Sessions the spread takes to decay halfway back to 0 (AR(1) phi = 0.5**(1/half_life))."
    )
    spread_vol: float = Field(1.0, gt=0, le=10_000, description="Daily standard deviation of the spread's shocks, in dollars.")

    @model_validator(mode="after")
    def _two_symbols(self) -> PlantedPair:
        if self.y == self.x:
            raise ValueError(f"y and x are both {self.y!r}; a pair needs two different symbols")
        return self


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
    pairs: tuple[PlantedPair, ...] = Field(
        (), description="Cointegrated pairs to plant: [{y: A, x: B, beta: 1.5, alpha: 10, half_life: 10, spread_vol: 1}]."
    )
    independent: tuple[str, ...] = Field(
        (), description="Symbols whose returns are independent of every other symbol's and have no regime drift (controls: cointegrated with nothing; a pair's x may be one)."
    )

    @model_validator(mode="after")
    def _each_symbol_one_role(self) -> SyntheticConfig:
        roles: dict[str, str] = {}
        for i, pair in enumerate(self.pairs):
            for side in ("y", "x"):
                symbol = getattr(pair, side)
                if symbol in roles:
                    raise ValueError(
                        f"pairs[{i}].{side} {symbol!r} is already {roles[symbol]}; give each symbol one place "
                        "in the pairs"
                    )
                roles[symbol] = f"pairs[{i}].{side}"
        for symbol in self.independent:  # a pair's x may be independent too: y is then tied to x alone
            if symbol in roles and not roles[symbol].endswith(".x"):
                raise ValueError(
                    f"independent {symbol!r} is already {roles[symbol]}; a planted y follows its x, so it "
                    "cannot be independent too (list x there instead)"
                )
            if self.independent.count(symbol) > 1:
                raise ValueError(f"independent lists {symbol!r} twice; list each symbol once")
        return self

    def check_symbols(self, symbols: tuple[str, ...]) -> None:
        """Every symbol the pairs and independent lists name must be one of ``symbols``."""
        for where, symbol in self.named_symbols():
            if symbol not in symbols:
                raise ValueError(f"{where} {symbol!r} is not in data.symbols ({', '.join(symbols)}); add it there or fix the name")

    def named_symbols(self) -> list[tuple[str, str]]:
        """(where, symbol) for every symbol the pairs and independent lists name."""
        named = [(f"pairs[{i}].{side}", getattr(p, side)) for i, p in enumerate(self.pairs) for side in ("y", "x")]
        return named + [(f"independent[{i}]", s) for i, s in enumerate(self.independent)]

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
            value.check_symbols(info.data["symbols"])
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
