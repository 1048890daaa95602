"""The S3-compatible API, on the object service's port: path-style (``/<bucket>/<key>``) and
virtual-host-style (``<bucket>.<[object] s3_domain>``) requests over the same records and data
as the Swift API. A bucket is a container of the signing EC2 credential's project."""
