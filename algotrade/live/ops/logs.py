"""The run's logs as JSON lines (structlog over the standard library's logging).

Every line carries ``timestamp`` (UTC, ISO), ``level``, ``event``, ``logger`` and the run's
``run_id``, ``config_id``, ``experiment`` and ``mode``. Algotrade's loggers, ib_async's (INFO, its
wrapper WARNING; all DEBUG with ``--debug``) and the run's own progress lines (``echo``) all go to
``<run folder>/run.log.jsonl`` (appended across restarts); with ``--json-logs`` stderr carries the
same JSON lines instead of the human ones. Every line, JSON or human, is masked: any value of a
secret in the environment (:func:`secret_values`) is replaced by ``***`` wherever it appears.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

LOG_FILE = "run.log.jsonl"
MASK = "***"
#: secrets by name, masked whatever their length (3 characters and more)
SECRET_NAMES = ("ALGOTRADE_IB_ACCOUNT", "ALGOTRADE_DASHBOARD_TOKEN")
#: a variable whose name contains one of these holds a secret (masked from 6 characters: shorter
#: values such as "1" or "true" would mask the JSON itself)
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL")
#: the loggers whose records reach the run's log (besides algotrade's and the run's own), by
#: their level without ``--debug``: ib_async's wrapper logs every execution and commission report
#: at INFO each time the broker re-reports them (every session's reconcile asks for all of the
#: day's executions), dozens of lines a session on the trading thread before its orders; it keeps
#: its warnings and errors (TWS's error codes)
THIRD_PARTY = {"ib_async": logging.INFO, "ib_async.wrapper": logging.WARNING}


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The values to mask: ALGOTRADE_IB_ACCOUNT, ALGOTRADE_DASHBOARD_TOKEN, every ALERT_* URL and
    password, and every variable whose name contains TOKEN, SECRET, PASSWORD, PASSWD, KEY or
    CREDENTIAL; longest first (so a secret inside another is masked as the longer one)."""
    found = set()
    for name, value in environ.items():
        value = value.strip()
        upper = name.upper()
        named = upper in SECRET_NAMES or (upper.startswith("ALERT_") and ("URL" in upper or "PASSWORD" in upper))
        if (named and len(value) >= 3) or (any(w in upper for w in SECRET_WORDS) and len(value) >= 6):
            found.add(value)
    return sorted(found, key=len, reverse=True)


class Masker:
    """Replaces every secret of an environment in a text, as written and as JSON escapes it."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        forms = set()
        for secret in secret_values(environ):
            forms.add(secret)
            forms.add(json.dumps(secret)[1:-1])
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, MASK)
        return text


def _identity(identity: Mapping[str, str]) -> Callable[..., Any]:
    def add(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        for k, v in identity.items():
            event.setdefault(k, v)
        return event

    return add


def json_formatter(identity: Mapping[str, str], mask: Masker) -> logging.Formatter:
    """A logging formatter rendering a record as one masked JSON line."""
    pre: list[Any] = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                      structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"), _identity(identity)]

    def masked(_logger: Any, _name: str, line: Any) -> Any:
        return mask(line) if isinstance(line, str) else line

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(sort_keys=False), masked],
    )


def render_line(event: str, identity: Mapping[str, str], environ: Mapping[str, str], level: str = "info",
                **fields: Any) -> str:
    """One line in the run log's format, outside logging (the summary a command prints at its end)."""
    data = {"event": event, **fields, "level": level, "logger": "algotrade.run",
            "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"), **identity}
    return Masker(environ)(json.dumps(data, default=str))


class _Keep(logging.Filter):
    """On stderr: what it showed before (algotrade's records, anyone's warnings), masked."""

    def __init__(self, mask: Masker) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.levelno >= logging.WARNING or record.name.startswith("algotrade")):
            return False
        text = record.getMessage()
        masked = self.mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


def _stderr_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers
            if type(h) is logging.StreamHandler and getattr(h, "stream", None) in (sys.stderr, sys.__stderr__)]


class RunLogs:
    """The logging of one run, from :meth:`open` to :meth:`close` (which restores what it changed)."""

    def __init__(self, folder: Path, identity: Mapping[str, str], *, environ: Mapping[str, str], json_stderr: bool,
                 echo: Callable[[str], None], debug: bool = False) -> None:
        self.identity, self.json_stderr, self._echo = dict(identity), json_stderr, echo
        self.mask = Masker(environ)
        self.formatter = json_formatter(self.identity, self.mask)
        self.path = folder / LOG_FILE
        self.file = logging.FileHandler(self.path, mode="a", encoding="utf-8")
        self.file.setFormatter(self.formatter)
        self.file.addFilter(_MaskOnly(self.mask))
        self.run = logging.getLogger("algotrade.run")
        self.debug = debug
        self._saved: list[tuple[logging.Handler, logging.Formatter | None, logging.Filter]] = []
        self._levels: dict[str, int] = {}
        self._stderr: logging.Handler | None = None
        self._propagate = self.run.propagate

    def open(self) -> RunLogs:
        root = logging.getLogger()
        root.addHandler(self.file)
        for h in _stderr_handlers():
            keep = _Keep(self.mask)
            h.addFilter(keep)
            self._saved.append((h, h.formatter, keep))
            if self.json_stderr:
                h.setFormatter(self.formatter)
        for name, level in THIRD_PARTY.items():
            lg = logging.getLogger(name)
            self._levels[name] = lg.level
            lg.setLevel(logging.DEBUG if self.debug else level)
        self.run.propagate = False
        self.run.setLevel(logging.INFO)
        self.run.addHandler(self.file)
        if self.json_stderr:
            self._stderr = logging.StreamHandler(sys.stderr)
            self._stderr.setFormatter(self.formatter)
            self.run.addHandler(self._stderr)
        return self

    def echo(self, line: str) -> None:
        """A progress line of the run: to the log file, and to stderr (as JSON with --json-logs)."""
        if not self.json_stderr:
            self._echo(self.mask(line))
        self.run.info(line)

    def close(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.file)
        self.run.removeHandler(self.file)
        if self._stderr is not None:
            self.run.removeHandler(self._stderr)
        self.run.propagate = self._propagate
        for h, fmt, keep in self._saved:
            h.removeFilter(keep)
            h.setFormatter(fmt)  # type: ignore[arg-type]
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self.file.close()


class _MaskOnly(logging.Filter):
    """In the log file: every record, masked (the JSON renderer masks the line once more)."""

    def __init__(self, mask: Masker) -> None:
        super().__init__()
        self.mask = mask

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self.mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True
