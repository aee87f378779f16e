################################################################################
# Task roles: one per service, only its topics, groups, buckets and database user
################################################################################

locals {
  msk_cluster_arn = aws_msk_cluster.this.arn
  # arn:...:cluster/NAME/UUID -> arn:...:topic/NAME/UUID/TOPIC (and group/...).
  msk_topic_arn_prefix = replace(local.msk_cluster_arn, ":cluster/", ":topic/")
  msk_group_arn_prefix = replace(local.msk_cluster_arn, ":cluster/", ":group/")

  # Pull rights only for the app's own ECR repository (none needed for a public image).
  ecr_match = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com/([^:@]+)", var.container_image), null)
  ecr_repository_arn = local.ecr_match == null ? null : (
    "arn:${local.partition}:ecr:${local.ecr_match[1]}:${local.ecr_match[0]}:repository/${local.ecr_match[2]}"
  )
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = local.services

  name_prefix        = substr("${local.name}-${each.key}-task-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(local.tags, { Service = each.key })
}

data "aws_iam_policy_document" "task" {
  for_each = local.services

  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
    resources = [local.msk_cluster_arn]
  }

  dynamic "statement" {
    for_each = length(each.value.consumes) > 0 ? [1] : []
    content {
      sid       = "KafkaConsume"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
      resources = [for t in each.value.consumes : "${local.msk_topic_arn_prefix}/${t}"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.consumes) > 0 ? [1] : []
    content {
      sid       = "KafkaConsumerGroup"
      actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
      resources = ["${local.msk_group_arn_prefix}/${local.consumer_group_ids[each.key]}"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.produces) > 0 ? [1] : []
    content {
      sid       = "KafkaProduce"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
      resources = [for t in each.value.produces : "${local.msk_topic_arn_prefix}/${t}"]
    }
  }

  # The fusion is a Faust app: it declares its table's changelog (fusion.state.v1, the per-camera windows and
  # incidents) and its internal topics, named after the app id (the group).
  dynamic "statement" {
    for_each = each.key == "fusion" ? [1] : []
    content {
      sid = "FaustInternalTopics"
      actions = [
        "kafka-cluster:CreateTopic",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:DescribeTopicDynamicConfiguration",
        "kafka-cluster:AlterTopic",
        "kafka-cluster:ReadData",
        "kafka-cluster:WriteData",
      ]
      resources = [
        "${local.msk_topic_arn_prefix}/${local.topics.state}",
        "${local.msk_topic_arn_prefix}/${local.consumer_group_ids.fusion}-*",
      ]
    }
  }

  dynamic "statement" {
    for_each = length(concat(each.value.s3_read, each.value.s3_write)) > 0 ? [1] : []
    content {
      sid       = "ListOwnBuckets"
      actions   = ["s3:ListBucket"]
      resources = [for b in distinct(concat(each.value.s3_read, each.value.s3_write)) : aws_s3_bucket.media[b].arn]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_read) > 0 ? [1] : []
    content {
      sid       = "ReadMedia"
      actions   = ["s3:GetObject"]
      resources = [for b in each.value.s3_read : "${aws_s3_bucket.media[b].arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.s3_write) > 0 ? [1] : []
    content {
      sid       = "WriteMedia"
      actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]
      resources = [for b in each.value.s3_write : "${aws_s3_bucket.media[b].arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = length(concat(each.value.s3_read, each.value.s3_write)) > 0 ? [1] : []
    content {
      sid       = "MediaKeyThroughS3"
      actions   = length(each.value.s3_write) > 0 ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
      resources = [aws_kms_key.this.arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = each.value.database ? [1] : []
    content {
      sid       = "DatabaseIamAuth"
      actions   = ["rds-db:connect"]
      resources = ["arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${aws_db_instance.this.resource_id}/${var.db_username}"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = local.services

  name   = "least-privilege"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.task[each.key].json
}

################################################################################
# Execution roles: pull the image, write its own log group, read its own secrets
################################################################################

locals {
  db_secret_arn = aws_db_instance.this.master_user_secret[0].secret_arn

  execution = merge(
    { for k, v in local.services : k => {
      log_group = aws_cloudwatch_log_group.service[k].arn
      secrets = compact(concat(
        [aws_secretsmanager_secret.kafka_scram.arn],
        v.database ? [local.db_secret_arn] : [],
        k == "api" && var.jwt_secret_arn != "" ? [var.jwt_secret_arn] : [],
        k == "notify" ? values(local.notify_secret_arns) : [],
      ))
      parameters = k == "notify" ? aws_ssm_parameter.notify_config[*].arn : []
      ecr        = true
    } },
    local.deploy_registry ? { registry = {
      log_group  = aws_cloudwatch_log_group.registry[0].arn
      secrets    = [local.db_secret_arn]
      parameters = []
      ecr        = false
    } } : {},
  )
}

resource "aws_iam_role" "execution" {
  for_each = local.execution

  name_prefix        = substr("${local.name}-${each.key}-exec-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(local.tags, { Service = each.key })
}

data "aws_iam_policy_document" "execution" {
  for_each = local.execution

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${each.value.log_group}:*"]
  }

  statement {
    sid       = "OwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = each.value.secrets
  }

  # The key only through Secrets Manager, and through SSM for a role that reads parameters.
  statement {
    sid       = "SecretsKeyThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = concat(
        ["secretsmanager.${local.region}.amazonaws.com"],
        length(each.value.parameters) > 0 ? ["ssm.${local.region}.amazonaws.com"] : [],
      )
    }
  }

  # The notify worker's routing file (an encrypted SSM parameter, notify.tf).
  dynamic "statement" {
    for_each = length(each.value.parameters) > 0 ? [1] : []
    content {
      sid       = "OwnParameters"
      actions   = ["ssm:GetParameters"]
      resources = each.value.parameters
    }
  }

  dynamic "statement" {
    for_each = each.value.ecr && local.ecr_repository_arn != null ? [1] : []
    content {
      sid       = "PullAppImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
      resources = [local.ecr_repository_arn]
    }
  }

  # GetAuthorizationToken has no resource-level permissions.
  dynamic "statement" {
    for_each = each.value.ecr && local.ecr_repository_arn != null ? [1] : []
    content {
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.execution

  name   = "pull-logs-secrets"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

################################################################################
# Service roles for monitoring
################################################################################

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name_prefix        = substr("${local.name}-rds-mon-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name_prefix        = substr("${local.name}-flow-logs-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
