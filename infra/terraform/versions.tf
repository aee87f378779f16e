terraform {
  # 1.9+: variable validations refer to other variables; `terraform test` mocks need 1.7+.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
