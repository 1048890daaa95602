"""Metadata definitions (Glance "metadefs"): the catalog of properties that images, flavors and
volumes may carry, grouped in namespaces, for the property editors of dashboards and tools."""
