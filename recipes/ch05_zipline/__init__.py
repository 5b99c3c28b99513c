"""Chapter 5 — event-driven backtests on Zipline-reloaded: bundles, algorithms and Pipeline.

Every recipe runs offline on the bars the install brings (the S&P 500 and NASDAQ samples, or the
synthetic generator), written into a real Zipline bundle first.

* ``r01_bundle_from_our_data`` — register and ingest a bundle from validated frames; what it stores
* ``r02_run_algorithm_sma`` — ``initialize``/``handle_data``, explicit costs, trades equal to algotrade's
* ``r03_pipeline_momentum_factor`` — a momentum CustomFactor with a dollar-volume screen, weekly rebalance
* ``r04_pipeline_mean_reversion_long_short`` — top/bottom-N long/short with commission and slippage models
* ``r05_custom_signal_in_zipline`` — precomputed signals through a Pipeline loader and ``before_trading_start``

Zipline is imported inside the functions that need it, never at module level: ``import zipline``
costs about a second, and algotrade's momentum strategy imports an ingredient of recipe 3.
"""

from __future__ import annotations

import os
from pathlib import Path

from recipes import chapter_out_dir, project_folder

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch05_zipline")

#: the project's own Zipline folder (``bin/`` sets the same one): bundles never land in ``~/.zipline``
PROJECT_ZIPLINE_ROOT = project_folder(".cache", "zipline")


def zipline_root() -> Path:
    """``$ZIPLINE_ROOT``, set to the project's ``.cache/zipline`` when it is unset.

    Zipline reads the variable whenever it looks for a bundle; without it, bundles go to
    ``~/.zipline``, outside the project. Call this before the first bundle is touched. The
    engine adapter and ``algotrade sweep`` use this one too, so no run leaves a ``.cache`` in the
    current folder.
    """
    root = os.environ.get("ZIPLINE_ROOT") or str(PROJECT_ZIPLINE_ROOT)
    os.environ["ZIPLINE_ROOT"] = root
    Path(root).mkdir(parents=True, exist_ok=True)
    return Path(root)
