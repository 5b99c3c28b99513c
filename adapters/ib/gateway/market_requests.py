"""The gateway simulator's answers to market data requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from adapters.ib.gateway import wire
from adapters.ib.gateway.session import Session
from adapters.ib.gateway.simcore import (
    CLOSE_TIME,
    LOST,
    NEW_YORK,
    NO_SECURITY,
    SimulatorCore,
)


class MarketDataRequests(SimulatorCore):
    """The market data requests: contract details, history, real-time bars, market data."""

    def _on_contract_details(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_contract_details(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.send(wire.contract_data(s.server_version, req.req_id, self.details[sym]))
        s.send(wire.contract_data_end(req.req_id))

    def _on_historical_data(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_historical_data(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 162, f"Historical Market Data Service error message:{NO_SECURITY}"))
            return
        if self.lost:
            s.send(wire.error(s.server_version, req.req_id, 162, f"Historical Market Data Service error message:{LOST}"))
            return
        if " ".join(req.bar_size.split()).lower() not in ("1 day", "1 d"):
            s.send(wire.error(s.server_version, req.req_id, 162, (
                "Historical Market Data Service error message:the simulator serves daily bars only; "
                f"use barSizeSetting '1 day' (got {req.bar_size!r})"
            )))
            return
        try:
            last = self._history_end(req.end)
            first = self._history_start(last, req.duration)
        except ValueError as exc:
            s.send(wire.error(s.server_version, req.req_id, 321, f"Error validating request:-'{exc}'"))
            return
        bars = [b for i in range(first, last + 1) if (b := self._wire_bar(sym, i)) is not None]
        start_s = f"{self.dates[first]:%Y%m%d} 00:00:00" if last >= first else ""
        end_s = f"{self.dates[last]:%Y%m%d} 23:59:59" if last >= 0 else ""
        s.send(wire.historical_data(req.req_id, start_s, end_s, bars))
        if req.keep_up_to_date:
            s.history[req.req_id] = sym

    def _history_end(self, end: str) -> int:
        """Index of the last bar a request ending at ``end`` gets (never past the replay)."""
        if not end.strip():
            return self.position
        text = end.strip()
        date_part, _, rest = text.replace("-", " ", 1).partition(" ")
        day = dt.datetime.strptime(date_part[:8], "%Y%m%d")
        time_part, _, zone = rest.strip().partition(" ")
        if time_part:
            moment = dt.datetime.combine(day.date(), dt.time.fromisoformat(time_part))
            tz = ZoneInfo(zone.strip()) if zone.strip() else (dt.UTC if "-" in text[:9] else NEW_YORK)
            moment = moment.replace(tzinfo=tz).astimezone(NEW_YORK)
            # a bar belongs to the request once its session has closed
            cutoff = moment.date() if moment.time() >= CLOSE_TIME else moment.date() - dt.timedelta(days=1)
        else:
            cutoff = day.date()
        i = int(self.dates.searchsorted(pd.Timestamp(cutoff), side="right")) - 1
        return min(i, self.position)

    def _history_start(self, last: int, duration: str) -> int:
        parts = duration.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"durationStr {duration!r} is not 'N S|D|W|M|Y'")
        n, unit = int(parts[0]), parts[1].upper()
        if last < 0:
            return 0
        if unit == "S":
            return last
        if unit == "D":
            return max(0, last - n + 1)
        offsets = {"W": pd.DateOffset(weeks=n), "M": pd.DateOffset(months=n), "Y": pd.DateOffset(years=n)}
        if unit not in offsets:
            raise ValueError(f"durationStr {duration!r}: unit {unit!r} is not S, D, W, M or Y")
        since = self.dates[last] - offsets[unit]
        return int(self.dates.searchsorted(since, side="right"))

    def _on_head_timestamp(self, s: Session, fields: list[str]) -> None:
        r = wire.Reader(fields)
        req_id = r.integer()
        sym = self._resolve(r.contract12())
        if sym is None:
            s.send(wire.error(s.server_version, req_id, 162, f"Historical Market Data Service error message:{NO_SECURITY}"))
            return
        s.send(wire.head_timestamp(req_id, f"{self.dates[0]:%Y%m%d}  09:30:00"))

    def _on_real_time_bars(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_real_time_bars(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.realtime[req.req_id] = sym

    def _on_mkt_data(self, s: Session, fields: list[str]) -> None:
        req = wire.parse_mkt_data(fields)
        sym = self._resolve(req.contract)
        if sym is None:
            s.send(wire.error(s.server_version, req.req_id, 200, NO_SECURITY))
            return
        s.send(wire.market_data_type(req.req_id, s.market_data_type))
        s.send(wire.tick_req_params(req.req_id, self.details[sym].min_tick, "9c0001", 3))
        if not self.lost:
            self._send_ticks(s, req.req_id, sym)
        if req.snapshot or req.regulatory_snapshot:
            s.send(wire.tick_snapshot_end(req.req_id))
        else:
            s.tickers[req.req_id] = sym

    def _send_ticks(self, s: Session, req_id: int, sym: str) -> None:
        b = self.bar(sym)
        if b is None:
            return
        prev = self.bar(sym, self.position - 1) if self.position > 0 else None
        s.send(wire.tick_price(req_id, 1, b.close, 100))  # bid
        s.send(wire.tick_price(req_id, 2, b.close, 100))  # ask
        s.send(wire.tick_price(req_id, 4, b.close, 100))  # last
        s.send(wire.tick_price(req_id, 6, b.high, 0))
        s.send(wire.tick_price(req_id, 7, b.low, 0))
        s.send(wire.tick_price(req_id, 14, b.open, 0))
        if prev is not None:
            s.send(wire.tick_price(req_id, 9, prev.close, 0))
        s.send(wire.tick_size(req_id, 8, b.volume))

    def _on_market_data_type(self, s: Session, fields: list[str]) -> None:
        s.market_data_type = wire.Reader(fields, 2).integer(1)

    def _on_cancel(self, attr: Callable[[Session], dict[int, Any]], version: bool = True) -> Callable[[Session, list[str]], None]:
        def handler(s: Session, fields: list[str]) -> None:
            attr(s).pop(wire.Reader(fields, 2 if version else 1).integer(), None)

        return handler

    def _on_cancel_set(self, attr: Callable[[Session], set[int]], version: bool = True) -> Callable[[Session, list[str]], None]:
        def handler(s: Session, fields: list[str]) -> None:
            attr(s).discard(wire.Reader(fields, 2 if version else 1).integer())

        return handler
