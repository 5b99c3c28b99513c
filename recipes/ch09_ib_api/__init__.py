"""Chapter 9 — the Interactive Brokers API through ib_async (the maintained ib_insync).

Every page connects the real ib_async client over a socket to the project's IB Gateway
simulator, started inside the recipe on a free localhost port and replaying the sample SPX and
IXIC bars, so the chapter runs offline in seconds. With ``ALGOTRADE_IB_HOST`` and
``ALGOTRADE_IB_PORT`` set to a paper TWS or IB Gateway, the same code talks to it instead
(a live port, 7496 or 4001, is refused).

* ``r01_connect_and_account_summary`` — connect, managed accounts, accountSummary and accountValues
* ``r02_contracts_and_qualification`` — qualifyContracts, contract details, an unknown symbol's error 200
* ``r03_historical_bars_to_frame`` — reqHistoricalData to the canonical OHLCV frame, then the data checks
* ``r04_streaming_bars_to_sqlite`` — keepUpToDate bars as sessions close, stored in SQLite
* ``r05_place_modify_cancel_orders`` — market, limit and stop orders; modify, cancel; fills, commissions, orderRef
* ``r06_positions_portfolio_pnl`` — positions, portfolio and reqPnL after trades
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch09_ib_api")
