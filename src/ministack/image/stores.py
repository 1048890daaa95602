"""Opening the image stores the configuration enables (`[image] store`, `stores`).

Used by the image service at start and by the in-process image client (compute in the same
process reads image data through the same stores). The object store is reached as the
``glance`` service user through `objectstore.client`.
"""

from __future__ import annotations

from ministack.config import SERVICE_USERS, Settings
from ministack.image.objectstore import ObjectImageStore
from ministack.image.store import FilesystemStore, Store, Stores, enabled_ids, store_root
from ministack.objectstore import client as objectstore_client


def open_stores(settings: Settings) -> Stores:
    """The enabled stores; ValueError (naming the key) when the configuration names an
    unknown store. Nothing is contacted yet: the object store's container is made on the
    first upload."""
    local = FilesystemStore(store_root(settings))
    enabled: dict[str, Store] = {}
    for store_id in enabled_ids(settings):
        if store_id == "file":
            enabled[store_id] = local
        else:
            client = objectstore_client.over_http(settings, SERVICE_USERS["image"])
            enabled[store_id] = ObjectImageStore(client, settings.image.object_container)
    return Stores(local, enabled, settings.image.store)
