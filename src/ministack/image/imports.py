"""POST /v2/images/{id}/import: one entry that picks the import method's runner.

Resolves the target stores once (`ImageData.import_stores`: body `stores`, the
X-Image-Meta-Store header, `all_stores`, else the default store) and hands the request to
glance-direct (`ImageData.import_staged`), web-download (`webimport.py`) or copy-image
(`copyimage.py`).
"""

from __future__ import annotations

from typing import Any

from ministack.common import errors
from ministack.common.auth import Auth
from ministack.image import copyimage, webimport
from ministack.image.copyimage import CopyImage
from ministack.image.data import ImageData
from ministack.image.webimport import WebImport


class Imports:
    def __init__(self, data: ImageData, web: WebImport, copy: CopyImage) -> None:
        self.data, self.web, self.copy = data, web, copy

    async def start(
        self, auth: Auth, image_id: str, body: dict[str, Any], store_header: str | None
    ) -> None:
        """Accept an import (the caller answers 202). 400 unknown method or bad store
        combination, 409 unknown store or wrong image status, 403 by policy."""
        method = body["method"]["name"]
        offered = self.data.core.stores.import_methods
        if method not in offered:
            raise errors.BadRequest(
                f"Import method {method!r} is not available here; use one of {', '.join(offered)}."
            )
        targets = self.data.import_stores(
            body.get("stores"), bool(body.get("all_stores", False)), store_header
        )
        if method == webimport.METHOD:
            await self.web.start(auth, image_id, body, targets)
        elif method == copyimage.METHOD:
            await self.copy.start(auth, image_id, body, targets)
        else:
            await self.data.import_staged(auth, image_id, method, targets)
