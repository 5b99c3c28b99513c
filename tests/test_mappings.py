"""The adapters' pure mapping tables, tested without importing any engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adapters.backtrader.mapping import EXECTYPE, STATUS, commission_kwargs, slippage_fraction
from adapters.zipline.mapping import FILL_FIELD, bundle_name, refuse_order_type
from algotrade.core.config import BrokerConfig, PercentCommission, PerShareCommission
from algotrade.core.costs import commission, per_share_commission, slipped


def test_mapping_modules_import_no_engine() -> None:
    code = ("import sys, adapters.backtrader.mapping, adapters.zipline.mapping, adapters.ib.mapping, algotrade.core.symbols\n"
            "print([m for m in ('backtrader', 'zipline', 'ib_async', 'ib_insync', 'exchange_calendars') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_backtrader_exectype_per_fill_model() -> None:
    assert EXECTYPE[("next_open", "market")] == "Market"
    assert EXECTYPE[("next_close", "market")] == "Close"
    assert {EXECTYPE[(f, "limit")] for f in ("next_open", "next_close")} == {"Limit"}
    assert {EXECTYPE[(f, "stop")] for f in ("next_open", "next_close")} == {"Stop"}


def test_backtrader_status_names_map_to_algotrade_outcomes() -> None:
    assert STATUS["Margin"] == ("rejected", "insufficient cash at fill time")
    assert STATUS["Completed"][0] == "filled" and STATUS["Canceled"][0] == "cancelled"


def test_commission_tables() -> None:
    assert commission_kwargs(BrokerConfig()) is None
    per_share = BrokerConfig(commission=PerShareCommission(per_share=0.005, minimum=1.0))
    assert commission_kwargs(per_share) == {"kind": "per_share", "per_share": 0.005, "minimum": 1.0}
    pct = BrokerConfig(commission=PercentCommission(percent=0.001))
    assert commission_kwargs(pct) == {"kind": "percent", "commission": 0.001, "percabs": True}


@pytest.mark.parametrize(
    ("size", "price", "expected"),
    [(100, 50.0, 1.0), (1000, 50.0, 5.0), (-1000, 50.0, 5.0), (0, 50.0, 0.0)],
)
def test_per_share_commission_has_a_minimum(size: int, price: float, expected: float) -> None:
    assert per_share_commission(size, 0.005, 1.0) == expected
    broker = BrokerConfig(commission=PerShareCommission(per_share=0.005, minimum=1.0))
    assert commission(broker, size, price) == expected


def test_percent_commission_and_slippage_arithmetic() -> None:
    broker = BrokerConfig(commission=PercentCommission(percent=0.001))
    assert commission(broker, -200, 10.0) == abs(-200) * 0.001 * 10.0
    frac = slippage_fraction(BrokerConfig.model_validate({"slippage": {"bps": 5}}))
    assert frac == 0.0005
    assert slipped(100.0, 10, frac) == 100.0 * (1 + 0.0005)
    assert slipped(100.0, -10, frac) == 100.0 * (1 - 0.0005)
    assert slipped(100.0, 10, 0.0) == 100.0


def test_zipline_tables() -> None:
    assert FILL_FIELD == {"next_close": "close", "next_open": "open"}
    assert refuse_order_type("market") is None
    assert "not supported on the zipline engine" in (refuse_order_type("limit") or "")
    assert bundle_name("abc123", "XNYS", ["SPX"]).startswith("algotrade-")


def test_an_ib_rejection_reason_is_the_brokers_own_words() -> None:
    from adapters.ib.mapping import rejection_reason

    log = [(0, ""), (201, "Error 201, reqId 7: Order rejected - reason:short margin: equity 1.00 x")]
    assert rejection_reason(log) == "short margin: equity 1.00 x"
    assert rejection_reason([(201, "Error 201, reqId 7: Order rejected - reason:insufficient cash at fill time, "
                                   "contract: Stock(conId=1, symbol='X')")]) == "insufficient cash at fill time"
    assert rejection_reason([(110, "Error 110, reqId 3: The price does not conform")]) == (
        "IB 110: The price does not conform")
    assert rejection_reason([(202, "Error 202, reqId 3: Order Canceled - reason:")]) is None  # our own cancel
    assert rejection_reason([]) is None
