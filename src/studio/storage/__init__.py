"""Media storage: local filesystem by default, any S3-compatible store when configured."""
