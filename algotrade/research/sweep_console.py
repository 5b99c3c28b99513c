"""The terminal while a sweep runs: its progress line on stderr, and what Ctrl-C does."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any


class SweepProgress:
    """``name [#####.....] 12/40 runs  1 failed  8 resumed  5.1 runs/s  eta 6s`` on stderr."""

    def __init__(self, label: str, total: int, resumed: int, enabled: bool) -> None:
        self.label, self.total, self.resumed, self.enabled = label, total, resumed, enabled
        self.done = self.failed = 0
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.closed = False

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        self.draw()

    def draw(self, final: bool = False) -> None:
        if not self.enabled or self.closed:
            return
        now = time.perf_counter()
        if not final and now - self.last < 0.2 and self.done + self.resumed < self.total:
            return
        self.last = now
        finished = self.done + self.resumed
        frac = finished / self.total if self.total else 1.0
        elapsed = now - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - finished
        eta = "   0s" if not left else (f"{left / rate:4.0f}s" if rate > 0 else "   ?")
        bar = "#" * int(frac * 30)
        extra = (f"  {self.failed} failed" if self.failed else "") + (f"  {self.resumed} resumed" if self.resumed else "")
        sys.stderr.write(
            f"\r{self.label} [{bar:<30}] {finished}/{self.total} runs{extra}  {rate:4.1f} runs/s  eta {eta}"
        )
        if final or finished >= self.total:
            sys.stderr.write("\n")
            self.closed = True
        sys.stderr.flush()


class CtrlC:
    """Ctrl-C while the runs go: the first press only sets :attr:`pressed`, which the sweep reads
    between results (so that no finished run is lost half-recorded) to stop sending runs and let
    those in progress finish; a second press raises KeyboardInterrupt to abandon them. Outside
    the main thread (where signals cannot be handled) it does nothing."""

    def __init__(self) -> None:
        self.pressed = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)


__all__ = ["CtrlC", "SweepProgress"]
