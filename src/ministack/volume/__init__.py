"""Block storage (Cinder v3): API, volume manager (agent) and backends."""
