"""Z-score rules: when to open, close and abandon a pair trade.

With a hedge ratio ``beta`` and intercept ``alpha`` known at bar t, the spread is
``s = y - alpha - beta * x``. Its z-score over the last ``window`` spreads up to and including t,
``z = (s[t] - mean) / std`` (sample std, ddof=1), says how stretched it is. The rules, one bar at
a time from the position held:

- flat: ``z >= entry`` opens a short spread (short y, long ``beta`` x); ``z <= -entry`` a long
  spread (long y, short ``beta`` x);
- in a trade: the spread back inside ``exit`` (``z <= exit`` when short, ``z >= -exit`` when
  long) closes it; a spread stretched beyond ``stop`` (``|z| >= stop`` on the losing side) closes
  it as a stop, and no new trade opens until ``|z|`` has come back inside ``entry``, so a pair
  that broke is not bought again at once;
- an unknown z (warm-up, a flat spread) changes nothing.

Requires ``0 <= exit < entry < stop``. ``-1`` is a short spread, ``+1`` a long one.

What to look at: the trades the rules take on the planted pair's Kalman spread, and how long they last
next to the planted half-life.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from recipes.ch12_pairs_trading import out_dir
from recipes.ch12_pairs_trading.r01_engle_granger import planted_closes
from recipes.ch12_pairs_trading.r05_kalman_hedge import kalman_hedge


def check_bands(entry: float, exit: float, stop: float) -> None:
    """Refuse bands that cannot work: ``0 <= exit < entry < stop``."""
    if not 0 <= exit < entry < stop:
        raise ValueError(f"need 0 <= exit_z < entry_z < stop_z, got exit_z {exit}, entry_z {entry}, stop_z {stop}; "
                         "e.g. exit_z: 0.5, entry_z: 2, stop_z: 4")


def zscore_last(spread: ArrayLike, window: int) -> float:
    """The z-score of the last spread against the last ``window`` spreads (NaN when too few or flat)."""
    s = np.asarray(spread, dtype=float)[-window:]
    if len(s) < window or window < 2:
        return math.nan
    std = float(np.std(s, ddof=1))
    return (float(s[-1]) - float(np.mean(s))) / std if std > 0 else math.nan


def rolling_zscore(spread: ArrayLike, window: int) -> np.ndarray:
    """:func:`zscore_last` at every bar, from the spreads up to it."""
    s = np.asarray(spread, dtype=float)
    return np.array([zscore_last(s[:t + 1], window) for t in range(len(s))])


def next_position(position: int, stopped: bool, z: float, entry: float, exit: float, stop: float) -> tuple[int, bool]:
    """One bar of the rules: the new ``(position, stopped)`` from the held ones and this bar's z."""
    if math.isnan(z):
        return position, stopped
    if stopped:
        stopped = abs(z) >= entry  # re-armed once the spread is back inside the entry band
        if stopped:
            return 0, True
    if position == 0:
        if z >= entry and z < stop:
            return -1, False
        if z <= -entry and z > -stop:
            return 1, False
        return 0, stopped
    if position * z <= -stop:  # stretched further against the trade: stop out
        return 0, True
    if (position < 0 and z <= exit) or (position > 0 and z >= -exit):
        return 0, False
    return position, False


def positions(z: ArrayLike, entry: float, exit: float, stop: float) -> np.ndarray:
    """The position the rules hold after each bar (-1, 0, +1), starting flat."""
    check_bands(entry, exit, stop)
    held, stopped, out = 0, False, []
    for value in np.asarray(z, dtype=float):
        held, stopped = next_position(held, stopped, float(value), entry, exit, stop)
        out.append(held)
    return np.array(out, dtype=int)


def plot_zscore(z: np.ndarray, pos: np.ndarray, entry: float, exit: float, stop: float, path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax = fig.add_subplot()
    days = np.arange(len(z))
    ax.plot(days, z, color="black", linewidth=0.8, label="z-score of the Kalman spread")
    for level, style, name in ((entry, "--", "entry"), (exit, ":", "exit"), (stop, "-.", "stop")):
        ax.axhline(level, color="grey", linestyle=style, linewidth=0.8, label=f"±{name} {level:g}")
        ax.axhline(-level, color="grey", linestyle=style, linewidth=0.8)
    ax.fill_between(days, 0, 1, where=pos > 0, transform=ax.get_xaxis_transform(), color="tab:green",
                    alpha=0.2, linewidth=0, label="long spread")
    ax.fill_between(days, 0, 1, where=pos < 0, transform=ax.get_xaxis_transform(), color="tab:red",
                    alpha=0.2, linewidth=0, label="short spread")
    ax.set_xlabel("day")
    ax.set_title("Z-score rules on the planted pair")
    ax.legend(loc="upper left", fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main(out: Path | None = None) -> dict[str, Any]:
    closes = planted_closes(n=750)
    beta, alpha = kalman_hedge(closes["Y"], closes["X"])
    spread = closes["Y"].to_numpy() - alpha - beta * closes["X"].to_numpy()
    z = rolling_zscore(spread, 20)
    pos = positions(z, entry=2.0, exit=0.5, stop=4.0)
    opens = int(np.sum((pos != 0) & (np.concatenate([[0], pos[:-1]]) != pos)))
    print(f"z-score rules (entry 2, exit 0.5, stop 4) on 750 days: {opens} trades, "
          f"in a trade {np.mean(pos != 0):.0%} of the days, long {np.sum(pos > 0)} / short {np.sum(pos < 0)} days")
    png = plot_zscore(z, pos, 2.0, 0.5, 4.0, out_dir(out) / "pairs_zscore.png")
    return {"trades": opens, "positions": pos, "z": z, "plot": str(png)}


if __name__ == "__main__":
    main()
