"""The operating layer of a paper or live run: its state (:mod:`.state`), the runner's observer that
keeps it (:mod:`.monitor`) with the incremental shadow backtest (:mod:`.shadow`), the Prometheus
metrics (:mod:`.metrics`), the HTTP server (:mod:`.server`: /metrics, /healthz, /readyz and the
dashboard), the JSON logs (:mod:`.logs`) and their wiring into a run (:mod:`.run`)."""
