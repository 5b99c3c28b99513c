"""How reports show numbers (algotrade/report/report_format.py): money, percents, ratios, counts, and the
float-noise threshold under which a difference is shown as zero."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.report import report_format as fmt

MONEY = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d\d$")
finite_floats = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)


@pytest.mark.parametrize(("value", "shown"), [
    (4248.353114999999, "4,248.35"), (126525.73000000005, "126,525.73"), (1234567.891, "1,234,567.89"),
    (-2.91038e-11, "0.00"), (-0.004, "0.00"), (-0.005001, "-0.01"), (0, "0.00"), (np.float64(-12.5), "-12.50"),
    (None, "n/a"), (math.nan, "n/a"), (math.inf, "n/a"),
])
def test_money_has_two_decimals_separators_and_no_signed_zero(value: object, shown: str) -> None:
    assert fmt.money(value) == shown


@given(finite_floats)
def test_money_is_always_a_readable_amount(x: float) -> None:
    text = fmt.money(x)
    assert MONEY.match(text), text
    assert text != "-0.00"
    assert abs(float(text.replace(",", "")) - x) <= 0.005 + abs(x) * 1e-15


@given(finite_floats)
def test_signed_numbers_never_show_a_signed_zero(x: float) -> None:
    for text in (fmt.pct(x, signed=True), fmt.pct(x), fmt.signed_money(x), fmt.ratio(x), fmt.bps(x)):
        assert not re.match(r"^[-+]0(\.0+)?(%| bp)?$", text), text


@pytest.mark.parametrize(("value", "signed", "shown"), [
    (0.2652573000000005, True, "+26.53%"), (-0.2268275510816773, True, "-22.68%"), (0.11197577811362487, False, "11.20%"),
    (-2.220446049250313e-16, True, "0.00%"), (-0.00004, False, "0.00%"), (None, True, "n/a"),
])
def test_percentages(value: object, signed: bool, shown: str) -> None:
    assert fmt.pct(value, 2, signed=signed) == shown


def test_ratios_counts_basis_points_and_tolerances() -> None:
    assert fmt.ratio(0.3191742593100635) == "0.32" and fmt.ratio(-1.55431e-15) == "0.00"
    assert fmt.ratio(0.3191742593100635, 3) == "0.319"
    assert fmt.count(2013) == "2,013" and fmt.count(np.int64(-81), signed=True) == "-81"
    assert fmt.count(81, signed=True) == "+81" and fmt.count(0, signed=True) == "0"
    assert fmt.bps(-0.0) == "0.00 bp" and fmt.bps(1.256) == "1.26 bp"
    assert fmt.sci(1e-9) == "1e-9" and fmt.sci(1e-06) == "1e-6" and fmt.sci(2.3e-16) == "2.3e-16"
    assert fmt.sci(0) == "0" and fmt.sci(None) == "n/a"


def test_numbers_and_parameters_as_people_write_them() -> None:
    assert fmt.number(4248.353114999999) == "4,248.35" and fmt.number(100000.0) == "100,000"
    assert fmt.number(0.123456) == "0.1235" and fmt.number(-2.91038e-11) == "-2.9e-11"
    assert fmt.number(np.int64(12345)) == "12,345" and fmt.number("SPX") == "SPX"
    assert fmt.param(0.1 + 0.2) == "0.3" and fmt.param(10) == "10" and fmt.param(["SPX", "IXIC"]) == "[SPX, IXIC]"
    assert fmt.param(1.1882634567) == "1.188" and fmt.param(2.03348) == "2.033" and fmt.param(2.0) == "2.0"
    assert fmt.param(0.0005) == "0.0005" and fmt.param(1.25e-05) == "0.0000125" and fmt.param(100000.0) == "100000.0"
    assert fmt.param(12345.67891) == "12,345.68" and fmt.param(12345.6789) == "12345.6789" and fmt.param(-0.5) == "-0.5"
    assert fmt.param_label("period=36 nbdev=1.188257") == "period=36 nbdev=1.188"
    assert fmt.param_label("fast=5 slow=20 symbols=SPX") == "fast=5 slow=20 symbols=SPX"
    assert fmt.params({"fast": 10, "alpha": 0.30000000000000004}) == "fast=10, alpha=0.3"


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("initial_cash", 100000.0, "100,000.00"), ("final_equity", 126525.73000000005, "126,525.73"),
    ("total_commission", 0.0, "0.00"), ("total_return", 0.2652573000000005, "+26.53%"),
    ("annual_return", 0.029891304286987053, "+2.99%"), ("max_drawdown", -0.2268275510816773, "-22.68%"),
    ("alpha", -0.0001, "-0.01%"), ("annual_volatility", 0.11197577811362487, "11.20%"),
    ("win_rate", 0.48484848484848486, "48.48%"), ("exposure", 0.5775440193292061, "57.75%"),
    ("sharpe", 0.3191742593100635, "0.32"), ("sortino", 0.43367879124830555, "0.43"), ("beta", 1.0000000001, "1.00"),
    ("calmar", 0.13177986600147948, "0.13"), ("turnover_annual", 7.842084249948111, "7.84\u00d7"),
    ("sessions", 2013, "2,013"), ("max_drawdown_duration_sessions", 594, "594"), ("trade_count", 67, "67"),
    ("start", "2005-01-03", "2005-01-03"), ("alpha", None, "n/a"), ("sharpe", math.nan, "n/a"),
    # keys the page does not know are formatted by what their name says
    ("oos_total_return", 0.1389, "+13.89%"), ("best_equity", 123456.789, "123,456.79"),
    ("tracking_error", 3.4e-14, "0.00%"), ("something", 4248.353114999999, "4,248.35"), ("rows", 12345, "12,345"),
])
def test_every_metric_is_formatted_for_a_person(key: str, value: object, shown: str) -> None:
    assert fmt.metric(key, value) == shown


def test_every_labelled_metric_has_a_human_format() -> None:
    for key in fmt.LABELS:
        if key in ("start", "end"):
            continue
        text = fmt.metric(key, 1234.56789)
        assert not re.search(r"\d\.\d{3,}", text), (key, text)


@pytest.mark.parametrize(("key", "a", "b", "shown"), [
    ("final_equity", 126525.73000000005, 126525.73000000005 - 2.91038e-11, "0.00"),
    ("final_equity", 126525.73, 126000.0, "-525.73"),
    ("total_return", 0.2652573000000005, 0.26525729999999983, "0.00%"),
    ("total_return", 0.2652573, 0.2752573, "+1.00%"),
    ("sharpe", 0.3191742593100635, 0.31917425931006194, "0.00"), ("sharpe", 0.32, 0.35, "+0.03"),
    ("turnover_annual", 7.842084249948111, 7.842084249948112, "0.00\u00d7"),
    ("sessions", 2013, 2013, "0"), ("trade_count", 67, 65, "-2"),
    ("start", "2005-01-03", "2005-01-03", ""), ("start", "2005-01-03", "2005-01-04", "differs"),
    ("alpha", None, None, ""), ("something", 1.0, 1.0 + 1e-6, "+1e-6"),
])
def test_a_metric_difference_is_in_the_metrics_unit_and_noise_is_zero(key: str, a: object, b: object,
                                                                       shown: str) -> None:
    assert fmt.metric_difference(key, a, b) == shown


def test_the_noise_threshold_is_1e9_relative() -> None:
    equity = 126525.73
    assert fmt.NOISE_RTOL == 1e-9
    assert fmt.is_noise(0.9e-9 * equity, equity) and fmt.is_noise(-2.91038e-11, equity)
    assert not fmt.is_noise(1.1e-9 * equity, equity) and not fmt.is_noise(0.01, equity)
    assert fmt.is_noise(0.0, 0.0) and not fmt.is_noise(1e-300, 0.0)
    diffs, scales = [2.9e-11, -1.5e-11, 50.0, math.nan], [1e5, 1e5, 1e5, 1e5]
    out = fmt.denoise(diffs, scales)
    assert out[:3] == [0.0, 0.0, 50.0] and math.isnan(out[3])
    assert fmt.all_noise(diffs[:2] + diffs[3:], scales[:3]) and not fmt.all_noise(diffs, scales)
    assert fmt.all_noise([], [])


def test_prose_gets_its_raw_floats_rounded_and_nothing_else() -> None:
    assert fmt.humanize("prices 1154.0500000001 and 1154.05 differ only in the last bits") == (
        "prices 1,154.05 and 1,154.05 differ only in the last bits")
    assert fmt.humanize("a difference of -2.91038e-11 and 0.000012345678.") == "a difference of -2.9e-11 and 1.2e-5."
    kept = "51.2 bp apart, weight 0.25, version 3.11.2 on 2012-12-31, config id a5e12f3, within 1e-9, 79 vs 78 shares"
    assert fmt.humanize(kept) == kept
