"""Research: ``algotrade sweep`` (grids, random points, walk-forward), its executors (a local
process pool or a Ray cluster), data-snooping tests and sweep.html. Imports backtest, report and
the core; never live."""
