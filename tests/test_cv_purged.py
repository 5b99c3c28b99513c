"""Purged k-fold, embargo and combinatorial purged CV (recipes/ch15_ml_research/r01): checked
against a brute-force reading of the definitions, on label windows of varying length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recipes.ch15_ml_research.r01_purged_kfold_cpcv import (
    cpcv,
    groups,
    horizon_ends,
    n_paths,
    naive_kfold,
    paths,
    purged_kfold,
    split_problems,
)


def varying_ends(n: int, seed: int, longest: int) -> np.ndarray:
    """Label windows of random length (a triple barrier touched after 0..longest bars)."""
    rng = np.random.default_rng(seed)
    return np.minimum(np.arange(n) + rng.integers(0, longest + 1, n), n - 1)


def brute_train(n: int, ends: np.ndarray, tests: list[range], embargo: int) -> set[int]:
    """Position i trains iff it is in no test window, its label window [i, ends[i]] meets none,
    and it lies in no embargo (the ``embargo`` bars after a test window's last bar)."""
    out = set()
    for i in range(n):
        if any(i in t for t in tests):
            continue
        if any(i <= t[-1] and ends[i] >= t[0] for t in tests):
            continue
        if any(t[-1] < i <= t[-1] + embargo for t in tests):
            continue
        out.add(i)
    return out


@pytest.mark.parametrize("n, n_groups, k_test, embargo, seed, longest", [
    (240, 6, 2, 5, 1, 12),
    (301, 5, 1, 0, 2, 20),
    (200, 8, 3, 3, 3, 7),
    (150, 4, 2, 10, 4, 30),
    (97, 7, 1, 2, 5, 1),
])
def test_no_training_label_overlaps_a_test_window_and_the_embargo_holds(
        n: int, n_groups: int, k_test: int, embargo: int, seed: int, longest: int) -> None:
    ends = varying_ends(n, seed, longest)
    parts = groups(n, n_groups)
    splits = cpcv(ends, n_groups, k_test, embargo)
    for s in splits:
        tests = [parts[g] for g in s.test_groups]
        assert set(s.train.tolist()) == brute_train(n, ends, tests, embargo), f"split {s.index}"
        assert sorted(s.test.tolist()) == sorted(i for t in tests for i in t)
        for t in tests:  # what the issue states, read directly
            assert not any(i <= t[-1] and ends[i] >= t[0] for i in s.train)
            assert not any(t[-1] < i <= t[-1] + embargo for i in s.train)
    assert split_problems(splits, ends, n_groups, embargo) == []


def test_cpcv_makes_c_n_k_splits_and_the_stated_number_of_paths() -> None:
    for n_groups, k_test in [(6, 2), (5, 1), (8, 3), (10, 2), (7, 4)]:
        ends = horizon_ends(400, 5)
        splits = cpcv(ends, n_groups, k_test, embargo=2)
        assert len(splits) == math.comb(n_groups, k_test)
        assert len({s.test_groups for s in splits}) == len(splits)
        assert all(len(s.test_groups) == k_test for s in splits)
        table = paths(splits, n_groups)
        assert len(table) == n_paths(n_groups, k_test) == math.comb(n_groups, k_test) * k_test // n_groups
        used = [(split, g) for row in table for g, split in enumerate(row)]
        assert len(used) == len(set(used)) == len(splits) * k_test  # every prediction used once
        for row in table:  # each path covers every group once, by a split that tests it
            assert all(g in splits[split].test_groups for g, split in enumerate(row))


def test_purged_kfold_tests_each_fold_once() -> None:
    ends = horizon_ends(120, 4)
    folds = purged_kfold(ends, 5, embargo=3)
    assert [s.test_groups for s in folds] == [(g,) for g in range(5)]
    assert sorted(np.concatenate([s.test for s in folds]).tolist()) == list(range(120))


def test_the_check_finds_plain_kfolds_leaks() -> None:
    ends = horizon_ends(200, 5)
    problems = split_problems(naive_kfold(200, 5), ends, 5, embargo=3)
    assert any("overlap test window" in p for p in problems)
    assert any("inside the embargo" in p for p in problems)


@pytest.mark.parametrize("call, message", [
    (lambda: cpcv([0, 0, 1], 2, 1), "label_end"),
    (lambda: cpcv(horizon_ends(50, 2), 5, 5), "k_test"),
    (lambda: cpcv(horizon_ends(50, 2), 5, 2, embargo=-1), "embargo"),
    (lambda: groups(3, 5), "n_groups"),
])
def test_bad_arguments_say_which(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
