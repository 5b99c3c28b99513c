"""Backtrader adapter: runs any algotrade strategy on Backtrader's Cerebro."""

from adapters.backtrader.engine import BacktraderEngine

__all__ = ["BacktraderEngine"]
