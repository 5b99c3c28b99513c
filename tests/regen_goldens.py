"""Regenerate the golden results: python tests/regen_goldens.py [NAME ...]  (then review the git diff).

For each experiments/*.yaml on every engine (ENGINES), writes tests/golden/<name>/<engine>/
trades.csv (the full trade list) and summary.json (final equity and a few metrics). Names (file
stems, e.g. risk_stop_loss) regenerate only those experiments.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
ENGINES = ("backtrader", "zipline")
KEYS = ("final_equity", "total_return", "max_drawdown", "trade_count", "round_trips", "orders_blocked",
        "orders_rejected", "total_commission")


def experiments() -> list[Path]:
    return sorted((ROOT / "experiments").glob("*.yaml"))


def produce(path: Path, engine: str, out: Path) -> tuple[str, dict[str, object]]:
    from algotrade.backtest.run import run_experiment

    result = run_experiment(path, out=out, engine=engine, overrides=("output.report=false",))
    summary = {k: result.metrics[k] for k in KEYS}
    return (result.folder / "trades.csv").read_text(), summary


def main(names: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from algotrade.core.config import load_experiment

    chosen = [p for p in experiments() if not names or p.stem in names]
    unknown = sorted(set(names) - {p.stem for p in chosen})
    if unknown:
        raise SystemExit(f"no experiments/{unknown[0]}.yaml; names are file stems of experiments/*.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        for path in chosen:
            exp = load_experiment(path)
            for engine in ENGINES:
                trades, summary = produce(path, engine, Path(tmp))
                folder = GOLDEN / exp.name / engine
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "trades.csv").write_text(trades)
                (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
                print(f"wrote {folder.relative_to(ROOT)}: {summary['trade_count']} trades")


if __name__ == "__main__":
    main(sys.argv[1:])
