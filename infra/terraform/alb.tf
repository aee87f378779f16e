resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_28:WAF is optional (waf_web_acl_arn); the API authenticates every request and rate-limits itself.
  #checkov:skip=CKV2_AWS_76:No WAF is attached by default (see CKV2_AWS_28); an attached web ACL should carry the Log4j managed rule.
  name                       = substr("${local.name}-api", 0, 32)
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = aws_subnet.public[*].id
  drop_invalid_header_fields = true
  enable_deletion_protection = local.is_prod
  desync_mitigation_mode     = "defensive"
  # WebSocket clients stay connected up to WEBSOCKET_TIMEOUT (300 s).
  idle_timeout = 300

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  tags       = local.tags
  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the task stays inside private subnets.
  name_prefix          = "api-"
  port                 = 8000
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.this.id
  deregistration_delay = 60

  health_check {
    path                = "/readyz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.alb_ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }

  tags = local.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = local.tags
}

resource "aws_wafv2_web_acl_association" "api" {
  count = var.waf_web_acl_arn == "" ? 0 : 1

  resource_arn = aws_lb.api.arn
  web_acl_arn  = var.waf_web_acl_arn
}
