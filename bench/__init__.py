"""Benchmarks behind ``anomaly bench ...`` and the data they generate (scenarios, datasets, random checkpoints).

Nothing in the product packages imports from here; the tests use the scenario generators and fixtures.
"""
