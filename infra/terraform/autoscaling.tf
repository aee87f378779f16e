locals {
  scaled_services = merge(
    { for k, v in local.autoscaled : k => aws_ecs_service.app[k].name },
    local.deploy_registry ? { registry = aws_ecs_service.registry[0].name } : {},
  )
}

resource "aws_appautoscaling_target" "this" {
  for_each = local.scaled_services

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${each.value}"
  min_capacity       = var.scaling[each.key].min
  max_capacity       = var.scaling[each.key].max
  tags               = merge(local.tags, { Service = each.key })
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = aws_appautoscaling_target.this

  name               = "${local.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = each.value.service_namespace
  scalable_dimension = each.value.scalable_dimension
  resource_id        = each.value.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target_percent
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Consumers also track their lag on the input topic; whichever policy asks for more tasks wins.
# Adding tasks past the partition count (var.kafka_partitions) does not help: extra consumers sit idle.
resource "aws_appautoscaling_policy" "lag" {
  for_each = local.lag_topics

  name               = "${local.name}-${each.key}-consumer-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.lag_target_messages
    scale_in_cooldown  = 600
    scale_out_cooldown = 120

    customized_metric_specification {
      namespace   = "AWS/Kafka"
      metric_name = "SumOffsetLag"
      statistic   = "Average"

      dimensions {
        name  = "Cluster Name"
        value = aws_msk_cluster.this.cluster_name
      }

      dimensions {
        name  = "Consumer Group"
        value = local.consumer_group_ids[each.key]
      }

      dimensions {
        name  = "Topic"
        value = each.value
      }
    }
  }
}
