"""Stop signals for the long-running commands (``gateway``, ``paper``, ``live``).

SIGINT (Ctrl-C), SIGTERM (``kill``, ``docker stop``, systemd) and SIGHUP (the terminal closed) all
stop such a command the same way: as a :class:`KeyboardInterrupt` in the main thread, so whatever
it was waiting on (a socket, a reconnect delay) ends at once and its ``finally`` blocks run.

Inside :meth:`StopSignals.deferred` the first signal is only recorded in
:attr:`StopSignals.received`: the work in progress (a session being traded, a verdict being
written) goes on, and the signal takes effect at the next :meth:`StopSignals.interruptible` wait
(waiting for a bar, a reconnect delay), which it interrupts at once. A second signal raises
wherever the program is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: replays one session of `algotrade gateway`
STEP_SIGNAL = signal.SIGUSR1


class StopSignals:
    """Installs a handler for each of :data:`STOP_SIGNALS` while in use (``with StopSignals() as s``);
    the previous handlers come back on exit. Outside the main thread it installs nothing."""

    def __init__(self) -> None:
        #: the first stop signal received, if any
        self.received: signal.Signals | None = None
        self.count = 0
        self._deferred = 0
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @property
    def name(self) -> str:
        """The received signal's name (SIGINT when a KeyboardInterrupt came without a signal)."""
        return self.received.name if self.received is not None else "SIGINT"

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Work that should not be cut in the middle: the first stop signal waits for its next
        :meth:`interruptible` part, or its end."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait inside :meth:`deferred` work, where a stop signal interrupts at once; entering it
        after one was received raises at once."""
        if self.received is not None:
            raise KeyboardInterrupt(self.name)
        saved, self._deferred = self._deferred, 0
        try:
            yield
        finally:
            self._deferred = saved

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.received is None:
            self.received = signal.Signals(signum)
        if self._deferred and self.count == 1:
            return
        raise KeyboardInterrupt(self.name)


class StepCounter:
    """Counts :data:`STEP_SIGNAL` while in use: its default action would end the process, and a
    script may send it before the gateway listens. Outside the main thread it installs nothing."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: Any = None

    def __enter__(self) -> StepCounter:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(STEP_SIGNAL, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._previous is not None:
            signal.signal(STEP_SIGNAL, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


__all__ = ["STEP_SIGNAL", "STOP_SIGNALS", "StepCounter", "StopSignals"]
