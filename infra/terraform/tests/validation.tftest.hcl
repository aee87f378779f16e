# Bad inputs are refused at plan time.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment     = "dev"
  azs             = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anomaly:test"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "unknown_environment" {
  command = plan

  variables {
    environment = "qa"
  }

  expect_failures = [var.environment]
}

run "invalid_fargate_size" {
  command = plan

  variables {
    processor_size = { cpu = 8192, memory = 12288 }
  }

  expect_failures = [var.processor_size]
}

run "short_backups" {
  command = plan

  variables {
    db_backup_retention_days = 3
  }

  expect_failures = [var.db_backup_retention_days]
}

run "brokers_not_a_multiple_of_zones" {
  command = plan

  variables {
    msk_broker_count = 4
  }

  expect_failures = [var.msk_broker_count]
}

run "force_destroy_in_prod" {
  command = plan

  variables {
    environment          = "prod"
    bucket_force_destroy = true
  }

  expect_failures = [var.bucket_force_destroy]
}

run "scaling_must_cover_every_service" {
  command = plan

  variables {
    scaling = { api = { min = 1, max = 2 } }
  }

  expect_failures = [var.scaling]
}
