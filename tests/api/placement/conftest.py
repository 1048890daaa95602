"""The placement tests use the compute session cloud (it runs placement too)."""

from tests.api.compute.conftest import compute, conn

__all__ = ["compute", "conn"]
