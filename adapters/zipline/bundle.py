"""A real Zipline bundle written from the validated canonical frames, cached by data hash.

The bundle lives under ``$ZIPLINE_ROOT`` (bin/ sets it to ``.cache/zipline`` in the project).
The first run of some data ingests it; later runs find the ingestion and skip the work. Older
ingestions of the same bundle are removed, and only the most recent algotrade bundles are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from adapters.zipline.mapping import BUNDLE_PREFIX, SYMBOLS, bundle_name
from algotrade.core.data import Market
from algotrade.core.symbols import SymbolMap, map_symbols
from recipes.ch05_zipline import zipline_root  # $ZIPLINE_ROOT, else the project's .cache/zipline
from recipes.ch05_zipline.r01_bundle_from_our_data import make_ingest  # the cookbook's ingest, not a copy

log = logging.getLogger("algotrade.zipline")
KEEP_BUNDLES = 24


def asset_symbols(market: Market) -> SymbolMap:
    """The user's symbols and the symbols their assets carry in the bundle (unique to Zipline)."""
    return map_symbols(market.frames, SYMBOLS)


def ensure_bundle(market: Market, calendar_name: str) -> tuple[str, bool, float]:
    """Register the bundle for this data and ingest it unless cached: (name, ingested, seconds).

    The bundle's assets carry the engine symbols of :func:`asset_symbols` (``nvda`` is stored as
    ``NVDA``, a ``BRK_B`` listed after ``BRK.B`` as ``BRK_B#2``); the bundle's name is a hash of
    the data, the zipline calendar and those symbols.
    """
    from zipline.data import bundles

    root = zipline_root()
    symbols = asset_symbols(market)
    name = bundle_name(market.data_hash, calendar_name, symbols.to_engine.values())
    environ = {**os.environ, "ZIPLINE_ROOT": str(root)}
    if name not in bundles.bundles:
        engine_market = Market({symbols.engine(s): f for s, f in market.frames.items()}, market.calendar)
        bundles.register(
            name,
            make_ingest(engine_market, calendar_name),
            calendar_name=calendar_name,
            start_session=market.dates[0],
            end_session=market.dates[-1],
        )
    t0 = time.perf_counter()
    folder = root / "data" / name
    done = folder / ".algotrade-complete"
    if done.exists():
        os.utime(folder)  # most recently used: kept by _prune
        log.info("zipline bundle %s is cached: ingest skipped", name)
        return name, False, 0.0
    with _exclusive(root / "locks" / f"{name}.lock"):  # one process ingests; the others wait, then reuse it
        if done.exists():
            log.info("zipline bundle %s was ingested by another process: ingest skipped", name)
            return name, False, time.perf_counter() - t0
        return _ingest(name, folder, done, market, environ, root, t0)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (concurrent sweep workers, parallel runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ingest(name: str, folder: Path, done: Path, market: Market, environ: dict[str, str], root: Path,
            t0: float) -> tuple[str, bool, float]:
    from zipline.data import bundles

    shutil.rmtree(folder, ignore_errors=True)  # a partial ingest left by an interrupted run
    log.info("ingesting zipline bundle %s (%d symbols, %d sessions)", name, len(market.frames), len(market.dates))
    try:
        with warnings.catch_warnings():  # zipline's asset writer warns about pandas' own API
            warnings.simplefilter("ignore", FutureWarning)
            bundles.ingest(name, environ=environ, show_progress=False)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    bundles.clean(name, keep_last=1, environ=environ)
    done.write_text(market.data_hash + "\n")
    _prune(root / "data")
    return name, True, time.perf_counter() - t0


def _prune(data_dir: Path) -> None:
    """Keep the most recently used algotrade bundles only."""
    if not data_dir.is_dir():
        return
    folders = sorted((p for p in data_dir.iterdir() if p.name.startswith(BUNDLE_PREFIX)),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[KEEP_BUNDLES:]:
        shutil.rmtree(old, ignore_errors=True)
