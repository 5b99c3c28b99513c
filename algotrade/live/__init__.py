"""Paper and live trading: the broker protocol and its in-memory double, the live runner, the
journal and reconcile, the paper burn-in and its verdict, the live guard, the kill switch's halts,
stop signals and the burn-in page. Imports backtest (the shadow backtest), report and the core;
never research. The IB broker and its gateway simulator come from the registry."""
