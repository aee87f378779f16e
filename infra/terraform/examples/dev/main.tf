# Dev: the smallest sizes that still run every model (4 vCPU / 12 GiB processors, as in the
# deployment doc's "Docker Deployment Specifications"), one NAT gateway, two AZs, Fargate Spot.
provider "aws" {
  region = var.region
}

module "anomaly" {
  #checkov:skip=CKV_AWS_157:Dev runs a single-AZ database to halve its cost; the prod example keeps multi-AZ.
  #checkov:skip=CKV_AWS_293:Dev databases are disposable; deletion protection is forced on for environment = prod.
  #checkov:skip=CKV_AWS_150:Dev load balancers are disposable; deletion protection is on for environment = prod.
  source = "../../"

  name        = "anomaly"
  environment = "dev"
  azs         = ["${var.region}a", "${var.region}b"]

  single_nat_gateway = true

  msk_broker_instance_type = "kafka.t3.small"
  msk_broker_count         = 2
  msk_broker_volume_size   = 20

  db_instance_class        = "db.t4g.small"
  db_multi_az              = false
  db_allocated_storage     = 20
  db_max_allocated_storage = 50

  container_image  = var.container_image
  certificate_arn  = var.certificate_arn
  processor_size   = { cpu = 4096, memory = 12288 }
  api_size         = { cpu = 4096, memory = 12288 }
  use_fargate_spot = true

  scaling = {
    producer   = { min = 1, max = 1 }
    pose       = { min = 1, max = 2 }
    scene      = { min = 1, max = 2 }
    audio      = { min = 1, max = 2 }
    caption    = { min = 1, max = 1 }
    fusion     = { min = 1, max = 1 }
    projection = { min = 1, max = 1 }
    api        = { min = 1, max = 2 }
    registry   = { min = 1, max = 1 }
  }

  bucket_force_destroy = true

  tags = { CostCenter = "anomaly-dev" }
}
