"""The walk-forward Gaussian HMM's settings, shared by every strategy that reads the market's regime
(regime_momentum per symbol, the composer's regime selectors on one market series): chapter 13's
:class:`~recipes.ch13_regimes.r02_walk_forward_regimes.WalkForwardHMM`, refitted on past bars only."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from algotrade.core.strategy import StrategyConfig
from recipes.ch13_regimes.r02_walk_forward_regimes import WalkForwardHMM


class HmmConfig(StrategyConfig):
    n_states: int = Field(2, ge=2, le=5, description="Regimes of the HMM, ordered by volatility: 0 is the calmest.")
    vol_window: int = Field(20, ge=2, le=252, description="Bars in the rolling volatility the HMM observes.")
    train_bars: int = Field(504, ge=50, description="Observations each fit uses (all so far if expanding).")
    refit_every: int = Field(126, ge=1, description="Bars between refits; each refit is the run's main cost.")
    expanding: bool = Field(False, description="Fit on every observation so far instead of a rolling window.")
    n_iter: int = Field(20, ge=1, le=1000, description="EM iterations per fit at most.")
    covariance_type: Literal["diag", "full"] = Field("diag", description="The regimes' Gaussian covariances.")
    seed: int = Field(0, ge=0, description="The HMM's random_state: the same seed gives the same labels and trades.")

    @property
    def first_label_bar(self) -> int:
        """The first bar with a regime label: ``vol_window + train_bars``."""
        return self.vol_window + self.train_bars

    def labeller(self) -> WalkForwardHMM:
        return WalkForwardHMM(
            vol_window=self.vol_window, train_bars=self.train_bars, refit_every=self.refit_every,
            expanding=self.expanding, n_states=self.n_states, seed=self.seed, n_iter=self.n_iter,
            covariance_type=self.covariance_type,
        )
