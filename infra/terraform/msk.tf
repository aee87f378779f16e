resource "aws_msk_configuration" "this" {
  name           = "${local.name}-${replace(var.kafka_version, ".", "-")}"
  kafka_versions = [var.kafka_version]
  description    = "Topics are created by `anomaly topics create`; co-partitioned media/scores topics."

  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    num.partitions=${var.kafka_partitions}
    default.replication.factor=${local.kafka_replication_factor}
    min.insync.replicas=${local.kafka_min_insync_replicas}
    log.retention.hours=${var.kafka_log_retention_hours}
    unclean.leader.election.enable=false
  PROPERTIES

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  msk_broker_count          = coalesce(var.msk_broker_count, local.az_count)
  kafka_replication_factor  = min(3, local.msk_broker_count)
  kafka_min_insync_replicas = max(1, local.kafka_replication_factor - 1)
}

resource "aws_msk_cluster" "this" {
  cluster_name           = local.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = local.msk_broker_count
  enhanced_monitoring    = var.msk_enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.msk_broker_instance_type
    client_subnets  = aws_subnet.private[*].id
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_broker_volume_size
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.this.arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  # SCRAM for the services (librdkafka), IAM for per-topic and per-group authorisation of IAM clients.
  client_authentication {
    unauthenticated = false

    sasl {
      scram = true
      iam   = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk.name
      }
    }
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "msk" {
  name              = "/aws/msk/${local.name}/brokers"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}

# MSK requires the SCRAM secret name to start with AmazonMSK_ and a customer-managed key.
resource "aws_secretsmanager_secret" "kafka_scram" {
  #checkov:skip=CKV2_AWS_57:SCRAM credentials are rotated with a runbook (new user, roll services, drop old user); no rotation Lambda.
  name                    = "AmazonMSK_${local.name}_${var.kafka_scram_username}"
  description             = "SASL/SCRAM credentials the services use against ${local.name} MSK"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = local.is_prod ? 30 : 7
  tags                    = local.tags
}

data "aws_secretsmanager_random_password" "kafka_scram" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "kafka_scram" {
  secret_id = aws_secretsmanager_secret.kafka_scram.id
  secret_string = jsonencode({
    username = var.kafka_scram_username
    password = data.aws_secretsmanager_random_password.kafka_scram.random_password
  })

  # The data source draws a new password on every plan; keep the first one.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_msk_scram_secret_association" "this" {
  cluster_arn     = aws_msk_cluster.this.arn
  secret_arn_list = [aws_secretsmanager_secret.kafka_scram.arn]

  depends_on = [aws_secretsmanager_secret_version.kafka_scram]
}
