"""The one mapping between the user's symbols and each engine's, tested without running an engine.

The Zipline rule is checked against Zipline's own normalisation (its asset writer's
``split_delimited_symbol``), read from the installed package, so a change there fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.backtrader.mapping import SYMBOLS as BACKTRADER
from adapters.ib.mapping import SYMBOLS as IB
from adapters.ib.mapping import ib_symbol
from adapters.zipline.mapping import SYMBOLS as ZIPLINE
from adapters.zipline.mapping import asset_key, bundle_name
from algotrade.core.errors import ConfigError
from algotrade.core.symbols import SymbolMap, SymbolRule, map_symbols

#: spellings a user's data can carry: case, delimiters, characters, digits first, unicode, length
SPELLINGS = [
    "nvda", "Nvda", "NVDA", "BRK.B", "BRK_B", "brk.b", "BRK-B", "BRK/B", "BRK B", "^GSPC", "EUR=X",
    "ES=F", "3M", "7203.T", "0700.HK", "日経225", "Ünïcödé", "straße", "A" * 300, "a.b.c", " SPX",
    "x'y", 'q"z', "semi;colon", "back\\slash", "..", "_", "#2",
]
#: spellings that are one symbol to Zipline's asset finder
ZIPLINE_ONE = ["BRK.B", "BRK_B", "brk.b", "BRK-B", "BRK/B", "Brk.b"]

RULES = [BACKTRADER, ZIPLINE, SymbolRule("lower", spell=str.lower)]


def _check(mapping: SymbolMap, users: list[str]) -> None:
    """Every user symbol has one engine symbol, unique to the engine, stable, and maps back."""
    rule = mapping.rule
    assert list(mapping.to_engine) == users
    engine = [mapping.engine(u) for u in users]
    assert len({rule.key(e) for e in engine}) == len(users), engine
    assert all(rule.spell(e) == e for e in engine)
    assert [mapping.user(e) for e in engine] == users


@pytest.mark.parametrize("rule", RULES, ids=[r.engine for r in RULES])
def test_every_spelling_maps_to_a_unique_engine_symbol_and_back(rule: SymbolRule) -> None:
    mapping = map_symbols(SPELLINGS, rule)
    _check(mapping, SPELLINGS)


def test_backtrader_keeps_every_spelling() -> None:
    mapping = map_symbols(SPELLINGS, BACKTRADER)
    assert dict(mapping.to_engine) == {s: s for s in SPELLINGS}
    assert mapping.renamed == {}


def test_zipline_spells_alone_symbols_as_its_asset_writer_stores_them() -> None:
    for symbol in SPELLINGS:
        assert map_symbols([symbol], ZIPLINE).engine(symbol) == symbol.upper()


def test_zipline_key_is_zipline_own_normalisation() -> None:
    from zipline.assets.asset_writer import split_delimited_symbol

    for symbol in [*SPELLINGS, *ZIPLINE_ONE, "BRK.B#2", "A.B.C", "-", "x-"]:
        assert asset_key(symbol) == split_delimited_symbol(symbol), symbol


def test_share_class_spellings_that_zipline_merges_get_distinct_assets() -> None:
    mapping = map_symbols(ZIPLINE_ONE, ZIPLINE)
    _check(mapping, ZIPLINE_ONE)
    assert mapping.engine("BRK.B") == "BRK.B"  # the first keeps its name; the others are numbered
    assert mapping.renamed == {"BRK_B": "BRK_B#2", "brk.b": "BRK.B#3", "BRK-B": "BRK-B#4", "BRK/B": "BRK/B#5",
                               "Brk.b": "BRK.B#6"}
    assert {asset_key(e) for e in mapping.to_engine.values()} == {
        ("BRK", "B"), ("BRK", "B#2"), ("BRK", "B#3"), ("BRK", "B#4"), ("BRK", "B#5"), ("BRK", "B#6")}


def test_case_only_differences_are_two_assets_on_zipline() -> None:
    mapping = map_symbols(["nvda", "NVDA"], ZIPLINE)
    assert dict(mapping.to_engine) == {"nvda": "NVDA", "NVDA": "NVDA#2"}
    assert map_symbols(["NVDA", "nvda"], ZIPLINE).engine("NVDA") == "NVDA"


def test_a_renamed_symbol_never_takes_another_users_name() -> None:
    users = ["BRK.B", "BRK_B", "BRK.B#2", "brk_b#2"]  # the user already holds the first numbered name
    mapping = map_symbols(users, ZIPLINE)
    _check(mapping, users)
    assert mapping.engine("BRK.B#2") == "BRK.B#2"
    assert mapping.engine("BRK_B") == "BRK_B#3"


def test_mapping_is_deterministic() -> None:
    assert map_symbols(SPELLINGS, ZIPLINE) == map_symbols(list(SPELLINGS), ZIPLINE)


@pytest.mark.parametrize("blank", ["", " ", "\t"])
def test_a_blank_symbol_is_refused_in_one_line(blank: str) -> None:
    with pytest.raises(ConfigError) as err:
        map_symbols(["SPX", blank], ZIPLINE)
    text = str(err.value)
    assert "data.symbols" in text and "symbol 2 is blank" in text and "\n" not in text


def test_ib_spells_share_classes_with_a_space() -> None:
    assert [ib_symbol(s) for s in ("brk.b", "BRK_B", "BRK-B", "BRK/B", "BRK B", "nvda", " spy ")] == [
        "BRK B", "BRK B", "BRK B", "BRK B", "BRK B", "NVDA", "SPY"]
    mapping = map_symbols(["brk.b", "NVDA"], IB)
    assert dict(mapping.to_engine) == {"brk.b": "BRK B", "NVDA": "NVDA"}
    assert mapping.user("BRK B") == "brk.b"


@pytest.mark.parametrize(("a", "b"), [("BRK.B", "BRK_B"), ("nvda", "NVDA"), ("BRK-B", "brk b")])
def test_ib_refuses_two_symbols_that_are_one_contract(a: str, b: str) -> None:
    with pytest.raises(ConfigError) as err:
        map_symbols(["SPY", a, b], IB)
    text = str(err.value)
    assert repr(a) in text and repr(b) in text and "list only one of them" in text and "\n" not in text


def test_bundle_name_keys_on_data_calendar_and_asset_symbols() -> None:
    base = bundle_name("abc123", "XNYS", ["SPX"])
    assert base.startswith("algotrade-") and base == bundle_name("abc123", "XNYS", ["SPX"])
    assert base != bundle_name("abc124", "XNYS", ["SPX"])
    assert base != bundle_name("abc123", "ALGOTRADE-XNYS-19860102-19921231", ["SPX"])
    assert base != bundle_name("abc123", "XNYS", ["SPX#2"])
    assert bundle_name("h", "C", ["A|B"]) != bundle_name("h", "C", ["A", "B"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("aAbB._-/ ^=1é日#"), min_size=1, max_size=6)
                .filter(str.strip), min_size=1, max_size=8, unique=True))
def test_any_symbols_map_uniquely_on_every_backtest_engine(users: list[str]) -> None:
    for rule in (BACKTRADER, ZIPLINE):
        _check(map_symbols(users, rule), users)


SPELLED_APART = "brk.b"  # the user's spelling; IB's is "BRK B"


def _experiment(tmp_path: Path) -> Path:
    path = tmp_path / "brk.yaml"
    path.write_text(
        "name: brk\n"
        f"data: {{source: synthetic, symbols: [{SPELLED_APART}], start: 2020-01-02, end: 2020-12-31, calendar: XNYS}}\n"
        "strategy: {name: sma_cross, params: {fast: 2, slow: 5}}\n"
        "broker: {cash: 100000, fill: next_open, commission: {per_share: 0.005, minimum: 1.0}, slippage: none}\n"
        "sizing: {target_percent: 0.95}\n"
        "risk: {long_only: true, max_position_pct: 1.0}\n"
        "ib: {host: 127.0.0.1, port: 4002, client_id: 17}\n"
        "burnin: {min_sessions: 250}\n"
    )
    return path


def test_the_simulator_refuses_two_symbols_that_are_one_contract_at_ib() -> None:
    from adapters.ib.gateway import GatewaySimulator
    from tests.gateway_fixtures import make_market

    with pytest.raises(ConfigError) as err:
        GatewaySimulator(make_market(symbols=("SPY", "BRK.B", "brk_b")))
    text = str(err.value)
    assert "'BRK.B' and 'brk_b' are the same symbol 'BRK B' on IB" in text and "\n" not in text


def test_a_paper_run_trades_a_symbol_ib_spells_otherwise_under_the_users_spelling(tmp_path: Path) -> None:
    """The data names the stock ``brk.b``; the simulator lists it as IB does, ``BRK B``. The paper
    run (the real CLI and IB client, against the gateway as another process) qualifies it under
    IB's spelling, trades it like the backtest, and its journal and burn-in say ``brk.b``; the
    simulator's orders and positions say ``BRK B``."""
    from algotrade.live.journal import Journal
    from tests import gateway_fixtures as gf
    from tests.test_paper_faults import broker_side

    experiment = _experiment(tmp_path)
    sessions = 20
    with gf.controlled_gateway(tmp_path, experiment, start="2020-03-02") as gw:
        proc = subprocess.Popen(
            [sys.executable, "-m", "algotrade", "paper", str(experiment), "--out", str(tmp_path / "out"),
             "--sessions", str(sessions)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env={**os.environ, "ALGOTRADE_IB_PORT": str(gw.port)},
        )
        try:
            run = gf.Lines(proc, proc.stderr, "the paper run")
            run.line(r"^paper: .*trading from the session after 2020-03-02")
            for _ in range(sessions):
                day = gw.ctl("advance").split()[3]
                run.line(rf"^paper: {day} done")
            assert proc.stdout is not None
            out = proc.stdout.read()
            assert proc.wait(timeout=120) == 3, "".join(run.lines)  # NO-GO: 20 sessions < min_sessions
            orders, positions = broker_side(gw.port)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    assert "verdict NO-GO" in out
    folder = tmp_path / "out" / "brk" / "paper"
    b = json.loads((folder / "burnin.json").read_text())
    assert b["fills_equal_backtest"] is True and b["paper_fills"] >= 2, b
    assert {f["symbol"] for f in b["fill_slippage"]} == {SPELLED_APART}
    assert b["measured"]["unreconciled"] == 0 and b["halted"] is None
    with Journal(folder / "journal.sqlite") as j:
        intents = j.intents(str(b["config_id"]))
        journal_positions = j.positions(str(b["config_id"]))
    assert intents and {i.symbol for i in intents} == {SPELLED_APART}
    # the simulator knows the stock under IB's spelling only, and has each order once
    assert sorted(orders) == sorted((i.order_ref, "BRK B") for i in intents)
    assert set(journal_positions) <= {SPELLED_APART}
    held = journal_positions.get(SPELLED_APART, 0)
    assert positions == ({"BRK B": held} if held else {})
