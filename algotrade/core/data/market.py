"""The market a run sees: the repaired frames of its symbols on one calendar, as bars, windows of
them and a hash of their content."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from algotrade.core.data.coverage import _Gaps, check_covered
from algotrade.core.errors import ConfigError
from algotrade.core.strategy import FIELDS, Bars
from algotrade.core.validation import Problem


@dataclass(frozen=True)
class Market:
    frames: dict[str, pd.DataFrame]
    calendar: str
    repairs: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def dates(self) -> pd.DatetimeIndex:
        return next(iter(self.frames.values())).index

    def bars(self) -> Bars:
        dates = tuple(d.date() for d in self.dates)
        arrays = {s: {f: np.ascontiguousarray(fr[f].to_numpy(np.float64)) for f in FIELDS} for s, fr in self.frames.items()}
        return Bars(dates, arrays)

    def between(self, start: dt.date | None, end: dt.date | None) -> Market:
        """The sessions from ``start`` to ``end`` (both included, None: the first/last): a window
        of the loaded data, as a walk-forward run sees it. ``repairs`` still describe the load."""
        dates = self.dates
        lo = pd.Timestamp(start) if start else dates[0]
        hi = pd.Timestamp(end) if end else dates[-1]
        if lo == dates[0] and hi == dates[-1]:
            return self
        if lo < dates[0] or hi > dates[-1]:  # calendar dates just outside the loaded sessions snap to them
            check_covered("window", "the loaded sessions", start, end, dates, _Gaps.of(self.calendar, dates, lo))
        frames = {s: f.loc[lo:hi] for s, f in self.frames.items()}
        if not len(next(iter(frames.values()))):
            raise ConfigError(
                f"window: {start or 'first'} .. {end or 'last'} holds no session of the data "
                f"({dates[0].date()} .. {dates[-1].date()}); choose dates within it"
            )
        return Market(frames, self.calendar, self.repairs, self.problems)

    def session_index(self, day: dt.date) -> int:
        """Row of the first session on or after ``day``."""
        k = int(self.dates.searchsorted(pd.Timestamp(day)))
        if k >= len(self.dates):
            raise ConfigError(
                f"window.evaluate_from: {day} is after the last session of the run ({self.dates[-1].date()}); "
                "choose an earlier date"
            )
        return k

    @property
    def data_hash(self) -> str:
        h = hashlib.sha256(self.calendar.encode())
        for sym, frame in self.frames.items():
            h.update(sym.encode())
            h.update(frame.index.asi8.tobytes())
            h.update(np.ascontiguousarray(frame[list(FIELDS)].to_numpy(np.float64)).tobytes())
        return h.hexdigest()[:16]
