"""Production strategies: plain classes with frozen configs; none imports an engine."""
