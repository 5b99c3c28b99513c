"""Chapter 10 — live deployment: one strategy from the backtest to a broker, with its safety rails.

The strategies of the earlier chapters trade through a small broker seam
(:class:`algotrade.live.broker.Broker`); :class:`algotrade.live.broker.LiveRunner` drives them bar by bar
with an SQLite order journal in between. Every page runs offline against the project's IB
Gateway simulator, started inside the recipe and spoken to by the real ib_async client through
:class:`adapters.ib.broker.IbBroker`.

* ``r01_broker_adapter_contract`` — one strategy, three brokers (backtest, in-memory, IB over the simulator): the same trades
* ``r02_target_percent_sizing`` — order_target_percent against the live positions and account value
* ``r03_risk_limits_kill_switch`` — a drawdown or daily-loss limit fires the kill switch: orders cancelled, positions flat
* ``r04_execution_audit_eod`` — orders, fills and an end-of-day snapshot out of the journal's SQLite
* ``r05_paper_burnin`` — a paper burn-in against the simulator and its verdict, burnin.json
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch10_live_deployment")
