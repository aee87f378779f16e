# What each service runs and may touch. IAM policies, task definitions and autoscaling read this table.
locals {
  processor_threads = floor(var.processor_size.cpu / 1024)

  services = merge(local.pipeline_services, local.notify_service)

  pipeline_services = {
    producer = {
      command  = var.producer_command
      size     = var.light_service_size
      consumes = []
      produces = [local.topics.frames, local.topics.audio, local.topics.dlq]
      s3_read  = []
      s3_write = ["frames", "audio"]
      database = false
      storage  = 21
    }
    pose = {
      command  = ["process", "pose"]
      size     = var.processor_size
      consumes = [local.topics.frames]
      produces = [local.topics.pose, local.topics.dlq]
      s3_read  = ["frames"]
      s3_write = []
      database = false
      storage  = var.processor_ephemeral_storage_gib
    }
    scene = {
      command  = ["process", "scene"]
      size     = var.processor_size
      consumes = [local.topics.frames]
      produces = [local.topics.scene, local.topics.dlq]
      s3_read  = ["frames"]
      s3_write = []
      database = false
      storage  = var.processor_ephemeral_storage_gib
    }
    audio = {
      command  = ["process", "audio"]
      size     = var.processor_size
      consumes = [local.topics.audio]
      produces = [local.topics.audio_s, local.topics.dlq]
      s3_read  = ["audio"]
      s3_write = []
      database = false
      storage  = var.processor_ephemeral_storage_gib
    }
    caption = {
      command  = ["process", "caption"]
      size     = var.processor_size
      consumes = [local.topics.candidates]
      produces = [local.topics.caption, local.topics.dlq]
      s3_read  = ["frames"]
      s3_write = []
      database = false
      storage  = var.processor_ephemeral_storage_gib
    }
    fusion = {
      command  = ["fusion", "worker"]
      size     = var.light_service_size
      consumes = [local.topics.pose, local.topics.scene, local.topics.audio_s, local.topics.caption]
      produces = [local.topics.candidates, local.topics.anomalies, local.topics.dlq]
      s3_read  = ["frames", "audio"]
      s3_write = ["evidence"]
      database = true
      storage  = 21
    }
    # Keeps the PostgreSQL tables `anomalies` and `anomaly_actions` equal to anomalies.v1 and anomalies.actions.v1.
    projection = {
      command  = ["projection", "sink"]
      size     = var.light_service_size
      consumes = [local.topics.anomalies, local.topics.actions]
      produces = [local.topics.dlq]
      s3_read  = []
      s3_write = []
      database = true
      storage  = 21
    }
    # Operator actions are published by the API (anomalies.actions.v1) and pushed to its live clients.
    api = {
      command  = ["api"]
      size     = var.api_size
      consumes = [local.topics.anomalies, local.topics.actions]
      produces = [local.topics.actions]
      s3_read  = ["frames", "evidence"]
      s3_write = []
      database = true
      storage  = 21
    }
  }

  # Consumers scale on their lag behind this input topic (MSK SumOffsetLag), besides CPU.
  lag_topics = {
    pose       = local.topics.frames
    scene      = local.topics.frames
    audio      = local.topics.audio
    caption    = local.topics.candidates
    fusion     = local.topics.pose
    projection = local.topics.anomalies
  }

  # One producer task per camera set: scaling it out would duplicate frames. One notify task: a few sends a minute.
  autoscaled = { for k, v in local.services : k => v if !contains(["producer", "notify"], k) }
}
