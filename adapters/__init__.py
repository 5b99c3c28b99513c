"""Engine adapters: one small package per engine, each running algotrade strategies unchanged."""
