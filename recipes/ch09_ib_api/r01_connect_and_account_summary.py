"""Connect to IB and read the account: managed accounts, accountSummary, accountValues.

Everything the TWS API does starts with a socket to TWS or IB Gateway. ib_async (the maintained
fork of ib_insync) hides the API's callbacks behind one ``IB`` object: ``ib.connect(host, port,
clientId)`` performs the handshake and, before it returns, the startup sync: the managed
accounts, the next valid order id, open orders, positions, the account's values and the
executions of the day. After that the state is simply *there*, kept current by the messages the
client reads whenever its event loop runs (``ib.sleep``, or any blocking request).

This page, and the whole chapter, runs offline: it starts the project's own IB Gateway simulator
(:class:`adapters.ib.gateway.GatewaySimulator`) on a free localhost port, serving the sample SPX and
IXIC bars, and connects the unmodified ib_async client to it over the real wire protocol. Set
``ALGOTRADE_IB_HOST`` and ``ALGOTRADE_IB_PORT`` to reach a paper TWS (7497) or IB Gateway (4002)
instead; a live port (7496, 4001) is refused here.

1. **Connect.** ``clientId`` must be unique per connection (error 326 otherwise); ``timeout``
   bounds the handshake and the startup sync.
2. **Managed accounts.** ``ib.managedAccounts()`` — one id for an individual account (paper
   accounts start with ``DU``), several for an advisor.
3. **accountSummary.** ``ib.accountSummary(account)`` subscribes (``reqAccountSummary``) and
   returns the tags TWS computes for the account: NetLiquidation, TotalCashValue,
   BuyingPower, AvailableFunds, GrossPositionValue...
4. **accountValues.** ``ib.accountValues(account)`` is the richer stream behind
   ``reqAccountUpdates`` (what the startup sync subscribed to): the same keys and more, by
   currency. Both are lists of ``AccountValue(account, tag, value, currency, modelCode)``;
   values are *strings* and have to be converted.

What to look at: the account id, the handshake's server version, the simulated time, and the
summary tags (all cash, as nothing has traded yet); the table is saved as ``account_values.csv``.

The ingredients here (:func:`sample_market`, :func:`ib_session`, :class:`Session`) are the
chapter's: every later page opens its session with them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ib_async import IB, util

from adapters.ib.gateway import GatewaySimulator, run_in_thread
from algotrade.core.config import BrokerConfig, DataConfig
from algotrade.core.data import Market, load_market
from recipes.ch09_ib_api import out_dir

#: the sample symbols the simulator serves; against a real paper TWS their ETFs stand in
SIM_SYMBOLS = ("SPX", "IXIC")
PAPER_SYMBOLS = ("SPY", "QQQ")
#: IB's live ports: never connected to from a recipe
LIVE_PORTS = frozenset({7496, 4001})
#: the simulated account: a million dollars, IB's fixed-rate commission (0.5c a share, 1$ minimum)
BROKER = {"cash": 1_000_000, "commission": {"per_share": 0.005, "minimum": 1.0}}
START, END = dt.date(2018, 1, 2), dt.date(2018, 6, 29)
#: the simulator's clock starts on this session of the range (2018-03-29)
START_SESSION = 60
TIMEOUT = 5.0
SUMMARY_TAGS = ("NetLiquidation", "TotalCashValue", "BuyingPower", "AvailableFunds", "GrossPositionValue")


# --------------------------------------------------------------------------------------------
# ingredients


def sample_market(start: dt.date = START, end: dt.date = END, symbols: tuple[str, ...] = SIM_SYMBOLS) -> Market:
    """The sample daily bars the simulator replays (validated and repaired as for every engine)."""
    return load_market(DataConfig(source="sample", symbols=symbols, start=start, end=end))


def endpoint(environ: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """``(host, port)`` of a paper TWS / IB Gateway from the environment, or None for the
    simulator. A live port is refused: a cookbook page never trades a real account."""
    env = os.environ if environ is None else environ
    port = env.get("ALGOTRADE_IB_PORT", "").strip()
    if not port:
        return None
    if int(port) in LIVE_PORTS:
        raise RuntimeError(f"ALGOTRADE_IB_PORT={port} is a live IB port; recipes connect to paper (7497, 4002) only")
    return env.get("ALGOTRADE_IB_HOST", "127.0.0.1").strip() or "127.0.0.1", int(port)


@dataclass
class Session:
    """A connected ib_async client and, offline, the simulator it talks to."""

    ib: IB
    sim: GatewaySimulator | None
    host: str
    port: int
    symbols: tuple[str, ...]
    errors: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return self.sim is not None

    @property
    def account(self) -> str:
        return self.ib.managedAccounts()[0]

    def wait(self, predicate: Callable[[], bool], timeout: float = TIMEOUT, what: str = "") -> None:
        """Run the client's event loop until ``predicate()`` holds (TimeoutError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what or 'a condition'}")
            self.ib.sleep(0.005)

    def advance(self, sessions: int = 1, until: Callable[[], bool] | None = None, real_wait: float = 2.0) -> None:
        """Let ``sessions`` sessions pass: the simulator replays them (filling working orders and
        publishing bars); against a real TWS the clock is the market's, so just wait a little.
        ``until`` then waits for the client to have processed what it expects."""
        if self.sim is not None:
            for _ in range(sessions):
                self.sim.advance()
                self.ib.sleep(0)
        else:
            self.ib.sleep(real_wait)
        if until is not None:
            self.wait(until, what="the client to see the new session")


@contextlib.contextmanager
def ib_session(market: Market | None = None, broker: Mapping[str, Any] | None = None, start: int = START_SESSION,
               client_id: int = 1) -> Iterator[Session]:
    """Connect ib_async to a paper TWS (from the environment) or to a simulator started here on a
    free port; disconnect and stop the simulator on the way out."""
    address = endpoint()
    with contextlib.ExitStack() as stack:
        sim = None
        symbols = PAPER_SYMBOLS
        if address is None:
            sim = GatewaySimulator(market or sample_market(), BrokerConfig.model_validate(dict(broker or BROKER)),
                                   start=start)
            address = stack.enter_context(run_in_thread(sim))
            symbols = tuple(sim.market.frames)
        ib = IB()
        ib.RequestTimeout = TIMEOUT
        session = Session(ib, sim, address[0], address[1], symbols)

        def on_error(req_id: int, code: int, message: str, *_: Any) -> None:
            session.errors.append((req_id, code, message))

        ib.errorEvent += on_error
        ib.connect(address[0], address[1], clientId=client_id, timeout=TIMEOUT)
        stack.callback(ib.disconnect)
        yield session


def summary_frame(values: list[Any]) -> pd.DataFrame:
    """AccountValue rows as a frame: one row per (tag, currency), the value as a number where it is one."""
    frame = util.df(values)
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["tag", "currency", "value", "number"])
    frame = frame[["tag", "currency", "value"]].copy()
    frame["number"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame.reset_index(drop=True)


def usd(values: list[Any], tag: str) -> float:
    """One USD account value as a float (NaN when absent)."""
    for v in values:
        if v.tag == tag and v.currency in ("USD", "BASE"):
            return float(v.value)
    return float("nan")


# --------------------------------------------------------------------------------------------
# the page


def main(out: Path | None = None) -> dict[str, Any]:
    folder = out_dir(out)
    with ib_session() as s:
        ib = s.ib
        where = "the gateway simulator" if s.simulated else "a paper TWS / IB Gateway"
        print(f"connected to {where} at {s.host}:{s.port} as clientId {ib.client.clientId}, "
              f"server version {ib.client.serverVersion()}")
        server_time = ib.reqCurrentTime()
        print(f"server time {server_time:%Y-%m-%d %H:%M %Z}" + (f" (replay session {s.sim.current_date})" if s.sim else ""))

        accounts = ib.managedAccounts()
        account = accounts[0]
        print(f"managed accounts: {accounts}")

        summary = ib.accountSummary(account)
        wanted = {v.tag: float(v.value) for v in summary if v.tag in SUMMARY_TAGS and v.currency == "USD"}
        print("\naccountSummary:")
        for tag in SUMMARY_TAGS:
            if tag in wanted:
                print(f"  {tag:<20} {wanted[tag]:>16,.2f}")

        values = ib.accountValues(account)
        frame = summary_frame(values)
        print(f"\naccountValues: {len(values)} values, {frame['tag'].nunique()} tags; the first ten:")
        print(frame.head(10).to_string(index=False))
        path = folder / "account_values.csv"
        frame.to_csv(path, index=False)
        print(f"table: {path}")
        result = {
            "simulated": s.simulated,
            "accounts": accounts,
            "server_version": ib.client.serverVersion(),
            "server_time": server_time,
            "summary": wanted,
            "net_liquidation": usd(values, "NetLiquidation"),
            "cash": usd(values, "TotalCashValue"),
            "values": frame,
            "table": path,
        }
    return result


if __name__ == "__main__":
    main()
