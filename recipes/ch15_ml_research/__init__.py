"""Chapter 15: ML research — purged k-fold and combinatorial purged cross-validation."""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch15_ml_research")
