# ECS services: one image, one command each, sizes from variables, encrypted logs, HTTPS-only API.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment     = "dev"
  azs             = ["eu-west-1a", "eu-west-1b"]
  container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anomaly:test"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "one_image_many_commands" {
  command = apply

  assert {
    condition     = toset(keys(aws_ecs_service.app)) == toset(["producer", "pose", "scene", "audio", "caption", "fusion", "projection", "api"])
    error_message = "every pipeline stage must run as its own service"
  }

  assert {
    condition     = length(distinct([for td in aws_ecs_task_definition.app : jsondecode(td.container_definitions)[0].image])) == 1
    error_message = "all app services must run the same image"
  }

  assert {
    condition = {
      for k, td in aws_ecs_task_definition.app : k => jsondecode(td.container_definitions)[0].command
      } == {
      producer   = ["produce", "camera"]
      pose       = ["process", "pose"]
      scene      = ["process", "scene"]
      audio      = ["process", "audio"]
      caption    = ["process", "caption"]
      fusion     = ["fusion", "worker"]
      projection = ["projection", "sink"]
      api        = ["api"]
    }
    error_message = "each service runs its `anomaly` subcommand"
  }

  assert {
    condition     = alltrue([for k in ["pose", "scene", "audio", "caption", "api"] : aws_ecs_task_definition.app[k].cpu == "4096" && aws_ecs_task_definition.app[k].memory == "12288"])
    error_message = "processors and API default to 4 vCPU / 12 GiB"
  }

  assert {
    condition     = alltrue([for td in aws_ecs_task_definition.app : jsondecode(td.container_definitions)[0].readonlyRootFilesystem])
    error_message = "containers run with a read-only root filesystem"
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.service : g.kms_key_id == aws_kms_key.this.arn && g.retention_in_days == 365])
    error_message = "service logs must be KMS-encrypted with a retention"
  }

  assert {
    condition     = alltrue([for s in aws_ecs_service.app : !s.network_configuration[0].assign_public_ip])
    error_message = "tasks stay in private subnets"
  }
}

run "prod_sizes" {
  command = plan

  variables {
    environment    = "prod"
    processor_size = { cpu = 8192, memory = 16384 }
    api_size       = { cpu = 8192, memory = 16384 }
  }

  assert {
    condition     = alltrue([for k in ["pose", "scene", "audio", "caption", "api"] : aws_ecs_task_definition.app[k].cpu == "8192" && aws_ecs_task_definition.app[k].memory == "16384"])
    error_message = "prod sizes must reach the task definitions"
  }
}

run "env_file_output" {
  command = apply

  assert {
    condition = alltrue([for k in [
      "KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL", "S3_FRAMES_BUCKET", "S3_AUDIO_BUCKET",
      "S3_EVIDENCE_BUCKET", "VIDEO_RETENTION_DAYS", "AUDIO_CHUNK_RETENTION_HOURS", "EVIDENCE_RETENTION_DAYS",
    ] : strcontains(output.env_file, "\n${k}=") || startswith(output.env_file, "${k}=")])
    error_message = "env_file must carry the settings the services read"
  }

  assert {
    condition     = strcontains(output.env_file, "VIDEO_RETENTION_DAYS=7\n") && strcontains(output.env_file, "AUDIO_CHUNK_RETENTION_HOURS=24\n")
    error_message = "env_file retention values must equal the app defaults"
  }

  assert {
    condition     = strcontains(output.env_file, "DATABASE_URL=postgresql://anomaly@anomaly-test.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/anomaly?sslmode=require\n")
    error_message = "DATABASE_URL must carry no password and require TLS"
  }

  assert {
    condition     = !strcontains(output.env_file, "PASSWORD")
    error_message = "env_file must not carry secrets"
  }

  assert {
    condition     = output.api_url == "https://anomaly-api-123456789.eu-west-1.elb.amazonaws.com"
    error_message = "api_url is the HTTPS URL of the load balancer"
  }
}

run "api_behind_https" {
  command = apply

  assert {
    condition     = aws_lb.api.drop_invalid_header_fields && aws_lb.api.access_logs[0].enabled
    error_message = "the ALB drops invalid headers and writes access logs"
  }

  assert {
    condition     = aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.certificate_arn == var.certificate_arn
    error_message = "the API listener is HTTPS with the given certificate"
  }

  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "HTTP only redirects to HTTPS"
  }

  assert {
    condition     = length(aws_appautoscaling_policy.lag) == 6 && length(aws_appautoscaling_policy.cpu) == 8
    error_message = "consumers scale on lag and every scaled service on CPU"
  }
}

run "least_privilege_task_roles" {
  command = apply

  variables {
    camera_source_cidrs = ["192.0.2.0/24"]
  }

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.task["pose"].statement : s.sid], "WriteMedia")
    error_message = "processors only read media"
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.task["pose"].statement : s.resources if s.sid == "KafkaConsume"]) == toset([
      "arn:aws:kafka:eu-west-1:123456789012:topic/anomaly-test/0b5a3b5c-1111-2222-3333-444455556666-2/media.frames.v1",
    ])
    error_message = "pose may read media.frames.v1 and nothing else"
  }

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.task["producer"].statement : s.sid], "DatabaseIamAuth")
    error_message = "the producer has no database access"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution["pose"].statement : s.resources if s.sid == "PullAppImage"]) == toset(["arn:aws:ecr:eu-west-1:123456789012:repository/anomaly"])
    error_message = "execution roles pull only the app repository"
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.this["producer-camera-192.0.2.0/24-554"].security_group_id == aws_security_group.producer.id
    error_message = "camera egress belongs to the producer group only"
  }

  assert {
    condition     = contains(aws_ecs_service.app["producer"].network_configuration[0].security_groups, aws_security_group.producer.id) && !contains(aws_ecs_service.app["pose"].network_configuration[0].security_groups, aws_security_group.producer.id)
    error_message = "only the producer reaches the cameras"
  }
}

# The notify worker: off by default; with a routing file it runs like the projection sink, reads the file from an
# encrypted SSM parameter and its target secrets from Secrets Manager, and may reach only what it was given.
run "notify_worker" {
  command = apply

  variables {
    notify_config  = "targets: [{name: ops, kind: webhook, url: 'https://hooks.example.com/a', secret: '$${OPS_HOOK_SECRET}'}]"
    notify_secrets = { OPS_HOOK_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:anomaly/notify-AbCdEf:ops::" }
    notify_egress  = [{ cidr = "198.51.100.10/32", port = 587 }]
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.app["notify"].container_definitions)[0].entryPoint == ["/bin/sh", "-c"] && endswith(one(jsondecode(aws_ecs_task_definition.app["notify"].container_definitions)[0].command), "exec anomaly notify worker")
    error_message = "the notify task writes its routing file, then runs `anomaly notify worker`"
  }

  assert {
    condition     = alltrue([for k, td in aws_ecs_task_definition.app : !can(jsondecode(td.container_definitions)[0].entryPoint) if k != "notify"])
    error_message = "the other services keep the image's entrypoint"
  }

  assert {
    condition = toset(jsondecode(aws_ecs_task_definition.app["notify"].container_definitions)[0].secrets) == toset([
      { name = "KAFKA_SASL_PASSWORD", valueFrom = "${aws_secretsmanager_secret.kafka_scram.arn}:password::" },
      { name = "PGPASSWORD", valueFrom = "${aws_db_instance.this.master_user_secret[0].secret_arn}:password::" },
      { name = "NOTIFY_CONFIG_YAML", valueFrom = aws_ssm_parameter.notify_config[0].arn },
      { name = "OPS_HOOK_SECRET", valueFrom = var.notify_secrets.OPS_HOOK_SECRET },
    ])
    error_message = "the routing file comes from SSM and the target secrets from Secrets Manager, nothing else"
  }

  assert {
    condition     = aws_ssm_parameter.notify_config[0].type == "SecureString" && aws_ssm_parameter.notify_config[0].key_id == aws_kms_key.this.arn
    error_message = "the routing file is encrypted with the module's key"
  }

  assert {
    condition     = local.service_env.notify.NOTIFY_CONFIG == "/tmp/notify.yaml" && local.service_env.notify.NOTIFY_GROUP_ID == "notify" && local.service_env.notify.NOTIFY_CONSUMER_START == "latest"
    error_message = "NOTIFY_CONFIG points at the written file; the group starts at the live end"
  }

  assert {
    condition     = contains(one([for s in data.aws_iam_policy_document.execution["notify"].statement : s.resources if s.sid == "OwnSecrets"]), "arn:aws:secretsmanager:eu-west-1:123456789012:secret:anomaly/notify-AbCdEf")
    error_message = "the execution role reads the named secret (the JSON key is no part of the resource)"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.execution["notify"].statement : s.resources if s.sid == "OwnParameters"]) == toset([aws_ssm_parameter.notify_config[0].arn]) && !contains([for s in data.aws_iam_policy_document.execution["projection"].statement : s.sid], "OwnParameters")
    error_message = "only the notify execution role reads the routing parameter"
  }

  assert {
    condition     = toset(one(one([for s in data.aws_iam_policy_document.execution["notify"].statement : s.condition if s.sid == "SecretsKeyThroughSecretsManager"])).values) == toset(["secretsmanager.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"]) && toset(one(one([for s in data.aws_iam_policy_document.execution["projection"].statement : s.condition if s.sid == "SecretsKeyThroughSecretsManager"])).values) == toset(["secretsmanager.eu-west-1.amazonaws.com"])
    error_message = "only the notify execution role may decrypt through SSM"
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.task["notify"].statement : s.resources if s.sid == "KafkaConsume"]) == toset([
      "arn:aws:kafka:eu-west-1:123456789012:topic/anomaly-test/0b5a3b5c-1111-2222-3333-444455556666-2/anomalies.v1",
      "arn:aws:kafka:eu-west-1:123456789012:topic/anomaly-test/0b5a3b5c-1111-2222-3333-444455556666-2/anomalies.actions.v1",
    ]) && one([for s in data.aws_iam_policy_document.task["notify"].statement : s.resources if s.sid == "KafkaProduce"]) == toset(["arn:aws:kafka:eu-west-1:123456789012:topic/anomaly-test/0b5a3b5c-1111-2222-3333-444455556666-2/dlq.v1"])
    error_message = "notify reads the anomalies and actions topics and writes only the DLQ"
  }

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.task["notify"].statement : s.sid], "WriteMedia")
    error_message = "notify only reads media (evidence links and attachments)"
  }

  assert {
    condition     = aws_ecs_service.app["notify"].desired_count == 1 && !contains(keys(aws_appautoscaling_target.this), "notify")
    error_message = "one notify task, not autoscaled"
  }

  assert {
    condition     = contains(aws_ecs_service.app["notify"].network_configuration[0].security_groups, aws_security_group.notify[0].id) && aws_vpc_security_group_egress_rule.notify["198.51.100.10/32-587"].from_port == 587 && !contains(aws_ecs_service.app["api"].network_configuration[0].security_groups, aws_security_group.notify[0].id)
    error_message = "only the notify task reaches its SMTP relay"
  }
}

run "notify_refuses_written_in_secrets" {
  command = plan

  variables {
    notify_config = "targets: [{name: ops, kind: webhook, url: 'https://hooks.example.com/a', secret: hunter2}]"
  }

  expect_failures = [var.notify_config]
}
