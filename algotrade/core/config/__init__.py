"""Experiment files: YAML parsed once into typed, frozen models that reject unknown keys.

Every field carries a description; ``algotrade schema`` prints them. Validation errors are turned
into one :class:`ConfigError` that names the field (and its line in the file), the bad value and
the fix, with a "did you mean" for misspelt keys.

A package of one module a job: ``base`` (the base model), ``data_section``, ``sections`` (broker,
sizing, risk, output, IB, strategy, burn-in), ``windows`` (walk-forward, window), ``experiment``
(the whole file and its sweep), ``yaml_io`` (reading YAML and --set), ``messages`` (validation
errors as one ConfigError), ``loading`` (load, validate, dump) and ``schema`` (``algotrade schema``).
Every name is importable from here, as it was from the one module.
"""

from algotrade.core.config.base import Model, symbols_text
from algotrade.core.config.data_section import DataConfig, PlantedPair, SyntheticConfig, correlation_possible
from algotrade.core.config.experiment import (
    NOT_SWEPT,
    RANK_METRICS,
    Experiment,
    RandomRange,
    SweepConfig,
    check_engine_list,
)
from algotrade.core.config.loading import (
    check_sweep_names,
    dump_experiment,
    experiment_from_dict,
    load_experiment,
    validate_strategy_params,
)
from algotrade.core.config.messages import Origins, format_validation_error
from algotrade.core.config.schema import explain
from algotrade.core.config.sections import (
    AnySizing,
    BpsSlippage,
    BrokerConfig,
    BurnInGates,
    Commission,
    FixedCashSizing,
    FixedSharesSizing,
    IbConfig,
    KellySizing,
    OpsConfig,
    OutputConfig,
    PercentCommission,
    PerShareCommission,
    PerSymbolSizing,
    RiskConfig,
    RiskPerTradeSizing,
    Sizing,
    SizingMethod,
    Slippage,
    StopsConfig,
    StrategyRef,
    TargetPercentSizing,
    VolTargetSizing,
)
from algotrade.core.config.windows import WalkForwardConfig, WindowConfig
from algotrade.core.config.yaml_io import load_yaml, parse_override, read_yaml

__all__ = [
    "NOT_SWEPT",
    "RANK_METRICS",
    "BpsSlippage",
    "BrokerConfig",
    "BurnInGates",
    "Commission",
    "DataConfig",
    "Experiment",
    "AnySizing",
    "FixedCashSizing",
    "FixedSharesSizing",
    "KellySizing",
    "PerSymbolSizing",
    "RiskPerTradeSizing",
    "SizingMethod",
    "VolTargetSizing",
    "IbConfig",
    "Model",
    "OpsConfig",
    "Origins",
    "OutputConfig",
    "PerShareCommission",
    "PercentCommission",
    "PlantedPair",
    "RandomRange",
    "RiskConfig",
    "Sizing",
    "Slippage",
    "StopsConfig",
    "StrategyRef",
    "SweepConfig",
    "SyntheticConfig",
    "TargetPercentSizing",
    "WalkForwardConfig",
    "WindowConfig",
    "check_engine_list",
    "check_sweep_names",
    "correlation_possible",
    "dump_experiment",
    "experiment_from_dict",
    "explain",
    "format_validation_error",
    "load_experiment",
    "load_yaml",
    "parse_override",
    "read_yaml",
    "symbols_text",
    "validate_strategy_params",
]
