################################################################################
# General
################################################################################

variable "name" {
  description = "Short name used as a prefix for every resource (lowercase letters, digits, dashes)."
  type        = string
  default     = "anomaly"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2-20 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment; `prod` turns on deletion protection everywhere."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# Network
################################################################################

variable "vpc_cidr" {
  description = "CIDR of the VPC; private /20 and public /28 subnets are carved from it (prefix /16 to /20)."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR with a prefix between /16 and /20."
  }
}

variable "azs" {
  description = "Availability zones to spread subnets, brokers and tasks over (2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 3 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 or 3 distinct availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all private subnets (cheaper) instead of one per availability zone."
  type        = bool
  default     = false
}

variable "allowed_ingress_cidrs" {
  description = "CIDRs allowed to reach the API load balancer on 443 (and 80, which only redirects)."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.allowed_ingress_cidrs : can(cidrhost(c, 0))])
    error_message = "allowed_ingress_cidrs must be valid CIDRs."
  }
}

variable "camera_source_cidrs" {
  description = "Networks of the RTSP cameras the producer reads (reached through the NAT gateway or a VPN/peering route)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.camera_source_cidrs : can(cidrhost(c, 0))])
    error_message = "camera_source_cidrs must be valid CIDRs."
  }
}

variable "camera_source_ports" {
  description = "TCP ports the producer may open towards camera_source_cidrs (RTSP is 554)."
  type        = list(number)
  default     = [554]
}

################################################################################
# Encryption and logs
################################################################################

variable "kms_deletion_window_days" {
  description = "Waiting period before the customer-managed KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group (services, brokers, database, flow logs)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

################################################################################
# Kafka (MSK)
################################################################################

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.6.0"
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"

  validation {
    condition     = startswith(var.msk_broker_instance_type, "kafka.")
    error_message = "msk_broker_instance_type must be an MSK instance type such as kafka.m7g.large."
  }
}

variable "msk_broker_count" {
  description = "Number of brokers, a multiple of the number of availability zones; null means one per zone."
  type        = number
  default     = null

  validation {
    condition     = var.msk_broker_count == null || try(var.msk_broker_count >= 2 && var.msk_broker_count % length(var.azs) == 0, false)
    error_message = "msk_broker_count must be at least 2 and a multiple of length(azs)."
  }
}

variable "msk_broker_volume_size" {
  description = "EBS volume per broker, GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.msk_broker_volume_size >= 1 && var.msk_broker_volume_size <= 16384
    error_message = "msk_broker_volume_size must be between 1 and 16384 GiB."
  }
}

variable "msk_enhanced_monitoring" {
  description = "MSK CloudWatch monitoring level; consumer-lag autoscaling reads the per-topic lag metrics."
  type        = string
  default     = "PER_TOPIC_PER_BROKER"

  validation {
    condition     = contains(["DEFAULT", "PER_BROKER", "PER_TOPIC_PER_BROKER", "PER_TOPIC_PER_PARTITION"], var.msk_enhanced_monitoring)
    error_message = "msk_enhanced_monitoring must be DEFAULT, PER_BROKER, PER_TOPIC_PER_BROKER or PER_TOPIC_PER_PARTITION."
  }
}

variable "kafka_partitions" {
  description = "Partition count of every media.* and scores.* topic (co-partitioned for the fusion join)."
  type        = number
  default     = 6

  validation {
    condition     = var.kafka_partitions >= 1 && var.kafka_partitions <= 1000
    error_message = "kafka_partitions must be between 1 and 1000."
  }
}

variable "kafka_log_retention_hours" {
  description = "Default topic retention on the brokers (replay window), hours."
  type        = number
  default     = 168

  validation {
    condition     = var.kafka_log_retention_hours >= 1
    error_message = "kafka_log_retention_hours must be at least 1."
  }
}

variable "kafka_topic_prefix" {
  description = "Prefix of every topic name (KAFKA_TOPIC_PREFIX)."
  type        = string
  default     = ""
}

variable "consumer_start" {
  description = "CONSUMER_START: where a consumer group with no committed offsets starts - latest (a service joining a running system reads live; history is for `anomaly replay`) or earliest (a first deployment whose producers start first, a rebuild). Groups with committed offsets always continue from them."
  type        = string
  default     = "latest"

  validation {
    condition     = contains(["latest", "earliest"], var.consumer_start)
    error_message = "consumer_start must be latest or earliest."
  }
}

variable "kafka_scram_username" {
  description = "SASL/SCRAM user the services connect with; its password is generated into Secrets Manager."
  type        = string
  default     = "anomaly"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_-]{2,63}$", var.kafka_scram_username))
    error_message = "kafka_scram_username must be 3-64 characters of letters, digits, underscores and dashes."
  }
}

variable "consumer_groups" {
  description = "Consumer group id of each consuming service, as the services name them: without `kafka_topic_prefix`, which the services (all but the API's throw-away live groups) put in front of their group ids as they do of topics. IAM group ARNs accept `*` patterns; lag autoscaling needs exact ids."
  type        = map(string)
  default = {
    pose       = "processor-pose"
    scene      = "processor-scene"
    audio      = "processor-audio"
    caption    = "processor-caption"
    fusion     = "fusion"
    projection = "projection"
    notify     = "notify"             # NOTIFY_GROUP_ID; used when notify_config is set
    api        = "anomaly-api-live-*" # one throw-away group per API process (api/live.py)
  }

  validation {
    condition     = length(setsubtract(["pose", "scene", "audio", "caption", "fusion", "projection", "api"], keys(var.consumer_groups))) == 0
    error_message = "consumer_groups must name a group for pose, scene, audio, caption, fusion, projection and api."
  }
}

################################################################################
# PostgreSQL (RDS)
################################################################################

variable "db_engine_version" {
  description = "PostgreSQL engine version (major, or major.minor); minor upgrades are applied automatically."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be PostgreSQL 15 (the parameter group family is postgres15)."
  }
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "Initial storage, GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage" {
  description = "Upper bound for storage autoscaling, GiB."
  type        = number
  default     = 200

  validation {
    condition     = var.db_max_allocated_storage >= var.db_allocated_storage
    error_message = "db_max_allocated_storage must be >= db_allocated_storage."
  }
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "anomaly"
}

variable "db_username" {
  description = "Master user name; the password is managed by RDS in Secrets Manager."
  type        = string
  default     = "anomaly"
}

variable "db_multi_az" {
  description = "Standby replica in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of daily automated backups to keep."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Deletion protection outside prod (always on in prod)."
  type        = bool
  default     = false
}

variable "db_monitoring_interval" {
  description = "Enhanced monitoring interval, seconds."
  type        = number
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval must be one of 1, 5, 10, 15, 30, 60."
  }
}

################################################################################
# Object storage (S3) - defaults match anomaly_core.settings.RetentionSettings
################################################################################

variable "video_retention_days" {
  description = "VIDEO_RETENTION_DAYS: frames expire from the frames bucket after this many days."
  type        = number
  default     = 7

  validation {
    condition     = var.video_retention_days >= 1
    error_message = "video_retention_days must be at least 1."
  }
}

variable "audio_chunk_retention_hours" {
  description = "AUDIO_CHUNK_RETENTION_HOURS: audio chunks expire after this many hours (rounded up to whole days in S3)."
  type        = number
  default     = 24

  validation {
    condition     = var.audio_chunk_retention_hours >= 1
    error_message = "audio_chunk_retention_hours must be at least 1."
  }
}

variable "evidence_retention_days" {
  description = "EVIDENCE_RETENTION_DAYS: evidence of anomalies expires after this many days."
  type        = number
  default     = 90

  validation {
    condition     = var.evidence_retention_days >= 1
    error_message = "evidence_retention_days must be at least 1."
  }
}

variable "anomaly_frame_limit" {
  description = "ANOMALY_FRAME_LIMIT passed to the services."
  type        = number
  default     = 1000
}

################################################################################
# Sampling (the producer's motion gate) - defaults match anomaly_core.settings.ProcessingSettings
################################################################################

variable "pose_frame_rate" {
  description = "POSE_FRAME_RATE: frames per second sent to pose while a camera shows motion (the base FRAME_PROCESSING_RATE otherwise; 0 = base rate only)."
  type        = number
  default     = 5

  validation {
    condition     = var.pose_frame_rate >= 0 && var.pose_frame_rate <= 30
    error_message = "pose_frame_rate must be between 0 and 30."
  }
}

variable "pose_hold_seconds" {
  description = "POSE_HOLD_SECONDS: how long pose keeps POSE_FRAME_RATE after the last motion."
  type        = number
  default     = 2

  validation {
    condition     = var.pose_hold_seconds >= 0
    error_message = "pose_hold_seconds must be >= 0."
  }
}

variable "scene_max_interval_seconds" {
  description = "SCENE_MAX_INTERVAL_SECONDS: the scene model skips unchanged frames but scores one at least this often (0 = never skip)."
  type        = number
  default     = 10

  validation {
    condition     = var.scene_max_interval_seconds >= 0
    error_message = "scene_max_interval_seconds must be >= 0."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days before overwritten or deleted object versions are removed (keeps retention honest)."
  type        = number
  default     = 1

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "Days to keep S3 server access logs and ALB access logs."
  type        = number
  default     = 365
}

variable "bucket_force_destroy" {
  description = "Allow destroying non-empty buckets (never in prod)."
  type        = bool
  default     = false

  validation {
    condition     = !(var.bucket_force_destroy && var.environment == "prod")
    error_message = "bucket_force_destroy must stay false in prod."
  }
}

################################################################################
# Services (ECS Fargate)
################################################################################

variable "container_image" {
  description = "The one application image (ENTRYPOINT anomaly); every service runs it with a different command."
  type        = string
}

variable "processor_size" {
  description = "Fargate size of each model processor (pose, scene, audio, caption): CPU units and MiB."
  type        = object({ cpu = number, memory = number })
  default     = { cpu = 4096, memory = 12288 }

  validation {
    condition = (
      contains([1024, 2048, 4096, 8192, 16384], var.processor_size.cpu) &&
      var.processor_size.memory >= var.processor_size.cpu * 2 &&
      var.processor_size.memory <= (var.processor_size.cpu <= 2048 ? var.processor_size.cpu * 8 : var.processor_size.cpu * 7.5) &&
      var.processor_size.memory % (var.processor_size.cpu >= 8192 ? var.processor_size.cpu / 2 : 1024) == 0
    )
    error_message = "processor_size must be a valid Fargate CPU/memory pair, e.g. {4096, 12288} or {8192, 16384}."
  }
}

variable "api_size" {
  description = "Fargate size of each API task: CPU units and MiB."
  type        = object({ cpu = number, memory = number })
  default     = { cpu = 4096, memory = 12288 }

  validation {
    condition = (
      contains([1024, 2048, 4096, 8192, 16384], var.api_size.cpu) &&
      var.api_size.memory >= var.api_size.cpu * 2 &&
      var.api_size.memory <= (var.api_size.cpu <= 2048 ? var.api_size.cpu * 8 : var.api_size.cpu * 7.5) &&
      var.api_size.memory % (var.api_size.cpu >= 8192 ? var.api_size.cpu / 2 : 1024) == 0
    )
    error_message = "api_size must be a valid Fargate CPU/memory pair, e.g. {4096, 12288} or {8192, 16384}."
  }
}

variable "light_service_size" {
  description = "Fargate size of the producer, the fusion worker and the schema registry."
  type        = object({ cpu = number, memory = number })
  default     = { cpu = 1024, memory = 2048 }

  validation {
    condition = (
      contains([256, 512, 1024, 2048, 4096], var.light_service_size.cpu) &&
      var.light_service_size.memory >= var.light_service_size.cpu * 2 &&
      var.light_service_size.memory <= var.light_service_size.cpu * 8
    )
    error_message = "light_service_size must be a valid Fargate CPU/memory pair, e.g. {1024, 2048}."
  }
}

variable "scaling" {
  description = "Task count bounds per service; keys are producer, pose, scene, audio, caption, fusion, projection, api, registry."
  type        = map(object({ min = number, max = number }))
  default = {
    producer   = { min = 1, max = 1 }
    pose       = { min = 1, max = 4 }
    scene      = { min = 1, max = 4 }
    audio      = { min = 1, max = 4 }
    caption    = { min = 1, max = 2 }
    fusion     = { min = 1, max = 3 }
    projection = { min = 1, max = 2 }
    api        = { min = 2, max = 6 }
    registry   = { min = 1, max = 2 }
  }

  validation {
    condition     = alltrue([for k, v in var.scaling : v.min >= 0 && v.max >= v.min])
    error_message = "scaling: each service needs 0 <= min <= max."
  }

  validation {
    condition     = length(setsubtract(["producer", "pose", "scene", "audio", "caption", "fusion", "projection", "api", "registry"], keys(var.scaling))) == 0
    error_message = "scaling must give bounds for producer, pose, scene, audio, caption, fusion, projection, api and registry."
  }
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation that CPU target tracking keeps each service at."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "lag_target_messages" {
  description = "Consumer lag (MSK SumOffsetLag per group and input topic) that lag target tracking keeps each consumer at."
  type        = number
  default     = 500
}

variable "use_fargate_spot" {
  description = "Run the services on Fargate Spot (about 70% cheaper; tasks may be interrupted, fine for dev)."
  type        = bool
  default     = false
}

variable "processor_ephemeral_storage_gib" {
  description = "Task storage of processors for the model cache (MODEL_CACHE_DIR, models are ~8 GB)."
  type        = number
  default     = 40

  validation {
    condition     = var.processor_ephemeral_storage_gib >= 21 && var.processor_ephemeral_storage_gib <= 200
    error_message = "processor_ephemeral_storage_gib must be between 21 and 200."
  }
}

variable "app_environment" {
  description = "Extra environment for every app container (e.g. FRAME_PROCESSING_RATE, CLIP_MODEL); overrides the defaults."
  type        = map(string)
  default     = {}
}

variable "producer_command" {
  description = "Arguments after `anomaly` for the producer service (add the camera source here)."
  type        = list(string)
  default     = ["produce", "camera"]
}

variable "schema_registry_url" {
  description = "Confluent-compatible schema registry URL; empty deploys Apicurio Registry on ECS backed by the RDS database."
  type        = string
  default     = ""
}

variable "schema_registry_image" {
  description = "Apicurio Registry image used when schema_registry_url is empty."
  type        = string
  default     = "apicurio/apicurio-registry:3.0.6"
}

variable "jwt_secret_arn" {
  description = "Secrets Manager ARN whose value becomes JWT_SECRET in the API; empty leaves it unset."
  type        = string
  default     = ""
}

################################################################################
# API load balancer
################################################################################

variable "certificate_arn" {
  description = "ACM certificate ARN for the HTTPS listener of the API."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "api_domain_name" {
  description = "DNS name that points at the load balancer (used for api_url); empty uses the ALB DNS name."
  type        = string
  default     = ""
}

variable "alb_ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "waf_web_acl_arn" {
  description = "WAFv2 web ACL to associate with the load balancer; empty associates none."
  type        = string
  default     = ""
}

################################################################################
# Notify worker (docs/notifications.md)
################################################################################

variable "notify_config" {
  description = "The notify worker's routing file (YAML, docs/notifications.md), stored as an encrypted SSM parameter; empty deploys no notify service. Secrets go in as \"$${NAME}\" references given in notify_secrets, never written in."
  type        = string
  default     = ""

  validation {
    condition     = var.notify_config == "" || length(try(yamldecode(var.notify_config).targets, [])) > 0
    error_message = "notify_config must be YAML with a non-empty `targets` list."
  }

  validation {
    condition = alltrue([
      for t in try(yamldecode(var.notify_config).targets, []) : alltrue([
        for field in ["secret", "password"] : try(t[field], null) == null || can(regex("^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$", t[field]))
      ])
    ])
    error_message = "notify_config: a target's secret or password must be a \"$${NAME}\" reference (NAME in notify_secrets), never the value."
  }
}

variable "notify_secrets" {
  description = "Environment of the notify worker from Secrets Manager: NAME => secret ARN (optionally ARN:json-key:: for one key of a JSON secret), one per \"$${NAME}\" of notify_config. The secrets must be encrypted with the module's key (kms_key_arn) or the AWS-managed key."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.notify_secrets : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k)) && can(regex("^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^:]+(:[^:]*:[^:]*:[^:]*)?$", v))])
    error_message = "notify_secrets: each key is an environment name and each value a Secrets Manager secret ARN (ARN or ARN:json-key:: )."
  }
}

variable "notify_egress" {
  description = "Where the notify worker may connect besides HTTPS (443, open to all tasks): SMTP relays and MQTT brokers, as CIDR and TCP port."
  type        = list(object({ cidr = string, port = number }))
  default     = []

  validation {
    condition     = alltrue([for e in var.notify_egress : can(cidrhost(e.cidr, 0)) && e.port >= 1 && e.port <= 65535])
    error_message = "notify_egress: each entry needs a valid CIDR and a TCP port."
  }
}

variable "notify_size" {
  description = "Fargate size of the notify task (CPU units, MiB): it holds no model and sends a few notifications a minute."
  type        = object({ cpu = number, memory = number })
  default     = { cpu = 256, memory = 512 }
}
