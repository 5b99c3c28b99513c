"""Chapter 13: market regimes — a Gaussian hidden Markov model, refitted walk-forward, as a trade filter."""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch13_regimes")
