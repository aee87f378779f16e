terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }

  # Configure a remote backend (S3 + DynamoDB/lockfile) before the first apply, e.g.:
  # backend "s3" { bucket = "my-tf-state", key = "anomaly/ENV.tfstate", region = "eu-west-1", use_lockfile = true, encrypt = true }
}
