"""The Object Storage v1 API: one ASGI app that splits /v1/<account>/<container>/<object>."""
