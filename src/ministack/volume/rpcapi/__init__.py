"""Typed RPC between the volume API and the volume manager (one module per topic)."""
