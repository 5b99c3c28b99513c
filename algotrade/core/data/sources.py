"""Where bars come from: the shipped samples, the synthetic generator, a CSV file, a csvdir folder
and a Parquet file, each read into one canonical frame per symbol (not yet cut or repaired)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from algotrade.core.config import DataConfig, symbols_text
from algotrade.core.errors import ConfigError, DataError
from algotrade.core.registry import suggest


def _arch_loader(name: str) -> Callable[[], pd.DataFrame]:
    """Read a data set shipped inside the installed ``arch`` package (without importing arch,
    which would pull in scipy and statsmodels)."""

    def load() -> pd.DataFrame:
        import importlib.util

        spec = importlib.util.find_spec("arch")
        if spec is None or not spec.submodule_search_locations:
            raise DataError("data.source sample needs the 'arch' package; run bin/algotrade to set up the environment")
        path = Path(spec.submodule_search_locations[0]) / "data" / name / f"{name}.csv.gz"
        return pd.read_csv(path, index_col="Date", parse_dates=["Date"])

    return load


#: sample symbols: real daily bars shipped inside the ``arch`` package
SAMPLES: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
    "SPX": ("S&P 500 index, daily, 1999-01-04 to 2018-12-31 (arch.data.sp500)", _arch_loader("sp500")),
    "IXIC": ("NASDAQ Composite index, daily, 1999-01-04 to 2018-12-31 (arch.data.nasdaq)", _arch_loader("nasdaq")),
}

_ALIASES = {
    "date": "date", "datetime": "date", "timestamp": "date", "time": "date",
    "open": "open", "high": "high", "low": "low", "close": "close",
    "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
    "volume": "volume", "vol": "volume",
    "openinterest": "openinterest", "open interest": "openinterest",
    "dividend": "dividend", "split": "split", "symbol": "symbol", "ticker": "symbol",
}
REQUIRED = ("date", "open", "high", "low", "close", "volume")


def _canonical(raw: pd.DataFrame, where: str, adjust: bool) -> pd.DataFrame:
    """Rename a raw table's columns, parse dates, adjust by Adj Close when asked."""
    renamed = raw.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in raw.columns})
    if "date" not in renamed.columns and isinstance(raw.index, pd.DatetimeIndex):
        renamed = renamed.reset_index().rename(columns={renamed.index.name or "index": "date"})
        renamed = renamed.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in renamed.columns})
    missing = [c for c in REQUIRED if c not in renamed.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, raw.columns))}. "
            "Expected Date,Open,High,Low,Close[,Adj Close],Volume (Yahoo) or "
            "Date,Open,High,Low,Close,Volume,OpenInterest (Backtrader)"
        )
    dates = pd.to_datetime(renamed["date"], errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{where}: line {row + 2} has a date that cannot be read: {renamed['date'].iloc[row]!r}; "
            "write dates as YYYY-MM-DD"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    keep = ["open", "high", "low", "close", "volume"] + [c for c in ("dividend", "split") if c in renamed]
    frame = renamed[keep].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    frame.index = pd.DatetimeIndex(dates.dt.normalize(), name="date")
    if adjust and "adj_close" in renamed.columns:
        factor = pd.to_numeric(renamed["adj_close"], errors="coerce").to_numpy() / frame["close"].to_numpy()
        for col in ("open", "high", "low", "close"):
            frame[col] = frame[col].to_numpy() * factor
    return frame


def _read_csv(path: Path, where: str) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{where}: file {str(path)!r} does not exist; check data.path")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{where}: {path} is not a readable CSV ({exc}); check the file") from None


def _load_raw(cfg: DataConfig, sessions: Callable[[], pd.DatetimeIndex]) -> dict[str, pd.DataFrame]:
    if cfg.source == "sample":
        frames = {}
        for sym in cfg.symbols:
            if sym not in SAMPLES:
                raise ConfigError(
                    f"data.symbols: {sym!r} is not a sample symbol{suggest(sym, tuple(SAMPLES))} "
                    f"available: {', '.join(SAMPLES)}"
                )
            frames[sym] = _canonical(SAMPLES[sym][1](), f"sample {sym}", cfg.adjust)
        return frames
    if cfg.source == "synthetic":
        from algotrade.core.synthetic import generate

        return generate(cfg.symbols, sessions(), cfg.synthetic)
    path = Path(cfg.path or "")
    if cfg.source == "csv":
        if len(cfg.symbols) != 1:
            raise ConfigError(
                f"data.symbols: a csv source holds one symbol, got {len(cfg.symbols)}; "
                "list one symbol, or use source: csvdir for several"
            )
        return {cfg.symbols[0]: _canonical(_read_csv(path, "data.path"), str(path), cfg.adjust)}
    if cfg.source == "csvdir":
        if not path.is_dir():
            raise DataError(f"data.path: {str(path)!r} is not a folder; csvdir wants a folder of SYMBOL.csv files")
        folder = path / "daily" if (path / "daily").is_dir() else path
        available = sorted(p.stem for p in folder.glob("*.csv"))
        frames = {}
        for sym in cfg.symbols:
            file = folder / f"{sym}.csv"
            if not file.exists():
                raise ConfigError(
                    f"data.symbols: {sym!r} has no file {file.name} in {folder}{suggest(sym, available)} "
                    f"available: {symbols_text(available, 20) or '(none)'}"
                )
            frames[sym] = _canonical(_read_csv(file, f"data.path {file.name}"), str(file), cfg.adjust)
        return frames
    # parquet
    if not path.exists():
        raise DataError(f"data.path: file {str(path)!r} does not exist; check data.path")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DataError(f"data.path: {path} is not a readable Parquet file ({exc})") from None
    table = table.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c)) for c in table.columns})
    if "symbol" in table.columns:
        available = sorted(map(str, table["symbol"].unique()))
        frames = {}
        for sym in cfg.symbols:
            part = table[table["symbol"] == sym]
            if part.empty:
                raise ConfigError(
                    f"data.symbols: {sym!r} is not in {path.name}{suggest(sym, available)} "
                    f"available: {symbols_text(available, 20)}"
                )
            frames[sym] = _canonical(part.drop(columns="symbol"), f"{path.name} {sym}", cfg.adjust)
        return frames
    if len(cfg.symbols) != 1:
        raise ConfigError("data.symbols: this parquet file has no symbol column, so list exactly one symbol")
    return {cfg.symbols[0]: _canonical(table, str(path), cfg.adjust)}


def sample_ranges() -> list[tuple[str, str, str, str, int]]:
    """(symbol, first, last, description, rows) for each sample symbol."""
    out = []
    for sym, (desc, loader) in SAMPLES.items():
        frame = loader()
        out.append((sym, str(frame.index[0].date()), str(frame.index[-1].date()), desc, len(frame)))
    return out
