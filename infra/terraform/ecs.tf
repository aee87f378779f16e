resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = local.services

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = merge(local.tags, { Service = each.key })
}

locals {
  # Environment shared by every app container; names match anomaly_core.settings. The same map is the env_file output.
  app_env = merge({
    KAFKA_BOOTSTRAP_SERVERS  = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
    KAFKA_SECURITY_PROTOCOL  = "SASL_SSL"
    KAFKA_SASL_MECHANISM     = "SCRAM-SHA-512"
    KAFKA_SASL_USERNAME      = var.kafka_scram_username
    KAFKA_TOPIC_PARTITIONS   = tostring(var.kafka_partitions)
    KAFKA_REPLICATION_FACTOR = tostring(local.kafka_replication_factor)
    KAFKA_TOPIC_PREFIX       = var.kafka_topic_prefix
    CONSUMER_START           = var.consumer_start
    SCHEMA_REGISTRY_URL      = local.schema_registry_url
    DATABASE_URL             = local.database_url
    S3_ENDPOINT_URL          = "https://s3.${local.region}.amazonaws.com"
    S3_REGION                = local.region
    # Empty keys: the object store client must fall back to the task role (no static keys on AWS).
    S3_ACCESS_KEY               = ""
    S3_SECRET_KEY               = ""
    S3_FRAMES_BUCKET            = aws_s3_bucket.media["frames"].bucket
    S3_AUDIO_BUCKET             = aws_s3_bucket.media["audio"].bucket
    S3_EVIDENCE_BUCKET          = aws_s3_bucket.media["evidence"].bucket
    S3_SSE                      = "kms" # a bucket the app creates gets the module's key, like the media buckets
    S3_SSE_KMS_KEY_ID           = aws_kms_key.this.arn
    VIDEO_RETENTION_DAYS        = tostring(var.video_retention_days)
    AUDIO_CHUNK_RETENTION_HOURS = tostring(var.audio_chunk_retention_hours)
    EVIDENCE_RETENTION_DAYS     = tostring(var.evidence_retention_days)
    ANOMALY_FRAME_LIMIT         = tostring(var.anomaly_frame_limit)
    FAST_MODE                   = local.is_prod ? "true" : "false"
    POSE_FRAME_RATE             = tostring(var.pose_frame_rate)
    POSE_HOLD_SECONDS           = tostring(var.pose_hold_seconds)
    SCENE_MAX_INTERVAL_SECONDS  = tostring(var.scene_max_interval_seconds)
    MODEL_CACHE_DIR             = "/app/models"
    HF_HOME                     = "/app/models/huggingface"
    MALLOC_ARENA_MAX            = "2"
    LOG_JSON                    = "true"
    LOG_LEVEL                   = "INFO"
    DEVICE                      = "cpu" # Fargate tasks have no GPU
  }, var.app_environment)

  # Password-less URL: the password arrives as PGPASSWORD from the RDS-managed secret (libpq reads it).
  database_url = "postgresql://${var.db_username}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${var.db_name}?sslmode=require"

  service_env = { for k, v in local.services : k => merge(local.app_env, {
    TORCH_NUM_THREADS = tostring(max(1, floor(v.size.cpu / 1024)))
    OMP_NUM_THREADS   = tostring(max(1, floor(v.size.cpu / 1024)))
    MAX_WORKERS       = tostring(max(1, floor(v.size.cpu / 2048)))
    }, k == "api" ? {
    API_HOST    = "0.0.0.0"
    API_PORT    = "8000"
    API_WORKERS = tostring(max(1, floor(v.size.cpu / 1024)))
    } : {}, k == "fusion" ? {
    FUSION_GROUP_ID = var.consumer_groups.fusion
    } : {}, k == "projection" ? {
    PROJECTION_GROUP_ID = var.consumer_groups.projection
    } : {}, k == "notify" ? {
    NOTIFY_CONFIG         = "/tmp/notify.yaml" # written at start from NOTIFY_CONFIG_YAML (notify.tf)
    NOTIFY_GROUP_ID       = lookup(var.consumer_groups, "notify", "notify")
    NOTIFY_CONSUMER_START = "latest" # a late deployment pages nobody about past alerts
  } : {}) }

  service_secrets = { for k, v in local.services : k => concat(
    [{ name = "KAFKA_SASL_PASSWORD", valueFrom = "${aws_secretsmanager_secret.kafka_scram.arn}:password::" }],
    v.database ? [{ name = "PGPASSWORD", valueFrom = "${local.db_secret_arn}:password::" }] : [],
    k == "api" && var.jwt_secret_arn != "" ? [{ name = "JWT_SECRET", valueFrom = var.jwt_secret_arn }] : [],
    k == "notify" ? [for p in aws_ssm_parameter.notify_config : { name = "NOTIFY_CONFIG_YAML", valueFrom = p.arn }] : [],
    k == "notify" ? [for name, arn in var.notify_secrets : { name = name, valueFrom = arn }] : [],
  ) }

  extra_security_groups = {
    api      = [aws_security_group.api.id]
    producer = [aws_security_group.producer.id]
    notify   = aws_security_group.notify[*].id
  }

  # The root filesystem is read-only; these paths are per-task scratch volumes.
  scratch_mounts = { tmp = "/tmp", models = "/app/models", data = "/app/data" }
}

resource "aws_ecs_task_definition" "app" {
  for_each = local.services

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.size.cpu)
  memory                   = tostring(each.value.size.memory)
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  ephemeral_storage {
    size_in_gib = each.value.storage
  }

  dynamic "volume" {
    for_each = local.scratch_mounts
    content {
      name = volume.key
    }
  }

  container_definitions = jsonencode([merge({
    name                   = each.key
    image                  = var.container_image
    command                = each.value.command
    essential              = true
    readonlyRootFilesystem = true
    stopTimeout            = 120
    linuxParameters        = { initProcessEnabled = true }
    environment            = [for k, v in local.service_env[each.key] : { name = k, value = v }]
    secrets                = local.service_secrets[each.key]
    mountPoints            = [for name, path in local.scratch_mounts : { sourceVolume = name, containerPath = path, readOnly = false }]
    portMappings           = each.key == "api" ? [{ containerPort = 8000, protocol = "tcp" }] : []
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }, { for k, v in local.entry_points : "entryPoint" => v if k == each.key })])

  tags = merge(local.tags, { Service = each.key })
}

resource "aws_ecs_service" "app" {
  for_each = local.services

  name                               = each.key
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.app[each.key].arn
  desired_count                      = each.key == "notify" ? 1 : var.scaling[each.key].min # notify: see services.tf
  platform_version                   = "LATEST"
  enable_execute_command             = false
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = each.key == "api" ? 300 : null

  capacity_provider_strategy {
    capacity_provider = var.use_fargate_spot ? "FARGATE_SPOT" : "FARGATE"
    weight            = 1
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = concat([aws_security_group.tasks.id], lookup(local.extra_security_groups, each.key, []))
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []
    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = "api"
      container_port   = 8000
    }
  }

  # Autoscaling owns the task count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags       = merge(local.tags, { Service = each.key })
  depends_on = [aws_lb_listener.https, aws_ecs_cluster_capacity_providers.this]
}
