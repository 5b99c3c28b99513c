"""The core: what every job stands on. Experiment config and its validation, data (sources,
checks, repairs, calendars, synthetic), symbols and sessions, costs and constraints, the strategy
API (config, hooks, the Context, records) and the host that runs a strategy for an engine,
indicators, risk checks, results tables, errors, the registries (strategies; engines and brokers
from entry points) and the listings. Imports nothing else of algotrade, and never an adapter."""
