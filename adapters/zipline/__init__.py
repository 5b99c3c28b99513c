"""Zipline-reloaded adapter: runs any algotrade strategy through ``run_algorithm`` on a real bundle."""

from adapters.zipline.engine import ZiplineEngine

__all__ = ["ZiplineEngine"]
