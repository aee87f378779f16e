"""Shared plumbing: settings, Kafka runtime and serde, object store, database, metrics, logging."""
