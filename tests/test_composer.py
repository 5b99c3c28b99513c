"""Chapter 14: the Normal-Inverse-Gamma posterior, Thompson allocations and the composer
meta-strategy (children on virtual sub-books, netted into real orders)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from recipes.ch14_meta_strategies import r01_thompson_sampling as r01
from recipes.ch14_meta_strategies import r02_bandit_allocation as r02


def test_posterior_after_rewards_equals_the_conjugate_formulas_by_hand() -> None:
    prior = r01.NormalInverseGamma(mean=0.001, strength=2.0, shape=3.0, scale=2e-4)
    x = [0.01, -0.02, 0.005, 0.0]
    # by hand: n = 4, xbar = -0.00125, squared deviations 0.01125^2 + 0.01875^2 + 0.00625^2 + 0.00125^2
    n, xbar, ss = 4, -0.00125, 0.00051875
    k = 2.0 + n
    post = prior.update(x)
    assert post.strength == k == 6.0
    assert post.mean == pytest.approx((2.0 * 0.001 + n * xbar) / k, rel=1e-12)
    assert post.mean == pytest.approx(-0.0005, rel=1e-12)
    assert post.shape == 5.0
    assert post.scale == pytest.approx(2e-4 + 0.5 * ss + 2.0 * n * (xbar - 0.001) ** 2 / (2 * k), rel=1e-12)
    assert post.scale == pytest.approx(2e-4 + 0.000259375 + 0.000003375, rel=1e-12)


def test_posterior_is_the_same_one_reward_at_a_time_and_untouched_by_no_rewards() -> None:
    prior = r01.NormalInverseGamma()
    rewards = np.random.default_rng(3).normal(0.001, 0.01, 40)
    step = prior
    for r in rewards:
        step = step.update([r])
    batch = prior.update(rewards)
    for a, b in zip((step.mean, step.strength, step.shape, step.scale),
                    (batch.mean, batch.strength, batch.shape, batch.scale), strict=True):
        assert a == pytest.approx(b, rel=1e-9)
    assert prior.update([]) == prior


def test_sampled_means_follow_the_student_t_marginal() -> None:
    post = r01.NormalInverseGamma().update(np.random.default_rng(5).normal(0.002, 0.01, 60))
    draws = post.sample_means(np.random.default_rng(11), 200_000)
    assert draws.mean() == pytest.approx(post.mean, abs=4 * post.mean_sd() / math.sqrt(len(draws)))
    # t with 2a dof, scale^2 = b / (a k): variance = scale^2 * 2a / (2a - 2)
    assert draws.std() == pytest.approx(post.mean_sd(), rel=0.02)


def test_thompson_shares_sum_to_one_and_favour_the_clearly_better_arm() -> None:
    prior = r01.NormalInverseGamma()
    rng = np.random.default_rng(0)
    good, bad = prior.update(rng.normal(0.01, 0.01, 100)), prior.update(rng.normal(-0.01, 0.01, 100))
    shares = r01.best_arm_shares([bad, good], np.random.default_rng(1), 500)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[1] > 0.99
    single = r01.best_arm_shares([bad, good], np.random.default_rng(1), 1)
    assert sorted(single.tolist()) == [0.0, 1.0]


def _values(seed: int, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.cumprod(1 + rng.normal([0.0005, 0.0, -0.0005], [0.01, 0.005, 0.012], (n, 3)), axis=0)


def test_same_seed_same_allocations_and_another_seed_differs() -> None:
    values = _values(1)
    a, b = r02.allocation_path(values, seed=7), r02.allocation_path(values, seed=7)
    assert [i for i, _ in a] == list(range(0, 300, 21))
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))
    c = r02.allocation_path(values, seed=8)
    assert not all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, c, strict=True))
    np.testing.assert_array_equal(a[0][1], np.full(3, 1 / 3))  # nothing observed yet: equal
    assert all(s.sum() == pytest.approx(1.0) for _, s in a)
    assert all(np.array_equal(s, np.full(3, 1 / 3)) for _, s in r02.allocation_path(values, "equal"))


@pytest.mark.parametrize("cut", [0, 20, 21, 22, 130, 272])
def test_allocations_up_to_t_ignore_data_after_t(cut: int) -> None:
    values = _values(2)
    changed = values.copy()
    changed[cut + 1 :] *= np.random.default_rng(9).uniform(0.5, 1.5, changed[cut + 1 :].shape)
    a, b = r02.allocation_path(values), r02.allocation_path(changed)
    for (i, x), (j, y) in zip(a, b, strict=True):
        assert i == j
        if i <= cut:
            np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for (i, x), (_, y) in zip(a, b, strict=True) if i > cut + 1)


def test_trailing_returns_window_ends_at_the_session() -> None:
    values = np.arange(1.0, 11.0)[:, None] * np.array([1.0, 2.0])
    got = r02.trailing_returns(values, 5, 3)
    np.testing.assert_allclose(got[:, 0], [4 / 3 - 1, 5 / 4 - 1, 6 / 5 - 1])
    assert r02.trailing_returns(values, 0, 3).shape == (0, 2)
    assert r02.trailing_returns(values, 2, 63).shape == (2, 2)


def test_combined_book_keeps_each_childs_dollars_between_rebalances() -> None:
    values = np.array([[1.0, 1.0], [2.0, 1.0], [2.0, 1.0], [2.0, 2.0]])
    path = [(0, np.array([0.5, 0.5])), (2, np.array([1.0, 0.0]))]
    np.testing.assert_allclose(r02.combined_values(values, path, 100.0), [100.0, 150.0, 150.0, 150.0])


def test_recipe_pages_run(tmp_path: Path) -> None:
    assert sum(r01.main()["plays"]) == 750
    got = r02.main(tmp_path)
    assert got["plot"] == tmp_path / "bandit_allocation.png" and got["plot"].stat().st_size > 10_000
    assert got["rebalances"] == math.ceil(2014 / 21)  # SPX sessions 2005-2012, every 21st
