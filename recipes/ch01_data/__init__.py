"""Chapter 1 — market data: generate, load, store, validate, transform and (optionally) fetch bars.

Every later chapter starts from the canonical frame built here: a tz-naive ``DatetimeIndex``
named ``date`` (one row per exchange session) and float columns ``open high low close volume``.

* ``r01_synthetic_ohlcv`` — the deterministic generator, step by step, and why its bars pass validation
* ``r02_load_and_store`` — CSV/Parquet to the canonical frame; idempotent SQLite and Parquet upserts
* ``r03_validate_ohlcv`` — every check on a deliberately broken copy, and the repair policy
* ``r04_returns_and_resample`` — simple, log and cumulative returns; weekly/monthly and minute-to-daily bars
* ``r05_fetch_online_optional`` — an online fetch into the same store, skipped cleanly when offline
"""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch01_data")
