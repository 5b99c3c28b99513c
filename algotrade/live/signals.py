"""Stop signals for the long-running commands (``gateway``, ``paper``, ``live``).

SIGINT (Ctrl-C), SIGTERM (``kill``, ``docker stop``, systemd) and SIGHUP (the terminal closed) all
stop such a command the same way: as a :class:`KeyboardInterrupt` in the main thread, so whatever
it was waiting on (a socket, a reconnect delay) ends at once and its ``finally`` blocks run.

The exception is never raised in the middle of the event-loop client stack: while an asyncio loop
runs (the IB client's, waiting on a socket), it is raised by a callback of that loop, which
asyncio lets through cleanly (no task is left holding it, none destroyed pending); in the IB
client between two runs of its loop it is retried a moment later; anywhere else it is raised
where the signal found the program (a blocking wait ends at once).

Inside :meth:`StopSignals.deferred` the first signal is only recorded in
:attr:`StopSignals.received`: the work in progress (a session being traded, a verdict being
written) goes on, and the signal takes effect at the next :meth:`StopSignals.interruptible` wait
(waiting for a bar, a reconnect delay), which it interrupts at once. A second signal interrupts
wherever the program is.

:func:`hold_early` records a stop signal that arrives while the command is still starting (the
imports, the option parsing), for :class:`StopSignals` to act on once it is installed; after it,
the command's :class:`StopSignals` ignores them once it is left, so one arriving while the
process ends (its summary printed, its threads joined) changes nothing.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: replays one session of `algotrade gateway`
STEP_SIGNAL = signal.SIGUSR1
#: the commands whose stop signals :func:`hold_early` records from their first line on
LONG_RUNNING = frozenset({"gateway", "paper", "live"})

#: the event-loop client stack (asyncio, the IB client): a KeyboardInterrupt raised in the middle of
#: their code, with no loop running, leaves a task or a coroutine behind (logged at the end)
LOOP_PACKAGES = frozenset({"asyncio", "eventkit", "ib_async", "ib_insync", "nest_asyncio"})
#: how soon an interruption that found the program in that stack, with no loop running, is retried
RETRY_S = 0.005

#: stop signals received before a :class:`StopSignals` was installed (see :func:`hold_early`)
_early: list[signal.Signals] = []


def _record_early(signum: int, frame: FrameType | None) -> None:
    _early.append(signal.Signals(signum))


def hold_early(argv: Sequence[str]) -> None:
    """When ``argv`` (the command line after the program) runs one of :data:`LONG_RUNNING`,
    records the stop signals from now on instead of letting them kill the process (or raise in
    the middle of an import): the command's :class:`StopSignals` acts on the first when it is
    installed. The command is the first argument that is not an option (the group's options are
    flags). Outside the main thread it does nothing."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in LONG_RUNNING and threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, _record_early)


class StopSignals:
    """Installs a handler for each of :data:`STOP_SIGNALS` while in use (``with StopSignals() as s``);
    the previous handlers come back on exit (after :func:`hold_early`, the command is over: the
    signals are ignored from then on). Outside the main thread it installs nothing. It also uses
    SIGALRM, to retry an interruption that found the program in a library between two runs of its
    event loop."""

    def __init__(self) -> None:
        #: the first stop signal received, if any
        self.received: signal.Signals | None = None
        self.count = 0
        self._deferred = 0
        self._previous: dict[signal.Signals, Any] = {}
        #: an interruption was asked for and not raised yet
        self._interrupting = False
        #: the loop callback that will raise it
        self._scheduled: asyncio.Handle | None = None
        self._calling: Callable[[signal.Signals], object] | None = None
        #: the loops an interruption left (with tasks still pending in them), settled on exit
        self._left: list[asyncio.AbstractEventLoop] = []

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
            self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._retry)
            if _early:  # arrived while the command started: as if it arrived now
                self.received, self.count = _early[0], len(_early)
                _early.clear()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._clear()
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_IGN if handler is _record_early else handler)
        self._previous.clear()
        while self._left:
            _settle(self._left.pop())

    @property
    def name(self) -> str:
        """The received signal's name (SIGINT when a KeyboardInterrupt came without a signal)."""
        return self.received.name if self.received is not None else "SIGINT"

    def check(self) -> None:
        """Raises the :class:`KeyboardInterrupt` of a stop signal that should have stopped the
        program and has not yet: one received before the command could stop (outside
        :meth:`deferred` work), or whose interruption is still on its way."""
        if self.received is not None and (self._interrupting or not self._deferred):
            self._clear()
            raise KeyboardInterrupt(self.name)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Work that should not be cut in the middle: the first stop signal waits for its next
        :meth:`interruptible` part, or its end. An interruption on its way stops it before it
        starts."""
        if self._interrupting:
            self.check()
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A wait inside :meth:`deferred` work, where a stop signal interrupts at once; entering it
        after one was received raises at once, and so does leaving it with an interruption still
        on its way."""
        if self.received is not None:
            self._clear()
            raise KeyboardInterrupt(self.name)
        saved, self._deferred = self._deferred, 0
        try:
            yield
            if self._interrupting:
                self.check()
        finally:
            self._deferred = saved

    @contextlib.contextmanager
    def calling(self, on_signal: Callable[[signal.Signals], object]) -> Iterator[None]:
        """While in it, every stop signal calls ``on_signal(sig)`` (in the main thread, as a
        signal handler: it should only set a flag or schedule work) instead of interrupting;
        one received before calls it on entry."""
        saved, self._calling = self._calling, on_signal
        try:
            if self.received is not None:
                on_signal(self.received)
            yield
        finally:
            self._calling = saved

    def _clear(self) -> None:
        self._interrupting = False
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._previous:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _raise(self) -> None:
        """The loop callback of an interruption: asyncio lets a KeyboardInterrupt through."""
        self._scheduled = None
        self._clear()
        raise KeyboardInterrupt(self.name)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        sig = signal.Signals(signum)
        if self.received is None:
            self.received = sig
        if self._calling is not None:
            self._calling(sig)
        elif not self._deferred or self.count > 1:
            self._interrupt(frame)

    def _retry(self, signum: int, frame: FrameType | None) -> None:
        if self._interrupting and self._scheduled is None:
            self._interrupt(frame)

    def _interrupt(self, frame: FrameType | None) -> None:
        """Raises the KeyboardInterrupt where it is safe. Inside a running asyncio loop the signal
        may have landed in a task's step, a protocol callback or a finalizer, where the exception
        would be kept by the task or ignored: the loop raises it between two callbacks instead.
        With no loop running but the loop's client stack (:data:`LOOP_PACKAGES`) on the stack (the
        IB client between two runs of its loop, where a task or coroutine it just made would be
        left behind, or calling us back) it is tried again a moment later. Anywhere else it is
        raised right there (a blocking wait ends at once)."""
        self._interrupting = True
        loop = _running_loop()
        if loop is not None:
            if self._scheduled is None:
                self._scheduled = loop.call_soon_threadsafe(self._raise)
                if loop not in self._left:
                    self._left.append(loop)
        elif _in_loop_stack(frame):
            signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        else:
            self._clear()
            raise KeyboardInterrupt(self.name)


def _in_loop_stack(frame: FrameType | None) -> bool:
    """Whether a module of :data:`LOOP_PACKAGES` runs ``frame`` or one of its callers."""
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).partition(".")[0] in LOOP_PACKAGES:
            return True
        frame = frame.f_back
    return False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread (none before asyncio was imported: importing it
    here would slow every command's start)."""
    aio = sys.modules.get("asyncio")
    if aio is None:
        return None
    try:
        return aio.get_running_loop()  # type: ignore[no-any-return]
    except RuntimeError:
        return None


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Cancels and finishes the tasks an interruption left pending in ``loop`` (the IB client's
    ``sleep`` it was running, say): destroyed pending at the process's end, each would be logged
    as an error."""
    import asyncio

    if loop.is_closed() or loop.is_running():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


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


__all__ = ["LONG_RUNNING", "STEP_SIGNAL", "STOP_SIGNALS", "StepCounter", "StopSignals", "hold_early"]
