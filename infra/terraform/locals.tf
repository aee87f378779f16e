data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.name}-${var.environment}"
  is_prod    = var.environment == "prod"
  account_id = data.aws_caller_identity.current.account_id
  # `name` exists in provider v5 and v6 (v6 deprecates it for `region`, which v5 lacks).
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  az_count  = length(var.azs)

  tags = merge(var.tags, {
    Project     = var.name
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Retention in object storage follows the application defaults (anomaly_core.settings).
  # S3 lifecycle works in whole days, so the hourly audio retention rounds up.
  retention_days = {
    frames   = var.video_retention_days
    audio    = ceil(var.audio_chunk_retention_hours / 24)
    evidence = var.evidence_retention_days
  }

  topics = {
    frames     = "${var.kafka_topic_prefix}media.frames.v1"
    audio      = "${var.kafka_topic_prefix}media.audio.v1"
    pose       = "${var.kafka_topic_prefix}scores.pose.v1"
    scene      = "${var.kafka_topic_prefix}scores.scene.v1"
    audio_s    = "${var.kafka_topic_prefix}scores.audio.v1"
    caption    = "${var.kafka_topic_prefix}scores.caption.v1"
    candidates = "${var.kafka_topic_prefix}anomalies.candidates.v1"
    anomalies  = "${var.kafka_topic_prefix}anomalies.v1"
    actions    = "${var.kafka_topic_prefix}anomalies.actions.v1"
    dlq        = "${var.kafka_topic_prefix}dlq.v1"
    state      = "${var.kafka_topic_prefix}fusion.state.v1"
  }

  # The group ids the services really use (the topic prefix in front, as `anomaly_core` does).
  # A consumer_groups map without `notify` (written before the notify worker existed) gets its default.
  consumer_group_ids = { for k, g in merge({ notify = "notify" }, var.consumer_groups) : k => k == "api" ? g : "${var.kafka_topic_prefix}${g}" }
}
