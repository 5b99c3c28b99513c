"""Chapter 2 — technical indicators with TA-Lib, and how far other implementations agree with it.

* ``r01_talib_overlap`` — SMA, EMA and Bollinger Bands on the S&P 500
* ``r02_talib_momentum`` — RSI, MACD, the stochastic oscillator and PPO
* ``r03_talib_volatility_volume_patterns`` — ATR, NATR, OBV, VWAP in pandas and a scan of every CDL* pattern
* ``r04_indicator_parity`` — TA-Lib vs Backtrader's built-ins (and ``bt.talib``) vs pandas vs
  Zipline's Pipeline factors on the same bars, with measured tolerances
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch02_indicators")
