# MSK: clients reach the brokers over TLS only, data at rest uses the module's key, nobody is anonymous.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment     = "dev"
  azs             = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anomaly:test"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "client_traffic_is_tls_only" {
  command = apply

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].client_broker == "TLS"
    error_message = "client_broker must be TLS (no TLS_PLAINTEXT or PLAINTEXT)"
  }

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].in_cluster
    error_message = "traffic between brokers must be encrypted"
  }

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_at_rest_kms_key_arn == aws_kms_key.this.arn
    error_message = "brokers must encrypt at rest with the customer-managed key"
  }

  assert {
    condition = (
      !aws_msk_cluster.this.client_authentication[0].unauthenticated &&
      aws_msk_cluster.this.client_authentication[0].sasl[0].scram &&
      aws_msk_cluster.this.client_authentication[0].sasl[0].iam
    )
    error_message = "clients must authenticate with SASL/SCRAM or IAM"
  }

  assert {
    condition     = aws_msk_cluster.this.broker_node_group_info[0].connectivity_info[0].public_access[0].type == "DISABLED"
    error_message = "brokers must not be publicly reachable"
  }

  assert {
    condition     = aws_msk_cluster.this.logging_info[0].broker_logs[0].cloudwatch_logs[0].enabled
    error_message = "broker logs must go to CloudWatch"
  }

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.this : contains([9096, 9098], r.from_port) if r.security_group_id == aws_security_group.msk.id])
    error_message = "only the TLS listeners (9096 SCRAM, 9098 IAM) may be open on the brokers"
  }
}

run "partitions_and_replication" {
  command = plan

  variables {
    kafka_partitions = 12
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "num.partitions=12")
    error_message = "the partition count variable must reach the broker defaults"
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "auto.create.topics.enable=false")
    error_message = "topics are created explicitly, never by a typo"
  }

  assert {
    condition     = aws_msk_cluster.this.number_of_broker_nodes == 3
    error_message = "one broker per availability zone by default"
  }
}

run "partition_default_is_six" {
  command = plan

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "num.partitions=6")
    error_message = "default partition count must be 6 (KAFKA_TOPIC_PARTITIONS)"
  }
}
