"""Backtests: ``algotrade run`` (one experiment on one engine, its results folder) and
``algotrade compare`` (several engines, every difference explained, compare.html). Imports the
core and report; engines come from the registry."""
