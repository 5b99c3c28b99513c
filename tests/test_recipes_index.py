"""The cookbook's table of contents: every recipe listed, importable, runnable, documented."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import recipes
from algotrade.recipes_table import markdown, rows

ROOT = Path(__file__).resolve().parents[1]


def test_index_lists_every_recipe_file_in_reading_order() -> None:
    on_disk = sorted(
        f"recipes.{p.parent.name}.{p.stem}" for p in (ROOT / "recipes").glob("ch*/r[0-9]*.py")
    )
    assert list(recipes.INDEX) == on_disk
    assert len(on_disk) >= 30


@pytest.mark.parametrize("name", recipes.INDEX)
def test_recipe_reads_like_a_page(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and len(module.__doc__.strip()) > 200, "a recipe opens with its page's introduction"
    assert callable(getattr(module, "main", None))
    if getattr(module, "WRAPPED_BY", ""):
        from algotrade.core.registry import STRATEGIES

        assert module.WRAPPED_BY in STRATEGIES
        assert (ROOT / module.EXPERIMENT).exists()
        assert module.ENGINE in ("backtrader", "zipline", "vectorized")
        assert callable(module.native_trades)


def test_every_production_strategy_has_an_experiment_and_a_recipe() -> None:
    from algotrade.core.config import load_experiment
    from algotrade.core.registry import STRATEGIES

    used = {load_experiment(p).strategy.name for p in (ROOT / "experiments").glob("*.yaml")}
    assert set(STRATEGIES) <= used
    wrapped = {r.wrapped_by for r in rows() if r.wrapped_by}
    assert {"sma_cross", "pfopt_rebalance"} <= wrapped


@pytest.mark.slow
def test_generated_parity_table_is_current_and_all_equal(tmp_path: Path) -> None:
    """`algotrade recipes --check --write` reproduces docs/recipes.md, and every claim holds."""
    out = tmp_path / "recipes.md"
    proc = subprocess.run([sys.executable, "-m", "algotrade", "recipes", "--check", "--write", str(out)],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text() == (ROOT / "docs" / "recipes.md").read_text(), (
        "docs/recipes.md is stale: run bin/algotrade recipes --check --write docs/recipes.md")
    assert "DIFFERENT" not in out.read_text()


def test_recipe_runs_as_a_module(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "recipes.ch07_portfolio_opt.r02_efficient_frontier_to_orders"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_markdown_lists_every_recipe() -> None:
    text = markdown(rows(), checked=False)
    for name in recipes.INDEX:
        assert f"`{name.rsplit('.', 1)[-1]}`" in text
