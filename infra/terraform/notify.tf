# `anomaly notify worker` (docs/notifications.md): an ECS service like the projection sink, present when
# notify_config is set. Its routing file is an encrypted SSM parameter that the container writes to /tmp before
# the worker starts; the secrets it refers to come from Secrets Manager (notify_secrets) as environment.
locals {
  notify_enabled = var.notify_config != ""

  # Only when notify_config is set (a for expression keeps the type of an empty result).
  notify_service = { for k, v in {
    notify = {
      # The image's entrypoint is `anomaly`; this task starts from a shell (local.entry_points) that writes the
      # routing file from NOTIFY_CONFIG_YAML (the SSM parameter) to NOTIFY_CONFIG, then becomes the worker.
      command  = ["umask 077 && printf '%s\\n' \"$NOTIFY_CONFIG_YAML\" > \"$NOTIFY_CONFIG\" && unset NOTIFY_CONFIG_YAML && exec anomaly notify worker"]
      size     = var.notify_size
      consumes = [local.topics.anomalies, local.topics.actions]
      produces = [local.topics.dlq]
      s3_read  = ["frames", "evidence"] # presigned evidence links and e-mail attachments
      s3_write = []
      database = true
      storage  = 21
    }
  } : k => v if local.notify_enabled }

  entry_points = { notify = ["/bin/sh", "-c"] }

  # NAME => ARN as the execution role must name it: a JSON key suffix (ARN:key::) is not part of the resource.
  notify_secret_arns = { for k, v in var.notify_secrets : k => join(":", slice(split(":", v), 0, 7)) }
}

resource "aws_ssm_parameter" "notify_config" {
  count = local.notify_enabled ? 1 : 0

  name        = "/${local.name}/notify/config"
  description = "Routing file of the notify worker (NOTIFY_CONFIG)"
  type        = "SecureString"
  tier        = length(var.notify_config) > 4096 ? "Advanced" : "Standard"
  key_id      = aws_kms_key.this.arn
  value       = var.notify_config
  tags        = merge(local.tags, { Service = "notify" })
}

resource "aws_security_group" "notify" {
  count = local.notify_enabled ? 1 : 0

  name_prefix = "${local.name}-notify-"
  description = "Notify tasks (together with the tasks group): egress to SMTP relays and MQTT brokers only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-notify" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "notify" {
  for_each = local.notify_enabled ? { for e in var.notify_egress : "${e.cidr}-${e.port}" => e } : {}

  security_group_id = aws_security_group.notify[0].id
  description       = "Notification target (SMTP or MQTT)"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = local.tags
}
