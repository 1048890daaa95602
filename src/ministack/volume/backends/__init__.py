"""Volume backends: where a volume's bytes live (`base.Backend`; `file.FileBackend` default)."""
