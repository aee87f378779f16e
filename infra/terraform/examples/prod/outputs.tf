output "api_url" {
  description = "HTTPS URL of the API."
  value       = module.anomaly.api_url
}

output "kafka_bootstrap_brokers" {
  description = "KAFKA_BOOTSTRAP_SERVERS."
  value       = module.anomaly.kafka_bootstrap_brokers
}

output "db_endpoint" {
  description = "PostgreSQL endpoint."
  value       = module.anomaly.db_endpoint
}

output "bucket_names" {
  description = "Media and log buckets."
  value       = module.anomaly.bucket_names
}

output "env_file" {
  description = "KEY=VALUE lines for the services (no secrets)."
  value       = module.anomaly.env_file
}
