# RDS: encrypted, private, managed password, IAM auth, daily backups; deletion protection forced in prod.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment     = "dev"
  azs             = ["eu-west-1a", "eu-west-1b"]
  container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anomaly:test"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "dev_database" {
  command = plan

  assert {
    condition = (
      aws_db_instance.this.storage_encrypted &&
      !aws_db_instance.this.publicly_accessible &&
      aws_db_instance.this.manage_master_user_password &&
      aws_db_instance.this.iam_database_authentication_enabled &&
      aws_db_instance.this.auto_minor_version_upgrade &&
      aws_db_instance.this.performance_insights_enabled &&
      aws_db_instance.this.monitoring_interval > 0
    )
    error_message = "database must be encrypted, private, IAM-enabled, monitored and use a managed password"
  }

  assert {
    condition     = aws_db_instance.this.backup_retention_period >= 7
    error_message = "daily backups must be kept at least 7 days"
  }

  assert {
    condition     = toset(aws_db_instance.this.enabled_cloudwatch_logs_exports) == toset(["postgresql", "upgrade"])
    error_message = "PostgreSQL logs must be exported"
  }

  assert {
    condition     = anytrue([for p in aws_db_parameter_group.this.parameter : p.name == "rds.force_ssl" && p.value == "1"])
    error_message = "the database must refuse non-TLS connections"
  }

  assert {
    condition     = !aws_db_instance.this.deletion_protection
    error_message = "dev keeps deletion protection off unless asked"
  }
}

run "prod_forces_deletion_protection" {
  command = plan

  variables {
    environment            = "prod"
    db_deletion_protection = false
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection
    error_message = "prod must have deletion protection whatever db_deletion_protection says"
  }

  assert {
    condition     = !aws_db_instance.this.skip_final_snapshot
    error_message = "prod must take a final snapshot"
  }

  assert {
    condition     = aws_lb.api.enable_deletion_protection
    error_message = "prod load balancer must have deletion protection"
  }

  assert {
    condition     = aws_db_instance.this.multi_az
    error_message = "multi-AZ is the default"
  }
}

run "encrypted_insights_with_module_key" {
  command = apply

  assert {
    condition = (
      aws_db_instance.this.kms_key_id == aws_kms_key.this.arn &&
      aws_db_instance.this.performance_insights_kms_key_id == aws_kms_key.this.arn &&
      aws_db_instance.this.master_user_secret_kms_key_id == aws_kms_key.this.arn
    )
    error_message = "storage, Performance Insights and the master secret must use the customer-managed key"
  }
}
