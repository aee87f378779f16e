variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "container_image" {
  description = "Application image (built from infra/compose/Dockerfile and pushed to ECR)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate ARN for the API's HTTPS listener."
  type        = string
}
