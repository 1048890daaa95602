"""Image service (Glance v2): image records, a data store, format inspection and sharing.

In the request flow it sits beside compute: users upload images here, and the compute agent
downloads them through `ministack.image.client.ImageClient` before it spawns a guest.
"""
