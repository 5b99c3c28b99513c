"""Chapter 11: risk and position sizing — sizing methods, stops and value at risk."""

from __future__ import annotations

from recipes import chapter_out_dir

#: where this chapter's plots and files go unless ``main(out=...)`` says otherwise (printed)
out_dir = chapter_out_dir("ch11_risk_sizing")
