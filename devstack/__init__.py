"""The embedded local stack: Kafka (KRaft), schema registry, PostgreSQL and MinIO as child processes."""
