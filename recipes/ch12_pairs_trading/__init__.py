"""Chapter 12: pairs trading — cointegration tests, half-life, hedge ratios, z-score rules, pair selection."""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch12_pairs_trading")
