output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "Private subnets of brokers, database and tasks."
  value       = aws_subnet.private[*].id
}

output "kms_key_arn" {
  description = "Customer-managed key of all data at rest."
  value       = aws_kms_key.this.arn
}

output "kafka_bootstrap_brokers" {
  description = "SASL/SCRAM over TLS bootstrap brokers (port 9096): KAFKA_BOOTSTRAP_SERVERS."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
}

output "kafka_bootstrap_brokers_iam" {
  description = "IAM over TLS bootstrap brokers (port 9098), for IAM-authenticated tooling."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "kafka_scram_secret_arn" {
  description = "Secrets Manager secret with the SCRAM username and password (KAFKA_SASL_PASSWORD)."
  value       = aws_secretsmanager_secret.kafka_scram.arn
}

output "schema_registry_url" {
  description = "SCHEMA_REGISTRY_URL the services use."
  value       = local.schema_registry_url
}

output "db_endpoint" {
  description = "host:port of the PostgreSQL instance."
  value       = aws_db_instance.this.endpoint
}

output "db_master_secret_arn" {
  description = "RDS-managed secret holding the master password (PGPASSWORD in the tasks)."
  value       = local.db_secret_arn
}

output "database_url" {
  description = "DATABASE_URL without the password."
  value       = local.database_url
}

output "bucket_names" {
  description = "Media buckets by role (frames, audio, evidence) and the access-log bucket."
  value       = merge({ for k, b in aws_s3_bucket.media : k => b.bucket }, { logs = aws_s3_bucket.logs.bucket })
}

output "bucket_expiration_days" {
  description = "Lifecycle expiry of each media bucket, days."
  value       = { for k, v in local.media_buckets : k => v.expiration_days }
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_names" {
  description = "ECS services by role."
  value       = merge({ for k, s in aws_ecs_service.app : k => s.name }, local.deploy_registry ? { registry = aws_ecs_service.registry[0].name } : {})
}

output "task_role_arns" {
  description = "Task role of each service."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "alb_dns_name" {
  description = "DNS name of the API load balancer (point api_domain_name here)."
  value       = aws_lb.api.dns_name
}

output "api_url" {
  description = "HTTPS URL of the API (/healthz, /readyz)."
  value       = "https://${var.api_domain_name != "" ? var.api_domain_name : aws_lb.api.dns_name}"
}

output "env_file" {
  description = "KEY=VALUE lines for the app (.env); secrets are not included: KAFKA_SASL_PASSWORD and PGPASSWORD come from the secrets above."
  value       = join("", [for k in sort(keys(local.app_env)) : "${k}=${local.app_env[k]}\n"])
}
