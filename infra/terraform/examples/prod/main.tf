# Prod: the deployment doc's "Optimal Production Settings" (8 vCPU / 16 GiB per processor and API task),
# three AZs, multi-AZ database, one NAT gateway per AZ, deletion protection on.
provider "aws" {
  region = var.region
}

module "anomaly" {
  source = "../../"

  name        = "anomaly"
  environment = "prod"
  azs         = ["${var.region}a", "${var.region}b", "${var.region}c"]

  msk_broker_instance_type = "kafka.m7g.large"
  msk_broker_count         = 3
  msk_broker_volume_size   = 200

  db_instance_class        = "db.r6g.large"
  db_multi_az              = true
  db_backup_retention_days = 14
  db_allocated_storage     = 100
  db_max_allocated_storage = 500

  container_image = var.container_image
  certificate_arn = var.certificate_arn
  processor_size  = { cpu = 8192, memory = 16384 }
  api_size        = { cpu = 8192, memory = 16384 }

  scaling = {
    producer   = { min = 1, max = 1 }
    pose       = { min = 2, max = 6 }
    scene      = { min = 2, max = 6 }
    audio      = { min = 1, max = 4 }
    caption    = { min = 1, max = 3 }
    fusion     = { min = 2, max = 6 }
    projection = { min = 1, max = 2 }
    api        = { min = 2, max = 6 }
    registry   = { min = 2, max = 3 }
  }

  app_environment = {
    FRAME_PROCESSING_RATE = "1"
  }

  tags = { CostCenter = "anomaly-prod" }
}
