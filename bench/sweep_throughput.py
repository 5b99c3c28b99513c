"""Sweep throughput: runs per second of a 50-point Backtrader grid, by executor and workers.

The grid is the SMA crossover on the S&P 500 sample (SPX, 2005-01-03 .. 2012-12-31, 2013
sessions, as experiments/sweep_sma.yaml): fast 5..50 by 5 x slow 60, 80, 100, 150, 200 = 50
points, no walk-forward, no per-run report. Each measurement is one whole ``run_sweep`` into a
fresh folder (nothing resumed). ``runs_per_s`` is 50 / the seconds from the first run sent to
the last one back (the sweep's ``run_seconds``: workers started and the data handed over, not
yet the table and report); ``wall_s`` is the whole call (data loaded once, the runs, the table,
the SPA test and sweep.html).

The local lines alternate 1 and 2 workers for ``--rounds`` rounds (so that a slow moment of the
machine hits both); the medians are printed, one JSON line each, then the 2/1 ratio, then the
Ray line (a local Ray with 2 CPUs, started once, outside the timing)::

    {"bench": "sweep_throughput", "executor": "local", "workers": 1, "points": 50, "runs_per_s": ..., ...}
    {"bench": "sweep_throughput", "executor": "local", "workers": 2, "points": 50, "runs_per_s": ..., ...}
    {"bench": "sweep_throughput", "ratio_2_over_1": ..., "target": 1.7}
    {"bench": "sweep_throughput", "executor": "ray", "workers": 2, "points": 50, "runs_per_s": ..., ...}

Usage: python bench/sweep_throughput.py [--rounds N] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from algotrade.research.sweep import run_sweep  # noqa: E402

POINTS = 50
EXPERIMENT = {
    "name": "bench_sweep",
    "data": {"source": "sample", "symbols": ["SPX"], "start": "2005-01-03", "end": "2012-12-31"},
    "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 60}},
    "engine": "backtrader",
    "sweep": {
        "space": {"strategy.params.fast": list(range(5, 51, 5)), "strategy.params.slow": [60, 80, 100, 150, 200]},
        "metric": "sharpe",
    },
}


def measure(path: Path, executor: str, workers: int, tmp: Path, k: int) -> dict[str, Any]:
    result = run_sweep(path, executor=executor, workers=workers, out=tmp / f"{executor}-{workers}-{k}")
    s = result.summary
    assert s["ok"] == s["ran"] == POINTS, s
    return {"runs_per_s": s["runs_per_s"], "run_s": s["run_seconds"], "wall_s": s["seconds"]}


def line(executor: str, workers: int, samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "bench": "sweep_throughput", "executor": executor, "workers": workers, "points": POINTS,
        "runs_per_s": round(statistics.median(x["runs_per_s"] for x in samples), 2),
        "run_s": round(statistics.median(x["run_s"] for x in samples), 3),
        "wall_s": round(statistics.median(x["wall_s"] for x in samples), 3),
        "samples_runs_per_s": [round(x["runs_per_s"], 2) for x in samples],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating 1/2-worker rounds (default 3)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        path = tmp / "bench_sweep.yaml"
        path.write_text(yaml.safe_dump(EXPERIMENT))
        measure(path, "local", 2, tmp, -1)  # warm the caches (files, imports) once, untimed
        samples: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        for k in range(args.rounds):
            for workers in ((1, 2) if k % 2 == 0 else (2, 1)):
                samples[workers].append(measure(path, "local", workers, tmp, k))
        one, two = line("local", 1, samples[1]), line("local", 2, samples[2])
        print(json.dumps(one), flush=True)
        print(json.dumps(two), flush=True)
        print(json.dumps({"bench": "sweep_throughput", "ratio_2_over_1": round(two["runs_per_s"] / one["runs_per_s"], 2),
                          "target": 1.7}), flush=True)
        if not args.no_ray:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            try:
                ray_samples = [measure(path, "ray", 2, tmp, k) for k in range(args.rounds)]
            finally:
                ray.shutdown()
            print(json.dumps(line("ray", 2, ray_samples)), flush=True)


if __name__ == "__main__":
    main()
