"""Object storage: the Object Storage v1 (Swift) API and an S3-compatible API over one store."""
