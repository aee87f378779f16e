locals {
  # Expiry of each media bucket, in days, from the application's retention settings.
  media_buckets = {
    frames   = { expiration_days = local.retention_days.frames }
    audio    = { expiration_days = local.retention_days.audio }
    evidence = { expiration_days = local.retention_days.evidence }
  }
  bucket_names = { for k in concat(keys(local.media_buckets), ["logs"]) : k => "${local.name}-${k}-${local.account_id}" }
}

resource "aws_s3_bucket" "media" {
  #checkov:skip=CKV_AWS_144:Objects expire by design (frames 7 d, audio 1 d, evidence 90 d); the retention policy asks for no second-region copy.
  #checkov:skip=CKV2_AWS_62:References to objects travel through Kafka topics; no bucket event consumers exist.
  for_each = local.media_buckets

  bucket        = local.bucket_names[each.key]
  force_destroy = var.bucket_force_destroy
  tags          = merge(local.tags, { Name = local.bucket_names[each.key], Retention = "${each.value.expiration_days}d" })
}

resource "aws_s3_bucket_ownership_controls" "media" {
  for_each = local.media_buckets

  bucket = aws_s3_bucket.media[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "media" {
  for_each = local.media_buckets

  bucket                  = aws_s3_bucket.media[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "media" {
  for_each = local.media_buckets

  bucket = aws_s3_bucket.media[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "media" {
  for_each = local.media_buckets

  bucket = aws_s3_bucket.media[each.key].id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "media" {
  for_each = local.media_buckets

  bucket = aws_s3_bucket.media[each.key].id

  rule {
    id     = "expire-after-retention"
    status = "Enabled"
    filter {}

    expiration {
      days = each.value.expiration_days
    }

    # Versioning keeps overwritten or expired objects as noncurrent: remove them too.
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"
    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.media]
}

resource "aws_s3_bucket_logging" "media" {
  for_each = local.media_buckets

  bucket        = aws_s3_bucket.media[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/${each.key}/"
}

resource "aws_s3_bucket_policy" "media" {
  for_each = local.media_buckets

  bucket = aws_s3_bucket.media[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.media]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.media_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.media[each.key].arn, "${aws_s3_bucket.media[each.key].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
