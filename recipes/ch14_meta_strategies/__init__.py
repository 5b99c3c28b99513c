"""Chapter 14: meta-strategies — choosing among strategies with a Thompson-sampling bandit."""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch14_meta_strategies")
