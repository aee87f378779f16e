# Media buckets: lifecycle equals the application's retention defaults, encrypted, never public.
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  environment     = "dev"
  azs             = ["eu-west-1a", "eu-west-1b"]
  container_image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anomaly:test"
  certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

run "lifecycle_matches_app_defaults" {
  command = plan

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.media["frames"].rule[0].expiration[0].days == 7
    error_message = "frames must expire after VIDEO_RETENTION_DAYS=7 days"
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.media["audio"].rule[0].expiration[0].days == 1
    error_message = "audio must expire after AUDIO_CHUNK_RETENTION_HOURS=24h = 1 day"
  }

  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.media["evidence"].rule[0].expiration[0].days == 90
    error_message = "evidence must expire after EVIDENCE_RETENTION_DAYS=90 days"
  }

  assert {
    condition     = alltrue([for k, lc in aws_s3_bucket_lifecycle_configuration.media : lc.rule[0].noncurrent_version_expiration[0].noncurrent_days == 1])
    error_message = "noncurrent versions must expire too, or retention is not real"
  }

  assert {
    condition     = alltrue([for k, v in aws_s3_bucket_versioning.media : v.versioning_configuration[0].status == "Enabled"])
    error_message = "media buckets must be versioned"
  }
}

run "hours_round_up_to_days" {
  command = plan

  variables {
    video_retention_days        = 3
    audio_chunk_retention_hours = 36
    evidence_retention_days     = 30
  }

  assert {
    condition     = output.bucket_expiration_days == { frames = 3, audio = 2, evidence = 30 }
    error_message = "36 hours must round up to 2 days; other days pass through"
  }
}

run "encrypted_with_customer_key" {
  command = apply

  assert {
    condition = alltrue([for k, c in aws_s3_bucket_server_side_encryption_configuration.media :
      one(c.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(c.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == aws_kms_key.this.arn
    ])
    error_message = "media buckets must use SSE-KMS with the module's key"
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "the customer-managed key must rotate"
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.logs.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "the log bucket is encrypted (SSE-S3, the only option ALB log delivery accepts)"
  }
}

run "no_public_buckets" {
  command = plan

  assert {
    condition = alltrue([for b in concat(values(aws_s3_bucket_public_access_block.media), [aws_s3_bucket_public_access_block.logs]) :
      b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets
    ])
    error_message = "every bucket must block all public access"
  }

  assert {
    condition     = length(aws_s3_bucket_public_access_block.media) == 3
    error_message = "frames, audio and evidence each need a public access block"
  }
}

run "tls_only_bucket_policies" {
  command = plan

  assert {
    condition = alltrue([for k, d in data.aws_iam_policy_document.tls_only :
      anytrue([for s in d.statement : s.effect == "Deny" && anytrue([for c in s.condition :
        c.variable == "aws:SecureTransport" && c.values == tolist(["false"])
      ])])
    ])
    error_message = "each media bucket policy must deny requests without TLS"
  }

  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.logs.statement : s.effect == "Deny" && anytrue([for c in s.condition :
      c.variable == "aws:SecureTransport"
    ])])
    error_message = "the log bucket policy must deny requests without TLS"
  }

  assert {
    condition     = alltrue([for k, l in aws_s3_bucket_logging.media : l.target_prefix == "s3/${k}/"])
    error_message = "every media bucket logs its access to the log bucket"
  }
}
