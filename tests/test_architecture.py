"""The floor plan holds: the import contracts of pyproject.toml (docs/architecture.md) are kept,
each one fails when a forbidden import is written into a copy of the tree, and an engine shipped
as its own distribution runs an experiment through the registry without touching algotrade/."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports in ``cwd`` (its pyproject.toml, its packages first on the path)."""
    args = [str(LINT), "--no-cache", *(a for c in contracts for a in ("--contract", c))]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept() -> None:
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages the contracts cover and pyproject.toml, copied once (tests edit a copy of it)."""
    src = tmp_path_factory.mktemp("pristine")
    for package in ("algotrade", "adapters", "recipes"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", src / "pyproject.toml")
    return src


# contract id -> a file, a line that breaks that contract, and the other contracts it breaks too
BREAKS = {
    "no-adapters": ("algotrade/core/listing.py", "import adapters.ib.mapping", ()),
    # the core importing a room above it also closes a cycle between the two rooms
    "layers": ("algotrade/core/listing.py", "from algotrade.live import journal", ("no-cycles",)),
    "no-cycles": ("algotrade/core/errors.py", "import algotrade.core.symbols", ()),
    "strategies": ("algotrade/strategies/sma_cross.py", "import algotrade.backtest.run", ()),
    "adapters-independent": ("adapters/backtrader/mapping.py", "import adapters.zipline.mapping", ()),
    "engine-adapters": ("adapters/zipline/mapping.py", "import algotrade.live.journal", ()),
}


@pytest.mark.parametrize("contract", sorted(BREAKS))
def test_a_forbidden_import_breaks_its_contract(contract: str, tree_copy: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(tree_copy, tree)
    assert lint(tree, contract).returncode == 0  # the copy keeps it, as the tree does
    file, line, also = BREAKS[contract]
    with (tree / file).open("a") as f:
        f.write(f"\n{line}  # noqa\n")
    for broken in (contract, *also):
        proc = lint(tree, broken)
        assert proc.returncode == 1, broken + ": " + proc.stdout + proc.stderr
    assert lint(tree, *(c for c in BREAKS if c not in (contract, *also))).returncode == 0  # and no other one


# --- a third-party engine, installed as a distribution of its own ---------------------------------

TOY_ENGINE = '''"""A toy engine adapter, shipped on its own: market orders fill at the next bar's open."""

from algotrade.core.costs import CashBook, commission


def requirements():
    return ()


class _Port:
    def __init__(self, host, book):
        self.host, self.book, self.i, self.pending = host, book, 0, []

    def cash(self):
        return self.book.cash

    def value(self):
        closes = self.host.lists
        return self.book.cash + sum(q * closes[s]["close"][self.i] for s, q in self.host.positions.items())

    def submit(self, order):
        self.pending.append(order)

    def cancel(self, order):
        self.pending.remove(order)
        self.host.on_order_closed(order.id, "cancelled", "cancelled by strategy")


class ToyEngine:
    name = "toy"

    def __init__(self):
        self.info = {"engine": "toy"}

    def versions(self):
        return {"toy-engine": "0.1"}

    def run(self, host, market, broker):
        book = CashBook(broker)
        port = _Port(host, book)
        host.start(port, book)
        for i, date in enumerate(host.bars.dates):
            orders, port.pending = port.pending, []
            for order in sorted(orders, key=lambda o: o.quantity):  # sells first
                price = float(host.bars.arrays[order.symbol]["open"][i])
                if order.type != "market":
                    host.on_order_closed(order.id, "rejected", "the toy engine fills market orders only")
                elif book.pay(order.quantity, price):
                    host.on_fill(order.id, date, order.quantity, price, commission(broker, order.quantity, price))
                else:
                    host.on_order_closed(order.id, "rejected", "insufficient cash at fill time")
            port.i = i
            host.on_bar(i)
        host.stop()
'''


def install_toy_engine(site: Path) -> None:
    """What ``pip install --target site`` leaves for a distribution: its module and a dist-info
    whose entry_points.txt registers the engine."""
    (site / "toy_engine.py").write_text(TOY_ENGINE)
    info = site / "toy_engine-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[algotrade.engines]\ntoy = toy_engine:ToyEngine\n")


def algotrade(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([str(ROOT / "bin" / "algotrade"), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def trades(folder: Path) -> list[tuple[str, str, str, str]]:
    with (folder / "trades.csv").open() as f:
        return [(r["date"], r["symbol"], r["quantity"], r["price"]) for r in csv.DictReader(f)]


def test_an_engine_from_its_own_distribution_is_listed_and_runs_an_experiment(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_toy_engine(site)
    listed = algotrade(site, "engines")
    assert listed.returncode == 0, listed.stderr
    assert "toy_engine:ToyEngine" in listed.stdout
    assert [line.split()[:2] for line in listed.stdout.splitlines() if line.startswith("  toy ")] == [
        ["toy", "installed"]]

    out = tmp_path / "out"
    common = ("experiments/quickstart.yaml", "--out", str(out), "--set", "broker.fill=next_open")
    ran = algotrade(site, "run", *common, "--engine", "toy")
    assert ran.returncode == 0, ran.stderr
    (folder,) = out.glob("quickstart*/toy")  # a --set variant: quickstart@<config id>/toy
    run = json.loads((folder / "run.json").read_text())
    assert run["engine"] == "toy" and run["versions"]["toy-engine"] == "0.1" and run["engine_info"] == {"engine": "toy"}
    assert (folder / "report.html").is_file() and (folder / "equity.csv").is_file()
    # the strategy ran on it as on any engine: the same trades as Backtrader's on next-open fills
    reference = algotrade(site, "run", *common, "--engine", "backtrader")
    assert reference.returncode == 0, reference.stderr
    assert trades(folder) == trades(folder.parent / "backtrader") and len(trades(folder)) > 10
    # it books fills without their symbol (CashBook.pay(quantity, price)): the shorts' rules are refused, not skipped
    shorts = algotrade(site, "run", *common, "--engine", "toy", "--set", "broker.short_margin=0.5")
    assert shorts.returncode == 2 and "broker.short_margin / broker.borrow_fee_bps" in shorts.stderr, shorts.stderr

    # without the distribution on the path, the name is unknown again: nothing was left in algotrade/
    alone = subprocess.run([str(ROOT / "bin" / "algotrade"), "run", *common, "--engine", "toy"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert alone.returncode == 2



MAX_LINES = 400


def _docstring(text: str) -> str:
    import ast

    return ast.get_docstring(ast.parse(text)) or ""


def test_no_module_is_over_400_lines_unless_it_says_it_is_a_table() -> None:
    """Modules are split by responsibility (docs/architecture.md); a module that is mostly a data
    table may be longer if its docstring says it is one."""
    paths = sorted([*(ROOT / "algotrade").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")])
    assert len(paths) > 50
    lines = {path: path.read_text().count("\n") for path in paths}
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path, n in lines.items()
            if n > MAX_LINES and "table" not in _docstring(path.read_text()).lower()]
    assert not long, long
