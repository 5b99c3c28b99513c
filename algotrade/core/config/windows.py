"""The experiment file's ``walkforward:`` and ``window:`` sections: walk-forward windows, and the
part of the loaded sessions one run trades."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from algotrade.core.config.base import Model


class WalkForwardConfig(Model):
    """Walk-forward analysis: choose parameters on each train window, evaluate them on the next test window."""

    train: int = Field(ge=20, description="Sessions in each train (in-sample) window.")
    test: int = Field(ge=5, description="Sessions in each test (out-of-sample) window.")
    step: int | None = Field(
        None, ge=1, description="Sessions between the starts of consecutive windows (default: test, so test windows tile)."
    )
    purge: int = Field(
        5, ge=0, description="Sessions between a train window and what follows it, seen by no run of that window."
    )
    warmup: int | None = Field(
        None,
        ge=0,
        description=(
            "Sessions of indicator warm-up before each test window, after the purge gap, that are not "
            "evaluated (default: the largest indicator lookback in the sweep, plus one)."
        ),
    )
    mode: Literal["rolling", "anchored"] = Field(
        "rolling", description="rolling: train windows of fixed length; anchored: every train window starts at the first session."
    )

    @model_validator(mode="after")
    def _check(self) -> WalkForwardConfig:
        if self.step is not None and self.step < self.test:
            raise ValueError(
                f"step ({self.step}) is shorter than test ({self.test}): test windows would overlap; "
                f"use step >= {self.test} (or leave it out)"
            )
        return self


class WindowConfig(Model):
    """A part of the loaded sessions to run on (written by `algotrade sweep` for walk-forward runs)."""

    start: dt.date | None = Field(
        None, description="First day of the run, cut to the first loaded session on or after it (default: the first loaded)."
    )
    end: dt.date | None = Field(
        None, description="Last day of the run, cut to the last loaded session on or before it (default: the last loaded)."
    )
    evaluate_from: dt.date | None = Field(
        None,
        description="Results count from this session; the sessions before it only warm up indicators.",
    )

    @model_validator(mode="after")
    def _order(self) -> WindowConfig:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}; set start before end")
        if self.evaluate_from and (
            (self.start and self.evaluate_from < self.start) or (self.end and self.evaluate_from > self.end)
        ):
            raise ValueError(f"evaluate_from {self.evaluate_from} is outside start..end; set it between them")
        return self
