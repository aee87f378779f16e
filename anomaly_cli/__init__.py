"""The single console entry point ``anomaly``."""
