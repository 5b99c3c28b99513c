"""Chapter 4 — Backtrader: the same strategies written the way a Backtrader user writes them.

Each recipe is a plain ``bt.Strategy`` on ``bt.feeds.PandasData``, with TA-Lib indicators through
``bt.talib`` and the decision functions of chapter 3. The ones that match a production strategy
(r01 SMA crossover, r02 RSI reversion, r03 Bollinger breakout) declare parity hooks: their native
Backtrader fills are checked, trade for trade, against ``algotrade run`` of the wrapper.

* ``r01_pandasdata_sma_strategy`` — a pandas feed, the SMA crossover, every order logged
* ``r02_rsi_long_short_signals`` — RSI signals as a line: SignalStrategy long/short, and long-only
* ``r03_bollinger_with_costs_analyzers`` — commission and slippage, Returns/TimeReturn/DrawDown
* ``r04_external_signal_feed`` — an extra feed line carrying precomputed scores, top-N long/short
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch04_backtrader")
