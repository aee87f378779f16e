# Apicurio Registry (Confluent-compatible ccompat API) for the Avro schemas, unless an external one is given.
locals {
  deploy_registry     = var.schema_registry_url == ""
  registry_host       = "registry.${local.name}.internal"
  schema_registry_url = local.deploy_registry ? "http://${local.registry_host}:8080/apis/ccompat/v7" : var.schema_registry_url
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  count = local.deploy_registry ? 1 : 0

  name = "${local.name}.internal"
  vpc  = aws_vpc.this.id
  tags = local.tags
}

resource "aws_service_discovery_service" "registry" {
  count = local.deploy_registry ? 1 : 0

  name = "registry"

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this[0].id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "registry" {
  count = local.deploy_registry ? 1 : 0

  name              = "/ecs/${local.name}/registry"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = merge(local.tags, { Service = "registry" })
}

# The registry needs no AWS API; its role exists so the task has an identity other than the execution role.
resource "aws_iam_role" "registry_task" {
  count = local.deploy_registry ? 1 : 0

  name_prefix        = substr("${local.name}-registry-task-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = merge(local.tags, { Service = "registry" })
}

resource "aws_ecs_task_definition" "registry" {
  count = local.deploy_registry ? 1 : 0

  family                   = "${local.name}-registry"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.light_service_size.cpu)
  memory                   = tostring(var.light_service_size.memory)
  execution_role_arn       = aws_iam_role.execution["registry"].arn
  task_role_arn            = aws_iam_role.registry_task[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "registry"
    image                  = var.schema_registry_image
    essential              = true
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [
      { name = "APICURIO_STORAGE_KIND", value = "sql" },
      { name = "APICURIO_STORAGE_SQL_KIND", value = "postgresql" },
      { name = "APICURIO_DATASOURCE_URL", value = "jdbc:postgresql://${aws_db_instance.this.address}:${aws_db_instance.this.port}/${var.db_name}?sslmode=require" },
      { name = "APICURIO_DATASOURCE_USERNAME", value = var.db_username },
    ]
    secrets = [{ name = "APICURIO_DATASOURCE_PASSWORD", valueFrom = "${local.db_secret_arn}:password::" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.registry[0].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "registry"
      }
    }
  }])

  tags = merge(local.tags, { Service = "registry" })
}

resource "aws_ecs_service" "registry" {
  count = local.deploy_registry ? 1 : 0

  name                               = "registry"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.registry[0].arn
  desired_count                      = var.scaling["registry"].min
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.registry.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.registry[0].arn
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = merge(local.tags, { Service = "registry" })
}
