"""Thompson sampling over K arms, with a Normal-Inverse-Gamma posterior on each arm's reward.

A bandit has K arms (here: K strategies) and must keep choosing among them while it learns which
pays best. Thompson sampling keeps a posterior over each arm's mean reward, draws one mean from
each posterior, and plays the arm whose draw is largest: an arm is chosen exactly as often as it
is probably the best one, so a poorly known arm still gets tried and a well known bad arm stops
being played.

The reward of an arm is a daily return. Its mean *and* its variance are unknown and differ a lot
between arms (a strategy in cash has returns of exactly zero; one fully invested in an index moves
about 1% a day), so the known-variance Normal model would need a variance we do not have. We use
the conjugate prior for a Normal with unknown mean and variance, the Normal-Inverse-Gamma
NIG(m, k, a, b):  sigma^2 ~ InvGamma(a, b),  mu | sigma^2 ~ Normal(m, sigma^2 / k).
After n rewards x_1..x_n with mean xbar, the posterior is NIG(m', k', a', b') with

    k' = k + n
    m' = (k m + n xbar) / k'
    a' = a + n / 2
    b' = b + (1/2) sum (x_i - xbar)^2 + k n (xbar - m)^2 / (2 k')

A draw of the mean is two draws: sigma^2 = b' / Gamma(a', 1), then mu ~ Normal(m', sigma^2 / k').
The prior here says "a daily mean near 0 worth one observation, a daily variance near 1e-4 (1%
a day) worth four": weak enough that a quarter of data dominates it, and b > 0 keeps a
zero-variance arm's posterior proper.

What to look at: three arms with true means -0.2%, +0.05% and +0.3% a day; how often each is
played as the rewards accumulate (daily returns are noisy: a smaller edge takes far longer to find), from a seeded numpy Generator (the same seed, the same plays).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class NormalInverseGamma:
    """NIG(mean, strength, shape, scale): the prior/posterior of a Normal's unknown mean and variance."""

    mean: float = 0.0  # m: where the mean is believed to be
    strength: float = 1.0  # k: how many observations that belief is worth
    shape: float = 2.0  # a
    scale: float = 1e-4  # b: with shape 2, the prior's expected variance b / (a - 1)

    def update(self, rewards: Sequence[float] | np.ndarray) -> NormalInverseGamma:
        """The posterior after observing ``rewards`` (the conjugate formulas above)."""
        x = np.asarray(rewards, dtype=float)
        n = len(x)
        if n == 0:
            return self
        xbar = float(x.mean())
        k = self.strength + n
        return NormalInverseGamma(
            mean=(self.strength * self.mean + n * xbar) / k,
            strength=k,
            shape=self.shape + n / 2,
            scale=self.scale + 0.5 * float(((x - xbar) ** 2).sum())
            + self.strength * n * (xbar - self.mean) ** 2 / (2 * k),
        )

    def sample_means(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws of the mean from this distribution (its variance drawn first)."""
        variance = self.scale / rng.gamma(self.shape, 1.0, size)
        return rng.normal(self.mean, np.sqrt(variance / self.strength))

    def mean_sd(self) -> float:
        """Standard deviation of the mean's marginal (a Student t with 2a degrees of freedom)."""
        return math.sqrt(self.scale / (self.strength * (self.shape - 1))) if self.shape > 1 else math.inf


def best_arm_shares(posteriors: Sequence[NormalInverseGamma], rng: np.random.Generator, draws: int) -> np.ndarray:
    """Thompson sampling ``draws`` times: the fraction of draws in which each arm's sampled mean
    was the largest (with ``draws=1``, one arm gets everything: the classic single play)."""
    means = np.stack([p.sample_means(rng, draws) for p in posteriors])  # arms x draws
    wins = np.bincount(means.argmax(axis=0), minlength=len(posteriors))
    return wins / draws


def main(out: Path | None = None, seed: int = 7, rounds: int = 750) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    truth = np.array([-0.002, 0.0005, 0.003])
    vol = np.array([0.01, 0.005, 0.012])
    prior = NormalInverseGamma()
    seen: list[list[float]] = [[] for _ in truth]
    plays = np.zeros(len(truth), dtype=int)
    for t in range(rounds):
        arm = int(best_arm_shares([prior.update(r) for r in seen], rng, 1).argmax())
        seen[arm].append(float(rng.normal(truth[arm], vol[arm])))
        plays[arm] += 1
        if t + 1 in (50, 250, rounds):
            print(f"after {t + 1:4d} rounds: plays per arm {plays.tolist()}")
    posts = [prior.update(r) for r in seen]
    for k, p in enumerate(posts):
        print(f"arm {k}: true mean {truth[k]:+.4%}  posterior mean {p.mean:+.4%} +- {p.mean_sd():.4%}")
    return {"plays": plays.tolist(), "posterior_means": [p.mean for p in posts]}


if __name__ == "__main__":
    main()
