# Least access: each group opens only the ports its peers need, and only to those peers.

resource "aws_security_group" "alb" {
  name_prefix = "${local.name}-alb-"
  description = "API load balancer: HTTPS (and HTTP that only redirects) from allowed CIDRs"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "tasks" {
  name_prefix = "${local.name}-tasks-"
  description = "Application tasks: no ingress; egress to brokers, database, registry and HTTPS"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-tasks" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "api" {
  name_prefix = "${local.name}-api-"
  description = "API tasks (together with the tasks group): port 8000 from the load balancer only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-api" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "producer" {
  name_prefix = "${local.name}-producer-"
  description = "Producer tasks (together with the tasks group): egress to the cameras only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-producer" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "registry" {
  name_prefix = "${local.name}-registry-"
  description = "Schema registry: port 8080 from application tasks; egress to the database and HTTPS"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-registry" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "msk" {
  name_prefix = "${local.name}-msk-"
  description = "MSK brokers: SASL/SCRAM and IAM TLS listeners from application tasks"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-msk" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "rds" {
  name_prefix = "${local.name}-rds-"
  description = "PostgreSQL: port 5432 from application tasks and the registry"
  vpc_id      = aws_vpc.this.id
  tags        = merge(local.tags, { Name = "${local.name}-rds" })

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # 9096: SASL/SCRAM over TLS, 9098: IAM over TLS. No plaintext listener exists.
  msk_ports = { scram = 9096, iam = 9098 }

  ingress_rules = merge(
    { for i, cidr in var.allowed_ingress_cidrs : "alb-https-${i}" => { sg = "alb", port = 443, cidr = cidr, from = null, desc = "HTTPS to the API" } },
    { for i, cidr in var.allowed_ingress_cidrs : "alb-http-${i}" => { sg = "alb", port = 80, cidr = cidr, from = null, desc = "HTTP, redirected to HTTPS" } },
    {
      api-from-alb        = { sg = "api", port = 8000, cidr = null, from = "alb", desc = "API from the load balancer" }
      registry-from-tasks = { sg = "registry", port = 8080, cidr = null, from = "tasks", desc = "Schema registry from application tasks" }
      rds-from-tasks      = { sg = "rds", port = 5432, cidr = null, from = "tasks", desc = "PostgreSQL from application tasks" }
      rds-from-registry   = { sg = "rds", port = 5432, cidr = null, from = "registry", desc = "PostgreSQL from the schema registry" }
    },
    { for k, port in local.msk_ports : "msk-${k}-from-tasks" => { sg = "msk", port = port, cidr = null, from = "tasks", desc = "Kafka ${upper(k)} TLS from application tasks" } },
  )

  egress_rules = merge(
    {
      alb-to-api          = { sg = "alb", port = 8000, cidr = null, to = "api", desc = "Load balancer to API tasks" }
      tasks-https         = { sg = "tasks", port = 443, cidr = "0.0.0.0/0", to = null, desc = "HTTPS to AWS APIs (S3, ECR, logs, secrets)" }
      tasks-to-rds        = { sg = "tasks", port = 5432, cidr = null, to = "rds", desc = "PostgreSQL" }
      tasks-to-registry   = { sg = "tasks", port = 8080, cidr = null, to = "registry", desc = "Schema registry" }
      registry-https      = { sg = "registry", port = 443, cidr = "0.0.0.0/0", to = null, desc = "HTTPS to AWS APIs (ECR, logs, secrets)" }
      registry-to-rds     = { sg = "registry", port = 5432, cidr = null, to = "rds", desc = "PostgreSQL storage of the registry" }
      tasks-dns-to-vpc    = { sg = "tasks", port = 53, cidr = var.vpc_cidr, to = null, desc = "DNS to the VPC resolver" }
      registry-dns-to-vpc = { sg = "registry", port = 53, cidr = var.vpc_cidr, to = null, desc = "DNS to the VPC resolver" }
    },
    { for k, port in local.msk_ports : "tasks-to-msk-${k}" => { sg = "tasks", port = port, cidr = null, to = "msk", desc = "Kafka ${upper(k)} TLS" } },
    { for pair in setproduct(var.camera_source_cidrs, var.camera_source_ports) : "producer-camera-${pair[0]}-${pair[1]}" => {
      sg = "producer", port = pair[1], cidr = pair[0], to = null, desc = "Camera streams (RTSP)"
    } },
  )

  security_groups = {
    alb      = aws_security_group.alb.id
    tasks    = aws_security_group.tasks.id
    api      = aws_security_group.api.id
    producer = aws_security_group.producer.id
    registry = aws_security_group.registry.id
    msk      = aws_security_group.msk.id
    rds      = aws_security_group.rds.id
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local.ingress_rules

  security_group_id            = local.security_groups[each.value.sg]
  description                  = each.value.desc
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  cidr_ipv4                    = each.value.cidr
  referenced_security_group_id = each.value.from == null ? null : local.security_groups[each.value.from]
  tags                         = local.tags
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = local.egress_rules

  security_group_id            = local.security_groups[each.value.sg]
  description                  = each.value.desc
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  cidr_ipv4                    = each.value.cidr
  referenced_security_group_id = each.value.to == null ? null : local.security_groups[each.value.to]
  tags                         = local.tags
}

# DNS over UDP to the VPC resolver.
resource "aws_vpc_security_group_egress_rule" "dns_udp" {
  for_each = toset(["tasks", "registry"])

  security_group_id = local.security_groups[each.key]
  description       = "DNS (UDP) to the VPC resolver"
  ip_protocol       = "udp"
  from_port         = 53
  to_port           = 53
  cidr_ipv4         = var.vpc_cidr
  tags              = local.tags
}
